//! Machina evm module: contracts on revm whose code and storage live in the authenticated
//! state, Ethereum transactions as a second envelope, and precompiles into the other modules.
//!
//! Layer 2. Balances and nonces stay the bank's: an Ethereum address is a Machina address, and
//! the EVM sees an account's micro-units times 10^12 as wei (see [`units`]). Contract code and
//! storage are this module's state keys. Every value a contract moves conserves the supply;
//! value out of a machine's account passes its wallet policy.

pub mod abi;
mod action;
pub mod cli;
mod db;
mod envelope;
mod error;
pub mod exec;
mod keys;
mod module;
pub mod precompiles;
mod recover;
pub mod routes;
pub mod sign;
pub mod units;

pub use action::{EvmAction, MAX_CALLDATA_BYTES, MAX_ETH_TX_BYTES, MAX_INITCODE_BYTES};
pub use envelope::{decode_ethereum, decode_with_sender, EthTx};
pub use error::{EvmError, Result};
pub use exec::{Call, Log, Outcome, Status};
pub use module::{
    create_address, gas_used, simulate, Evm, EvmGenesis, MAX_LOGS_PER_TX, MAX_LOG_DATA_BYTES,
};
pub use units::{gas_fee, BASE_FEE_WEI, WEI_PER_MICRO};

/// Gas a block's transactions may use in all, counted by their gas limits: about 20,000
/// ERC-20 transfers, and a bound on the block's EVM work.
pub const BLOCK_GAS_LIMIT: u64 = 1_000_000_000;

/// Most gas one transaction may ask for: a block's worth.
pub const MAX_TX_GAS: u64 = BLOCK_GAS_LIMIT;

/// Gas every transaction costs before it runs (Ethereum's intrinsic cost of a transfer).
pub const MIN_TX_GAS: u64 = 21_000;

/// A contract's code (empty for an account without code).
pub fn code(state: &impl machina_state::StateRead, addr: &machina_primitives::Address) -> Vec<u8> {
    db::code_of(state, addr).map(|(_, c)| c).unwrap_or_default()
}

/// A contract's storage slot.
pub fn storage(
    state: &impl machina_state::StateRead,
    addr: &machina_primitives::Address,
    slot: &[u8; 32],
) -> [u8; 32] {
    db::slot_of(state, addr, slot).to_be_bytes::<32>()
}
