//! What `/metrics` adds from the API's side: every HTTP request timed by route, and the energy
//! market's figures per zone read from the committed state.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use machina_chain::Chain;
use machina_state::StateRead;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Instant;

/// Times a request and counts it under its route pattern (`unmatched` for none).
pub(crate) async fn track(State(chain): State<Arc<Chain>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let res = next.run(req).await;
    chain
        .metrics
        .http_request(&route, &method, res.status().as_u16(), started.elapsed());
    res
}

/// Per zone: the last cleared interval's price and volume, the escrow held, and the intervals
/// cleared but not yet settled.
pub(crate) fn zone_metrics(state: &impl StateRead) -> String {
    let mut out = String::new();
    let series = [
        (
            "machina_energy_clearing_price",
            "Clearing price of the zone's last cleared interval, micro-units per kWh.",
        ),
        (
            "machina_energy_cleared_volume_wh",
            "Energy matched in the zone's last cleared interval, Wh.",
        ),
        (
            "machina_energy_escrow_micro",
            "Micro-units held in the zone's escrow (open and cleared orders).",
        ),
        (
            "machina_energy_intervals_unsettled",
            "Intervals of the zone cleared and not yet settled.",
        ),
    ];
    let mut rows: Vec<[u128; 4]> = Vec::new();
    let zones = machina_energy::market::zones(state);
    for name in &zones {
        let Some(z) = machina_energy::market::zone(state, name) else {
            rows.push([0; 4]);
            continue;
        };
        let step = z.config.interval_ms.max(1);
        let last = z.clear_cursor.saturating_sub(step);
        let iv = machina_energy::market::interval(state, name, last);
        let escrow =
            machina_bank::account(state, &machina_energy::market::escrow_address(name)).balance;
        let unsettled = z.clear_cursor.saturating_sub(z.settle_cursor) / step;
        rows.push([
            u128::from(iv.price.unwrap_or(0)),
            u128::from(iv.volume_wh),
            escrow.0,
            u128::from(unsettled),
        ]);
    }
    for (i, (name, help)) in series.iter().enumerate() {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (zone, row) in zones.iter().zip(&rows) {
            let _ = writeln!(
                out,
                "{name}{{zone=\"{}\"}} {}",
                zone.escape_default(),
                row[i]
            );
        }
    }
    out
}
