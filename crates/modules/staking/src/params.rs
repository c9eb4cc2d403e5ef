//! The staking module's parameters: its genesis section, stored in the state.

use crate::{keys, Role};
use machina_primitives::{Amount, Decode, Encode};
use machina_state::{StateRead, StateWrite};
use serde::{Deserialize, Serialize};

/// Minimum bonds and unbonding delays per role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(default, deny_unknown_fields)]
pub struct StakingParams {
    /// Smallest provider bond, micro-units.
    pub min_provider_bond: Amount,
    /// Smallest reporter bond, micro-units.
    pub min_reporter_bond: Amount,
    /// Smallest validator bond, micro-units.
    pub min_validator_bond: Amount,
    /// Blocks a provider's unbonding stays slashable.
    pub provider_unbonding_blocks: u64,
    /// Blocks a reporter's unbonding stays slashable.
    pub reporter_unbonding_blocks: u64,
    /// Blocks a validator's unbonding stays slashable.
    pub validator_unbonding_blocks: u64,
}

impl Default for StakingParams {
    fn default() -> Self {
        StakingParams {
            min_provider_bond: Amount(10_000_000),
            min_reporter_bond: Amount(1_000_000),
            min_validator_bond: Amount(100_000_000),
            provider_unbonding_blocks: 100,
            reporter_unbonding_blocks: 100,
            validator_unbonding_blocks: 1_000,
        }
    }
}

impl StakingParams {
    /// The role's minimum bond.
    pub fn min_bond(&self, r: Role) -> Amount {
        match r {
            Role::Provider => self.min_provider_bond,
            Role::Reporter => self.min_reporter_bond,
            Role::Validator => self.min_validator_bond,
        }
    }

    /// The role's unbonding delay, blocks.
    pub fn unbonding_blocks(&self, r: Role) -> u64 {
        match r {
            Role::Provider => self.provider_unbonding_blocks,
            Role::Reporter => self.reporter_unbonding_blocks,
            Role::Validator => self.validator_unbonding_blocks,
        }
    }
}

/// The stored parameters (the defaults on a chain whose genesis predates the module).
pub fn load(state: &impl StateRead) -> StakingParams {
    state
        .get(&keys::params())
        .map(|b| StakingParams::decode_exact(&b, 256).expect("staking wrote its params"))
        .unwrap_or_default()
}

/// Stores the parameters at genesis.
pub(crate) fn store(state: &mut impl StateWrite, p: &StakingParams) {
    state.set(keys::params(), p.encode());
}
