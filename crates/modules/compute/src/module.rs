//! The compute market as a module: dispatch, genesis, the end-of-block payments and matching.

use crate::action::ComputeAction;
use crate::{ComputeError, ComputeParams};
use machina_module::{ActionCtx, Host, ItemSig, Module, ModuleError, StatelessCtx};
use machina_primitives::{Amount, BlockEnv, Event};
use machina_state::StateWrite;

/// The compute module.
pub struct Compute;

impl ModuleError for ComputeError {
    // `unknown_machine`, `not_owner` and `machine_revoked` are identity's codes.
    const CODES: &'static [&'static str] = &[
        "invalid_offer",
        "invalid_job",
        "unknown_offer",
        "unknown_job",
        "not_yours",
        "book_full",
        "too_many_waiting_jobs",
        "capacity_in_use",
        "job_ended",
        "offer_withdrawn",
        "no_provider_bond",
        "unknown_lease",
        "bad_heartbeat",
        "no_results",
        "result_window",
        "not_auditor",
        "attributes_changed",
        "not_attested",
        "invalid_compute_params",
    ];

    fn code(&self) -> &'static str {
        ComputeError::code(self)
    }

    fn is_policy_breach(&self) -> bool {
        matches!(self, ComputeError::Wallet(w) if w.is_policy_breach())
    }
}

impl Module for Compute {
    const NAME: &'static str = "compute";
    const ID: u8 = 6;
    type Action = ComputeAction;
    type Error = ComputeError;
    type Genesis = ComputeParams;

    fn init_genesis(state: &mut impl StateWrite, p: &ComputeParams) -> crate::Result<()> {
        if p.auditors.len() > crate::MAX_AUDITORS {
            return Err(ComputeError::InvalidParams(format!(
                "at most {} auditors",
                crate::MAX_AUDITORS
            )));
        }
        // Defaults are not written, so chains from before the module keep their roots.
        if *p != ComputeParams::default() {
            p.store(state);
        }
        Ok(())
    }

    fn check_stateless(action: &ComputeAction, _cx: &StatelessCtx) -> crate::Result<()> {
        match action {
            ComputeAction::Job { deposit, .. } if *deposit == Amount::ZERO => Err(
                ComputeError::InvalidJob("a job's deposit is at least 1 micro".into()),
            ),
            ComputeAction::TopUp { amount, .. } if *amount == Amount::ZERO => Err(
                ComputeError::InvalidJob("a top-up is at least 1 micro".into()),
            ),
            _ => Ok(()),
        }
    }

    fn item_signatures(action: &ComputeAction, chain_id: u64) -> Vec<ItemSig> {
        let ComputeAction::Heartbeats { beats } = action else {
            return Vec::new();
        };
        beats
            .iter()
            .enumerate()
            .map(|(item, b)| ItemSig {
                item,
                message: crate::Heartbeat::signing_message(
                    chain_id,
                    b.job_id,
                    b.replica,
                    b.height,
                    b.gpu_seconds,
                ),
                key: b.device_key,
                signature: b.signature,
            })
            .collect()
    }

    fn execute(
        host: &mut impl Host,
        ctx: &ActionCtx,
        action: &ComputeAction,
    ) -> crate::Result<Vec<Event>> {
        let s = &ctx.sender;
        Ok(match action {
            ComputeAction::Offer { machine_id, terms } => {
                vec![crate::create_offer(host, s, *machine_id, terms)?]
            }
            ComputeAction::UpdateOffer { offer_id, terms } => {
                crate::update_offer(host, s, *offer_id, terms)?
            }
            ComputeAction::WithdrawOffer { offer_id } => {
                vec![crate::withdraw_offer(host, s, *offer_id)?]
            }
            ComputeAction::Attest {
                offer_id,
                attributes,
            } => vec![crate::attest(host, s, *offer_id, attributes, ctx.height())?],
            ComputeAction::RevokeAttestation { offer_id } => {
                vec![crate::revoke_attestation(host, s, *offer_id)?]
            }
            ComputeAction::Job { spec, deposit } => {
                vec![crate::post_job(host, ctx, spec, *deposit)?]
            }
            ComputeAction::TopUp { job_id, amount } => crate::top_up(host, ctx, *job_id, *amount)?,
            ComputeAction::Close { job_id } => crate::close(host, ctx, *job_id)?,
            ComputeAction::Ack { job_id, replica } => {
                vec![crate::ack(host, ctx, *job_id, *replica)?]
            }
            ComputeAction::Commit {
                job_id,
                replica,
                commitment,
            } => vec![crate::commit(host, ctx, *job_id, *replica, *commitment)?],
            ComputeAction::Reveal {
                job_id,
                replica,
                result,
                uri,
                salt,
            } => vec![crate::reveal(
                host, ctx, *job_id, *replica, *result, uri, *salt,
            )?],
            ComputeAction::Heartbeats { beats } => {
                crate::heartbeats(host, beats, &ctx.bad_items, ctx.height())
            }
        })
    }

    fn end_block(state: &mut impl StateWrite, env: &BlockEnv) -> Vec<Event> {
        // Payments first (they free slots of ended jobs), then this block's matching.
        let mut events = crate::run_due(state, env);
        events.extend(crate::match_waiting(state, env.height));
        events
    }
}
