//! `GET /v1/shares/machine/{id}/holders`: who holds a machine's shares, in address order, in
//! pages with a cursor.
//!
//! Positions are keyed by machine, class and holder, so a class's positions are the state's
//! keys under one prefix. The state cannot list a prefix (it is keyed by hashes); the host
//! lists the keys from the node's store, of the same block as the state it answers from
//! ([`ReadHost::view_with_keys`]), and each position is then read from that state. Nothing is
//! kept beside the positions themselves, so the list is exact at every block.

use crate::records::{self, keys, CLASS};
use axum::extract::State;
use axum::Json;
use machina_module_api::{
    parse_address, parse_id, ApiError, ApiPath, ApiQuery, ApiResult, Listed, ReadHost,
};
use machina_primitives::{Address, Amount};
use machina_state::StateRead;
use serde::{Deserialize, Serialize};

/// Most positions one page of holders returns.
pub const MAX_HOLDERS_PAGE: usize = 100;

/// One account's position in a machine's shares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderRow {
    /// The account.
    pub holder: Address,
    /// Shares held (0 for an account that sold all and has revenue left to claim).
    pub balance: u64,
    /// Micro-units it may claim now.
    pub claimable: Amount,
    /// The first revenue event its unclaimed revenue comes from.
    pub since_seq: u64,
}

/// `GET /v1/shares/machine/{id}/holders`: a page of a machine's positions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HoldersView {
    /// The machine.
    pub machine_id: u64,
    /// Its shares.
    pub supply: u64,
    /// Accounts with a balance (positions with nothing but revenue to claim are listed too,
    /// and not counted here).
    pub count: u32,
    /// The block the page is of.
    pub height: u64,
    /// The positions, in address order, at most [`MAX_HOLDERS_PAGE`].
    pub holders: Vec<HolderRow>,
    /// The `after` of the next page, if there is one.
    pub next: Option<Address>,
}

/// A page of the positions of a machine's class in `state`, whose keys are `keys` (in order,
/// under the class's prefix); `more` says whether keys follow them. `None` without shares.
pub fn holders_page(
    state: &impl StateRead,
    height: u64,
    machine_id: u64,
    keys: &[Vec<u8>],
    more: bool,
) -> Option<HoldersView> {
    let c = records::class(state, machine_id)?;
    let prefix = keys::positions(machine_id, CLASS);
    let holders: Vec<HolderRow> = keys
        .iter()
        .filter_map(|k| {
            let bytes: [u8; 20] = k.strip_prefix(prefix.as_slice())?.try_into().ok()?;
            let holder = Address(bytes);
            let p = records::position(state, machine_id, &holder);
            Some(HolderRow {
                holder,
                balance: p.balance,
                claimable: crate::claimable_of(&c, &p),
                since_seq: p.since_seq,
            })
        })
        .collect();
    let next = if more {
        holders.last().map(|h| h.holder)
    } else {
        None
    };
    Some(HoldersView {
        machine_id,
        supply: c.supply,
        count: c.holders,
        height,
        holders,
        next,
    })
}

/// The prefix of the state keys of a machine's positions, which a host lists for
/// [`holders`]: each key is it and the holder's 20 bytes, so they come in address order.
pub fn positions_prefix(machine_id: u64) -> Vec<u8> {
    keys::positions(machine_id, CLASS)
}

/// The positions of a machine's shares after `after`, at most `limit` (and
/// [`MAX_HOLDERS_PAGE`]), read through the host's key listing; 404 without shares.
pub fn holders<H: ReadHost>(
    h: &H,
    machine_id: u64,
    after: Option<Address>,
    limit: Option<usize>,
) -> Result<HoldersView, ApiError> {
    let limit = limit.unwrap_or(MAX_HOLDERS_PAGE).min(MAX_HOLDERS_PAGE);
    let prefix = positions_prefix(machine_id);
    let after_key = after.map(|a| keys::position(machine_id, CLASS, &a));
    // One key more than the page tells whether another page follows.
    let Listed {
        view,
        keys: mut found,
    } = h.view_with_keys(&prefix, after_key.as_deref(), limit + 1)?;
    let more = found.len() > limit;
    found.truncate(limit);
    holders_page(&view.state, view.height, machine_id, &found, more)
        .ok_or_else(|| ApiError::not_found(format!("machine {machine_id} has no shares")))
}

#[derive(Deserialize)]
pub(crate) struct HoldersQuery {
    after: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn get_holders<H: ReadHost>(
    State(h): State<H>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<HoldersQuery>,
) -> ApiResult<HoldersView> {
    let id = parse_id(&id)?;
    let after = q
        .after
        .as_deref()
        .map(parse_address)
        .transpose()
        .map_err(|e| ApiError::bad_query(format!("after: {e}")))?;
    holders(&h, id, after, q.limit).map(Json)
}
