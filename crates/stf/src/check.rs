//! Stateless checks and signature verification: the one validation path that the mempool and
//! block execution share.

use crate::ethereum::{carried, verify_carried, EthMeta};
use crate::params::Params;
use crate::{modules, Action, Transaction, TxError};
use machina_module::{SigRole, StatelessCtx};
use machina_primitives::crypto::{verify_many, SigCheck};
use machina_primitives::limits::MAX_TX_BYTES;
use machina_primitives::{Amount, Encode, Hash, PublicKey, Signature};

/// A transaction whose signatures verified. Only [`verify_txs`] makes one, so holding one is
/// proof that the expensive check was done (once, in a batch).
#[derive(Clone, Debug)]
pub struct VerifiedTx {
    tx: Transaction,
    hash: Hash,
    encoded_len: usize,
    /// `(action, item)` of readings and reports whose own signatures did not verify: those
    /// items are refused one by one at execution, the rest of the transaction stands.
    bad_items: Vec<(usize, usize)>,
    /// What an Ethereum transaction carried by this one pays, when it is an envelope.
    ethereum: Option<EthMeta>,
}

impl VerifiedTx {
    /// The transaction.
    pub fn tx(&self) -> &Transaction {
        &self.tx
    }

    /// Its id.
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// Size of its canonical encoding.
    pub fn encoded_len(&self) -> usize {
        self.encoded_len
    }

    /// The keys that signed it.
    pub fn signers(&self) -> Vec<PublicKey> {
        self.tx.signatures.iter().map(|s| s.public_key).collect()
    }

    /// Items of action `action` whose signatures did not verify.
    pub fn bad_items(&self, action: usize) -> Vec<usize> {
        self.bad_items
            .iter()
            .filter(|(a, _)| *a == action)
            .map(|(_, i)| *i)
            .collect()
    }

    /// The gas limit and price of the Ethereum transaction it carries, if it is an envelope
    /// (then its sender was recovered from the carried transaction's signature).
    pub fn ethereum(&self) -> Option<EthMeta> {
        self.ethereum
    }

    /// A framed Ethereum transaction whose sender was just recovered from its signature
    /// (only [`crate::verify_ethereum`] calls this, right after recovering it).
    pub(crate) fn from_ethereum(tx: Transaction, meta: EthMeta) -> Result<VerifiedTx, TxError> {
        let encoded_len = tx.encode().len();
        if encoded_len > MAX_TX_BYTES {
            return Err(TxError::Oversize {
                len: encoded_len,
                max: MAX_TX_BYTES,
            });
        }
        Ok(VerifiedTx {
            hash: tx.hash(),
            encoded_len,
            tx,
            bad_items: Vec::new(),
            ethereum: Some(meta),
        })
    }

    /// Gives the transaction back.
    pub fn into_tx(self) -> Transaction {
        self.tx
    }
}

/// Verifies the signatures of `txs` in one batch spread over all cores, with the signatures
/// embedded in their actions (proofs of possession, attestations), and checks their size.
pub fn verify_txs(txs: Vec<Transaction>) -> Vec<Result<VerifiedTx, TxError>> {
    enum Kind {
        /// The transaction's own signature.
        Tx,
        /// A signature inside an action, which the whole transaction depends on.
        Embedded(usize, SigRole),
        /// A reading's or report's signature, which only its item depends on.
        Item(usize, usize),
    }
    struct Item {
        tx: usize,
        kind: Kind,
    }
    let mut msgs: Vec<(Vec<u8>, PublicKey, Signature)> = Vec::new();
    let mut items = Vec::new();
    // Each transaction is encoded once, for its size.
    let sizes: Vec<usize> = txs.iter().map(|t| t.encode().len()).collect();
    for (i, tx) in txs.iter().enumerate() {
        // An oversize transaction is refused below without costing any verification.
        if sizes[i] > MAX_TX_BYTES {
            continue;
        }
        let body_msg = tx.body.signing_message();
        for s in &tx.signatures {
            msgs.push((body_msg.clone(), s.public_key, s.signature));
            items.push(Item {
                tx: i,
                kind: Kind::Tx,
            });
        }
        for (a, action) in tx.body.actions.iter().enumerate() {
            for e in modules::embedded_signatures(action, tx.body.chain_id, &tx.body.sender) {
                msgs.push((e.message, e.key, e.signature));
                items.push(Item {
                    tx: i,
                    kind: Kind::Embedded(a, e.role),
                });
            }
            for s in modules::item_signatures(action, tx.body.chain_id) {
                msgs.push((s.message, s.key, s.signature));
                items.push(Item {
                    tx: i,
                    kind: Kind::Item(a, s.item),
                });
            }
        }
    }
    let checks: Vec<SigCheck<'_>> = msgs
        .iter()
        .map(|(msg, key, sig)| SigCheck { msg, key, sig })
        .collect();
    let ethereum = recover_carried(&txs, &sizes);
    let mut errors: Vec<Option<TxError>> = txs
        .iter()
        .zip(&ethereum)
        .map(|(t, eth)| match eth {
            Some(Err(e)) => Some(e.clone()),
            Some(Ok(_)) => None,
            None => t.signatures.is_empty().then_some(TxError::BadSignature),
        })
        .collect();
    let mut bad_items: Vec<Vec<(usize, usize)>> = vec![Vec::new(); txs.len()];
    for (ok, item) in verify_many(&checks).into_iter().zip(items) {
        if ok || errors[item.tx] == Some(TxError::BadSignature) {
            continue;
        }
        let error = match item.kind {
            Kind::Tx => TxError::BadSignature,
            Kind::Embedded(a, SigRole::Attestation) => TxError::BadAttestation(a),
            Kind::Embedded(a, SigRole::Evidence) => TxError::BadEvidence(a),
            Kind::Embedded(a, SigRole::ProofOfPossession) => TxError::BadProofOfPossession(a),
            Kind::Item(a, i) => {
                bad_items[item.tx].push((a, i));
                continue;
            }
        };
        errors[item.tx] = Some(error);
    }
    txs.into_iter()
        .zip(errors)
        .zip(bad_items)
        .zip(sizes)
        .zip(ethereum)
        .map(|((((tx, error), bad_items), len), eth)| {
            if len > MAX_TX_BYTES {
                return Err(TxError::Oversize {
                    len,
                    max: MAX_TX_BYTES,
                });
            }
            if let Some(e) = error {
                return Err(e);
            }
            Ok(VerifiedTx {
                hash: tx.hash(),
                encoded_len: len,
                tx,
                bad_items,
                ethereum: eth.and_then(Result::ok),
            })
        })
        .collect()
}

/// `f` over `items` on all cores, in order.
pub(crate) fn parallel_map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = items.len().div_ceil(threads).max(MIN_RECOVERIES_PER_THREAD);
    if items.len() <= per {
        return items.into_iter().map(f).collect();
    }
    let mut chunks: Vec<Vec<T>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(per).collect());
    }
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| s.spawn(move || c.into_iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker thread panicked"))
            .collect()
    })
}

/// Fewest carried Ethereum transactions worth a thread of their own: a recovery costs tens of
/// microseconds, a thread about as much to start.
const MIN_RECOVERIES_PER_THREAD: usize = 64;

/// Recovers the senders of the Ethereum transactions among `txs`, spread over all cores:
/// `None` for a transaction that carries none (or is oversize, refused anyway).
fn recover_carried(txs: &[Transaction], sizes: &[usize]) -> Vec<Option<Result<EthMeta, TxError>>> {
    let carried: Vec<(usize, &[u8])> = txs
        .iter()
        .enumerate()
        .filter(|(i, _)| sizes[*i] <= MAX_TX_BYTES)
        .filter_map(|(i, t)| carried(t).map(|raw| (i, raw)))
        .collect();
    let mut out: Vec<Option<Result<EthMeta, TxError>>> = vec![None; txs.len()];
    if carried.is_empty() {
        return out;
    }
    let results = parallel_map(carried, |(i, raw)| (i, verify_carried(&txs[i].body, raw)));
    for (i, r) in results {
        out[i] = Some(r);
    }
    out
}

/// Most blocks a transaction may stay valid: a transaction that cannot run (a nonce gap) leaves
/// the mempool by then at the latest. About a day at one block per second.
pub const MAX_TX_TTL_BLOCKS: u64 = 100_000;

/// What `actions` need a transaction's fee to cover beyond the chain's minimum: the gas that
/// EVM calls buy up front.
pub fn fee_floor(actions: &[Action]) -> Amount {
    actions
        .iter()
        .map(modules::fee_floor)
        .fold(Amount::ZERO, |a, b| {
            a.checked_add(b).unwrap_or(Amount(u128::MAX))
        })
}

/// Gas a transaction may use at most: its carried Ethereum transaction's limit, or what its
/// actions may use.
pub(crate) fn gas_limit(vtx: &VerifiedTx) -> u64 {
    match vtx.ethereum {
        Some(eth) => eth.gas_limit,
        None => vtx
            .tx
            .body
            .actions
            .iter()
            .map(modules::gas_limit)
            .fold(0u64, u64::saturating_add),
    }
}

/// Checks that need no state: chain, fee, expiry against the `height` the transaction would be
/// included at, that there is something to do, and each action's own stateless rules.
pub fn check_stateless(tx: &Transaction, params: &Params, height: u64) -> Result<(), TxError> {
    let b = &tx.body;
    if b.chain_id != params.chain_id {
        return Err(TxError::WrongChain {
            expected: params.chain_id,
            got: b.chain_id,
        });
    }
    if b.actions.is_empty() {
        return Err(TxError::NoActions);
    }
    // A carried Ethereum transaction is authorised by its own signature only when it travels
    // alone and unsigned (see `ethereum`); anywhere else nothing would have checked it.
    if crate::ethereum::carried(tx).is_none() {
        if let Some(index) = b.actions.iter().position(crate::ethereum::is_envelope) {
            return Err(TxError::EnvelopeMismatch(
                if index == 0 && b.actions.len() == 1 {
                    "signatures (an Ethereum transaction carries none)"
                } else {
                    "actions (an Ethereum transaction travels alone)"
                },
            ));
        }
    }
    let min = b
        .actions
        .iter()
        .try_fold(params.min_fee, |min, a| {
            min.checked_add(modules::fee_floor(a))
        })
        .ok_or(TxError::FeeTooLow {
            min: Amount(u128::MAX),
            got: b.fee,
        })?;
    if b.fee < min {
        return Err(TxError::FeeTooLow { min, got: b.fee });
    }
    if b.expiry_height < height {
        return Err(TxError::Expired {
            expiry_height: b.expiry_height,
            height,
        });
    }
    if b.expiry_height - height > MAX_TX_TTL_BLOCKS {
        return Err(TxError::ExpiryTooFar {
            expiry_height: b.expiry_height,
            max: height.saturating_add(MAX_TX_TTL_BLOCKS),
        });
    }
    let cx = StatelessCtx {
        chain_id: params.chain_id,
        is_action_name: Action::is_action_name,
    };
    for (index, action) in b.actions.iter().enumerate() {
        modules::check_stateless(action, &cx).map_err(|error| TxError::Invalid { index, error })?;
    }
    Ok(())
}
