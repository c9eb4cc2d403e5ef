//! The evm module's actions.

use machina_primitives::{Address, Amount, Decode, Encode};
use serde::{Deserialize, Serialize};

/// Largest signed Ethereum transaction the chain accepts, bytes: an init code of
/// [`MAX_INITCODE_BYTES`] with room for its RLP frame, access list and signature.
pub const MAX_ETH_TX_BYTES: usize = 128 * 1024;

/// Largest contract creation code (EIP-3860's limit).
pub const MAX_INITCODE_BYTES: usize = 49_152;

/// Largest call data of a native call, bytes.
pub const MAX_CALLDATA_BYTES: usize = 64 * 1024;

/// The evm module's actions. Tags are protocol: they never change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[codec(what = "evm action")]
pub enum EvmAction {
    /// A signed Ethereum transaction (legacy with EIP-155, EIP-2930 or EIP-1559), as
    /// `eth_sendRawTransaction` receives it. It travels alone in a transaction with no Machina
    /// signatures: its secp256k1 signature names the sender, and its hash is the id.
    #[codec(tag = 90)]
    Ethereum {
        /// The EIP-2718 encoding: the type byte and RLP, or legacy RLP.
        #[codec(max = MAX_ETH_TX_BYTES, what = "ethereum transaction")]
        #[serde(with = "machina_primitives::hex_serde::bytes")]
        raw: Vec<u8>,
    },
    /// Call a contract from the sender's account (a machine's wallet too, under its policy:
    /// `value` counts against its caps and allowlist). Gas up to `gas_limit` is paid in the
    /// transaction's fee at the base fee.
    #[codec(tag = 91)]
    Call {
        /// The contract.
        to: Address,
        /// Micro-units sent with the call.
        value: Amount,
        /// ABI-encoded call data.
        #[codec(max = MAX_CALLDATA_BYTES, what = "call data")]
        #[serde(with = "machina_primitives::hex_serde::bytes")]
        data: Vec<u8>,
        /// Most gas the call may use.
        gas_limit: u64,
    },
    /// Deploy a contract from the sender's account; its address follows from the sender and
    /// the transaction's nonce, as Ethereum's `CREATE` computes it.
    #[codec(tag = 92)]
    Deploy {
        /// Creation code with its constructor arguments appended.
        #[codec(max = MAX_INITCODE_BYTES, what = "creation code")]
        #[serde(with = "machina_primitives::hex_serde::bytes")]
        code: Vec<u8>,
        /// Micro-units sent to the constructor.
        value: Amount,
        /// Most gas the creation may use.
        gas_limit: u64,
    },
}

impl EvmAction {
    /// Gas the action may use at most, for the block's gas limit.
    pub fn gas_limit(&self) -> Option<u64> {
        match self {
            EvmAction::Ethereum { .. } => None,
            EvmAction::Call { gas_limit, .. } | EvmAction::Deploy { gas_limit, .. } => {
                Some(*gas_limit)
            }
        }
    }
}
