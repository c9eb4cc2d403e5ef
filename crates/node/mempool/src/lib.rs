//! Machina mempool: verified transactions waiting for a block, bounded in total and per sender.
//!
//! Layer 4. It holds only [`VerifiedTx`]s, which passed the same stateless checks and batched
//! signature verification that block execution uses. Candidates for a block come out in a
//! deterministic order: senders by address, each sender's transactions by nonce.

use machina_primitives::{Address, Hash};
use machina_stf::VerifiedTx;
use std::collections::{BTreeMap, HashSet};
use thiserror::Error;

/// Most transactions held at once: about 64 MiB of transfers, several blocks' worth, so that
/// a burst waits rather than being refused, while memory stays bounded.
pub const MEMPOOL_MAX_TXS: usize = 200_000;

/// Most bytes of transactions held at once.
pub const MEMPOOL_MAX_BYTES: usize = 256 * 1024 * 1024;

/// Most transactions one sender may have waiting, which is also how far ahead of its account
/// nonce a sender may sign: one busy machine cannot fill the pool.
pub const MEMPOOL_MAX_PER_SENDER: usize = 1024;

/// The mempool's bounds.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// See [`MEMPOOL_MAX_TXS`].
    pub max_txs: usize,
    /// See [`MEMPOOL_MAX_BYTES`].
    pub max_bytes: usize,
    /// See [`MEMPOOL_MAX_PER_SENDER`].
    pub max_per_sender: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_txs: MEMPOOL_MAX_TXS,
            max_bytes: MEMPOOL_MAX_BYTES,
            max_per_sender: MEMPOOL_MAX_PER_SENDER,
        }
    }
}

/// Why the mempool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MempoolError {
    /// The pool is at its bound.
    #[error("mempool is full ({max} transactions or {max_bytes} bytes); retry later")]
    Full {
        /// Bound on transactions.
        max: usize,
        /// Bound on bytes.
        max_bytes: usize,
    },
    /// The sender has as many waiting as it may.
    #[error("sender {sender} already has {max} transactions waiting")]
    SenderFull {
        /// The sender.
        sender: Address,
        /// The per-sender bound.
        max: usize,
    },
    /// The nonce was already used.
    #[error("nonce {got} is too low: account {sender} is at nonce {expected}")]
    NonceTooLow {
        /// The sender.
        sender: Address,
        /// Its next nonce.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// The nonce is further ahead than a sender may queue.
    #[error("nonce {got} is too far ahead: account {sender} is at nonce {expected}, at most {max_ahead} may wait")]
    NonceTooFarAhead {
        /// The sender.
        sender: Address,
        /// Its next nonce.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
        /// How far ahead is allowed.
        max_ahead: usize,
    },
    /// This exact transaction is already waiting.
    #[error("transaction {0} is already in the mempool")]
    AlreadyKnown(Hash),
    /// Another transaction with this sender and nonce is waiting.
    #[error("another transaction from {sender} with nonce {nonce} is already waiting")]
    NonceInUse {
        /// The sender.
        sender: Address,
        /// The nonce.
        nonce: u64,
    },
}

impl MempoolError {
    /// The stable code of this rejection.
    pub fn code(&self) -> &'static str {
        match self {
            MempoolError::Full { .. } => "mempool_full",
            MempoolError::SenderFull { .. } => "sender_full",
            MempoolError::NonceTooLow { .. } => "nonce_too_low",
            MempoolError::NonceTooFarAhead { .. } => "nonce_too_far_ahead",
            MempoolError::AlreadyKnown(_) => "already_known",
            MempoolError::NonceInUse { .. } => "nonce_in_use",
        }
    }
}

/// Verified transactions waiting for a block.
#[derive(Default)]
pub struct Mempool {
    limits: Limits,
    by_sender: BTreeMap<Address, BTreeMap<u64, VerifiedTx>>,
    known: HashSet<Hash>,
    bytes: usize,
}

impl Mempool {
    /// An empty pool with these bounds.
    pub fn new(limits: Limits) -> Mempool {
        Mempool {
            limits,
            ..Mempool::default()
        }
    }

    /// Number of waiting transactions.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// Whether this transaction is waiting.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.known.contains(hash)
    }

    /// The waiting transaction of `sender` with `nonce`, if any.
    pub fn get(&self, sender: &Address, nonce: u64) -> Option<&VerifiedTx> {
        self.by_sender.get(sender)?.get(&nonce)
    }

    /// Admits `tx`, given its sender's next nonce in the committed state.
    pub fn insert(&mut self, tx: VerifiedTx, account_nonce: u64) -> Result<(), MempoolError> {
        let body = &tx.tx().body;
        let (sender, nonce) = (body.sender, body.nonce);
        if self.known.contains(&tx.hash()) {
            return Err(MempoolError::AlreadyKnown(tx.hash()));
        }
        if nonce < account_nonce {
            return Err(MempoolError::NonceTooLow {
                sender,
                expected: account_nonce,
                got: nonce,
            });
        }
        let max_ahead = self.limits.max_per_sender;
        // A sender's waiting transactions run without gaps from its account nonce: a
        // transaction that could not run yet would hold room it never pays for.
        let queued = self.by_sender.get(&sender).map_or(0, |q| q.len() as u64);
        if nonce - account_nonce >= max_ahead as u64 || nonce > account_nonce + queued {
            return Err(MempoolError::NonceTooFarAhead {
                sender,
                expected: account_nonce,
                got: nonce,
                max_ahead,
            });
        }
        let queue = self.by_sender.get(&sender);
        if queue.is_some_and(|q| q.contains_key(&nonce)) {
            return Err(MempoolError::NonceInUse { sender, nonce });
        }
        if queue.is_some_and(|q| q.len() >= max_ahead) {
            return Err(MempoolError::SenderFull {
                sender,
                max: max_ahead,
            });
        }
        if self.len() >= self.limits.max_txs
            || self.bytes + tx.encoded_len() > self.limits.max_bytes
        {
            return Err(MempoolError::Full {
                max: self.limits.max_txs,
                max_bytes: self.limits.max_bytes,
            });
        }
        self.bytes += tx.encoded_len();
        self.known.insert(tx.hash());
        self.by_sender.entry(sender).or_default().insert(nonce, tx);
        Ok(())
    }

    /// Candidates for the next block, at most `max_txs` and `max_bytes`: for each sender in
    /// address order, its run of consecutive nonces starting at `nonce_of(sender)`.
    pub fn candidates(
        &self,
        max_txs: usize,
        max_bytes: usize,
        nonce_of: impl Fn(&Address) -> u64,
    ) -> Vec<VerifiedTx> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for (sender, queue) in &self.by_sender {
            let first = nonce_of(sender);
            for (expected, (nonce, tx)) in (first..).zip(queue.range(first..)) {
                if *nonce != expected {
                    break;
                }
                if out.len() == max_txs || bytes + tx.encoded_len() > max_bytes {
                    return out;
                }
                bytes += tx.encoded_len();
                out.push(tx.clone());
            }
        }
        out
    }

    /// Whether some sender's next nonce (by `nonce_of`) is waiting: whether a block built now
    /// would include anything.
    pub fn has_candidate(&self, nonce_of: impl Fn(&Address) -> u64) -> bool {
        self.by_sender
            .iter()
            .any(|(sender, queue)| queue.contains_key(&nonce_of(sender)))
    }

    /// Removes one transaction, for example one that could not be included.
    pub fn remove(&mut self, sender: &Address, nonce: u64) {
        let Some(queue) = self.by_sender.get_mut(sender) else {
            return;
        };
        let removed = queue.remove(&nonce);
        if queue.is_empty() {
            self.by_sender.remove(sender);
        }
        if let Some(tx) = removed {
            self.forget(&tx);
        }
    }

    /// Drops the transaction of `sender` with `nonce` and every later one: once one cannot
    /// run, none after it can.
    pub fn remove_from(&mut self, sender: &Address, nonce: u64) {
        let Some(queue) = self.by_sender.get_mut(sender) else {
            return;
        };
        let gone = queue.split_off(&nonce);
        if queue.is_empty() {
            self.by_sender.remove(sender);
        }
        for tx in gone.values() {
            self.forget(tx);
        }
    }

    /// Drops every transaction of `sender` with a nonce below `account_nonce` (included or
    /// made stale by a committed block).
    pub fn prune_sender(&mut self, sender: &Address, account_nonce: u64) {
        let Some(queue) = self.by_sender.get_mut(sender) else {
            return;
        };
        let keep = queue.split_off(&account_nonce);
        let gone = std::mem::replace(queue, keep);
        let empty = queue.is_empty();
        for tx in gone.values() {
            self.forget(tx);
        }
        if empty {
            self.by_sender.remove(sender);
        }
    }

    /// Drops every transaction that expired before `height`. Bounded by the pool's size.
    pub fn prune_expired(&mut self, height: u64) {
        let expired: Vec<(Address, u64)> = self
            .by_sender
            .iter()
            .flat_map(|(s, q)| {
                q.iter()
                    .filter(|(_, tx)| tx.tx().body.expiry_height < height)
                    .map(move |(n, _)| (*s, *n))
            })
            .collect();
        for (s, n) in expired {
            self.remove(&s, n);
        }
    }

    fn forget(&mut self, tx: &VerifiedTx) {
        self.known.remove(&tx.hash());
        self.bytes -= tx.encoded_len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use machina_bank::BankAction;
    use machina_primitives::{Amount, Keypair};
    use machina_stf::TxBody;

    fn tx(k: &Keypair, nonce: u64) -> VerifiedTx {
        let t = TxBody {
            chain_id: 1,
            sender: k.address(),
            nonce,
            fee: Amount(1000),
            expiry_height: 10,
            fee_payer: None,
            actions: vec![BankAction::Transfer {
                to: Address([9; 20]),
                amount: Amount(1),
            }
            .into()],
        }
        .sign(&[k]);
        machina_stf::verify_txs(vec![t])
            .pop()
            .expect("one")
            .expect("valid")
    }

    fn small() -> Mempool {
        Mempool::new(Limits {
            max_txs: 4,
            max_bytes: 1 << 20,
            max_per_sender: 3,
        })
    }

    #[test]
    fn a_candidate_is_a_waiting_next_nonce() {
        let k = Keypair::dev("alice");
        let mut p = small();
        assert!(!p.has_candidate(|_| 0));
        p.insert(tx(&k, 0), 0).expect("admitted");
        assert!(p.has_candidate(|_| 0));
        // A parent block already included nonce 0: nothing left to include on it.
        assert!(!p.has_candidate(|_| 1), "nonce 1 is not waiting");
        for n in 0..2 {
            assert_eq!(
                p.has_candidate(|_| n),
                !p.candidates(1, 1 << 20, |_| n).is_empty()
            );
        }
    }

    #[test]
    fn a_replayed_nonce_is_too_low() {
        let k = Keypair::dev("alice");
        let e = small().insert(tx(&k, 0), 1).unwrap_err();
        assert_eq!(e.code(), "nonce_too_low");
    }

    #[test]
    fn a_nonce_past_the_sender_window_is_too_far_ahead() {
        let k = Keypair::dev("alice");
        assert_eq!(
            small().insert(tx(&k, 3), 0).unwrap_err().code(),
            "nonce_too_far_ahead"
        );
    }

    #[test]
    fn the_same_transaction_twice_is_already_known() {
        let k = Keypair::dev("alice");
        let mut m = small();
        m.insert(tx(&k, 0), 0).expect("first");
        assert_eq!(m.insert(tx(&k, 0), 0).unwrap_err().code(), "already_known");
    }

    #[test]
    fn a_full_pool_refuses_more() {
        let mut m = small();
        for name in ["a", "b", "c", "d"] {
            m.insert(tx(&Keypair::dev(name), 0), 0).expect("room");
        }
        let e = m.insert(tx(&Keypair::dev("e"), 0), 0).unwrap_err();
        assert_eq!(e.code(), "mempool_full");
    }

    #[test]
    fn a_nonce_gap_is_refused_and_pruning_frees_room() {
        let k = Keypair::dev("alice");
        let mut m = small();
        m.insert(tx(&k, 0), 0).expect("0");
        assert_eq!(
            m.insert(tx(&k, 2), 0).unwrap_err().code(),
            "nonce_too_far_ahead"
        );
        m.insert(tx(&k, 1), 0).expect("1");
        assert_eq!(m.candidates(10, 1 << 20, |_| 0).len(), 2);
        m.prune_sender(&k.address(), 1);
        assert_eq!(m.len(), 1);
        m.remove_from(&k.address(), 1);
        assert!(m.is_empty());
        m.insert(tx(&k, 1), 1).expect("again");
        m.prune_expired(11);
        assert!(m.is_empty());
    }
}
