//! The bank's HTTP routes and their response types (shared with the CLI).

use crate::Authorization;
use axum::extract::State;
use axum::routing::get;
use axum::Json;
use machina_module_api::{parse_address, ApiError, ApiPath, ApiResult, ReadHost, Routes};
use machina_primitives::{Address, Amount};
use serde::{Deserialize, Serialize};

/// `GET /v1/account/{address}`: balance and next nonce.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccountView {
    /// The account.
    pub address: Address,
    /// Spendable micro-units.
    pub balance: Amount,
    /// The nonce its next transaction must carry.
    pub nonce: u64,
}

/// `GET /v1/account/{address}/auth`: who may sign for an account.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuthView {
    /// The account.
    pub address: Address,
    /// Its authorisation.
    pub auth: Authorization,
}

/// The bank's routes (the account's Merkle proof is the node's: it needs the tree).
pub fn routes<H: ReadHost>() -> Routes<H> {
    vec![
        ("/v1/account/{address}", "get", get(get_account::<H>)),
        ("/v1/account/{address}/auth", "get", get(get_auth::<H>)),
    ]
}

async fn get_account<H: ReadHost>(
    State(h): State<H>,
    ApiPath(address): ApiPath<String>,
) -> ApiResult<AccountView> {
    let address = parse_address(&address).map_err(ApiError::bad_path)?;
    let a = crate::account(&h.view().state, &address);
    Ok(Json(AccountView {
        address,
        balance: a.balance,
        nonce: a.nonce,
    }))
}

async fn get_auth<H: ReadHost>(
    State(h): State<H>,
    ApiPath(address): ApiPath<String>,
) -> ApiResult<AuthView> {
    let address = parse_address(&address).map_err(ApiError::bad_path)?;
    let auth = crate::account(&h.view().state, &address).auth;
    Ok(Json(AuthView { address, auth }))
}
