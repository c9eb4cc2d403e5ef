//! Machina state transition function: applies a block of verified transactions to the state,
//! deterministically.
//!
//! Layer 3. Reads no clock, no randomness, no environment and does no I/O: time, height and
//! proposer come in the [`BlockEnv`](machina_primitives::BlockEnv). Order of work in a block:
//! begin-block hooks, then each transaction (stateless checks, sender authorisation and nonce,
//! fee, then its actions all-or-nothing), then end-block hooks.

mod check;
mod dispatch;
mod error;
mod exec;
pub mod genesis;
pub mod params;

pub use check::{check_stateless, verify_txs, VerifiedTx, MAX_TX_TTL_BLOCKS};
pub use error::{BlockError, ModuleError, TxError};
pub use exec::{apply_block, check_admission, receipts_root, BlockExecutor, BlockOutcome};
pub use genesis::{Genesis, DEV_ACCOUNTS, DEV_BALANCE};
pub use params::Params;
