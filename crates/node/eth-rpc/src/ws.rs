//! JSON-RPC over a WebSocket: every method, plus `eth_subscribe` to `newHeads` and `logs`
//! (and `eth_unsubscribe`), pushed as `eth_subscription` notifications block by block.

use crate::filters::LogFilter;
use crate::params::need;
use crate::shapes::qty;
use crate::{EthRpc, RpcError};
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Most WebSocket connections at once; more are refused with 503.
pub const MAX_WS_CONNECTIONS: usize = 256;
/// Most subscriptions one connection holds.
pub const MAX_WS_SUBSCRIPTIONS: usize = 32;
/// Most messages queued for one connection; a subscription waits for the client beyond it.
const MAX_QUEUED: usize = 1_024;
/// Largest message a client may send (a batch of signed transactions).
const MAX_CLIENT_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

static CONNECTIONS: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn upgrade(rpc: Arc<EthRpc>, ws: WebSocketUpgrade) -> Response {
    if CONNECTIONS.fetch_add(1, Ordering::SeqCst) >= MAX_WS_CONNECTIONS {
        CONNECTIONS.fetch_sub(1, Ordering::SeqCst);
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "too many WebSocket connections",
        )
            .into_response();
    }
    ws.max_message_size(MAX_CLIENT_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            serve(rpc, socket).await;
            CONNECTIONS.fetch_sub(1, Ordering::SeqCst);
        })
}

async fn serve(rpc: Arc<EthRpc>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut outbox) = mpsc::channel::<Value>(MAX_QUEUED);
    let writer = tokio::spawn(async move {
        while let Some(v) = outbox.recv().await {
            if sink
                .send(Message::Text(Utf8Bytes::from(v.to_string())))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let mut subs: BTreeMap<u64, tokio::task::JoinHandle<()>> = BTreeMap::new();
    let mut next_id = 0u64;
    while let Some(Ok(msg)) = stream.next().await {
        let text = match msg {
            Message::Text(t) => t.to_string(),
            Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
            Message::Close(_) => break,
            _ => continue,
        };
        let req: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                let _ = out.send(json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": format!("parse error: {e}")}})).await;
                continue;
            }
        };
        let method = req.get("method").and_then(Value::as_str).unwrap_or("");
        let answer = match method {
            "eth_subscribe" | "eth_unsubscribe" => {
                let id = req.get("id").cloned().unwrap_or(Value::Null);
                let params = req.get("params").cloned().unwrap_or(Value::Null);
                let result = if method == "eth_subscribe" {
                    next_id += 1;
                    subscribe(&rpc, &out, &mut subs, next_id, &params)
                } else {
                    unsubscribe(&mut subs, &params)
                };
                Some(match result {
                    Ok(r) => json!({"jsonrpc": "2.0", "id": id, "result": r}),
                    Err(e) => {
                        json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code, "message": e.message}})
                    }
                })
            }
            _ => {
                let rpc = rpc.clone();
                tokio::task::spawn_blocking(move || rpc.handle_value(req))
                    .await
                    .ok()
                    .flatten()
            }
        };
        if let Some(a) = answer {
            if out.send(a).await.is_err() {
                break;
            }
        }
    }
    for (_, task) in subs {
        task.abort();
    }
    writer.abort();
}

fn unsubscribe(
    subs: &mut BTreeMap<u64, tokio::task::JoinHandle<()>>,
    params: &Value,
) -> Result<Value, RpcError> {
    let id = crate::params::quantity64(&need(params, 0, "subscription id")?, "subscription id")?;
    Ok(Value::Bool(match subs.remove(&id) {
        Some(t) => {
            t.abort();
            true
        }
        None => false,
    }))
}

fn subscribe(
    rpc: &Arc<EthRpc>,
    out: &mpsc::Sender<Value>,
    subs: &mut BTreeMap<u64, tokio::task::JoinHandle<()>>,
    id: u64,
    params: &Value,
) -> Result<Value, RpcError> {
    if subs.len() >= MAX_WS_SUBSCRIPTIONS {
        return Err(RpcError::new(
            -32000,
            format!("a connection holds at most {MAX_WS_SUBSCRIPTIONS} subscriptions"),
        ));
    }
    let kind = need(params, 0, "subscription kind")?;
    let filter = match kind.as_str() {
        Some("newHeads") => None,
        Some("logs") => Some(LogFilter::parse(params.get(1).unwrap_or(&json!({})))?),
        Some(other) => {
            return Err(RpcError::params(format!(
                "no subscription is called {other}: newHeads or logs"
            )))
        }
        None => return Err(RpcError::params("the subscription kind is a string")),
    };
    let sub_id = qty(id);
    let task = tokio::spawn(follow(rpc.clone(), out.clone(), sub_id.clone(), filter));
    subs.insert(id, task);
    Ok(sub_id)
}

/// Pushes every new block's head (or matching logs) from the next height on.
async fn follow(rpc: Arc<EthRpc>, out: mpsc::Sender<Value>, sub: Value, filter: Option<LogFilter>) {
    let mut heights = rpc.chain.subscribe();
    let mut done = rpc.head().height;
    loop {
        if heights.changed().await.is_err() {
            return;
        }
        let head = *heights.borrow_and_update();
        while done < head {
            done += 1;
            let (rpc2, f, h) = (rpc.clone(), filter.clone(), done);
            let items = tokio::task::spawn_blocking(move || items_at(&rpc2, f.as_ref(), h)).await;
            let Ok(items) = items else { return };
            for result in items {
                let note = json!({"jsonrpc": "2.0", "method": "eth_subscription", "params": {"subscription": sub, "result": result}});
                if out.send(note).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn items_at(rpc: &EthRpc, filter: Option<&LogFilter>, height: u64) -> Vec<Value> {
    match filter {
        Some(f) => rpc.logs_between(f, height, height).unwrap_or_default(),
        None => match rpc.chain.store().header(height) {
            Ok(Some(h)) => vec![crate::shapes::block(&h, Vec::new(), 0)],
            _ => Vec::new(),
        },
    }
}
