//! The shares module's HTTP routes and their response types (shared with the CLI).

use crate::records::{self, Offering, RevenueRecord, Rules, Source};
use crate::{MAX_HOLDINGS, PRECISION};
use axum::extract::State;
use axum::routing::get;
use axum::Json;
use machina_module_api::{
    parse_address, parse_id, ApiError, ApiPath, ApiQuery, ApiResult, ReadHost, Routes,
};
use machina_primitives::{Address, Amount};
use machina_state::StateRead;
use serde::{Deserialize, Serialize};

/// Most revenue events or accruals one page lists.
pub const MAX_PAGE: u64 = 200;

/// `GET /v1/shares/machine/{id}`: a machine's share class.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClassView {
    /// The machine.
    pub machine_id: u64,
    /// The class (0).
    pub class: u8,
    /// Shares.
    pub supply: u64,
    /// Accounts with a balance.
    pub holders: u32,
    /// The operator's cut of each revenue event, basis points.
    pub operator_fee_bps: u16,
    /// The most it may be (it was issued with this).
    pub max_operator_fee_bps: u16,
    /// Whether the owner may force transfers.
    pub forced_transfer: bool,
    /// The transfer rules.
    pub rules: Rules,
    /// The primary offering, if open.
    pub offering: Option<Offering>,
    /// Revenue events of the machine, ever (before and after the issue).
    pub revenue_events: u64,
    /// Revenue of the machine, ever, micro.
    pub revenue_total: Amount,
    /// Of it, since the issue: what went to holders and to the operator, and what holders
    /// claimed.
    pub to_holders_total: Amount,
    /// Operator fees since the issue.
    pub fees_total: Amount,
    /// Claimed by holders.
    pub claimed_total: Amount,
    /// Revenue per share so far, micro × 10^18 (decimal string).
    pub index: String,
    /// The height it was issued at.
    pub issued_height: u64,
}

/// One machine a holder has shares of.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HoldingView {
    /// The machine.
    pub machine_id: u64,
    /// Shares held.
    pub balance: u64,
    /// The class's supply.
    pub supply: u64,
    /// Micro-units it may claim now.
    pub claimable: Amount,
    /// The first revenue event its unclaimed revenue comes from.
    pub since_seq: u64,
}

/// `GET /v1/shares/holder/{address}`: what one account holds and may claim.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HolderView {
    /// The account.
    pub holder: Address,
    /// Its holdings, in the order it got them.
    pub holdings: Vec<HoldingView>,
    /// Claimable in all, micro.
    pub claimable: Amount,
    /// The most machines it may hold shares of.
    pub max_holdings: usize,
}

/// One revenue event as a holder's accrual.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccrualView {
    /// The revenue event.
    pub seq: u64,
    /// Its block.
    pub height: u64,
    /// Its chain time, ms.
    pub time_ms: u64,
    /// Where the machine's revenue came from.
    pub source: Source,
    /// The holder's balance then.
    pub balance: u64,
    /// Its part of the event, micro (rounded down; the fractions add up in its position).
    pub amount: Amount,
}

/// `GET /v1/shares/holder/{address}/accruals?machine=ID`: the revenue events a holder's
/// unclaimed revenue of one machine comes from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccrualsView {
    /// The account.
    pub holder: Address,
    /// The machine.
    pub machine_id: u64,
    /// Micro-units it may claim now.
    pub claimable: Amount,
    /// The first event listed by the position (older ones were claimed).
    pub since_seq: u64,
    /// The events, oldest first, at most [`MAX_PAGE`].
    pub accruals: Vec<AccrualView>,
    /// Where the next page starts (`?from_seq=`), if there is one.
    pub next_seq: Option<u64>,
}

/// `GET /v1/shares/revenue/{machine}`: a machine's revenue events with their sources.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RevenueView {
    /// The machine.
    pub machine_id: u64,
    /// Events ever.
    pub count: u64,
    /// Revenue ever, micro.
    pub total: Amount,
    /// The events asked for, oldest first, at most [`MAX_PAGE`].
    pub events: Vec<RevenueRecord>,
    /// Where the next page starts (`?from_seq=`), if there is one.
    pub next_seq: Option<u64>,
}

/// The shares module's routes.
pub fn routes<H: ReadHost>() -> Routes<H> {
    vec![
        ("/v1/shares/machine/{id}", "get", get(get_class::<H>)),
        (
            "/v1/shares/machine/{id}/holders",
            "get",
            get(crate::holders::get_holders::<H>),
        ),
        ("/v1/shares/holder/{address}", "get", get(get_holder::<H>)),
        (
            "/v1/shares/holder/{address}/accruals",
            "get",
            get(get_accruals::<H>),
        ),
        ("/v1/shares/revenue/{id}", "get", get(get_revenue::<H>)),
    ]
}

/// The view of a machine's class, if shares were issued.
pub fn class_view(state: &impl StateRead, machine_id: u64) -> Option<ClassView> {
    let c = records::class(state, machine_id)?;
    let (revenue_events, revenue_total) = records::revenue_book(state, machine_id);
    Some(ClassView {
        machine_id,
        class: c.class,
        supply: c.supply,
        holders: c.holders,
        operator_fee_bps: c.operator_fee_bps,
        max_operator_fee_bps: c.max_operator_fee_bps,
        forced_transfer: c.forced_transfer,
        rules: c.rules,
        offering: c.offering,
        revenue_events,
        revenue_total,
        to_holders_total: c.to_holders_total,
        fees_total: c.fees_total,
        claimed_total: c.claimed_total,
        index: c.index.to_string(),
        issued_height: c.issued_height,
    })
}

async fn get_class<H: ReadHost>(
    State(h): State<H>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<ClassView> {
    let id = parse_id(&id)?;
    class_view(&h.view().state, id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("machine {id} has no shares")))
}

/// The view of what `holder` holds.
pub fn holder_view(state: &impl StateRead, holder: Address) -> HolderView {
    let holdings: Vec<HoldingView> = records::holdings(state, &holder)
        .into_iter()
        .filter_map(|m| {
            let (c, p) = (
                records::class(state, m)?,
                records::position(state, m, &holder),
            );
            Some(HoldingView {
                machine_id: m,
                balance: p.balance,
                supply: c.supply,
                claimable: crate::claimable_of(&c, &p),
                since_seq: p.since_seq,
            })
        })
        .collect();
    let claimable = holdings.iter().fold(Amount::ZERO, |s, h| {
        Amount(s.0.saturating_add(h.claimable.0))
    });
    HolderView {
        holder,
        holdings,
        claimable,
        max_holdings: MAX_HOLDINGS,
    }
}

async fn get_holder<H: ReadHost>(
    State(h): State<H>,
    ApiPath(address): ApiPath<String>,
) -> ApiResult<HolderView> {
    let holder = parse_address(&address).map_err(ApiError::bad_path)?;
    Ok(Json(holder_view(&h.view().state, holder)))
}

#[derive(Deserialize)]
struct AccrualsQuery {
    machine: u64,
    from_seq: Option<u64>,
}

/// A holder's accruals of one machine from `from_seq` (its position's first by default).
pub fn accruals_view(
    state: &impl StateRead,
    holder: Address,
    machine_id: u64,
    from_seq: Option<u64>,
) -> AccrualsView {
    let p = records::position(state, machine_id, &holder);
    let (count, _) = records::revenue_book(state, machine_id);
    let start = from_seq.unwrap_or(p.since_seq).max(p.since_seq);
    let end = count.min(start.saturating_add(MAX_PAGE));
    let mut accruals = Vec::new();
    for seq in start..end {
        let Some(r) = records::revenue(state, machine_id, seq) else {
            continue;
        };
        // The balance then: the last history entry at or before this event.
        let balance = p
            .history
            .iter()
            .take_while(|(s, _)| *s <= seq)
            .last()
            .map_or(0, |(_, b)| *b);
        let before = match seq.checked_sub(1) {
            Some(prev) => records::revenue(state, machine_id, prev).map_or(0, |r| r.index_after),
            None => 0,
        };
        let per_share = r.index_after.saturating_sub(before);
        let amount = Amount(u128::from(balance).saturating_mul(per_share) / PRECISION);
        accruals.push(AccrualView {
            seq,
            height: r.height,
            time_ms: r.time_ms,
            source: r.source,
            balance,
            amount,
        });
    }
    AccrualsView {
        holder,
        machine_id,
        claimable: crate::claimable(state, machine_id, &holder),
        since_seq: p.since_seq,
        accruals,
        next_seq: (end < count).then_some(end),
    }
}

async fn get_accruals<H: ReadHost>(
    State(h): State<H>,
    ApiPath(address): ApiPath<String>,
    ApiQuery(q): ApiQuery<AccrualsQuery>,
) -> ApiResult<AccrualsView> {
    let holder = parse_address(&address).map_err(ApiError::bad_path)?;
    Ok(Json(accruals_view(
        &h.view().state,
        holder,
        q.machine,
        q.from_seq,
    )))
}

#[derive(Deserialize)]
struct RevenueQuery {
    from_ms: Option<u64>,
    to_ms: Option<u64>,
    from_seq: Option<u64>,
}

/// A machine's revenue events with chain time in `[from_ms, to_ms)`, from `from_seq` on.
pub fn revenue_view(
    state: &impl StateRead,
    machine_id: u64,
    from_ms: Option<u64>,
    to_ms: Option<u64>,
    from_seq: Option<u64>,
) -> RevenueView {
    let (count, total) = records::revenue_book(state, machine_id);
    let first = from_ms.map_or(0, |ms| records::first_at_or_after(state, machine_id, ms));
    let last = to_ms.map_or(count, |ms| {
        records::first_at_or_after(state, machine_id, ms)
    });
    let start = first.max(from_seq.unwrap_or(0));
    let end = last.min(start.saturating_add(MAX_PAGE));
    let events = (start..end)
        .filter_map(|s| records::revenue(state, machine_id, s))
        .collect();
    RevenueView {
        machine_id,
        count,
        total,
        events,
        next_seq: (end < last).then_some(end),
    }
}

async fn get_revenue<H: ReadHost>(
    State(h): State<H>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<RevenueQuery>,
) -> ApiResult<RevenueView> {
    let id = parse_id(&id)?;
    Ok(Json(revenue_view(
        &h.view().state,
        id,
        q.from_ms,
        q.to_ms,
        q.from_seq,
    )))
}
