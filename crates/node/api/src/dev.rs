//! The dev chain's routes under `/v1/dev`, served by `machina dev` only (a validator has none):
//! moving the clock forward and setting a balance.

use crate::{error_surface, ApiError, ApiJson, MAX_BODY_BYTES};
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
pub const DEV_ROUTES: [&str; 2] = ["/v1/dev/increase-time", "/v1/dev/set-balance"];

/// The dev chain's tools.
pub fn dev_router(chain: Arc<Chain>) -> Router {
    let routes = Router::new()
        .route(DEV_ROUTES[0], post(increase_time))
        .route(DEV_ROUTES[1], post(set_balance));
    error_surface(routes, MAX_BODY_BYTES).with_state(chain)
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
