//! `GET /v1/machines`: every machine, filtered by kind, zone, owner and status, sorted and
//! paginated.
//!
//! A request does not decode every machine record: the node keeps an index of each machine's
//! filterable fields in memory and moves it forward block by block, re-reading only the
//! machines that a block's events name (and the ones registered since). A request filters and
//! sorts that index, then reads the full records of its page alone.

use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use machina_chain::Chain;
use machina_identity::{Machine, MachineKind, Status};
use machina_module_api::{parse_address, quote, ApiError, ApiQuery};
use machina_primitives::{Address, BlockHeader, Hash};
use machina_state::SparseMerkleTree;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Most machines one page of `GET /v1/machines` returns: each is a full record with its
/// reading counters, read from the state.
pub const MAX_MACHINES_PAGE: u64 = machina_identity::MAX_PAGE;

/// Most blocks the index catches up on one at a time; a head further ahead (a node that was
/// busy, or a long sync) rebuilds it from the state in one pass instead.
pub const MAX_CATCH_UP_BLOCKS: u64 = 256;

/// What a listing filters and sorts on, of one machine.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Summary {
    kind: MachineKind,
    zone: Option<String>,
    owner: Address,
    status: Status,
    rated_power_w: u64,
    registered_height: u64,
}

impl From<&Machine> for Summary {
    fn from(m: &Machine) -> Summary {
        Summary {
            kind: m.kind,
            zone: m.zone.clone(),
            owner: m.owner,
            status: m.status,
            rated_power_w: m.rated_power_w,
            registered_height: m.registered_height,
        }
    }
}

/// The index at one block.
struct Snapshot {
    height: u64,
    state_root: Hash,
    machines: BTreeMap<u64, Summary>,
}

/// Every machine's filterable fields, following the committed chain. One per router.
#[derive(Default)]
pub struct MachineIndex {
    snapshot: Mutex<Option<Snapshot>>,
}

fn rebuild(state: &SparseMerkleTree, head: &BlockHeader) -> Snapshot {
    let machines = (1..=machina_identity::machine_count(state))
        .filter_map(|id| machina_identity::machine(state, id).map(|m| (id, Summary::from(&m))))
        .collect();
    Snapshot {
        height: head.height,
        state_root: head.state_root,
        machines,
    }
}

/// The machines named by the events (of transactions and of block hooks) of heights
/// `from..=to`, or `None` when the store cannot say.
fn touched(chain: &Chain, from: u64, to: u64) -> Option<BTreeSet<u64>> {
    let store = chain.store();
    let mut ids = BTreeSet::new();
    for h in from..=to {
        let hooks = store.block_events(h).ok()?;
        ids.extend(hooks.iter().filter_map(|e| e.machine_id()));
        for tx in store.block_tx_hashes(h).ok()? {
            let rec = store.tx(&tx).ok()??;
            ids.extend(rec.receipt.events.iter().filter_map(|e| e.machine_id()));
        }
    }
    Some(ids)
}

impl MachineIndex {
    /// Brings the index to `head` (whose state is `state`), then runs `f` on its machines.
    fn with<T>(
        &self,
        chain: &Chain,
        state: &SparseMerkleTree,
        head: &BlockHeader,
        f: impl FnOnce(&BTreeMap<u64, Summary>) -> T,
    ) -> T {
        let mut guard = self.snapshot.lock().expect("machine index lock");
        let fresh = match guard.take() {
            Some(s) if s.height == head.height && s.state_root == head.state_root => s,
            Some(s) => catch_up(chain, state, head, s).unwrap_or_else(|| rebuild(state, head)),
            None => rebuild(state, head),
        };
        let out = f(&fresh.machines);
        *guard = Some(fresh);
        out
    }
}

/// Moves `s` forward to `head`, or `None` when it must be rebuilt: the chain went back (a dev
/// revert), or its block is no longer the one stored, or the head is too far ahead.
fn catch_up(
    chain: &Chain,
    state: &SparseMerkleTree,
    head: &BlockHeader,
    mut s: Snapshot,
) -> Option<Snapshot> {
    if head.height <= s.height || head.height - s.height > MAX_CATCH_UP_BLOCKS {
        return None;
    }
    let stored = chain.store().header(s.height).ok()??;
    if stored.state_root != s.state_root {
        return None;
    }
    let mut ids = touched(chain, s.height + 1, head.height)?;
    let known = s.machines.keys().next_back().copied().unwrap_or(0);
    ids.extend(known + 1..=machina_identity::machine_count(state));
    for id in ids {
        match machina_identity::machine(state, id) {
            Some(m) => s.machines.insert(id, Summary::from(&m)),
            None => s.machines.remove(&id),
        };
    }
    s.height = head.height;
    s.state_root = head.state_root;
    Some(s)
}

/// `GET /v1/machines`'s query.
#[derive(Deserialize)]
pub(crate) struct MachinesQuery {
    owner: Option<String>,
    kind: Option<String>,
    zone: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    offset: Option<u64>,
    limit: Option<u64>,
}

/// The columns a listing sorts by.
pub const SORT_KEYS: [&str; 7] = [
    "id",
    "kind",
    "zone",
    "owner",
    "status",
    "rated_power_w",
    "registered_height",
];

struct Filter {
    owner: Option<Address>,
    kind: Option<MachineKind>,
    zone: Option<String>,
    status: Option<Status>,
}

impl Filter {
    fn parse(q: &MachinesQuery) -> Result<Filter, ApiError> {
        let owner = q
            .owner
            .as_deref()
            .map(parse_address)
            .transpose()
            .map_err(|e| ApiError::bad_query(format!("owner: {e}")))?;
        let kind = q
            .kind
            .as_deref()
            .map(str::parse::<MachineKind>)
            .transpose()
            .map_err(|e| ApiError::bad_query(format!("kind: {e}")))?;
        let status = match q.status.as_deref() {
            None => None,
            Some("active") => Some(Status::Active),
            Some("revoked") => Some(Status::Revoked),
            Some(s) => {
                return Err(ApiError::bad_query(format!(
                    "status: expected active or revoked, got `{}`",
                    quote(s)
                )))
            }
        };
        Ok(Filter {
            owner,
            kind,
            zone: q.zone.clone(),
            status,
        })
    }

    fn matches(&self, m: &Summary) -> bool {
        self.owner.is_none_or(|o| m.owner == o)
            && self.kind.is_none_or(|k| m.kind == k)
            && self
                .zone
                .as_ref()
                .is_none_or(|z| m.zone.as_ref() == Some(z))
            && self.status.is_none_or(|s| m.status == s)
    }
}

/// Sorts the matching machines by `key` (ties by id) and reverses them for `desc`.
fn sort(rows: &mut [(u64, &Summary)], key: &str, desc: bool) {
    match key {
        "kind" => rows.sort_by_key(|(id, m)| (m.kind, *id)),
        "zone" => rows.sort_by(|a, b| (&a.1.zone, a.0).cmp(&(&b.1.zone, b.0))),
        "owner" => rows.sort_by_key(|(id, m)| (m.owner, *id)),
        "status" => rows.sort_by_key(|(id, m)| (m.status == Status::Revoked, *id)),
        "rated_power_w" => rows.sort_by_key(|(id, m)| (m.rated_power_w, *id)),
        "registered_height" => rows.sort_by_key(|(id, m)| (m.registered_height, *id)),
        // By id: the index's own order.
        _ => {}
    }
    if desc {
        rows.reverse();
    }
}

/// `GET /v1/machines?owner=&kind=&zone=&status=&sort=&order=&offset=&limit=`.
pub(crate) async fn get_machines(
    State(chain): State<Arc<Chain>>,
    Extension(index): Extension<Arc<MachineIndex>>,
    ApiQuery(q): ApiQuery<MachinesQuery>,
) -> Result<Response, ApiError> {
    let filter = Filter::parse(&q)?;
    let key = q.sort.clone().unwrap_or_else(|| "id".into());
    if !SORT_KEYS.contains(&key.as_str()) {
        return Err(ApiError::bad_query(format!(
            "sort: expected one of {}, got `{}`",
            SORT_KEYS.join(", "),
            quote(&key)
        )));
    }
    let desc = match q.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(o) => {
            return Err(ApiError::bad_query(format!(
                "order: expected asc or desc, got `{}`",
                quote(o)
            )))
        }
    };
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(MAX_MACHINES_PAGE).min(MAX_MACHINES_PAGE);
    let view = tokio::task::spawn_blocking(move || {
        let c = chain.committed();
        let (ids, total) = index.with(&chain, &c.state, &c.head, |all| {
            let mut rows: Vec<(u64, &Summary)> = all
                .iter()
                .filter(|(_, m)| filter.matches(m))
                .map(|(id, m)| (*id, m))
                .collect();
            sort(&mut rows, &key, desc);
            let page: Vec<u64> = rows
                .iter()
                .skip(usize::try_from(offset).unwrap_or(usize::MAX))
                .take(limit as usize)
                .map(|(id, _)| *id)
                .collect();
            (page, rows.len())
        });
        let machines: Vec<Value> = ids
            .into_iter()
            .filter_map(|id| machina_identity::machine(&c.state, id))
            .map(|m| crate::machine_json(&c.state, &m))
            .collect();
        json!({
            "owner": filter.owner,
            "total": total,
            "offset": offset,
            "limit": limit,
            "height": c.head.height,
            "machines": machines,
        })
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(Json(view).into_response())
}
