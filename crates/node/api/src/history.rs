//! History: an account's and a machine's transactions, newest first with a cursor, and a
//! block's receipts.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use machina_api_types::BlockView;
use machina_chain::Chain;
use machina_module_api::{parse_address, parse_id, ApiError, ApiPath, ApiQuery};
use machina_primitives::Hash;
use machina_store::{HistoryEntry, TxPosition, MAX_HISTORY_PAGE};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// A history page's query: `?limit=N&before=HEIGHT:INDEX` (the `next` of the page before).
#[derive(Deserialize)]
pub(crate) struct HistoryQuery {
    limit: Option<usize>,
    before: Option<String>,
}

fn cursor(s: &str) -> Result<TxPosition, ApiError> {
    let bad = || {
        ApiError::bad_query(format!(
            "before: expected HEIGHT:INDEX as a page's `next` gives it, got {}",
            machina_primitives::limits::quote_prefix(s)
        ))
    };
    let (h, i) = s.split_once(':').ok_or_else(bad)?;
    Ok(TxPosition {
        height: h.parse().map_err(|_| bad())?,
        index: i.parse().map_err(|_| bad())?,
    })
}

/// A page of entries with each transaction's outcome and actions.
fn page(
    chain: &Chain,
    entries: Vec<HistoryEntry>,
    limit: usize,
) -> Result<(Vec<Value>, Value), ApiError> {
    let mut txs = Vec::with_capacity(entries.len());
    for e in &entries {
        let rec = chain
            .store()
            .tx(&e.hash)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal("a history entry names a missing transaction"))?;
        let actions: Vec<&str> = rec.tx.body.actions.iter().map(|a| a.name()).collect();
        txs.push(json!({
            "tx_hash": e.hash,
            "height": e.at.height,
            "index": e.at.index,
            "sender": rec.tx.body.sender,
            "actions": actions,
            "success": rec.receipt.success,
            "code": rec.receipt.error.as_ref().map(|x| x.code.clone()),
            "fee_charged": rec.receipt.fee_charged,
        }));
    }
    let next = match entries.last() {
        Some(l) if entries.len() == limit => json!(format!("{}:{}", l.at.height, l.at.index)),
        _ => Value::Null,
    };
    Ok((txs, next))
}

fn limit(q: &HistoryQuery) -> usize {
    q.limit.unwrap_or(50).clamp(1, MAX_HISTORY_PAGE)
}

pub(crate) async fn get_account_txs(
    State(chain): State<Arc<Chain>>,
    ApiPath(address): ApiPath<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Response, ApiError> {
    let a = parse_address(&address).map_err(ApiError::bad_path)?;
    let before = q.before.as_deref().map(cursor).transpose()?;
    let n = limit(&q);
    let entries = chain
        .store()
        .account_txs(&a, before, n)
        .map_err(ApiError::internal)?;
    let (txs, next) = page(&chain, entries, n)?;
    Ok(Json(json!({"address": a, "txs": txs, "next": next})).into_response())
}

pub(crate) async fn get_machine_txs(
    State(chain): State<Arc<Chain>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let before = q.before.as_deref().map(cursor).transpose()?;
    let n = limit(&q);
    let entries = chain
        .store()
        .machine_txs(id, before, n)
        .map_err(ApiError::internal)?;
    let (txs, next) = page(&chain, entries, n)?;
    Ok(Json(json!({"machine_id": id, "txs": txs, "next": next})).into_response())
}

/// The receipts of a block's transactions, in order, each with its transaction's id.
pub(crate) fn receipts(chain: &Chain, view: &BlockView) -> Result<Vec<Value>, ApiError> {
    view.txs
        .iter()
        .map(|h: &Hash| {
            let rec = chain
                .store()
                .tx(h)
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::internal("a block names a missing transaction"))?;
            Ok(json!({"tx_hash": h, "receipt": rec.receipt}))
        })
        .collect()
}
