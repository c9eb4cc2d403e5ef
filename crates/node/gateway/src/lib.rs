//! Machina's reading gateway (`machina gateway`): accepts device-signed meter readings over HTTP, batches them and submits
//! them as transactions, retrying without duplicating.
//!
//! The gateway is not trusted: each reading carries its device's signature, which the chain
//! checks. Retrying a batch is safe because readings carry sequence numbers and cumulative
//! counters: a reading the chain already has comes back as `stale_reading` and changes nothing.

use anyhow::Context;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Args;
use machina_api::{describe_json_error, error_surface, quote, ApiError, ApiJson};
use machina_client::{Client, Keystore};
use machina_oracle::{OracleAction, SignedReading};
use machina_primitives::limits::MAX_READINGS_PER_TX;
use machina_primitives::{Address, Keypair};
use machina_stf::TxBody;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Options of `machina gateway`.
#[derive(Args)]
pub struct GatewayArgs {
    /// The node's HTTP API.
    #[arg(long, default_value = "http://127.0.0.1:8645", env = "MACHINA_NODE")]
    node: String,
    /// Where devices post readings.
    #[arg(long, default_value = "127.0.0.1:8646")]
    listen: SocketAddr,
    /// Key name of the account that submits and pays (created if it is `gateway` and missing).
    #[arg(long, default_value = "gateway")]
    from: String,
    /// An account that pays the fees under a fee allowance it granted the gateway.
    #[arg(long)]
    fee_payer: Option<String>,
    /// Longest a reading waits before its batch is sent (0: only on `POST /v1/flush`).
    #[arg(long, default_value_t = 200)]
    batch_ms: u64,
    /// Most readings one transaction carries.
    #[arg(long, default_value_t = MAX_READINGS_PER_TX)]
    max_batch: usize,
}

/// Largest request body devices may post: a few hundred thousand readings.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Most readings waiting in the gateway; beyond it devices are told to retry later.
const MAX_QUEUE: usize = 200_000;

/// Longest pause between retries after a failure.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Stats {
    submitted: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    retries: AtomicU64,
}

/// A gateway: its queue, the account that pays, and what it did.
pub struct Gateway {
    queue: Mutex<VecDeque<SignedReading>>,
    stats: Stats,
    client: Client,
    key: Keypair,
    fee_payer: Option<Address>,
    max_batch: usize,
    /// The next nonce, when batches go out faster than blocks commit them.
    next_nonce: Mutex<Option<u64>>,
}

impl Gateway {
    /// A gateway that submits to `node` as `key`, optionally with a sponsor paying the fees.
    pub fn new(node: &str, key: Keypair, fee_payer: Option<Address>, max_batch: usize) -> Gateway {
        Gateway {
            queue: Mutex::new(VecDeque::new()),
            stats: Stats::default(),
            client: Client::new(node),
            key,
            fee_payer,
            max_batch: max_batch.clamp(1, MAX_READINGS_PER_TX),
            next_nonce: Mutex::new(None),
        }
    }

    /// The routes devices use: `POST /v1/readings`, `POST /v1/flush`, `GET /v1/health`, and
    /// `GET /metrics` for whoever runs it.
    /// Errors are `{"code", "message"}`, as on the node.
    pub fn router(self: &Arc<Self>) -> Router {
        let routes = Router::new()
            .route("/v1/readings", post(post_readings))
            .route("/v1/flush", post(flush))
            .route("/v1/health", get(health))
            .route("/metrics", get(metrics))
            .fallback(unknown_route);
        error_surface(routes, MAX_BODY_BYTES).with_state(self.clone())
    }

    fn take_batch(&self) -> Vec<SignedReading> {
        let mut q = self.queue.lock().expect("queue lock");
        let n = q.len().min(self.max_batch);
        q.drain(..n).collect()
    }

    fn requeue(&self, batch: Vec<SignedReading>) {
        let mut q = self.queue.lock().expect("queue lock");
        for r in batch.into_iter().rev() {
            q.push_front(r);
        }
        *self.next_nonce.lock().expect("nonce lock") = None;
    }

    /// Sends everything queued now, in batches, without waiting for blocks; returns the
    /// transaction ids. A batch the node refuses goes back to the queue.
    pub fn flush(&self) -> anyhow::Result<Vec<String>> {
        let mut hashes = Vec::new();
        loop {
            let batch = self.take_batch();
            if batch.is_empty() {
                return Ok(hashes);
            }
            let n = batch.len() as u64;
            match self.send(batch.clone()) {
                Ok(h) => {
                    self.stats.submitted.fetch_add(n, Relaxed);
                    hashes.push(h);
                }
                Err(e) => {
                    self.requeue(batch);
                    return Err(e);
                }
            }
        }
    }

    /// Signs and submits one batch; returns its transaction id.
    fn send(&self, readings: Vec<SignedReading>) -> anyhow::Result<String> {
        let health = self.client.get("/v1/health")?;
        let account = self
            .client
            .get(&format!("/v1/account/{}", self.key.address()))?;
        let on_chain = account["nonce"].as_u64().context("nonce")?;
        let mut next = self.next_nonce.lock().expect("nonce lock");
        let nonce = next.map_or(on_chain, |n| n.max(on_chain));
        let tx = TxBody {
            chain_id: health["chain_id"].as_u64().context("chain_id")?,
            sender: self.key.address(),
            nonce,
            fee: machina_stf::params::DEFAULT_MIN_FEE,
            expiry_height: health["height"].as_u64().context("height")? + 100,
            fee_payer: self.fee_payer,
            actions: vec![OracleAction::SubmitReadings { readings }.into()],
        }
        .sign(&[&self.key]);
        let hash = self.client.submit(&tx)?;
        *next = Some(nonce + 1);
        Ok(hash)
    }
}

async fn unknown_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no route {method} {}; the gateway serves POST /v1/readings, POST /v1/flush and \
         GET /v1/health",
        quote(uri.path())
    ))
}

/// The readings of a body: one signed reading, or an array of them. A reading that does not
/// parse is named by its position.
fn readings_of(body: Value) -> Result<Vec<SignedReading>, ApiError> {
    let one = |v: Value, what: &str| {
        serde_json::from_value::<SignedReading>(v)
            .map_err(|e| ApiError::malformed(format!("{what}: {}", describe_json_error(&e))))
    };
    match body {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| one(v, &format!("reading {i}")))
            .collect(),
        v => Ok(vec![one(v, "the reading")?]),
    }
}

async fn post_readings(
    State(g): State<Arc<Gateway>>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let readings = readings_of(body)?;
    let mut q = g.queue.lock().expect("queue lock");
    if q.len() + readings.len() > MAX_QUEUE {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "queue_full",
            format!(
                "gateway holds {} readings, limit is {MAX_QUEUE}; retry later",
                q.len()
            ),
        ));
    }
    let n = readings.len();
    q.extend(readings);
    Ok(Json(json!({"queued": n})))
}

async fn flush(State(g): State<Arc<Gateway>>) -> Result<Json<Value>, ApiError> {
    match tokio::task::spawn_blocking(move || g.flush()).await {
        Ok(Ok(txs)) => Ok(Json(json!({"txs": txs}))),
        Ok(Err(e)) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "node_refused",
            format!("{e:#}"),
        )),
        Err(e) => Err(ApiError::internal(e)),
    }
}

async fn health(State(g): State<Arc<Gateway>>) -> Json<Value> {
    let s = &g.stats;
    Json(json!({
        "payer": g.key.address(),
        "queued": g.queue.lock().expect("queue lock").len(),
        "submitted": s.submitted.load(Relaxed),
        "accepted": s.accepted.load(Relaxed),
        "rejected": s.rejected.load(Relaxed),
        "retries": s.retries.load(Relaxed),
    }))
}

/// `GET /metrics`: the gateway's queue and what became of the readings it sent, as
/// Prometheus text.
async fn metrics(State(g): State<Arc<Gateway>>) -> impl axum::response::IntoResponse {
    let s = &g.stats;
    let queued = g.queue.lock().expect("queue lock").len() as u64;
    let rows = [
        (
            "machina_gateway_queued_readings",
            "gauge",
            "Readings waiting to be sent.",
            queued,
        ),
        (
            "machina_gateway_submitted_readings_total",
            "counter",
            "Readings sent to the node in a batch.",
            s.submitted.load(Relaxed),
        ),
        (
            "machina_gateway_accepted_readings_total",
            "counter",
            "Readings the chain accepted.",
            s.accepted.load(Relaxed),
        ),
        (
            "machina_gateway_rejected_readings_total",
            "counter",
            "Readings the chain refused (bad signature, stale, out of order).",
            s.rejected.load(Relaxed),
        ),
        (
            "machina_gateway_retries_total",
            "counter",
            "Batches sent again after the node refused or did not answer.",
            s.retries.load(Relaxed),
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, v) in rows {
        out += &format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n");
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        out,
    )
}

/// The accepted and refused counts of a reading batch's receipt.
fn counts(rec: &Value) -> anyhow::Result<(u64, u64)> {
    let summary = rec["receipt"]["events"]
        .as_array()
        .and_then(|evs| evs.iter().find(|e| e["kind"] == "readings"))
        .context("receipt has a readings summary")?;
    let count = |k: &str| machina_module_cli::attr_u64(Some(&summary["attrs"][k])).unwrap_or(0);
    Ok((count("accepted"), count("rejected")))
}

/// Every `every`, sends a batch and waits for its receipt; a failed batch goes back to the
/// front of the queue and is retried with backoff.
fn run_submitter(g: Arc<Gateway>, every: Duration) {
    let mut backoff = every;
    loop {
        std::thread::sleep(backoff.min(MAX_BACKOFF));
        let batch = g.take_batch();
        if batch.is_empty() {
            backoff = every;
            continue;
        }
        let n = batch.len() as u64;
        let sent = g
            .send(batch.clone())
            .and_then(|h| g.client.wait_for_tx(&h, Duration::from_secs(60)))
            .and_then(|rec| counts(&rec));
        match sent {
            Ok((accepted, rejected)) => {
                g.stats.submitted.fetch_add(n, Relaxed);
                g.stats.accepted.fetch_add(accepted, Relaxed);
                g.stats.rejected.fetch_add(rejected, Relaxed);
                backoff = every;
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), readings = n, "batch failed; will retry");
                g.stats.retries.fetch_add(1, Relaxed);
                g.requeue(batch);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Runs the gateway until interrupted.
pub fn run(args: GatewayArgs, ks: &mut Keystore, json: bool) -> anyhow::Result<()> {
    machina_client::init_logs(false);
    let key = match ks.get(&args.from) {
        Ok(k) => k,
        Err(_) if args.from == "gateway" => ks.create("gateway")?,
        Err(e) => return Err(e),
    };
    let fee_payer = args
        .fee_payer
        .as_deref()
        .map(|p| ks.address_of(p))
        .transpose()?;
    let address = key.address();
    let node = machina_client::node_url(&args.node);
    let g = Arc::new(Gateway::new(&node, key, fee_payer, args.max_batch));
    let balance = g.client.get(&format!("/v1/account/{address}"))?["balance"]
        .as_str()
        .unwrap_or("0")
        .to_owned();
    let info = json!({"listen": format!("http://{}", args.listen), "node": node, "payer": address, "balance": balance});
    machina_client::print(json, &info, || {
        format!(
            "Machina gateway\n  devices post to http://{}/v1/readings\n  node     {}\n  payer    {address} ({balance} micro)",
            args.listen, node
        )
    });
    if balance == "0" && fee_payer.is_none() {
        tracing::warn!("the payer has no balance: fund {address} or pass --fee-payer");
    }
    if args.batch_ms > 0 {
        let g = g.clone();
        let every = Duration::from_millis(args.batch_ms);
        std::thread::Builder::new()
            .name("gateway-submit".into())
            .spawn(move || run_submitter(g, every))?;
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        tokio::select! {
            r = axum::serve(listener, g.router()) => r.map_err(anyhow::Error::from),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
