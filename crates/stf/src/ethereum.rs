//! Ethereum transactions in Machina's frame: a transaction with no Machina signatures and one
//! `evm` envelope action. The carried transaction's secp256k1 signature names the sender and
//! its hash is the id; the frame's fields must say what the carried transaction says.

use crate::{Action, Transaction, TxBody, TxError, VerifiedTx, MAX_TX_TTL_BLOCKS};
use machina_evm::{EthTx, EvmAction};

/// What block execution needs to know of a carried Ethereum transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EthMeta {
    /// Its gas limit.
    pub gas_limit: u64,
    /// The gas price it pays, wei per gas (whole micro-units).
    pub gas_price_wei: u128,
}

/// The raw Ethereum transaction a transaction carries, when it is an envelope.
pub(crate) fn carried(tx: &Transaction) -> Option<&[u8]> {
    match (tx.signatures.as_slice(), tx.body.actions.as_slice()) {
        ([], [Action::Evm(EvmAction::Ethereum { raw })]) => Some(raw),
        _ => None,
    }
}

/// Whether `action` carries an Ethereum transaction.
pub(crate) fn is_envelope(action: &Action) -> bool {
    matches!(action, Action::Evm(EvmAction::Ethereum { .. }))
}

/// Frames a signed Ethereum transaction as a Machina transaction that may wait in the mempool
/// until `height + MAX_TX_TTL_BLOCKS`. Refused when it does not decode or its signature does
/// not recover.
pub fn wrap_ethereum(raw: Vec<u8>, height: u64) -> Result<Transaction, TxError> {
    let eth = machina_evm::decode_ethereum(&raw).map_err(|e| TxError::Invalid {
        index: 0,
        error: e.into(),
    })?;
    Ok(frame(raw, &eth, height))
}

/// Recovers the sender of a carried transaction and checks that the frame agrees with it.
pub(crate) fn verify_carried(body: &TxBody, raw: &[u8]) -> Result<EthMeta, TxError> {
    let eth: EthTx = machina_evm::decode_ethereum(raw).map_err(|e| TxError::Invalid {
        index: 0,
        error: e.into(),
    })?;
    let mismatch = if body.chain_id != eth.chain_id {
        Some("chain id")
    } else if body.sender != eth.sender {
        Some("sender")
    } else if body.nonce != eth.nonce {
        Some("nonce")
    } else if body.fee != eth.max_fee() {
        Some("fee")
    } else if body.fee_payer.is_some() {
        Some("fee payer")
    } else {
        None
    };
    match mismatch {
        Some(field) => Err(TxError::EnvelopeMismatch(field)),
        None => Ok(EthMeta {
            gas_limit: eth.gas_limit,
            gas_price_wei: eth.gas_price_wei,
        }),
    }
}

/// Frames and verifies signed Ethereum transactions in one pass over all cores: each sender is
/// recovered once, and the frame is built from what it recovered, so the transaction comes
/// back verified (as [`crate::verify_txs`] would return it, without recovering it again).
pub fn verify_ethereum(raws: Vec<Vec<u8>>, height: u64) -> Vec<Result<VerifiedTx, TxError>> {
    crate::check::parallel_map(raws, move |raw| {
        let eth = machina_evm::decode_ethereum(&raw).map_err(|e| TxError::Invalid {
            index: 0,
            error: e.into(),
        })?;
        let meta = EthMeta {
            gas_limit: eth.gas_limit,
            gas_price_wei: eth.gas_price_wei,
        };
        let tx = frame(raw, &eth, height);
        VerifiedTx::from_ethereum(tx, meta)
    })
}

fn frame(raw: Vec<u8>, eth: &EthTx, height: u64) -> Transaction {
    Transaction {
        body: TxBody {
            chain_id: eth.chain_id,
            sender: eth.sender,
            nonce: eth.nonce,
            fee: eth.max_fee(),
            expiry_height: height.saturating_add(MAX_TX_TTL_BLOCKS),
            fee_payer: None,
            actions: vec![Action::Evm(EvmAction::Ethereum { raw })],
        },
        signatures: Vec::new(),
    }
}
