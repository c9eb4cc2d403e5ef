//! Why a transaction was rejected. Each variant has a stable code that is part of the protocol.

use crate::ModuleError;
use machina_primitives::{Amount, CodecError, TxFailure};
use thiserror::Error;

/// A transaction rejection: before execution (nothing charged) or by an action (fee charged,
/// the actions' changes undone).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TxError {
    /// Bytes that are not a transaction.
    #[error("malformed transaction: {0}")]
    Malformed(CodecError),
    /// Larger than the protocol allows.
    #[error("transaction is {len} bytes, limit is {max}")]
    Oversize {
        /// Encoded size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A signature does not verify, or there is none.
    #[error("a signature does not verify against the transaction body")]
    BadSignature,
    /// A device or manufacturer key's proof of possession does not verify.
    #[error("action {0}: the key's proof of possession does not verify")]
    BadProofOfPossession(usize),
    /// Equivocation evidence carries a report whose signature does not verify.
    #[error("action {0}: a report in the evidence is not validly signed")]
    BadEvidence(usize),
    /// A manufacturer attestation does not verify.
    #[error("action {0}: the manufacturer's attestation does not verify")]
    BadAttestation(usize),
    /// Signed for another chain.
    #[error("transaction is for chain {got}, this chain is {expected}")]
    WrongChain {
        /// This chain.
        expected: u64,
        /// The transaction's chain id.
        got: u64,
    },
    /// Its expiry height has passed.
    #[error("transaction expired at height {expiry_height}, chain is at height {height}")]
    Expired {
        /// Last height it was valid for.
        expiry_height: u64,
        /// The height it would be included at.
        height: u64,
    },
    /// Its expiry height is further ahead than a transaction may live.
    #[error("expiry height {expiry_height} is too far ahead: at most {max}")]
    ExpiryTooFar {
        /// Its expiry height.
        expiry_height: u64,
        /// The furthest allowed now.
        max: u64,
    },
    /// Fee below the chain's minimum.
    #[error("fee {got} micro is below the minimum of {min} micro")]
    FeeTooLow {
        /// Minimum fee.
        min: Amount,
        /// The fee offered.
        got: Amount,
    },
    /// No actions.
    #[error("transaction has no actions")]
    NoActions,
    /// An action breaks a rule that needs no state to check; refused before any fee.
    #[error("action {index} is invalid: {error}")]
    Invalid {
        /// Which action.
        index: usize,
        /// Why.
        error: ModuleError,
    },
    /// The signatures do not authorise the sender.
    #[error("the signatures do not authorise account {0}")]
    Unauthorized(machina_primitives::Address),
    /// The block has no gas left for the transaction's gas limit; it waits for the next block.
    #[error("the block has {left} gas left, the transaction may use {need}")]
    BlockGasFull {
        /// The transaction's gas limit.
        need: u64,
        /// Gas left in the block.
        left: u64,
    },
    /// A transaction carrying an Ethereum transaction says something the carried one does not.
    #[error("the transaction's {0} does not match the Ethereum transaction it carries")]
    EnvelopeMismatch(&'static str),
    /// The sender is a revoked machine.
    #[error("account {0} belongs to revoked machine {1}")]
    Revoked(machina_primitives::Address, u64),
    /// The sender check or fee payment failed (bad nonce, cannot pay the fee, ...).
    #[error("{0}")]
    Sender(ModuleError),
    /// An action failed; the fee was charged and the actions' changes undone.
    #[error("action {index} failed: {error}")]
    Action {
        /// Which action.
        index: usize,
        /// Why.
        error: ModuleError,
    },
}

impl TxError {
    /// The codes the stf owns (`machine_revoked` is identity's: a revoked sender is that fact).
    pub const CODES: &'static [&'static str] = &[
        "malformed",
        "oversize",
        "bad_signature",
        "bad_proof_of_possession",
        "bad_attestation",
        "bad_evidence_signature",
        "unauthorized",
        "wrong_chain",
        "expired",
        "expiry_too_far",
        "fee_too_low",
        "no_actions",
        "block_gas_full",
        "envelope_mismatch",
    ];

    /// The stable code of this rejection.
    pub fn code(&self) -> &'static str {
        match self {
            TxError::Malformed(_) => "malformed",
            TxError::Oversize { .. } => "oversize",
            TxError::BadSignature => "bad_signature",
            TxError::BadProofOfPossession(_) => "bad_proof_of_possession",
            TxError::BadAttestation(_) => "bad_attestation",
            TxError::BadEvidence(_) => "bad_evidence_signature",
            TxError::Unauthorized(_) => "unauthorized",
            TxError::Revoked(..) => "machine_revoked",
            TxError::WrongChain { .. } => "wrong_chain",
            TxError::Expired { .. } => "expired",
            TxError::ExpiryTooFar { .. } => "expiry_too_far",
            TxError::FeeTooLow { .. } => "fee_too_low",
            TxError::NoActions => "no_actions",
            TxError::BlockGasFull { .. } => "block_gas_full",
            TxError::EnvelopeMismatch(_) => "envelope_mismatch",
            TxError::Sender(e)
            | TxError::Action { error: e, .. }
            | TxError::Invalid { error: e, .. } => e.code(),
        }
    }

    /// The module that raised it, when a module did.
    pub fn module(&self) -> Option<&'static str> {
        match self {
            TxError::Sender(e)
            | TxError::Action { error: e, .. }
            | TxError::Invalid { error: e, .. } => Some(e.module()),
            _ => None,
        }
    }

    /// The form stored in a receipt.
    pub fn to_failure(&self) -> TxFailure {
        TxFailure {
            code: self.code().to_owned(),
            message: self.to_string(),
        }
    }
}

/// Why a block is invalid as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BlockError {
    /// A transaction could not be included at all (bad nonce, signature, expiry, ...).
    #[error("transaction {index} cannot be included: {error}")]
    InvalidTx {
        /// Position in the block.
        index: usize,
        /// Why.
        error: TxError,
    },
    /// More transactions than a block may hold.
    #[error("block has {0} transactions, more than the limit")]
    TooManyTxs(usize),
}
