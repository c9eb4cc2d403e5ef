//! `IActions` (`0x…0a05`): a contract runs a module action as itself, given the action's
//! canonical encoding (`docs/wire.md`): post and top up compute jobs, transfer, offer and buy
//! shares, claim revenue, bond and unbond stake, transfer tokens. Only actions that carry no
//! signatures of their own are taken (a device's proof of possession, a reading's signature,
//! evidence): nothing here would verify them.

use super::{run_action, Answer, PrecompileCall, WRITE_GAS};
use crate::abi::{Args, Token};
use crate::db::Layer;
use machina_module::{ActionCtx, Module};
use machina_primitives::codec::{Decode, Tagged};
use machina_primitives::limits::MAX_TX_BYTES;
use machina_state::StateRead;

/// The actions a contract may run through `IActions.run`, by name.
pub const CONTRACT_ACTIONS: &[&str] = &[
    "transfer",
    "job",
    "top_up",
    "close",
    "transfer_shares",
    "offer_shares",
    "buy_shares",
    "claim_revenue",
    "bond",
    "unbond",
];

fn decode<A: Decode + Tagged>(bytes: &[u8]) -> Result<A, String> {
    let a = A::decode_exact(bytes, MAX_TX_BYTES)
        .map_err(|e| format!("malformed: the action does not decode: {e}"))?;
    if !CONTRACT_ACTIONS.contains(&a.name()) {
        return Err(format!(
            "action_not_allowed: a contract cannot run {} through IActions (it runs {})",
            a.name(),
            CONTRACT_ACTIONS.join(", ")
        ));
    }
    Ok(a)
}

/// Decodes an action of module `M`, checks its stateless rules as admission would, and runs it.
fn check_and_run<M: Module, S: StateRead>(
    layer: &mut Layer<'_, S>,
    ctx: &ActionCtx,
    bytes: &[u8],
) -> Result<(), String> {
    let a: M::Action = decode(bytes)?;
    let cx = machina_module::StatelessCtx {
        chain_id: ctx.env.chain_id,
        // Only session grants name actions, and a contract cannot grant one here.
        is_action_name: |_| false,
    };
    M::check_stateless(&a, &cx)
        .map_err(|e| format!("{}: {e}", machina_module::ModuleError::code(&e)))?;
    run_action::<M, S>(layer, ctx, &a)
}

fn owns<A: Tagged>(tag: u8) -> bool {
    A::TAGS.iter().any(|(t, _)| *t == tag)
}

/// Runs `run(bytes action)` for the calling contract.
pub(super) fn run<S: StateRead>(
    layer: &mut Layer<'_, S>,
    ctx: &ActionCtx,
    call: &PrecompileCall<'_>,
    args: &Args<'_>,
) -> Result<Answer, String> {
    if !call.writable {
        return Err("read_only: IActions.run cannot run in a static or delegate call".into());
    }
    let bytes = args.bytes(0, MAX_TX_BYTES).map_err(super::bad_args)?;
    let tag = *bytes.first().ok_or("malformed: the action is empty")?;
    let ctx = super::action_ctx(ctx, call.caller, None);
    if owns::<machina_bank::BankAction>(tag) {
        check_and_run::<machina_bank::Bank, S>(layer, &ctx, &bytes)?;
    } else if owns::<machina_compute::ComputeAction>(tag) {
        check_and_run::<machina_compute::Compute, S>(layer, &ctx, &bytes)?;
    } else if owns::<machina_shares::SharesAction>(tag) {
        check_and_run::<machina_shares::Shares, S>(layer, &ctx, &bytes)?;
    } else if owns::<machina_staking::StakingAction>(tag) {
        check_and_run::<machina_staking::Staking, S>(layer, &ctx, &bytes)?;
    } else {
        return Err(format!(
            "action_not_allowed: no action a contract may run has tag {tag}"
        ));
    }
    Ok(Answer {
        ok: true,
        output: crate::abi::encode(&[Token::Bool(true)]),
        gas: WRITE_GAS,
    })
}
