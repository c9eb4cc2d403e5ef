//! Machina's reading gateway (`machina gateway`): accepts device-signed meter readings over HTTP, batches them and submits
//! them as transactions, retrying without duplicating, and tells each device what became of
//! each reading.
//!
//! The gateway is not trusted: each reading carries its device's signature, which the chain
//! checks. Retrying a batch is safe because readings carry sequence numbers and cumulative
//! counters: a reading the chain already has comes back as `stale_reading` and changes nothing.
//! Each reading's outcome is read from its batch's committed receipt.

mod outcome;
mod routes;

pub use outcome::{ReadingOutcome, Status, MAX_EARLIER_ATTEMPTS, MAX_OUTCOMES};

use outcome::{Failure, Outcomes, Queued};

use anyhow::Context;
use axum::Router;
use clap::Args;
use machina_client::{Client, Keystore, NodeError};
use machina_oracle::{OracleAction, ReadingsReport, SignedReading};
use machina_primitives::limits::MAX_READINGS_PER_TX;
use machina_primitives::{Address, Hash, Keypair, Receipt};
use machina_stf::TxBody;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
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
    /// Longest the gateway waits for a batch's receipt before it sends the batch again, ms.
    #[arg(long, default_value_t = DEFAULT_RECEIPT_WAIT.as_millis() as u64)]
    receipt_wait_ms: u64,
}

/// Largest request body devices may post: a few hundred thousand readings.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Most readings waiting in the gateway; beyond it devices are told to retry later.
const MAX_QUEUE: usize = 200_000;

/// Longest pause between retries after a failure.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

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
    queue: Mutex<VecDeque<Queued>>,
    stats: Stats,
    outcomes: Outcomes,
    client: Client,
    key: Keypair,
    fee_payer: Option<Address>,
    max_batch: usize,
    /// Longest a batch's receipt is waited for.
    receipt_wait: Duration,
    /// The next nonce, when batches go out faster than blocks commit them.
    next_nonce: Mutex<Option<u64>>,
}

impl Gateway {
    /// A gateway that submits to `node` as `key`, optionally with a sponsor paying the fees.
    pub fn new(node: &str, key: Keypair, fee_payer: Option<Address>, max_batch: usize) -> Gateway {
        Gateway {
            queue: Mutex::new(VecDeque::new()),
            stats: Stats::default(),
            outcomes: Outcomes::default(),
            client: Client::new(node),
            key,
            fee_payer,
            max_batch: max_batch.clamp(1, MAX_READINGS_PER_TX),
            receipt_wait: DEFAULT_RECEIPT_WAIT,
            next_nonce: Mutex::new(None),
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

    fn take_batch(&self) -> Vec<Queued> {
        let mut q = self.queue.lock().expect("queue lock");
        let n = q.len().min(self.max_batch);
        q.drain(..n).collect()
    }

    fn requeue(&self, batch: Vec<Queued>) {
        let mut q = self.queue.lock().expect("queue lock");
        for r in batch.into_iter().rev() {
            q.push_front(r);
        }
        *self.next_nonce.lock().expect("nonce lock") = None;
    }

    /// Sends everything queued now, in batches, without waiting for blocks; returns the
    /// transaction ids. A batch the node refuses goes back to the queue. The receipts of the
    /// batches sent are followed in the background, for each reading's outcome.
    pub fn flush(self: &Arc<Self>) -> anyhow::Result<Vec<String>> {
        let mut sent = Vec::new();
        let result = loop {
            let mut batch = self.take_batch();
            if batch.is_empty() {
                break Ok(());
            }
            let n = batch.len() as u64;
            match self.send(&mut batch) {
                Ok(h) => {
                    self.stats.submitted.fetch_add(n, Relaxed);
                    sent.push((h, batch));
                }
                Err(e) => {
                    self.fail(&mut batch, &send_failure(&e), true);
                    self.requeue(batch);
                    break Err(e);
                }
            }
        };
        let hashes = sent.iter().map(|(h, _)| h.to_string()).collect();
        if !sent.is_empty() {
            let g = self.clone();
            let follow = move || {
                for (h, batch) in sent {
                    if let Err((f, mut batch)) = g.settle(h, batch) {
                        g.fail(&mut batch, &f, false);
                    }
                }
            };
            if let Err(e) = std::thread::Builder::new()
                .name("gateway-follow".into())
                .spawn(follow)
            {
                tracing::warn!(error = %e, "cannot follow the flushed batches' receipts");
            }
        }
        result.map(|()| hashes)
    }

    /// Signs and submits one batch; returns its transaction id. When the submission gets no
    /// answer the node may still have taken it: the readings remember the transaction.
    fn send(&self, batch: &mut [Queued]) -> anyhow::Result<Hash> {
        let readings: Vec<SignedReading> = batch.iter().map(|q| q.reading).collect();
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
        let hash = tx.hash();
        if let Err(e) = self.client.submit(&tx) {
            if e.downcast_ref::<NodeError>().is_none() {
                for (i, q) in batch.iter_mut().enumerate() {
                    q.sent_without_receipt(hash, i as u64);
                }
            }
            return Err(e);
        }
        *next = Some(nonce + 1);
        Ok(hash)
    }

    /// Waits for the receipt of batch `hash` and gives each reading its outcome. Without a
    /// receipt, or with a failed one, the batch comes back with the failure.
    fn settle(&self, hash: Hash, mut batch: Vec<Queued>) -> Result<(), (Failure, Vec<Queued>)> {
        let rec = match self
            .client
            .wait_for_tx(&hash.to_string(), self.receipt_wait)
        {
            Ok(v) => v,
            Err(e) => {
                for (i, q) in batch.iter_mut().enumerate() {
                    q.sent_without_receipt(hash, i as u64);
                }
                let f = Failure {
                    code: "not_committed",
                    message: format!("{e:#}"),
                    tx_hash: Some(hash),
                    height: None,
                };
                return Err((f, batch));
            }
        };
        let (report, height) = match read_receipt(hash, &rec) {
            Ok(r) => r,
            Err(f) => return Err((f, batch)),
        };
        self.stats.count(&report);
        let mut earlier = HashMap::new();
        for (i, q) in batch.into_iter().enumerate() {
            let mut o = ReadingOutcome::from_report(&q.reading, &report, i as u64, hash, height);
            if o.code.as_deref() == Some("stale_reading") {
                if let Some(first) = self.accepted_earlier(&q, &mut earlier) {
                    o = first;
                }
            }
            let o = self.outcomes.record(&q.reading, o);
            if let Some(w) = q.waiter {
                let _ = w.send(o);
            }
        }
        Ok(())
    }

    /// The acceptance of `q` by an earlier batch whose receipt was not seen then, if one
    /// accepted it (a retry of it is then refused as `stale_reading`). `cache` holds the
    /// earlier receipts already read.
    fn accepted_earlier(
        &self,
        q: &Queued,
        cache: &mut HashMap<Hash, Option<(ReadingsReport, u64)>>,
    ) -> Option<ReadingOutcome> {
        for (h, item) in q.earlier.iter().rev() {
            let found = cache.entry(*h).or_insert_with(|| {
                let v = self.client.get(&format!("/v1/tx/{h}")).ok()?;
                read_receipt(*h, &v).ok()
            });
            if let Some((report, height)) = found {
                let o = ReadingOutcome::from_report(&q.reading, report, *item, *h, *height);
                if o.status == Status::Accepted {
                    return Some(o);
                }
            }
        }
        None
    }

    /// Gives each reading of a batch that did not get into a block the failure as its outcome
    /// and answers its waiting device; `retrying` when the batch goes back to the queue.
    fn fail(&self, batch: &mut [Queued], f: &Failure, retrying: bool) {
        let f = Failure {
            message: if retrying {
                format!("{}; the gateway sends it again", f.message)
            } else {
                f.message.clone()
            },
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

/// Every `every`, sends a batch and waits for its receipt; a failed batch goes back to the
/// front of the queue and is retried with backoff.
fn run_submitter(g: Arc<Gateway>, every: Duration) {
    let mut backoff = every;
    loop {
        std::thread::sleep(backoff.min(MAX_BACKOFF));
        let mut batch = g.take_batch();
        if batch.is_empty() {
            backoff = every;
            continue;
        }
        let n = batch.len() as u64;
        let failed = match g.send(&mut batch) {
            Ok(hash) => g.settle(hash, batch).err(),
            Err(e) => Some((send_failure(&e), batch)),
        };
        match failed {
            None => {
                g.stats.submitted.fetch_add(n, Relaxed);
                backoff = every;
            }
            Some((f, mut batch)) => {
                tracing::warn!(code = f.code, error = %f.message, readings = n, "batch failed; will retry");
                g.stats.retries.fetch_add(1, Relaxed);
                g.fail(&mut batch, &f, true);
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
