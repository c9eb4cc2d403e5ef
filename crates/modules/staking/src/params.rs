//! The staking module's parameters and genesis section, stored in the state.

use crate::{keys, Role};
use machina_primitives::{Amount, Decode, Encode, PublicKey};
use machina_state::{StateRead, StateWrite};
use serde::{Deserialize, Serialize};

/// Basis points in a whole.
pub const BPS: u32 = 10_000;

/// Minimum bonds, unbonding delays, slashes and jail terms per role.
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
    /// Blocks a slashed provider may take no new work.
    pub provider_jail_blocks: u64,
    /// Blocks a slashed reporter's reports do not count.
    pub reporter_jail_blocks: u64,
    /// Blocks a slashed validator stays jailed.
    pub validator_jail_blocks: u64,
    /// Part of a reporter's stake that feed equivocation takes, basis points.
    pub feed_equivocation_bps: u32,
    /// Part of a validator's stake that consensus equivocation takes, basis points.
    pub validator_equivocation_bps: u32,
    /// Part of an equivocation slash paid to whoever proved it, basis points; the rest goes to
    /// the insurance pool.
    pub prover_share_bps: u32,
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
            provider_jail_blocks: 100,
            reporter_jail_blocks: 100,
            validator_jail_blocks: 1_000,
            // The oracle's rule before staking existed: the whole bond, half to the prover.
            feed_equivocation_bps: BPS,
            validator_equivocation_bps: 500,
            prover_share_bps: BPS / 2,
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

    /// Blocks a slashed subject of the role stays jailed.
    pub fn jail_blocks(&self, r: Role) -> u64 {
        match r {
            Role::Provider => self.provider_jail_blocks,
            Role::Reporter => self.reporter_jail_blocks,
            Role::Validator => self.validator_jail_blocks,
        }
    }

    /// Why these parameters cannot run a chain, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        for (name, bps) in [
            ("feed_equivocation_bps", self.feed_equivocation_bps),
            (
                "validator_equivocation_bps",
                self.validator_equivocation_bps,
            ),
            ("prover_share_bps", self.prover_share_bps),
        ] {
            if bps > BPS {
                return Err(format!("{name} is {bps}; it is at most {BPS} (the whole)"));
            }
        }
        Ok(())
    }
}

/// A validator's stake written at genesis, taken from its own genesis balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// Its consensus key; the account of the same key is the bonder.
    pub key: PublicKey,
    /// Micro-units bonded.
    pub amount: Amount,
}

/// The staking module's genesis section.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StakingGenesis {
    /// The parameters (the defaults where left out).
    pub params: StakingParams,
    /// The validator set and each validator's stake.
    pub validators: Vec<GenesisValidator>,
}

impl StakingParams {
    /// The stored parameters (the defaults on a chain whose genesis predates the module).
    pub fn load(state: &impl StateRead) -> StakingParams {
        state
            .get(&keys::params())
            .map(|b| StakingParams::decode_exact(&b, 256).expect("staking wrote its params"))
            .unwrap_or_default()
    }
}

/// Stores the parameters at genesis.
pub(crate) fn store(state: &mut impl StateWrite, p: &StakingParams) {
    state.set(keys::params(), p.encode());
}
