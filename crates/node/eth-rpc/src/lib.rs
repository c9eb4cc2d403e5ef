//! Machina Ethereum JSON-RPC: the methods Ethereum tools call, over HTTP and WebSocket, on a
//! node's chain.
//!
//! Layer 4. One port serves JSON-RPC 2.0 over HTTP `POST /` (single requests and batches) and
//! over a WebSocket upgrade of `GET /` (the same methods, plus `eth_subscribe`). Methods it
//! does not provide answer `-32601`, which clients such as viem take as the cue to fall back.
//! How Machina's blocks, native transactions and events look through it: [`shapes`].

mod filters;
mod methods;
mod params;
pub mod shapes;
mod ws;

use axum::extract::{State, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use machina_chain::Chain;
use machina_evm::sign::EthKey;
use machina_module_api::{body_limit, ApiBody};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

pub use filters::{MAX_FILTERS, MAX_LOGS, MAX_LOG_BLOCK_RANGE};
pub use ws::{MAX_WS_CONNECTIONS, MAX_WS_SUBSCRIPTIONS};

/// Most requests in one batch.
pub const MAX_BATCH: usize = 1_000;
/// Largest request body, bytes: a batch of [`MAX_BATCH`] signed transactions of a few KiB.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// The client version `web3_clientVersion` answers.
pub const CLIENT_VERSION: &str = concat!("machina/", env!("CARGO_PKG_VERSION"));

/// The JSON-RPC service of one node.
pub struct EthRpc {
    chain: Arc<Chain>,
    /// Accounts whose keys the node holds (a dev chain's): `eth_accounts` lists them and
    /// `eth_sendTransaction` signs for them.
    dev_keys: Vec<EthKey>,
    filters: Mutex<filters::Filters>,
}

impl EthRpc {
    /// The service for `chain`, signing for `dev_keys` (none on a validator).
    pub fn new(chain: Arc<Chain>, dev_keys: Vec<EthKey>) -> Arc<EthRpc> {
        Arc::new(EthRpc {
            chain,
            dev_keys,
            filters: Mutex::new(filters::Filters::default()),
        })
    }
}

/// A JSON-RPC error: its code, message and data.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// `-32700` parse error, `-32600` invalid request, `-32601` no such method, `-32602`
    /// invalid params, `-32603` internal, `-32000` refused, `3` execution reverted.
    pub code: i64,
    /// What was wrong, and what to do.
    pub message: String,
    /// Revert data, for code 3.
    pub data: Option<Value>,
}

impl RpcError {
    pub(crate) fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub(crate) fn params(message: impl Into<String>) -> RpcError {
        RpcError::new(-32602, message)
    }

    pub(crate) fn internal(e: impl std::fmt::Display) -> RpcError {
        RpcError::new(-32603, format!("internal error: {e}"))
    }

    fn to_json(&self) -> Value {
        let mut e = json!({"code": self.code, "message": self.message});
        if let Some(d) = &self.data {
            e["data"] = d.clone();
        }
        e
    }
}

/// The router: JSON-RPC on `POST /`, its WebSocket on `GET /`.
pub fn router(rpc: Arc<EthRpc>) -> Router {
    Router::new()
        .route("/", body_limit(post(http), MAX_REQUEST_BYTES).get(upgrade))
        .with_state(rpc)
}

async fn http(State(rpc): State<Arc<EthRpc>>, ApiBody(body): ApiBody) -> Response {
    let answer = tokio::task::spawn_blocking(move || rpc.handle_bytes(&body)).await;
    let value = answer.unwrap_or_else(|e| Some(error_reply(Value::Null, &RpcError::internal(e))));
    match value {
        Some(v) => axum::Json(v).into_response(),
        // A batch of notifications only: nothing to answer.
        None => axum::http::StatusCode::NO_CONTENT.into_response(),
    }
}

async fn upgrade(State(rpc): State<Arc<EthRpc>>, ws: WebSocketUpgrade) -> Response {
    ws::upgrade(rpc, ws)
}

fn error_reply(id: Value, e: &RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": e.to_json()})
}

impl EthRpc {
    /// Answers a request body: one request or a batch. `None` when nothing is to be answered.
    pub fn handle_bytes(&self, body: &[u8]) -> Option<Value> {
        let v: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return Some(error_reply(
                    Value::Null,
                    &RpcError::new(-32700, format!("parse error: {e}")),
                ))
            }
        };
        self.handle_value(v)
    }

    fn handle_value(&self, v: Value) -> Option<Value> {
        match v {
            Value::Array(batch) if batch.is_empty() => Some(error_reply(
                Value::Null,
                &RpcError::new(-32600, "an empty batch"),
            )),
            Value::Array(batch) if batch.len() > MAX_BATCH => Some(error_reply(
                Value::Null,
                &RpcError::new(
                    -32600,
                    format!("a batch holds at most {MAX_BATCH} requests"),
                ),
            )),
            Value::Array(batch) => {
                let mut sent = self.send_raw_batch(&batch).into_iter();
                let answers: Vec<Value> = batch
                    .into_iter()
                    .filter_map(|r| match raw_of(&r) {
                        Some(_) => {
                            let result = sent.next().expect("one result per raw transaction");
                            answer(r.get("id").cloned(), result)
                        }
                        None => self.handle_one(r),
                    })
                    .collect();
                (!answers.is_empty()).then_some(Value::Array(answers))
            }
            one => self.handle_one(one),
        }
    }

    /// Answers one request object (`None` for a notification, which has no id).
    fn handle_one(&self, req: Value) -> Option<Value> {
        let Some(obj) = req.as_object() else {
            return Some(error_reply(
                Value::Null,
                &RpcError::new(-32600, "a request is an object"),
            ));
        };
        let id = obj.get("id").cloned();
        let Some(method) = obj.get("method").and_then(Value::as_str) else {
            return Some(error_reply(
                id.unwrap_or(Value::Null),
                &RpcError::new(-32600, "a request needs a \"method\""),
            ));
        };
        let params = obj
            .get("params")
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        answer(id, self.call(method, &params))
    }

    /// Submits a batch's `eth_sendRawTransaction`s together, so that their senders are
    /// recovered in one pass over all cores; one result each, in order.
    fn send_raw_batch(&self, batch: &[Value]) -> Vec<Result<Value, RpcError>> {
        let raws: Vec<Result<Vec<u8>, RpcError>> = batch.iter().filter_map(raw_of).collect();
        let good: Vec<Vec<u8>> = raws
            .iter()
            .filter_map(|r| r.as_ref().ok().cloned())
            .collect();
        let mut submitted = self.submit_raws(good).into_iter();
        raws.into_iter()
            .map(|r| {
                r.and_then(|_| {
                    submitted
                        .next()
                        .expect("one result per submitted transaction")
                })
            })
            .collect()
    }

    pub(crate) fn submit_raws(&self, raws: Vec<Vec<u8>>) -> Vec<Result<Value, RpcError>> {
        self.chain
            .submit_ethereum(raws)
            .into_iter()
            .map(|r| match r {
                Ok(h) => Ok(Value::String(h.to_string())),
                Err(e) => Err(RpcError::new(-32000, format!("{}: {e}", e.code()))),
            })
            .collect()
    }
}

/// The raw transaction of an `eth_sendRawTransaction` request, if it is one.
fn raw_of(req: &Value) -> Option<Result<Vec<u8>, RpcError>> {
    if req.get("method").and_then(Value::as_str) != Some("eth_sendRawTransaction") {
        return None;
    }
    let params = req.get("params").cloned().unwrap_or(Value::Null);
    Some(
        params::need(&params, 0, "raw transaction")
            .and_then(|v| params::bytes(&v, "raw transaction")),
    )
}

/// The answer to a request with `id` (none for a notification).
fn answer(id: Option<Value>, result: Result<Value, RpcError>) -> Option<Value> {
    let id = id?;
    Some(match result {
        Ok(r) => json!({"jsonrpc": "2.0", "id": id, "result": r}),
        Err(e) => error_reply(id, &e),
    })
}
