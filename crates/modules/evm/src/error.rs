//! Why the evm module refused.

use machina_primitives::Address;
use thiserror::Error;

/// Why the evm module refused; each variant has a stable code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EvmError {
    /// The bytes are not a signed Ethereum transaction this chain takes.
    #[error("the Ethereum transaction does not decode: {0}")]
    BadEthereumTx(String),
    /// A transaction type the chain does not run (blob transactions, EIP-7702).
    #[error("Ethereum transaction type {0} is not supported: send a legacy, EIP-2930 or EIP-1559 transaction")]
    UnsupportedTxType(u8),
    /// A legacy transaction signed without a chain id could be replayed on any chain.
    #[error("the transaction has no chain id (pre-EIP-155): sign it with this chain's id")]
    NoChainId,
    /// The signature does not recover to a key.
    #[error("the transaction's secp256k1 signature does not recover to a sender")]
    BadEthereumSignature,
    /// Value that is not a whole number of micro-units cannot move.
    #[error("value of {0} wei is not a whole number of micro-units (10^12 wei): round it")]
    SubMicroValue(String),
    /// The sender would pay less per gas than the base fee.
    #[error("gas price of {got} wei is below the base fee of {base} wei")]
    GasPriceTooLow {
        /// What the transaction offers at most.
        got: u128,
        /// The chain's base fee.
        base: u128,
    },
    /// The gas limit is outside what a transaction may ask for.
    #[error("gas limit {got} is outside {min}..={max}")]
    BadGasLimit {
        /// The transaction's gas limit.
        got: u64,
        /// Least gas a transaction costs.
        min: u64,
        /// Most a transaction may ask for.
        max: u64,
    },
    /// The contract reverted; its state changes are undone and the gas used is paid.
    #[error("execution reverted{}", reason_suffix(.reason))]
    Reverted {
        /// The decoded reason (`Error(string)`), or the revert data in hex.
        reason: String,
        /// Gas used until the revert.
        gas_used: u64,
    },
    /// Execution stopped abnormally (out of gas, invalid opcode, ...); all gas is paid.
    #[error("execution halted: {reason}")]
    Halted {
        /// What stopped it.
        reason: String,
        /// Gas used (the whole limit for most halts).
        gas_used: u64,
    },
    /// The transaction cannot start (its sender cannot pay the value, a nonce is exhausted).
    #[error("the call cannot start: {0}")]
    Invalid(String),
    /// A call to an account that has no code, from a native action (a plain transfer goes
    /// through the bank).
    #[error("{0} has no contract code: send value with a bank transfer")]
    NoCode(Address),
    /// The value the call moves was refused by the sender's wallet policy.
    #[error("{0}")]
    Refused(machina_module::SpendRefusal),
}

fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    }
}

impl EvmError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            EvmError::BadEthereumTx(_) => "bad_ethereum_tx",
            EvmError::UnsupportedTxType(_) => "unsupported_tx_type",
            EvmError::NoChainId => "no_chain_id",
            EvmError::BadEthereumSignature => "bad_ethereum_signature",
            EvmError::SubMicroValue(_) => "sub_micro_value",
            EvmError::GasPriceTooLow { .. } => "gas_price_too_low",
            EvmError::BadGasLimit { .. } => "bad_gas_limit",
            EvmError::Reverted { .. } => "execution_reverted",
            EvmError::Halted { .. } => "execution_halted",
            EvmError::Invalid(_) => "invalid_evm_call",
            EvmError::NoCode(_) => "no_code",
            EvmError::Refused(r) => r.code,
        }
    }

    /// Gas the failed execution used, when it ran.
    pub fn gas_used(&self) -> Option<u64> {
        match self {
            EvmError::Reverted { gas_used, .. } | EvmError::Halted { gas_used, .. } => {
                Some(*gas_used)
            }
            _ => None,
        }
    }
}

/// Result alias of the evm module.
pub type Result<T> = std::result::Result<T, EvmError>;
