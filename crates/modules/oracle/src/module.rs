//! The oracle as a module: item and evidence signatures, dispatch, genesis.

use crate::action::OracleAction;
use crate::{OracleError, OracleParams};
use machina_module::{
    ActionCtx, EmbeddedSig, Host, ItemSig, Module, ModuleError, SigRole, StatelessCtx,
};
use machina_primitives::{Address, Event};
use machina_state::StateWrite;

/// The oracle module.
pub struct Oracle;

impl ModuleError for OracleError {
    // `unknown_machine` and `machine_revoked` are identity's codes, reported by the oracle.
    const CODES: &'static [&'static str] = &[
        "bad_reading_signature",
        "wrong_device_key",
        "timestamp_in_future",
        "timestamp_too_old",
        "stale_reading",
        "counter_regression",
        "power_above_rating",
        "no_readings",
        "not_measured_yet",
        "readings_pruned",
        "bad_span",
        "unknown_feed",
        "duplicate_feed",
        "invalid_feed",
        "not_a_reporter",
        "not_bonded",
        "wrong_round",
        "duplicate_report",
        "bad_report_signature",
        "no_value",
        "feed_stale",
        "invalid_evidence",
    ];

    fn code(&self) -> &'static str {
        OracleError::code(self)
    }
}

impl Module for Oracle {
    const NAME: &'static str = "oracle";
    const ID: u8 = 3;
    type Action = OracleAction;
    type Error = OracleError;
    type Genesis = OracleParams;

    fn init_genesis(state: &mut impl StateWrite, genesis: &OracleParams) -> crate::Result<()> {
        crate::init_genesis(state, genesis);
        Ok(())
    }

    fn check_stateless(_action: &OracleAction, _cx: &StatelessCtx) -> crate::Result<()> {
        Ok(())
    }

    fn embedded_signatures(action: &OracleAction, chain_id: u64, _: &Address) -> Vec<EmbeddedSig> {
        match action {
            OracleAction::ProveEquivocation { a, b } => [a, b]
                .into_iter()
                .map(|r| EmbeddedSig {
                    role: SigRole::Evidence,
                    message: r.message(chain_id),
                    key: r.reporter,
                    signature: r.signature,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn item_signatures(action: &OracleAction, chain_id: u64) -> Vec<ItemSig> {
        match action {
            OracleAction::SubmitReadings { readings } => readings
                .iter()
                .enumerate()
                .map(|(item, r)| ItemSig {
                    item,
                    message: r.reading.signing_message(chain_id),
                    key: r.device_key,
                    signature: r.signature,
                })
                .collect(),
            OracleAction::ReportFeed { reports } => reports
                .iter()
                .enumerate()
                .map(|(item, r)| ItemSig {
                    item,
                    message: r.message(chain_id),
                    key: r.reporter,
                    signature: r.signature,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn execute(
        host: &mut impl Host,
        ctx: &ActionCtx,
        action: &OracleAction,
    ) -> crate::Result<Vec<Event>> {
        let state = host;
        let now = ctx.now_ms();
        Ok(match action {
            OracleAction::SubmitReadings { readings } => {
                crate::submit_readings(state, readings, &ctx.bad_items, now)
            }
            OracleAction::ReportFeed { reports } => {
                crate::feed::report(state, reports, &ctx.bad_items, now, ctx.height())
            }
            OracleAction::CreateFeed(config) => vec![crate::feed::create(state, config)?],
            OracleAction::ProveEquivocation { a, b } => {
                crate::feed::prove_equivocation(state, ctx, a, b)?
            }
        })
    }
}
