//! The staking module's HTTP routes and their response types (shared with the CLI).

use crate::{Subject, MAX_UNBONDINGS_PER_ACCOUNT};
use axum::extract::State;
use axum::routing::get;
use axum::Json;
use machina_module_api::{
    parse_address, parse_key, quote, ApiError, ApiPath, ApiQuery, ApiResult, ReadHost, Routes,
};
use machina_primitives::{Address, Amount};
use serde::{Deserialize, Serialize};

/// `GET /v1/stake/{role}/{subject}`: a subject's bonded total, and a bonder's part.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StakeView {
    /// What the stake backs.
    pub subject: Subject,
    /// Bonded in total (unbonding stake not included).
    pub total: Amount,
    /// The bonder asked about (`?bonder=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bonder: Option<Address>,
    /// Its part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bonded: Option<Amount>,
}

/// `GET /v1/stake/unbonding/{address}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnbondingView {
    /// The account.
    pub address: Address,
    /// Its pending unbondings.
    pub pending: u64,
    /// The most it may have.
    pub max_pending: u64,
}

/// The staking module's routes.
pub fn routes<H: ReadHost>() -> Routes<H> {
    vec![
        ("/v1/stake/{role}/{subject}", "get", get(get_stake::<H>)),
        (
            "/v1/stake/unbonding/{address}",
            "get",
            get(get_unbonding::<H>),
        ),
    ]
}

/// A subject from its role and id as a path gives them: `provider/5`, `reporter/FEED`,
/// `validator/KEY`.
pub fn parse_subject(role: &str, id: &str) -> Result<Subject, ApiError> {
    Ok(match role {
        "provider" => Subject::Provider {
            machine_id: machina_module_api::parse_id(id)?,
        },
        "reporter" => Subject::Reporter {
            feed: id.to_owned(),
        },
        "validator" => Subject::Validator {
            key: parse_key(id)?,
        },
        other => {
            return Err(ApiError::bad_path(format!(
                "no role {}: provider, reporter or validator",
                quote(other)
            )))
        }
    })
}

#[derive(Deserialize)]
struct BonderQuery {
    bonder: Option<String>,
}

async fn get_stake<H: ReadHost>(
    State(h): State<H>,
    ApiPath((role, id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<BonderQuery>,
) -> ApiResult<StakeView> {
    let subject = parse_subject(&role, &id)?;
    let state = h.view().state;
    let bonder = q
        .bonder
        .map(|b| parse_address(&b).map_err(ApiError::bad_query))
        .transpose()?;
    Ok(Json(StakeView {
        total: crate::total(&state, &subject),
        bonded: bonder.map(|b| crate::bonded(&state, &subject, &b)),
        bonder,
        subject,
    }))
}

async fn get_unbonding<H: ReadHost>(
    State(h): State<H>,
    ApiPath(address): ApiPath<String>,
) -> ApiResult<UnbondingView> {
    let address = parse_address(&address).map_err(ApiError::bad_path)?;
    Ok(Json(UnbondingView {
        pending: crate::pending_unbondings(&h.view().state, &address),
        max_pending: MAX_UNBONDINGS_PER_ACCOUNT,
        address,
    }))
}
