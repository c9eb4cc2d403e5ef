//! `GET /v1/ws`: event streams over a WebSocket (`docs/events.md`). A subscription to blocks
//! (with receipts) or to events (filtered by module, kind, account, machine, zone) starts at
//! a past height or the next one and then follows the chain live. It reads every height once,
//! in order, from the store, so a client that resubscribes from the height after its last
//! complete one gets no gap and no duplicate.

use crate::history;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use machina_api_types::BlockView;
use machina_chain::Chain;
use machina_primitives::{Address, AttrValue, Event, Hash};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Most WebSocket connections a node serves at once; more are refused with 503.
pub const MAX_WS_CONNECTIONS: usize = 256;
/// Most subscriptions one connection holds.
pub const MAX_SUBSCRIPTIONS: usize = 16;
/// Most messages queued for one connection; a live consumer that falls this far behind is
/// dropped.
pub const MAX_QUEUED_MESSAGES: usize = 1024;
/// Most bytes of messages queued for one connection, whatever their number: a block with its
/// receipts can be megabytes, so the count alone would not bound memory. With
/// [`MAX_WS_CONNECTIONS`] this bounds the streams' memory at 256 × 2 MiB. One message larger
/// than this is still sent when the queue is empty.
pub const MAX_QUEUED_BYTES: usize = 2 * 1024 * 1024;
/// Largest message a client may send.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 4096;

static CONNECTIONS: AtomicUsize = AtomicUsize::new(0);

/// What a client asks for.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Subscribe {
    subscribe: Kind,
    from_height: Option<u64>,
    module: Option<String>,
    kind: Option<String>,
    account: Option<String>,
    machine: Option<u64>,
    zone: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Blocks,
    Events,
}

/// An events subscription's filter: every given field must match.
struct Filter {
    module: Option<String>,
    kind: Option<String>,
    account: Option<Address>,
    machine: Option<u64>,
    zone: Option<String>,
}

impl Filter {
    fn matches(&self, e: &Event, sender: Option<&Address>) -> bool {
        let text = |k: &str| match e.attrs.get(k) {
            Some(AttrValue::Text(t)) => Some(t.as_str()),
            _ => None,
        };
        self.module.as_ref().is_none_or(|m| *m == e.module)
            && self.kind.as_ref().is_none_or(|k| *k == e.kind)
            && self.zone.as_deref().is_none_or(|z| text("zone") == Some(z))
            && self.machine.is_none_or(|m| e.machine_id() == Some(m))
            && self
                .account
                .is_none_or(|a| sender == Some(&a) || e.named_accounts().any(|x| x == a))
    }
}

/// Upgrades the connection, or refuses it when the node serves its most already.
pub(crate) async fn upgrade(State(chain): State<Arc<Chain>>, ws: WebSocketUpgrade) -> Response {
    if CONNECTIONS.fetch_add(1, Ordering::SeqCst) >= MAX_WS_CONNECTIONS {
        CONNECTIONS.fetch_sub(1, Ordering::SeqCst);
        return crate::ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "too_many_connections",
            format!("this node serves at most {MAX_WS_CONNECTIONS} WebSocket connections; try again later"),
        )
        .into_response();
    }
    ws.max_message_size(MAX_CLIENT_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            serve(chain, socket).await;
            CONNECTIONS.fetch_sub(1, Ordering::SeqCst);
        })
}

/// A connection's queue of messages, serialized, bounded in number and in bytes.
#[derive(Clone)]
struct Outbox {
    tx: mpsc::Sender<(String, bool)>,
    bytes: Arc<AtomicUsize>,
}

/// Why a message could not be queued.
enum Full {
    /// The connection is gone.
    Closed,
    /// The consumer has [`MAX_QUEUED_MESSAGES`] or [`MAX_QUEUED_BYTES`] waiting.
    Behind,
}

impl Outbox {
    fn reserve(&self, len: usize) -> bool {
        let before = self.bytes.fetch_add(len, Ordering::SeqCst);
        if before > 0 && before + len > MAX_QUEUED_BYTES {
            self.bytes.fetch_sub(len, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Queues `v` now, or says the consumer is behind.
    fn try_push(&self, v: &Value) -> Result<(), Full> {
        let (text, closing) = (v.to_string(), v["type"] == "closing");
        let len = text.len();
        if !self.reserve(len) {
            return Err(Full::Behind);
        }
        self.tx.try_send((text, closing)).map_err(|e| {
            self.bytes.fetch_sub(len, Ordering::SeqCst);
            match e {
                mpsc::error::TrySendError::Full(_) => Full::Behind,
                mpsc::error::TrySendError::Closed(_) => Full::Closed,
            }
        })
    }

    /// Queues `v` once there is room: for heights read back from the store, where waiting
    /// costs no memory (the store is read only as fast as the consumer takes).
    async fn push(&self, v: &Value) -> Result<(), Full> {
        loop {
            match self.try_push(v) {
                Err(Full::Behind) => tokio::time::sleep(OUTBOX_POLL).await,
                other => return other,
            }
        }
    }
}

/// How often a catching-up subscription looks for room in its connection's queue.
const OUTBOX_POLL: std::time::Duration = std::time::Duration::from_millis(5);

async fn serve(chain: Arc<Chain>, mut socket: WebSocket) {
    let (tx, mut rx) = mpsc::channel::<(String, bool)>(MAX_QUEUED_MESSAGES);
    let outbox = Outbox {
        tx,
        bytes: Arc::new(AtomicUsize::new(0)),
    };
    let mut tasks = Vec::new();
    loop {
        tokio::select! {
            out = rx.recv() => {
                let Some((text, closing)) = out else { break };
                outbox.bytes.fetch_sub(text.len(), Ordering::SeqCst);
                if socket.send(Message::Text(Utf8Bytes::from(text))).await.is_err() || closing {
                    break;
                }
            }
            msg = socket.recv() => {
                let Some(Ok(msg)) = msg else { break };
                let Message::Text(text) = msg else { continue };
                let height = chain.committed().head.height;
                match subscription(&text, tasks.len()) {
                    Err((code, message)) => {
                        let v = json!({"type": "error", "code": code, "message": message, "height": height});
                        if socket.send(Message::Text(Utf8Bytes::from(v.to_string()))).await.is_err() {
                            break;
                        }
                    }
                    Ok((kind, from, filter)) => {
                        let id = tasks.len();
                        let from = from.unwrap_or(height + 1);
                        let v = json!({"type": "subscribed", "subscription": id, "from_height": from, "height": height});
                        if socket.send(Message::Text(Utf8Bytes::from(v.to_string()))).await.is_err() {
                            break;
                        }
                        tasks.push(tokio::spawn(follow(chain.clone(), outbox.clone(), id, kind, from, filter)));
                    }
                }
            }
        }
    }
    for t in tasks {
        t.abort();
    }
}

fn subscription(
    text: &str,
    held: usize,
) -> Result<(Kind, Option<u64>, Filter), (&'static str, String)> {
    if held >= MAX_SUBSCRIPTIONS {
        return Err(("too_many_subscriptions", format!("a connection holds at most {MAX_SUBSCRIPTIONS} subscriptions; open another connection")));
    }
    let s: Subscribe = serde_json::from_str(text).map_err(|e| {
        ("bad_subscription", format!("{}; send {{\"subscribe\": \"blocks\" | \"events\", \"from_height\"?, \"module\"?, \"kind\"?, \"account\"?, \"machine\"?, \"zone\"?}}", crate::describe_json_error(&e)))
    })?;
    let account = s
        .account
        .as_deref()
        .map(|a| {
            Address::from_hex(a).ok_or((
                "bad_subscription",
                format!("account: not a 20-byte hex address: {}", crate::quote(a)),
            ))
        })
        .transpose()?;
    if s.subscribe == Kind::Blocks
        && (s.module.is_some()
            || s.kind.is_some()
            || account.is_some()
            || s.machine.is_some()
            || s.zone.is_some())
    {
        return Err((
            "bad_subscription",
            "a blocks subscription takes no filter; subscribe to events to filter".into(),
        ));
    }
    Ok((
        s.subscribe,
        s.from_height,
        Filter {
            module: s.module,
            kind: s.kind,
            account,
            machine: s.machine,
            zone: s.zone,
        },
    ))
}

/// Sends one subscription's messages from height `next` on, for ever. Heights before the
/// head when it starts are read back at the consumer's pace; from then on, a consumer that
/// lets [`MAX_QUEUED_MESSAGES`] or [`MAX_QUEUED_BYTES`] pile up is told why and dropped.
async fn follow(
    chain: Arc<Chain>,
    outbox: Outbox,
    id: usize,
    kind: Kind,
    mut next: u64,
    filter: Filter,
) {
    let mut heights = chain.subscribe();
    let caught_up_at = chain.store().head().ok().flatten().unwrap_or(0);
    loop {
        let head = chain.store().head().ok().flatten().unwrap_or(0);
        while next <= head {
            let msgs = match messages(&chain, id, kind, next, &filter) {
                Ok(m) => m,
                Err(e) => vec![
                    json!({"type": "closing", "reason": "internal", "message": e, "height": next}),
                ],
            };
            for m in &msgs {
                let queued = if next <= caught_up_at {
                    outbox.push(m).await
                } else {
                    outbox.try_push(m)
                };
                match queued {
                    Ok(()) => {}
                    Err(Full::Closed) => return,
                    Err(Full::Behind) => {
                        // Say so (waiting for room: the queue drains) and stop.
                        let bye = json!({"type": "closing", "reason": "slow_consumer", "message": format!("more than {MAX_QUEUED_MESSAGES} messages or {MAX_QUEUED_BYTES} bytes waited for this connection; resubscribe from height {next}"), "height": next});
                        let _ = outbox.push(&bye).await;
                        return;
                    }
                }
            }
            next += 1;
        }
        if heights.changed().await.is_err() {
            return;
        }
    }
}

/// The messages of one height: a `block` (with receipts), or each matching `event` and then a
/// `height` marker saying the height is complete.
fn messages(
    chain: &Chain,
    id: usize,
    kind: Kind,
    h: u64,
    f: &Filter,
) -> Result<Vec<Value>, String> {
    let store = chain.store();
    let header = store
        .header(h)
        .map_err(|e| e.to_string())?
        .ok_or("a stored height has a header")?;
    let txs = store.block_tx_hashes(h).map_err(|e| e.to_string())?;
    let block_events = store.block_events(h).map_err(|e| e.to_string())?;
    let view = BlockView::new(&header, txs.clone(), block_events.clone());
    if kind == Kind::Blocks {
        let mut block = json!(view);
        block["receipts"] = Value::Array(history::receipts(chain, &view).map_err(|e| e.message())?);
        return Ok(vec![
            json!({"type": "block", "subscription": id, "height": h, "block": block}),
        ]);
    }
    let mut out = Vec::new();
    for hash in &txs {
        let rec = store
            .tx(hash)
            .map_err(|e| e.to_string())?
            .ok_or("a block's transaction is stored")?;
        for e in rec
            .receipt
            .events
            .iter()
            .filter(|e| f.matches(e, Some(&rec.tx.body.sender)))
        {
            out.push(event_msg(id, h, Some(hash), e));
        }
    }
    for e in block_events.iter().filter(|e| f.matches(e, None)) {
        out.push(event_msg(id, h, None, e));
    }
    out.push(json!({"type": "height", "subscription": id, "height": h}));
    Ok(out)
}

fn event_msg(id: usize, h: u64, tx: Option<&Hash>, e: &Event) -> Value {
    json!({"type": "event", "subscription": id, "height": h, "tx_hash": tx, "event": e})
}
