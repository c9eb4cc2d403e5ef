//! The oracle's HTTP routes and their response types (shared with the CLI).

use crate::action::FeedConfig;
use crate::OracleError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Json;
use machina_module_api::{
    parse_id, quote, ApiError, ApiPath, ApiQuery, ApiResult, ReadHost, Routes,
};
use machina_primitives::Amount;
use serde::{Deserialize, Serialize};

/// `GET /v1/meter/{id}`: a machine's latest accepted reading on a channel.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MeterView {
    /// The machine.
    pub machine_id: u64,
    /// The channel.
    pub channel: u16,
    /// The reading's sequence number.
    pub seq: u64,
    /// When it was measured, ms.
    pub timestamp_ms: u64,
    /// Cumulative import, Wh.
    pub import_wh: u64,
    /// Cumulative export, Wh.
    pub export_wh: u64,
    /// Readings the state still keeps (older ones are pruned; they stay in the blocks).
    pub readings_kept: u64,
}

/// `GET /v1/meter/{id}/energy`: energy over a span, interpolated between readings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnergyView {
    /// The machine.
    pub machine_id: u64,
    /// The channel.
    pub channel: u16,
    /// Span start, ms.
    pub from_ms: u64,
    /// Span end, ms.
    pub to_ms: u64,
    /// Imported in the span, Wh.
    pub import_wh: u64,
    /// Exported in the span, Wh.
    pub export_wh: u64,
}

/// `GET /v1/feed/{name}`: a feed's value, round, staleness and reporters' bonds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FeedView {
    /// The feed.
    pub name: String,
    /// The value of the last finished round.
    pub value: Option<i64>,
    /// The round open for reports.
    pub open_round: u64,
    /// When the value was set, ms.
    pub updated_ms: u64,
    /// Whether the value is older than the feed allows.
    pub stale: bool,
    /// The feed's rules.
    pub config: FeedConfig,
    /// Each reporter's stake for the feed (the staking module's `reporter` subject), in the
    /// order of `config.reporters`; 0 while it is jailed.
    pub bonds: Vec<Amount>,
}

/// The oracle's routes.
pub fn routes<H: ReadHost>() -> Routes<H> {
    vec![
        ("/v1/meter/{id}", "get", get(get_meter::<H>)),
        ("/v1/meter/{id}/energy", "get", get(get_energy::<H>)),
        ("/v1/feed/{name}", "get", get(get_feed::<H>)),
    ]
}

/// An oracle refusal as an API error: unknown things are 404, the rest 422.
pub fn api_error(e: OracleError) -> ApiError {
    let status = match e {
        OracleError::UnknownMachine(_) | OracleError::UnknownFeed(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, e.code(), e.to_string())
}

#[derive(Deserialize)]
struct MeterQuery {
    channel: Option<u16>,
    from_ms: Option<u64>,
    to_ms: Option<u64>,
}

async fn get_meter<H: ReadHost>(
    State(h): State<H>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<MeterQuery>,
) -> ApiResult<MeterView> {
    let id = parse_id(&id)?;
    let channel = q.channel.unwrap_or(0);
    let log = crate::meter_log(&h.view().state, id, channel);
    let last = log
        .last
        .ok_or_else(|| api_error(OracleError::NoReadings(id)))?;
    Ok(Json(MeterView {
        machine_id: id,
        channel,
        seq: last.seq,
        timestamp_ms: last.timestamp_ms,
        import_wh: last.import_wh,
        export_wh: last.export_wh,
        readings_kept: log.head - log.tail,
    }))
}

async fn get_energy<H: ReadHost>(
    State(h): State<H>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<MeterQuery>,
) -> ApiResult<EnergyView> {
    let id = parse_id(&id)?;
    let channel = q.channel.unwrap_or(0);
    let (Some(from_ms), Some(to_ms)) = (q.from_ms, q.to_ms) else {
        return Err(ApiError::bad_query("from_ms and to_ms are required"));
    };
    let e =
        crate::energy_between(&h.view().state, id, channel, from_ms, to_ms).map_err(api_error)?;
    Ok(Json(EnergyView {
        machine_id: id,
        channel,
        from_ms,
        to_ms,
        import_wh: e.import_wh,
        export_wh: e.export_wh,
    }))
}

async fn get_feed<H: ReadHost>(
    State(h): State<H>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<FeedView> {
    let v = h.view();
    let f = crate::feed(&v.state, &name)
        .ok_or_else(|| api_error(OracleError::UnknownFeed(quote(&name))))?;
    let stale = crate::feed_value(&v.state, &name, v.timestamp_ms).is_err();
    let bonds = f
        .config
        .reporters
        .iter()
        .map(|r| machina_staking::reporter_stake(&v.state, &name, r, v.height))
        .collect();
    Ok(Json(FeedView {
        value: f.value,
        open_round: f.round,
        updated_ms: f.updated_ms,
        stale,
        config: f.config,
        bonds,
        name,
    }))
}
