//! Admission: transactions from clients, peers and Ethereum tools are checked, verified on all
//! cores and put in the mempool.

use super::{Chain, Committed};
use machina_mempool::MempoolError;
use machina_primitives::Hash;
use machina_stf::{
    check_admission, check_fee_funds, check_stateless, verify_txs, Transaction, TxError, VerifiedTx,
};

/// Why a submitted transaction was not admitted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SubmitError {
    /// It failed a check of the state transition function.
    #[error(transparent)]
    Tx(#[from] TxError),
    /// The mempool refused it.
    #[error(transparent)]
    Mempool(#[from] MempoolError),
}

impl SubmitError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            SubmitError::Tx(e) => e.code(),
            SubmitError::Mempool(e) => e.code(),
        }
    }

    /// The module that refused it, when one did.
    pub fn module(&self) -> Option<&'static str> {
        match self {
            SubmitError::Tx(e) => e.module(),
            SubmitError::Mempool(_) => None,
        }
    }
}

impl Chain {
    /// [`Chain::submit`] for transactions from this node's clients: the admitted ones are
    /// timed to finality and passed to the relay, if one is set.
    pub fn submit_from_client(&self, txs: Vec<Transaction>) -> Vec<Result<Hash, SubmitError>> {
        let results = self.verify_and_admit(txs);
        self.after_client_submit(&results)
    }

    /// Checks, verifies (batched on all cores) and admits transactions; one result each.
    pub fn submit(&self, txs: Vec<Transaction>) -> Vec<Result<Hash, SubmitError>> {
        self.verify_and_admit(txs)
            .into_iter()
            .map(|(r, _)| r)
            .collect()
    }

    /// Frames signed Ethereum transactions (`eth_sendRawTransaction`) and admits them as
    /// [`Chain::submit_from_client`] does. Each sender is recovered once, in one pass over all
    /// cores, and that recovery is the envelope's verification.
    pub fn submit_ethereum(&self, raws: Vec<Vec<u8>>) -> Vec<Result<Hash, SubmitError>> {
        let Committed { state, head } = self.committed();
        let next_height = head.height + 1;
        let verified = machina_stf::verify_ethereum(raws, next_height)
            .into_iter()
            .map(|r| {
                let v = r?;
                check_stateless(v.tx(), &self.params, next_height)?;
                check_fee_funds(&state, &v.tx().body)?;
                Ok(v)
            })
            .map(|r: Result<_, TxError>| r.map_err(SubmitError::from))
            .collect();
        let results = self.admit(verified);
        self.after_client_submit(&results)
    }

    /// Counts a client's admitted transactions for the finality metrics and relays them.
    fn after_client_submit(
        &self,
        results: &[(Result<Hash, SubmitError>, Option<Transaction>)],
    ) -> Vec<Result<Hash, SubmitError>> {
        let admitted: Vec<Hash> = results
            .iter()
            .filter_map(|(r, _)| r.as_ref().ok().copied())
            .collect();
        self.metrics.submitted(&admitted);
        if let Some(relay) = self.relay.get() {
            let fresh: Vec<Transaction> = results
                .iter()
                .filter(|(r, _)| r.is_ok())
                .filter_map(|(_, t)| t.clone())
                .collect();
            if !fresh.is_empty() {
                relay(&fresh);
            }
        }
        results.iter().map(|(r, _)| r.clone()).collect()
    }

    /// Checks, verifies (batched on all cores) and admits transactions; one result each,
    /// with a copy of each admitted transaction when a relay needs it.
    fn verify_and_admit(
        &self,
        txs: Vec<Transaction>,
    ) -> Vec<(Result<Hash, SubmitError>, Option<Transaction>)> {
        let Committed { state, head } = self.committed();
        let next_height = head.height + 1;
        let mut results: Vec<Option<Result<VerifiedTx, SubmitError>>> =
            Vec::with_capacity(txs.len());
        let mut to_verify = Vec::with_capacity(txs.len());
        for tx in txs {
            // The fee check is a read; signatures are the expensive part, so it comes first.
            let cheap = check_stateless(&tx, &self.params, next_height)
                .and_then(|()| check_fee_funds(&state, &tx.body));
            match cheap {
                Ok(()) => {
                    results.push(None);
                    to_verify.push(tx);
                }
                Err(e) => results.push(Some(Err(e.into()))),
            }
        }
        let mut verified = verify_txs(to_verify).into_iter();
        let all = results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    verified
                        .next()
                        .expect("one verification per unchecked tx")
                        .map_err(SubmitError::from)
                })
            })
            .collect();
        self.admit(all)
    }

    /// Admits verified transactions to the mempool after the checks that need state.
    fn admit(
        &self,
        verified: Vec<Result<VerifiedTx, SubmitError>>,
    ) -> Vec<(Result<Hash, SubmitError>, Option<Transaction>)> {
        let Committed { state, head } = self.committed();
        let next_height = head.height + 1;
        // Authorisation and fee checks run before the mempool lock is taken.
        let checked: Vec<Result<VerifiedTx, SubmitError>> = verified
            .into_iter()
            .map(|r| {
                let v = r?;
                check_admission(&state, &v, next_height)?;
                Ok(v)
            })
            .collect();
        let keep_copies = self.relay.get().is_some();
        let mut pool = self.mempool.lock().expect("mempool lock");
        // Nonces are read under the lock from the state the producer committed last: it
        // prunes the mempool under the same lock after swapping the state in, so the two agree.
        let current = self.committed().state;
        let out: Vec<_> = checked
            .into_iter()
            .map(|r| {
                let v = match r {
                    Ok(v) => v,
                    Err(e) => return (Err(e), None),
                };
                let nonce = machina_bank::account(&current, &v.tx().body.sender).nonce;
                let hash = v.hash();
                let copy = keep_copies.then(|| v.tx().clone());
                match pool.insert(v, nonce) {
                    Ok(()) => (Ok(hash), copy),
                    Err(e) => (Err(e.into()), None),
                }
            })
            .collect();
        self.metrics.set_mempool(pool.len());
        drop(pool);
        self.work.notify_one();
        out
    }
}
