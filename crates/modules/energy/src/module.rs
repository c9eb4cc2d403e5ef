//! The energy market as a module: stateless checks, dispatch, end-of-block clearing and
//! settlement.

use crate::action::EnergyAction;
use crate::EnergyError;
use machina_module::{ActionCtx, Host, Module, ModuleError, StatelessCtx};
use machina_primitives::{BlockEnv, Event};
use machina_state::StateWrite;

/// The energy module.
pub struct Energy;

impl ModuleError for EnergyError {
    const CODES: &'static [&'static str] = &[
        "unknown_zone",
        "duplicate_zone",
        "invalid_zone",
        "too_many_zones",
        "no_zone",
        "not_machine_or_owner",
        "bid_above_retail",
        "ask_below_feed_in",
        "bad_interval",
        "gate_closed",
        "zero_quantity",
        "too_many_orders",
        "too_many_machine_orders",
        "unknown_order",
        "order_not_open",
    ];

    fn code(&self) -> &'static str {
        EnergyError::code(self)
    }
}

impl Module for Energy {
    const NAME: &'static str = "energy";
    const ID: u8 = 4;
    type Action = EnergyAction;
    type Error = EnergyError;
    type Genesis = ();

    fn check_stateless(action: &EnergyAction, _cx: &StatelessCtx) -> crate::Result<()> {
        match action {
            EnergyAction::PlaceOrder { qty_wh: 0, .. } => Err(EnergyError::ZeroQuantity),
            _ => Ok(()),
        }
    }

    fn execute(
        host: &mut impl Host,
        ctx: &ActionCtx,
        action: &EnergyAction,
    ) -> crate::Result<Vec<Event>> {
        let state = host;
        let now = ctx.now_ms();
        let event = match action {
            EnergyAction::CreateZone { config, grid_float } => {
                crate::create_zone(state, ctx, config, *grid_float, now)?
            }
            EnergyAction::PlaceOrder {
                machine_id,
                side,
                interval_start_ms,
                price,
                qty_wh,
            } => {
                let new = crate::NewOrder {
                    machine_id: *machine_id,
                    side: *side,
                    start: *interval_start_ms,
                    price: *price,
                    qty_wh: *qty_wh,
                };
                crate::place_order(state, ctx, new, now)?
            }
            EnergyAction::CancelOrder { zone, order_id } => {
                crate::cancel_order(state, &ctx.sender, zone, *order_id, now)?
            }
        };
        Ok(vec![event])
    }

    fn end_block(state: &mut impl StateWrite, env: &BlockEnv) -> Vec<Event> {
        crate::settle::end_block(state, env)
    }
}
