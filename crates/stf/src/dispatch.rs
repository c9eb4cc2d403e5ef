//! Routes each action to the module that owns it.

use crate::error::ModuleError;
use crate::VerifiedTx;
use machina_primitives::{Action, BlockEnv, Event};
use machina_state::StateWrite;
use machina_wallet::{Session, SpendCtx};

/// Executes action `index` of the transaction `vtx` for its sender; returns its events.
pub(crate) fn execute(
    state: &mut impl StateWrite,
    ctx: &SpendCtx,
    env: &BlockEnv,
    vtx: &VerifiedTx,
    index: usize,
    action: &Action,
) -> Result<Vec<Event>, ModuleError> {
    let sender = &ctx.sender;
    let body = &vtx.tx().body;
    let now = env.timestamp_ms;
    let event = match action {
        Action::SubmitReadings { readings } => {
            return Ok(machina_oracle::submit_readings(
                state,
                readings,
                &vtx.bad_items(index),
                now,
            ))
        }
        Action::ReportFeed { reports } => {
            return Ok(machina_oracle::feed::report(
                state,
                reports,
                &vtx.bad_items(index),
                now,
            ))
        }
        Action::CreateFeed(config) => machina_oracle::feed::create(state, config)?,
        Action::CreateZone { config, grid_float } => {
            machina_energy::create_zone(state, ctx, config, *grid_float, now)?
        }
        Action::PlaceOrder {
            machine_id,
            side,
            interval_start_ms,
            price,
            qty_wh,
        } => {
            let new = machina_energy::NewOrder {
                machine_id: *machine_id,
                side: *side,
                start: *interval_start_ms,
                price: *price,
                qty_wh: *qty_wh,
            };
            machina_energy::place_order(state, ctx, new, now)?
        }
        Action::CancelOrder { zone, order_id } => {
            machina_energy::cancel_order(state, sender, zone, *order_id, now)?
        }
        Action::BondFeed { feed } => machina_oracle::feed::bond(state, ctx, feed)?,
        Action::ProveEquivocation { a, b } => {
            machina_oracle::feed::prove_equivocation(state, sender, a, b)?
        }
        Action::Transfer { to, amount } => machina_wallet::pay(state, ctx, sender, to, *amount)?,
        Action::RegisterManufacturer {
            name, public_key, ..
        } => machina_identity::register_manufacturer(state, name, public_key)?,
        Action::RegisterMachine(reg) => {
            machina_identity::register(state, sender, reg, ctx.height)?.1
        }
        Action::SetMachineMetadata {
            machine_id,
            metadata,
        } => machina_identity::set_metadata(state, sender, *machine_id, metadata)?,
        Action::SetMachineZone { machine_id, zone } => {
            machina_identity::set_zone(state, sender, *machine_id, zone.as_deref())?
        }
        Action::RotateDeviceKey {
            machine_id,
            new_key,
            ..
        } => machina_identity::rotate_key(state, sender, *machine_id, new_key)?,
        Action::RevokeMachine { machine_id } => {
            machina_identity::revoke(state, sender, *machine_id)?
        }
        Action::TransferMachine {
            machine_id,
            new_owner,
        } => machina_identity::transfer(state, sender, *machine_id, new_owner)?,
        Action::SetSpendPolicy { machine_id, policy } => {
            machina_wallet::set_policy(state, sender, *machine_id, policy)?
        }
        Action::SetWalletFrozen { machine_id, frozen } => {
            machina_wallet::set_frozen(state, sender, *machine_id, *frozen)?
        }
        Action::SweepMachine { machine_id } => machina_wallet::sweep(state, sender, *machine_id)?,
        Action::GrantSession {
            machine_id,
            key,
            actions,
            spend_cap,
            expiry_height,
        } => {
            let grant = Session {
                granted_by: *sender,
                actions: actions.clone(),
                spend_cap: *spend_cap,
                spent: machina_primitives::Amount::ZERO,
                expiry_height: *expiry_height,
            };
            machina_wallet::grant_session(state, sender, *machine_id, key, grant, ctx.height)?
        }
        Action::RevokeSession { machine_id, key } => {
            machina_wallet::revoke_session(state, sender, *machine_id, key)?
        }
        Action::CreateMultisig { members, threshold } => {
            let address = machina_wallet::multisig_address(sender, body.nonce, index as u64);
            machina_wallet::create_multisig(state, &address, members, *threshold)?
        }
        Action::UpdateMultisig { members, threshold } => {
            machina_wallet::update_multisig(state, sender, members, *threshold)?
        }
        Action::GrantFeeAllowance {
            grantee,
            cap,
            expiry_height,
        } => machina_wallet::grant_allowance(
            state,
            sender,
            grantee,
            *cap,
            *expiry_height,
            ctx.height,
        )?,
        Action::RevokeFeeAllowance { grantee } => {
            machina_wallet::revoke_allowance(state, sender, grantee)?
        }
    };
    Ok(vec![event])
}
