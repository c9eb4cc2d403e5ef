//! `machina gateway`: accepts device-signed meter readings over HTTP, batches them and submits
//! them as transactions, retrying without duplicating.
//!
//! The gateway is not trusted: each reading carries its device's signature, which the chain
//! checks. Retrying a batch is safe because readings carry sequence numbers and cumulative
//! counters: a reading the chain already has comes back as `stale_reading` and changes nothing.

use crate::client::Client;
use crate::keystore::Keystore;
use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Args;
use machina_primitives::action::SignedReading;
use machina_primitives::limits::MAX_READINGS_PER_TX;
use machina_primitives::{Action, Keypair, TxBody};
use serde::Deserialize;
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
    /// Longest a reading waits before its batch is sent.
    #[arg(long, default_value_t = 200)]
    batch_ms: u64,
    /// Most readings one transaction carries.
    #[arg(long, default_value_t = MAX_READINGS_PER_TX)]
    max_batch: usize,
}

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

struct Gateway {
    queue: Mutex<VecDeque<SignedReading>>,
    stats: Stats,
    payer: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Incoming {
    Many(Vec<SignedReading>),
    One(SignedReading),
}

async fn post_readings(
    State(g): State<Arc<Gateway>>,
    Json(body): Json<Incoming>,
) -> (StatusCode, Json<Value>) {
    let readings = match body {
        Incoming::Many(v) => v,
        Incoming::One(r) => vec![r],
    };
    let mut q = g.queue.lock().expect("queue lock");
    if q.len() + readings.len() > MAX_QUEUE {
        let msg = format!(
            "gateway holds {} readings, limit is {MAX_QUEUE}; retry later",
            q.len()
        );
        return (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"code": "queue_full", "message": msg})),
        );
    }
    let n = readings.len();
    q.extend(readings);
    (StatusCode::OK, Json(json!({"queued": n})))
}

async fn health(State(g): State<Arc<Gateway>>) -> Json<Value> {
    let s = &g.stats;
    Json(json!({
        "payer": g.payer,
        "queued": g.queue.lock().expect("queue lock").len(),
        "submitted": s.submitted.load(Relaxed),
        "accepted": s.accepted.load(Relaxed),
        "rejected": s.rejected.load(Relaxed),
        "retries": s.retries.load(Relaxed),
    }))
}

/// Sends one batch and waits for its receipt; returns (accepted, rejected).
fn submit(
    client: &Client,
    key: &Keypair,
    fee_payer: Option<machina_primitives::Address>,
    readings: Vec<SignedReading>,
) -> anyhow::Result<(u64, u64)> {
    let health = client.get("/v1/health")?;
    let account = client.get(&format!("/v1/account/{}", key.address()))?;
    let tx = TxBody {
        chain_id: health["chain_id"].as_u64().context("chain_id")?,
        sender: key.address(),
        nonce: account["nonce"].as_u64().context("nonce")?,
        fee: machina_stf::params::DEFAULT_MIN_FEE,
        expiry_height: health["height"].as_u64().context("height")? + 100,
        fee_payer,
        actions: vec![Action::SubmitReadings { readings }],
    }
    .sign(&[key]);
    let hash = client.submit(&tx)?;
    let rec = client.wait_for_tx(&hash, Duration::from_secs(60))?;
    let summary = rec["receipt"]["events"]
        .as_array()
        .and_then(|evs| evs.iter().find(|e| e["kind"] == "readings"))
        .context("receipt has a readings summary")?;
    let count = |k: &str| {
        summary["attrs"][k]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok((count("accepted"), count("rejected")))
}

/// How the submitter batches.
struct Batching {
    every: Duration,
    max: usize,
}

fn run_submitter(
    g: Arc<Gateway>,
    client: Client,
    key: Keypair,
    fee_payer: Option<machina_primitives::Address>,
    b: Batching,
) {
    let mut backoff = b.every;
    loop {
        std::thread::sleep(backoff.min(MAX_BACKOFF));
        let batch: Vec<SignedReading> = {
            let mut q = g.queue.lock().expect("queue lock");
            let n = q.len().min(b.max);
            q.drain(..n).collect()
        };
        if batch.is_empty() {
            backoff = b.every;
            continue;
        }
        let n = batch.len() as u64;
        match submit(&client, &key, fee_payer, batch.clone()) {
            Ok((accepted, rejected)) => {
                g.stats.submitted.fetch_add(n, Relaxed);
                g.stats.accepted.fetch_add(accepted, Relaxed);
                g.stats.rejected.fetch_add(rejected, Relaxed);
                backoff = b.every;
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), readings = n, "batch failed; will retry");
                g.stats.retries.fetch_add(1, Relaxed);
                let mut q = g.queue.lock().expect("queue lock");
                for r in batch.into_iter().rev() {
                    q.push_front(r);
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Runs the gateway until interrupted.
pub fn run(args: GatewayArgs, ks: &mut Keystore, json: bool) -> anyhow::Result<()> {
    crate::init_logs(false);
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
    let g = Arc::new(Gateway {
        queue: Mutex::new(VecDeque::new()),
        stats: Stats::default(),
        payer: key.address().to_string(),
    });
    let client = Client::new(&args.node);
    let balance = client.get(&format!("/v1/account/{}", key.address()))?["balance"]
        .as_str()
        .unwrap_or("0")
        .to_owned();
    let info = json!({"listen": format!("http://{}", args.listen), "node": args.node, "payer": key.address(), "balance": balance});
    crate::print(json, &info, || {
        format!("Machina gateway\n  devices post to http://{}/v1/readings\n  node     {}\n  payer    {} ({} micro)", args.listen, args.node, key.address(), balance)
    });
    if balance == "0" && fee_payer.is_none() {
        tracing::warn!(
            "the payer has no balance: fund {} or pass --fee-payer",
            key.address()
        );
    }
    let batching = Batching {
        every: Duration::from_millis(args.batch_ms.max(1)),
        max: args.max_batch.clamp(1, MAX_READINGS_PER_TX),
    };
    let submitter = {
        let g = g.clone();
        std::thread::Builder::new()
            .name("gateway-submit".into())
            .spawn(move || run_submitter(g, client, key, fee_payer, batching))?
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let app = Router::new()
            .route("/v1/readings", post(post_readings))
            .route("/v1/health", get(health))
            .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
            .with_state(g);
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        tokio::select! {
            r = axum::serve(listener, app) => r.map_err(anyhow::Error::from),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })?;
    drop(submitter);
    Ok(())
}
