//! Parameters of the oracle, fixed at genesis and stored in the state.

use crate::keys;
use machina_primitives::codec::{Decode, Encode};
use machina_state::{StateRead, StateWrite};
use serde::{Deserialize, Serialize};

/// Bounds of plausibility and retention for meter readings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct OracleParams {
    /// A reading may be at most this far ahead of the block time (device clocks drift).
    pub max_future_ms: u64,
    /// A reading may be at most this far behind the block time (gateways buffer).
    pub max_age_ms: u64,
    /// Average power between two readings may exceed the rating by this many percent.
    pub power_tolerance_pct: u64,
    /// Readings older than this are pruned from the state (they stay in the blocks).
    pub retention_ms: u64,
}

impl Default for OracleParams {
    fn default() -> Self {
        OracleParams {
            max_future_ms: 60_000,
            max_age_ms: 6 * 3_600_000,
            power_tolerance_pct: 10,
            retention_ms: 7 * 24 * 3_600_000,
        }
    }
}

/// Writes the parameters at genesis.
pub fn init_genesis(state: &mut impl StateWrite, p: &OracleParams) {
    state.set(keys::params(), p.encode());
}

/// The parameters (defaults if genesis did not set them).
pub fn params(state: &impl StateRead) -> OracleParams {
    state
        .get(&keys::params())
        .map_or_else(OracleParams::default, |b| {
            OracleParams::decode_exact(&b, 64).expect("oracle wrote its params")
        })
}
