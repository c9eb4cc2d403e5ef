//! Machina state transition function: applies a block of verified transactions to the state,
//! deterministically.
//!
//! Layer 3. Reads no clock, no randomness, no environment and does no I/O: time, height and
//! proposer come in the [`BlockEnv`](machina_primitives::BlockEnv). Order of work in a block:
//! begin-block hooks, then each transaction (stateless checks, sender authorisation and nonce,
//! fee, then its actions all-or-nothing), then end-block hooks.

mod check;
mod error;
mod ethereum;
mod exec;
pub mod genesis;
mod host;
pub mod modules;
pub mod params;

pub use check::{check_stateless, fee_floor, verify_txs, VerifiedTx, MAX_TX_TTL_BLOCKS};
pub use error::{BlockError, TxError};
pub use ethereum::{verify_ethereum, wrap_ethereum, EthMeta};
pub use modules::{Action, ModuleError, ModuleGenesis, MODULES};

/// A transaction of this chain: the primitives' frame around this chain's [`Action`].
pub type Transaction = machina_primitives::Transaction<Action>;
/// The signed body of a [`Transaction`].
pub type TxBody = machina_primitives::TxBody<Action>;
/// A block of this chain.
pub type Block = machina_primitives::Block<Action>;
pub use exec::{
    apply_block, check_admission, check_fee_funds, receipts_root, BlockExecutor, BlockOutcome,
    BlockParts,
};
pub use genesis::{extra_dev_name, is_dev_name, Genesis, DEV_ACCOUNTS, DEV_BALANCE};
pub use params::Params;
