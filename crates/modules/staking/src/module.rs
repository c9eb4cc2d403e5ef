//! Staking as a module: stateless checks, dispatch, genesis, the end-of-block releases.

use crate::action::StakingAction;
use crate::{StakingError, StakingParams};
use machina_module::{ActionCtx, Host, Module, ModuleError, StatelessCtx};
use machina_primitives::{Amount, BlockEnv, Event};
use machina_state::StateWrite;

/// The staking module.
pub struct Staking;

impl ModuleError for StakingError {
    const CODES: &'static [&'static str] = &[
        "zero_stake",
        "bond_below_minimum",
        "not_bonded_enough",
        "too_many_unbondings",
        "invalid_subject",
    ];

    fn code(&self) -> &'static str {
        StakingError::code(self)
    }

    fn is_policy_breach(&self) -> bool {
        matches!(self, StakingError::Wallet(w) if w.is_policy_breach())
    }
}

impl Module for Staking {
    const NAME: &'static str = "staking";
    const ID: u8 = 5;
    type Action = StakingAction;
    type Error = StakingError;
    type Genesis = StakingParams;

    fn init_genesis(state: &mut impl StateWrite, p: &StakingParams) -> crate::Result<()> {
        // Default parameters are not written: a chain started before staking existed and one
        // started with the defaults have the same state (and root).
        if *p != StakingParams::default() {
            crate::params::store(state, p);
        }
        Ok(())
    }

    fn check_stateless(action: &StakingAction, _cx: &StatelessCtx) -> crate::Result<()> {
        let (StakingAction::Bond { amount, .. } | StakingAction::Unbond { amount, .. }) = action;
        if *amount == Amount::ZERO {
            return Err(StakingError::ZeroStake);
        }
        Ok(())
    }

    fn execute(
        host: &mut impl Host,
        ctx: &ActionCtx,
        action: &StakingAction,
    ) -> crate::Result<Vec<Event>> {
        let e = match action {
            StakingAction::Bond { subject, amount } => crate::bond(host, ctx, subject, *amount)?,
            StakingAction::Unbond { subject, amount } => {
                crate::unbond(host, ctx, subject, *amount)?
            }
        };
        Ok(vec![e])
    }

    fn end_block(state: &mut impl StateWrite, env: &BlockEnv) -> Vec<Event> {
        crate::release_due(state, env.height)
    }
}
