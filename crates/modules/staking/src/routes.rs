//! The staking module's HTTP routes and their response types (shared with the CLI).

use crate::{Role, Subject, MAX_BONDS_PER_ACCOUNT, MAX_UNBONDINGS_PER_ACCOUNT};
use axum::extract::State;
use axum::routing::get;
use axum::Json;
use machina_module_api::{
    parse_address, parse_key, quote, ApiError, ApiPath, ApiQuery, ApiResult, ReadHost, Routes,
};
use machina_primitives::{Address, Amount, PublicKey};
use serde::{Deserialize, Serialize};

/// A bonded part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BondView {
    /// The bonder.
    pub owner: Address,
    /// Micro-units.
    pub amount: Amount,
}

/// A pending unbonding: still slashable until `release_height`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnbondingView {
    /// Who gets it back.
    pub owner: Address,
    /// Micro-units (less if a slash reached it).
    pub amount: Amount,
    /// The height at whose end it returns.
    pub release_height: u64,
}

/// `GET /v1/stake/{role}/{subject}`: everything staked for one subject.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StakeView {
    /// `provider`, `reporter` or `validator`.
    pub role: Role,
    /// The subject's id: a machine id, `FEED:REPORTER` or a validator key.
    pub subject: String,
    /// Bonded in total (unbonding stake not included).
    pub bonded: Amount,
    /// Each bonder's part.
    pub bonds: Vec<BondView>,
    /// Unbonding in total.
    pub unbonding_total: Amount,
    /// Pending unbondings, in release order.
    pub unbonding: Vec<UnbondingView>,
    /// The subject takes no new work before this height (0: never jailed).
    pub jailed_until: u64,
    /// Micro-units slashed from it, ever.
    pub slashed_total: Amount,
    /// The bonder asked about (`?bonder=`) and its part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bonder: Option<BondView>,
}

/// One subject an account backs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OwnedBondView {
    /// The role.
    pub role: Role,
    /// The subject's id.
    pub subject: String,
    /// The account's part.
    pub amount: Amount,
}

/// One of an account's pending unbondings.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OwnedUnbondingView {
    /// The role.
    pub role: Role,
    /// The subject's id.
    pub subject: String,
    /// Micro-units.
    pub amount: Amount,
    /// The height at whose end it returns.
    pub release_height: u64,
}

/// `GET /v1/stake/owner/{address}`: what one account has staked.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OwnerView {
    /// The account.
    pub owner: Address,
    /// Its bonded parts.
    pub bonds: Vec<OwnedBondView>,
    /// Its pending unbondings, in release order.
    pub unbonding: Vec<OwnedUnbondingView>,
    /// The most subjects it may back at once.
    pub max_bonds: usize,
    /// The most unbondings it may have pending.
    pub max_unbondings: usize,
}

/// One validator of the genesis set.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ValidatorView {
    /// Its consensus key.
    pub key: PublicKey,
    /// Stake bonded for it.
    pub bonded: Amount,
    /// Jailed before this height (0: never).
    pub jailed_until: u64,
    /// Micro-units slashed from it, ever.
    pub slashed_total: Amount,
}

/// `GET /v1/stake/validators`: the validator set and its stake.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ValidatorsView {
    /// The validators, in consensus index order.
    pub validators: Vec<ValidatorView>,
}

/// The staking module's routes.
pub fn routes<H: ReadHost>() -> Routes<H> {
    vec![
        ("/v1/stake/validators", "get", get(get_validators::<H>)),
        ("/v1/stake/owner/{address}", "get", get(get_owner::<H>)),
        ("/v1/stake/{role}/{subject}", "get", get(get_stake::<H>)),
    ]
}

/// A subject from its role and id as the path gives them: `provider/5`,
/// `reporter/FEED:ADDRESS`, `validator/KEY`.
pub fn parse_subject(role: &str, id: &str) -> Result<Subject, ApiError> {
    let Some(role) = Role::parse(role) else {
        return Err(ApiError::bad_path(format!(
            "no role {}: provider, reporter or validator",
            quote(role)
        )));
    };
    Ok(match role {
        Role::Provider => Subject::Provider {
            machine_id: machina_module_api::parse_id(id)?,
        },
        Role::Reporter => {
            let Some((feed, reporter)) = id.rsplit_once(':') else {
                return Err(ApiError::bad_path(format!(
                    "a reporter subject is FEED:REPORTER_ADDRESS, not {}",
                    quote(id)
                )));
            };
            Subject::Reporter {
                feed: feed.to_owned(),
                reporter: parse_address(reporter).map_err(ApiError::bad_path)?,
            }
        }
        Role::Validator => Subject::Validator {
            key: parse_key(id)?,
        },
    })
}

/// The view of everything staked for `subject`.
pub fn stake_view(state: &impl machina_state::StateRead, subject: &Subject) -> StakeView {
    let s = crate::stake(state, subject);
    StakeView {
        role: subject.role(),
        subject: subject.id(),
        bonded: s.bonded(),
        unbonding_total: s.unbonding_total(),
        bonds: s
            .bonds
            .iter()
            .map(|b| BondView {
                owner: b.owner,
                amount: b.amount,
            })
            .collect(),
        unbonding: s
            .unbonding
            .iter()
            .map(|u| UnbondingView {
                owner: u.owner,
                amount: u.amount,
                release_height: u.release_height,
            })
            .collect(),
        jailed_until: s.jailed_until,
        slashed_total: s.slashed_total,
        bonder: None,
    }
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
    let mut v = stake_view(&state, &subject);
    v.bonder = bonder.map(|owner| BondView {
        owner,
        amount: crate::bonded(&state, &subject, &owner),
    });
    Ok(Json(v))
}

/// The view of what `owner` has staked.
pub fn owner_view(state: &impl machina_state::StateRead, owner: Address) -> OwnerView {
    let a = crate::account(state, &owner);
    let mut unbonding: Vec<OwnedUnbondingView> = a
        .unbondings
        .iter()
        .filter_map(|c| {
            let s = crate::stake(state, &c.subject);
            let u = s
                .unbonding
                .iter()
                .find(|u| u.owner == owner && u.release_height == c.release_height)?;
            Some(OwnedUnbondingView {
                role: c.subject.role(),
                subject: c.subject.id(),
                amount: u.amount,
                release_height: u.release_height,
            })
        })
        .collect();
    unbonding.sort_by_key(|u| u.release_height);
    OwnerView {
        bonds: a
            .subjects
            .iter()
            .map(|s| OwnedBondView {
                role: s.role(),
                subject: s.id(),
                amount: crate::bonded(state, s, &owner),
            })
            .collect(),
        unbonding,
        owner,
        max_bonds: MAX_BONDS_PER_ACCOUNT,
        max_unbondings: MAX_UNBONDINGS_PER_ACCOUNT,
    }
}

async fn get_owner<H: ReadHost>(
    State(h): State<H>,
    ApiPath(address): ApiPath<String>,
) -> ApiResult<OwnerView> {
    let owner = parse_address(&address).map_err(ApiError::bad_path)?;
    Ok(Json(owner_view(&h.view().state, owner)))
}

async fn get_validators<H: ReadHost>(State(h): State<H>) -> ApiResult<ValidatorsView> {
    let state = h.view().state;
    let validators = crate::validator_set(&state)
        .into_iter()
        .map(|key| {
            let s = crate::stake(&state, &Subject::Validator { key });
            ValidatorView {
                key,
                bonded: s.bonded(),
                jailed_until: s.jailed_until,
                slashed_total: s.slashed_total,
            }
        })
        .collect();
    Ok(Json(ValidatorsView { validators }))
}
