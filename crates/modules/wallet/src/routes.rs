//! The wallet's HTTP routes and their response types (shared with the CLI).

use crate::action::SpendPolicy;
use crate::{Session, SpendState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Json;
use machina_module_api::{
    parse_address, parse_id, parse_key, ApiError, ApiPath, ApiResult, ReadHost, Routes,
};
use machina_primitives::{Address, Amount, PublicKey};
use serde::{Deserialize, Serialize};

/// `GET /v1/wallet/{machine_id}`: a machine's wallet: policy, freeze, recent spending.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WalletView {
    /// The machine.
    pub machine_id: u64,
    /// Its account.
    pub address: Address,
    /// Its balance.
    pub balance: Amount,
    /// The policy its owner set.
    pub policy: SpendPolicy,
    /// Frozen: nothing leaves.
    pub frozen: bool,
    /// What it spent recently, for the caps and the cooldown.
    pub spent: SpendState,
    /// Spends its policy refused.
    pub policy_breaches: u64,
}

/// `GET /v1/session/{address}/{key}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionView {
    /// The account the key acts for.
    pub address: Address,
    /// The session key.
    pub key: PublicKey,
    /// Its grant.
    pub session: Session,
}

/// `GET /v1/allowance/{sponsor}/{grantee}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AllowanceView {
    /// Who pays.
    pub sponsor: Address,
    /// Whose fees.
    pub grantee: Address,
    /// Micro-units of fees left.
    pub remaining: Amount,
    /// Last height it is valid at.
    pub expiry_height: u64,
}

/// The wallet's routes.
pub fn routes<H: ReadHost>() -> Routes<H> {
    vec![
        ("/v1/wallet/{machine_id}", "get", get(get_wallet::<H>)),
        ("/v1/session/{address}/{key}", "get", get(get_session::<H>)),
        (
            "/v1/allowance/{sponsor}/{grantee}",
            "get",
            get(get_allowance::<H>),
        ),
    ]
}

async fn get_wallet<H: ReadHost>(
    State(h): State<H>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<WalletView> {
    let state = h.view().state;
    let id = parse_id(&id)?;
    let m = machina_identity::machine(&state, id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_machine",
            format!("no machine with id {id}"),
        )
    })?;
    let w = crate::wallet(&state, &m.address).unwrap_or_default();
    Ok(Json(WalletView {
        machine_id: m.machine_id,
        address: m.address,
        balance: machina_bank::account(&state, &m.address).balance,
        policy: w.policy,
        frozen: w.frozen,
        spent: crate::spend_state(&state, &m.address),
        policy_breaches: m.reputation.policy_breaches,
    }))
}

async fn get_session<H: ReadHost>(
    State(h): State<H>,
    ApiPath((address, key)): ApiPath<(String, String)>,
) -> ApiResult<SessionView> {
    let address = parse_address(&address).map_err(ApiError::bad_path)?;
    let key = parse_key(&key)?;
    let session = crate::session(&h.view().state, &address, &key)
        .ok_or_else(|| ApiError::not_found(format!("no session key {key:?} on {address}")))?;
    Ok(Json(SessionView {
        address,
        key,
        session,
    }))
}

async fn get_allowance<H: ReadHost>(
    State(h): State<H>,
    ApiPath((sponsor, grantee)): ApiPath<(String, String)>,
) -> ApiResult<AllowanceView> {
    let sponsor = parse_address(&sponsor).map_err(ApiError::bad_path)?;
    let grantee = parse_address(&grantee).map_err(ApiError::bad_path)?;
    let a = crate::allowance(&h.view().state, &sponsor, &grantee).ok_or_else(|| {
        ApiError::not_found(format!("{sponsor} has no fee allowance for {grantee}"))
    })?;
    Ok(Json(AllowanceView {
        sponsor,
        grantee,
        remaining: a.remaining,
        expiry_height: a.expiry_height,
    }))
}
