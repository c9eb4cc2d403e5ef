//! The dev chain's routes under `/v1/dev`, served by `machina dev` only (a validator has none):
//! moving the clock forward and setting a balance.

use crate::{error_surface, ApiError, ApiJson, MAX_SMALL_BODY_BYTES};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use machina_chain::Chain;
use machina_module_api::parse_address;
use machina_primitives::Amount;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The paths of the dev routes, for the OpenAPI check.
pub const DEV_ROUTES: [&str; 4] = [
    "/v1/dev/increase-time",
    "/v1/dev/set-balance",
    "/v1/dev/snapshot",
    "/v1/dev/revert",
];

/// The dev chain's tools.
pub fn dev_router(chain: Arc<Chain>) -> Router {
    let routes = Router::new()
        .route(DEV_ROUTES[0], post(increase_time))
        .route(DEV_ROUTES[1], post(set_balance))
        .route(DEV_ROUTES[2], post(snapshot))
        .route(DEV_ROUTES[3], post(revert));
    error_surface(routes, MAX_SMALL_BODY_BYTES).with_state(chain)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IncreaseTime {
    ms: u64,
}

async fn increase_time(
    State(chain): State<Arc<Chain>>,
    ApiJson(a): ApiJson<IncreaseTime>,
) -> Result<Response, ApiError> {
    if a.ms > machina_chain::MAX_TIME_STEP_MS {
        return Err(ApiError::malformed(format!(
            "ms is at most {} (a year), not {}",
            machina_chain::MAX_TIME_STEP_MS,
            a.ms
        )));
    }
    let (height, timestamp_ms, txs) =
        tokio::task::spawn_blocking(move || chain.dev_increase_time(a.ms))
            .await
            .map_err(ApiError::internal)?;
    Ok(
        Json(json!({"height": height, "timestamp_ms": timestamp_ms, "tx_count": txs}))
            .into_response(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetBalance {
    address: String,
    balance: Amount,
}

async fn set_balance(
    State(chain): State<Arc<Chain>>,
    ApiJson(b): ApiJson<SetBalance>,
) -> Result<Response, ApiError> {
    let addr = parse_address(&b.address).map_err(ApiError::malformed)?;
    let height = tokio::task::spawn_blocking(move || chain.dev_set_balance(&addr, b.balance))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::malformed("the total supply would overflow"))?;
    Ok(Json(json!({"address": addr, "balance": b.balance, "height": height})).into_response())
}

async fn snapshot(State(chain): State<Arc<Chain>>) -> Result<Response, ApiError> {
    let height = chain.committed().head.height;
    let id = tokio::task::spawn_blocking(move || chain.dev_snapshot())
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "too_many_snapshots",
                format!(
                    "a dev chain holds at most {} snapshots; revert to an early one to free them",
                    machina_chain::MAX_SNAPSHOTS
                ),
            )
        })?;
    Ok(Json(json!({"id": id, "height": height})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Revert {
    id: usize,
}

async fn revert(
    State(chain): State<Arc<Chain>>,
    ApiJson(r): ApiJson<Revert>,
) -> Result<Response, ApiError> {
    let height = tokio::task::spawn_blocking(move || chain.dev_revert(r.id))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "unknown_snapshot",
                format!(
                    "no snapshot {} (a revert uses up its snapshot and every later one)",
                    r.id
                ),
            )
        })?;
    Ok(Json(json!({"reverted": true, "id": r.id, "height": height})).into_response())
}
