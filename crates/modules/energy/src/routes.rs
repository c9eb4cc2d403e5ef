//! The energy market's HTTP routes and their response types (shared with the CLI).

use crate::records::{Interval, OrderRec, Zone};
use crate::{market, Machine};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Json;
use machina_module_api::{
    parse_id, quote, ApiError, ApiPath, ApiQuery, ApiResult, ReadHost, Routes,
};
use machina_primitives::Address;
use serde::{Deserialize, Serialize};

/// `GET /v1/energy/zones`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ZonesView {
    /// Every zone's name, in order.
    pub zones: Vec<String>,
}

/// `GET /v1/energy/zone/{name}`: the rules, the cursors and the zone's accounts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ZoneView {
    /// The zone record.
    pub zone: Zone,
    /// Holds the open orders' escrow.
    pub escrow_account: Address,
    /// Pays feed-in credits for unused energy.
    pub grid_account: Address,
    /// Receives the market fee.
    pub fee_account: Address,
}

/// `GET /v1/energy/zone/{name}/interval/{start}`: the book, the clearing and the settlement.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IntervalView {
    /// The zone.
    pub zone: String,
    /// The interval's start, ms.
    pub interval_start_ms: u64,
    /// Clearing result and settlement totals.
    pub interval: Interval,
    /// The orders (left out with `?orders=false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders: Option<Vec<OrderRec>>,
}

/// `GET /v1/energy/machine/{id}/orders`: a machine's orders, fills and bills over a span.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TradesView {
    /// The machine.
    pub machine_id: u64,
    /// Its zone.
    pub zone: String,
    /// Its orders in the span.
    pub orders: Vec<OrderRec>,
}

/// Most intervals one trades query scans: a day of 15-minute intervals, several times over.
pub const MAX_TRADE_INTERVALS: u64 = 1_000;

/// The energy market's routes.
pub fn routes<H: ReadHost>() -> Routes<H> {
    vec![
        ("/v1/energy/zones", "get", get(get_zones::<H>)),
        ("/v1/energy/zone/{name}", "get", get(get_zone::<H>)),
        (
            "/v1/energy/zone/{name}/interval/{start}",
            "get",
            get(get_interval::<H>),
        ),
        (
            "/v1/energy/zone/{name}/order/{id}",
            "get",
            get(get_order::<H>),
        ),
        (
            "/v1/energy/machine/{id}/orders",
            "get",
            get(get_trades::<H>),
        ),
    ]
}

fn not_found(what: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
}

fn zone_of(state: &impl machina_state::StateRead, name: &str) -> Result<Zone, ApiError> {
    market::zone(state, name).ok_or_else(|| not_found(format!("no zone named {}", quote(name))))
}

async fn get_zones<H: ReadHost>(State(h): State<H>) -> ApiResult<ZonesView> {
    Ok(Json(ZonesView {
        zones: market::zones(&h.view().state),
    }))
}

async fn get_zone<H: ReadHost>(
    State(h): State<H>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<ZoneView> {
    let zone = zone_of(&h.view().state, &name)?;
    Ok(Json(ZoneView {
        zone,
        escrow_account: market::escrow_address(&name),
        grid_account: market::grid_address(&name),
        fee_account: market::fee_address(&name),
    }))
}

#[derive(Deserialize)]
struct BookQuery {
    orders: Option<bool>,
}

async fn get_interval<H: ReadHost>(
    State(h): State<H>,
    ApiPath((name, start)): ApiPath<(String, u64)>,
    ApiQuery(q): ApiQuery<BookQuery>,
) -> ApiResult<IntervalView> {
    let state = h.view().state;
    let step = zone_of(&state, &name)?.config.interval_ms;
    if start % step != 0 {
        // An unaligned start names no interval: say so rather than show an empty one.
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_interval",
            format!(
                "{start} is not the start of an interval of zone {}: intervals start at multiples of {step} ms, e.g. {}",
                quote(&name),
                start / step * step
            ),
        ));
    }
    Ok(Json(IntervalView {
        interval: market::interval(&state, &name, start),
        orders: q
            .orders
            .unwrap_or(true)
            .then(|| market::orders_of(&state, &name, start)),
        zone: name,
        interval_start_ms: start,
    }))
}

async fn get_order<H: ReadHost>(
    State(h): State<H>,
    ApiPath((name, id)): ApiPath<(String, u64)>,
) -> ApiResult<OrderRec> {
    market::order(&h.view().state, &name, id)
        .map(Json)
        .ok_or_else(|| not_found(format!("no order {id} in zone {}", quote(&name))))
}

#[derive(Deserialize)]
struct TradesQuery {
    from_ms: u64,
    to_ms: u64,
}

async fn get_trades<H: ReadHost>(
    State(h): State<H>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<TradesQuery>,
) -> ApiResult<TradesView> {
    let state = h.view().state;
    let id = parse_id(&id)?;
    let m: Machine = machina_identity::machine(&state, id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_machine",
            format!("no machine with id {id}"),
        )
    })?;
    let zone = m
        .zone
        .clone()
        .ok_or_else(|| not_found(format!("machine {id} belongs to no zone")))?;
    let step = zone_of(&state, &zone)?.config.interval_ms;
    let first = q.from_ms / step * step;
    if q.to_ms < first || (q.to_ms - first) / step > MAX_TRADE_INTERVALS {
        return Err(ApiError::bad_query(format!(
            "from_ms..to_ms must span at most {MAX_TRADE_INTERVALS} intervals"
        )));
    }
    // Only intervals the machine placed orders in are read in full.
    let orders = (0..=(q.to_ms - first) / step)
        .map(|i| first + i * step)
        .filter(|start| market::machine_order_count(&state, &zone, *start, id) > 0)
        .flat_map(|start| market::orders_of(&state, &zone, start))
        .filter(|o| o.machine_id == id)
        .collect();
    Ok(Json(TradesView {
        machine_id: id,
        zone,
        orders,
    }))
}
