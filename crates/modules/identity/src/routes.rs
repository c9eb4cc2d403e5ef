//! The identity module's own HTTP routes (a machine's full view, with its reading counters,
//! is the node's: it joins the oracle's).

use axum::extract::State;
use axum::routing::get;
use axum::Json;
use machina_module_api::{parse_key, ApiError, ApiPath, ApiResult, ReadHost, Routes};
use machina_primitives::PublicKey;
use serde::{Deserialize, Serialize};

/// `GET /v1/manufacturer/{key}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ManufacturerView {
    /// The manufacturer key.
    pub key: PublicKey,
    /// Its name.
    pub name: String,
}

/// The identity module's routes.
pub fn routes<H: ReadHost>() -> Routes<H> {
    vec![("/v1/manufacturer/{key}", "get", get(get_manufacturer::<H>))]
}

async fn get_manufacturer<H: ReadHost>(
    State(h): State<H>,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<ManufacturerView> {
    let key = parse_key(&key)?;
    let name = crate::manufacturer(&h.view().state, &key)
        .ok_or_else(|| ApiError::not_found("no manufacturer with this key"))?;
    Ok(Json(ManufacturerView { key, name }))
}
