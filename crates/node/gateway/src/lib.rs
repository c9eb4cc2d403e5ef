//! Machina's reading gateway (`machina gateway`): accepts device-signed meter readings over HTTP, batches them and submits
//! them as transactions, retrying without duplicating, and tells each device what became of
//! each reading.
//!
//! The gateway is not trusted: each reading carries its device's signature, which the chain
//! checks. The gateway checks it too, and that the key is the machine's current device key,
//! before it queues a reading, so that it pays no fee for readings the chain would refuse
//! as unauthenticated. A batch is signed once and sent again as the same transaction until it
//! is in a block, so a retry pays no second fee; a machine's readings are in one unresolved
//! batch at most, so they reach the chain in order. Each reading's outcome is read from its
//! batch's committed receipt.

mod outcome;
mod routes;
mod submit;
mod verify;

pub use outcome::{ReadingOutcome, Status, MAX_OUTCOMES};
pub use submit::{EXPIRY_BLOCKS, FLUSH_WAIT, MAX_UNRESOLVED_BATCHES};
pub use verify::{
    DEVICE_KEY_TTL, MAX_CACHED_MACHINES, MAX_LOOKUPS_PER_REQUEST, UNKNOWN_MACHINE_TTL,
};

use outcome::{Failure, Outcomes, Queued};
use submit::Pending;
use verify::DeviceKeys;

use anyhow::Context;
use axum::Router;
use clap::Args;
use machina_client::{Client, Keystore, NodeError};
use machina_oracle::ReadingsReport;
use machina_primitives::limits::MAX_READINGS_PER_TX;
use machina_primitives::{Address, Hash, Keypair, Receipt};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
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
    /// Longest the gateway waits for a batch's receipt before it sends the batch again, ms.
    #[arg(long, default_value_t = DEFAULT_RECEIPT_WAIT.as_millis() as u64)]
    receipt_wait_ms: u64,
}

/// Largest request body devices may post: a few hundred thousand readings.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Most readings waiting in the gateway; beyond it devices are told to retry later.
const MAX_QUEUE: usize = 200_000;

/// Longest pause between retries after a failure.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Longest the gateway waits for a batch's receipt before it sends the batch again, unless
/// told otherwise (`--receipt-wait-ms`): a node under load commits well within it.
pub const DEFAULT_RECEIPT_WAIT: Duration = Duration::from_secs(60);

/// Longest `POST /v1/readings?wait=true` holds its answer: a batch interval, a few blocks and a
/// retry or two. Readings without an outcome by then are answered `pending`.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// Most refusal codes counted as series at `/metrics`; the oracle has about ten, and codes
/// beyond the bound are counted under `other`.
const MAX_CODES: usize = 64;

#[derive(Default)]
struct Stats {
    submitted: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    retries: AtomicU64,
    /// Refused readings by the code their receipt names (`unreported` when it names none).
    refused: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    /// Counts what one batch's receipt says.
    fn count(&self, report: &ReadingsReport) {
        self.accepted.fetch_add(report.accepted, Relaxed);
        self.rejected.fetch_add(report.refused, Relaxed);
        let mut refused = self.refused.lock().expect("stats lock");
        let mut add = |code: &str, n: u64| {
            let code = if refused.len() < MAX_CODES || refused.contains_key(code) {
                code
            } else {
                "other"
            };
            *refused.entry(code.to_owned()).or_default() += n;
        };
        for r in &report.named {
            add(&r.code, 1);
        }
        if report.unnamed() > 0 {
            add("unreported", report.unnamed());
        }
    }
}

/// A gateway: its queue, the account that pays, what it did, and each reading's outcome.
pub struct Gateway {
    /// The queue and the batches in flight.
    pending: Mutex<Pending>,
    /// Signalled when a batch is resolved.
    resolved: Condvar,
    stats: Stats,
    outcomes: Outcomes,
    /// Machines' device keys, for checking readings before they are queued.
    device_keys: DeviceKeys,
    /// The node's chain id, once asked: readings are signed for it.
    chain_id: OnceLock<u64>,
    client: Client,
    key: Keypair,
    fee_payer: Option<Address>,
    max_batch: usize,
    /// Longest a batch's receipt is waited for before the batch is sent again.
    receipt_wait: Duration,
}

impl Gateway {
    /// A gateway that submits to `node` as `key`, optionally with a sponsor paying the fees.
    pub fn new(node: &str, key: Keypair, fee_payer: Option<Address>, max_batch: usize) -> Gateway {
        Gateway {
            pending: Mutex::new(Pending::default()),
            resolved: Condvar::new(),
            stats: Stats::default(),
            outcomes: Outcomes::default(),
            device_keys: DeviceKeys::default(),
            chain_id: OnceLock::new(),
            client: Client::new(node),
            key,
            fee_payer,
            max_batch: max_batch.clamp(1, MAX_READINGS_PER_TX),
            receipt_wait: DEFAULT_RECEIPT_WAIT,
        }
    }

    /// The same gateway waiting at most `wait` for a batch's receipt before it sends the
    /// batch again (instead of [`DEFAULT_RECEIPT_WAIT`]).
    pub fn with_receipt_wait(mut self, wait: Duration) -> Gateway {
        self.receipt_wait = wait;
        self
    }

    /// The routes devices use: `POST /v1/readings` (`?wait=true` to answer with each
    /// reading's outcome), `GET /v1/readings/{machine_id}/{seq}`, `POST /v1/flush`,
    /// `GET /v1/health`, and `GET /metrics` for whoever runs it.
    /// Errors are `{"code", "message"}`, as on the node.
    pub fn router(self: &Arc<Self>) -> Router {
        routes::router(self.clone(), MAX_BODY_BYTES)
    }

    /// The node's chain id and height.
    fn chain_head(&self) -> anyhow::Result<(u64, u64)> {
        let health = self.client.get("/v1/health")?;
        let chain_id = health["chain_id"].as_u64().context("chain_id")?;
        let _ = self.chain_id.set(chain_id);
        Ok((chain_id, health["height"].as_u64().context("height")?))
    }

    /// The node's chain id, asked once.
    fn chain_id(&self) -> anyhow::Result<u64> {
        match self.chain_id.get() {
            Some(id) => Ok(*id),
            None => Ok(self.chain_head()?.0),
        }
    }

    /// Gives each reading of a batch that is not in a block yet the failure as its outcome,
    /// and answers its waiting device; the batch is sent again.
    fn fail(&self, batch: &mut [Queued], f: &Failure) {
        let f = Failure {
            message: format!("{}; the gateway sends it again", f.message),
            ..f.clone()
        };
        for q in batch {
            let o = self
                .outcomes
                .record(&q.reading, ReadingOutcome::failed(&q.reading, &f));
            if let Some(w) = q.waiter.take() {
                let _ = w.send(o);
            }
        }
    }
}

/// The failure of a batch the node did not take.
fn send_failure(e: &anyhow::Error) -> Failure {
    let (code, message) = match e.downcast_ref::<NodeError>() {
        Some(n) => ("node_refused", format!("the node refused the batch: {n}")),
        None => ("node_unreachable", format!("{e:#}")),
    };
    Failure {
        code,
        message,
        tx_hash: None,
        height: None,
    }
}

/// The readings report and height of a committed batch from the node's record of it.
fn read_receipt(hash: Hash, rec: &Value) -> Result<(ReadingsReport, u64), Failure> {
    let height = rec["height"].as_u64();
    let failure = |message: String| Failure {
        code: "tx_failed",
        message,
        tx_hash: Some(hash),
        height,
    };
    let receipt: Receipt = serde_json::from_value(rec["receipt"].clone())
        .map_err(|e| failure(format!("the node's receipt of {hash} does not parse: {e}")))?;
    let height = height.ok_or_else(|| failure(format!("transaction {hash} has no height")))?;
    if let Some(e) = &receipt.error {
        return Err(failure(format!(
            "transaction {hash} failed at height {height}: {}: {}",
            e.code, e.message
        )));
    }
    let report = machina_oracle::readings_reports(&receipt.events)
        .into_iter()
        .next()
        .ok_or_else(|| failure(format!("the receipt of {hash} reports no readings")))?;
    Ok((report, height))
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
    let g = Arc::new(
        Gateway::new(&node, key, fee_payer, args.max_batch)
            .with_receipt_wait(Duration::from_millis(args.receipt_wait_ms)),
    );
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
            .spawn(move || submit::run_submitter(g, every))?;
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
