//! Staking as a module: stateless checks, dispatch, genesis, the end-of-block releases.

use crate::action::StakingAction;
use crate::{StakingError, StakingGenesis, StakingParams, MAX_EVIDENCE_BYTES};
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
        "subject_unbonding_full",
        "too_many_bonders",
        "too_many_bonds",
        "invalid_subject",
        "invalid_equivocation_evidence",
        "evidence_used",
        "nothing_staked",
        "already_jailed",
        "invalid_staking_genesis",
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
    type Genesis = StakingGenesis;

    fn init_genesis(state: &mut impl StateWrite, g: &StakingGenesis) -> crate::Result<()> {
        g.params.check().map_err(StakingError::InvalidGenesis)?;
        // Default parameters are not written: a chain started before staking existed and one
        // started with the defaults have the same state (and root).
        if g.params != StakingParams::default() {
            crate::params::store(state, &g.params);
        }
        crate::validator::init_genesis(state, &g.validators)
    }

    fn check_stateless(action: &StakingAction, _cx: &StatelessCtx) -> crate::Result<()> {
        match action {
            StakingAction::Bond { amount, .. } | StakingAction::Unbond { amount, .. } => {
                if *amount == Amount::ZERO {
                    return Err(StakingError::ZeroStake);
                }
            }
            StakingAction::ProveValidatorEquivocation { evidence } => {
                if evidence.is_empty() || evidence.len() > MAX_EVIDENCE_BYTES {
                    return Err(StakingError::InvalidEvidence(format!(
                        "evidence has 1 to {MAX_EVIDENCE_BYTES} bytes"
                    )));
                }
                // Decoding is pure: malformed evidence is refused before any fee.
                crate::validator::Equivocation::decode(evidence)?;
            }
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
            StakingAction::ProveValidatorEquivocation { evidence } => {
                crate::validator::prove(host, ctx, evidence)?
            }
        };
        Ok(vec![e])
    }

    fn end_block(state: &mut impl StateWrite, env: &BlockEnv) -> Vec<Event> {
        crate::release_due(state, env.height)
    }
}
