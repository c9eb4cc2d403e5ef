//! Prometheus metrics of the node, rendered as text at `GET /metrics`.

use machina_primitives::Hash;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Transactions whose submission time is remembered, to measure the time to finality; beyond
/// this (a flood, or transactions that never commit) records older than
/// [`SUBMISSION_MEMORY`] are forgotten, and if that is not enough, all.
pub const MAX_TRACKED_SUBMISSIONS: usize = 200_000;
/// How long a submission is remembered once the tracker is full.
pub const SUBMISSION_MEMORY: Duration = Duration::from_secs(60);
/// Latest samples kept for each latency summary.
pub const MAX_LATENCY_SAMPLES: usize = 65_536;

/// Counters and gauges, updated by the producer and the API.
#[derive(Default)]
pub struct Metrics {
    height: AtomicU64,
    blocks: AtomicU64,
    txs_committed: AtomicU64,
    mempool: AtomicU64,
    exec_micros_sum: AtomicU64,
    exec_micros_last: AtomicU64,
    txs_rejected: AtomicU64,
    submitted: Mutex<HashMap<Hash, Instant>>,
    finality: Mutex<Samples>,
    block_interval: Mutex<Samples>,
    last_block_ms: AtomicU64,
    /// Refused submissions by their code (the codes are a fixed set).
    refused: Mutex<BTreeMap<&'static str, u64>>,
    /// HTTP requests by (route, method, status): count and total microseconds. Routes are the
    /// API's patterns (or `unmatched`), so the map is bounded by the routes.
    http: Mutex<BTreeMap<HttpSeries, (u64, u64)>>,
    /// Meter readings accepted in committed blocks.
    readings_accepted: AtomicU64,
    /// Meter readings refused in committed blocks, by code (at most [`MAX_READING_CODES`]).
    readings_refused: Mutex<BTreeMap<String, u64>>,
}

/// One HTTP series: route pattern, method, status.
type HttpSeries = (String, String, u16);

/// Most (route, method, status) series kept; beyond it new ones are not recorded.
pub const MAX_HTTP_SERIES: usize = 1024;

/// Most refusal codes of meter readings kept as series. The oracle's codes are a fixed set of
/// about ten; this only bounds the map, and codes beyond it are counted under `other`.
pub const MAX_READING_CODES: usize = 64;

/// The code under which readings are counted that a receipt refused without naming them (it
/// names at most the first refusals of a batch).
pub const UNREPORTED_CODE: &str = "unreported";

/// A window of the latest latency samples, in microseconds.
#[derive(Default)]
struct Samples(VecDeque<u64>);

impl Samples {
    fn push(&mut self, micros: u64) {
        if self.0.len() == MAX_LATENCY_SAMPLES {
            self.0.pop_front();
        }
        self.0.push_back(micros);
    }

    /// The nearest-rank quantiles `qs` (in seconds) and the number of samples.
    fn quantiles(&self, qs: &[f64]) -> (Vec<f64>, usize) {
        let mut v: Vec<u64> = self.0.iter().copied().collect();
        v.sort_unstable();
        let at = |q: f64| {
            if v.is_empty() {
                return f64::NAN;
            }
            let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
            v[rank - 1] as f64 / 1e6
        };
        (qs.iter().map(|&q| at(q)).collect(), v.len())
    }
}

/// Quantiles reported for latency summaries.
const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

impl Metrics {
    /// Sets the height (on start).
    pub fn set_height(&self, h: u64) {
        self.height.store(h, Relaxed);
    }

    /// Records a committed block.
    pub fn block_committed(&self, height: u64, txs: usize, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.height.store(height, Relaxed);
        self.blocks.fetch_add(1, Relaxed);
        self.txs_committed.fetch_add(txs as u64, Relaxed);
        self.exec_micros_sum.fetch_add(micros, Relaxed);
        self.exec_micros_last.store(micros, Relaxed);
    }

    /// Counts the meter readings of a committed block's receipts: accepted, and refused by the
    /// code the receipt names ([`UNREPORTED_CODE`] for those it had no room to name). A
    /// `submit_readings` transaction succeeds while readings in it are refused one by one.
    pub fn readings_committed(&self, receipts: &[machina_primitives::Receipt]) {
        let reports: Vec<machina_oracle::ReadingsReport> = receipts
            .iter()
            .filter(|r| r.success)
            .flat_map(|r| machina_oracle::readings_reports(&r.events))
            .collect();
        if reports.is_empty() {
            return;
        }
        let accepted: u64 = reports.iter().map(|r| r.accepted).sum();
        self.readings_accepted.fetch_add(accepted, Relaxed);
        let mut refused = self.readings_refused.lock().expect("metrics lock");
        let mut count = |code: &str, n: u64| {
            let code = if refused.len() < MAX_READING_CODES || refused.contains_key(code) {
                code
            } else {
                "other"
            };
            *refused.entry(code.to_owned()).or_default() += n;
        };
        for report in &reports {
            for r in &report.named {
                count(&r.code, 1);
            }
            if report.unnamed() > 0 {
                count(UNREPORTED_CODE, report.unnamed());
            }
        }
    }

    /// Transactions committed since start.
    pub fn txs_committed(&self) -> u64 {
        self.txs_committed.load(Relaxed)
    }

    /// Remembers when transactions submitted through this node were admitted.
    pub fn submitted(&self, hashes: &[Hash]) {
        let now = Instant::now();
        let mut s = self.submitted.lock().expect("metrics lock");
        if s.len() + hashes.len() > MAX_TRACKED_SUBMISSIONS {
            s.retain(|_, t| now.duration_since(*t) < SUBMISSION_MEMORY);
            if s.len() + hashes.len() > MAX_TRACKED_SUBMISSIONS {
                s.clear();
            }
        }
        s.extend(hashes.iter().map(|h| (*h, now)));
    }

    /// Records the time from submission to commit (finality, under consensus) of the
    /// transactions of a committed block that were submitted here, and the block interval.
    pub fn finalized(&self, hashes: &[Hash], block_timestamp_ms: u64) {
        let now = Instant::now();
        let mut s = self.submitted.lock().expect("metrics lock");
        let mut f = self.finality.lock().expect("metrics lock");
        for h in hashes {
            if let Some(t) = s.remove(h) {
                f.push(u64::try_from((now - t).as_micros()).unwrap_or(u64::MAX));
            }
        }
        drop((s, f));
        let last = self.last_block_ms.swap(block_timestamp_ms, Relaxed);
        if last != 0 && block_timestamp_ms > last {
            let interval = (block_timestamp_ms - last).saturating_mul(1000);
            self.block_interval
                .lock()
                .expect("metrics lock")
                .push(interval);
        }
    }

    /// Quantiles (seconds) of the time from submission to commit, and the sample count.
    pub fn finality_quantiles(&self, qs: &[f64]) -> (Vec<f64>, usize) {
        self.finality.lock().expect("metrics lock").quantiles(qs)
    }

    /// Sets the mempool size.
    pub fn set_mempool(&self, n: usize) {
        self.mempool.store(n as u64, Relaxed);
    }

    /// Counts submitted transactions that were refused.
    pub fn rejected(&self, n: usize) {
        self.txs_rejected.fetch_add(n as u64, Relaxed);
    }

    /// Counts a refused submission under its code.
    pub fn refused(&self, code: &'static str) {
        *self
            .refused
            .lock()
            .expect("metrics lock")
            .entry(code)
            .or_default() += 1;
    }

    /// Records one HTTP request.
    pub fn http_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let mut m = self.http.lock().expect("metrics lock");
        let key = (route.to_owned(), method.to_owned(), status);
        if m.len() >= MAX_HTTP_SERIES && !m.contains_key(&key) {
            return;
        }
        let e = m.entry(key).or_default();
        e.0 += 1;
        e.1 += took.as_micros() as u64;
    }

    /// The labelled series: refusals by code, readings refused by code, HTTP requests and their
    /// time by route, and the process's resident memory.
    fn render_labelled(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP machina_txs_refused_total Submitted transactions refused, by code.\n# TYPE machina_txs_refused_total counter");
        for (code, n) in self.refused.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "machina_txs_refused_total{{code=\"{code}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP machina_readings_refused_total Meter readings refused in committed blocks, by code (`{UNREPORTED_CODE}`: the receipt had no room to name them).\n# TYPE machina_readings_refused_total counter");
        for (code, n) in self.readings_refused.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "machina_readings_refused_total{{code=\"{}\"}} {n}",
                code.escape_default()
            );
        }
        let _ = writeln!(out, "# HELP machina_http_requests_total HTTP requests, by route, method and status.\n# TYPE machina_http_requests_total counter");
        let http = self.http.lock().expect("metrics lock");
        for ((route, method, status), (n, _)) in http.iter() {
            let _ = writeln!(out, "machina_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP machina_http_request_seconds_sum Time spent answering HTTP requests, by route, method and status.\n# TYPE machina_http_request_seconds_sum counter");
        for ((route, method, status), (_, micros)) in http.iter() {
            let _ = writeln!(out, "machina_http_request_seconds_sum{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {}", *micros as f64 / 1e6);
        }
        if let Some(rss) = resident_bytes() {
            let _ = writeln!(out, "# HELP machina_process_resident_bytes Resident memory of the node's process.\n# TYPE machina_process_resident_bytes gauge\nmachina_process_resident_bytes {rss}");
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let secs = |m: u64| m as f64 / 1e6;
        let rows: [(&str, &str, &str, String); 8] = [
            (
                "machina_height",
                "gauge",
                "Height of the last committed block.",
                self.height.load(Relaxed).to_string(),
            ),
            (
                "machina_blocks_total",
                "counter",
                "Blocks committed since start.",
                self.blocks.load(Relaxed).to_string(),
            ),
            (
                "machina_txs_committed_total",
                "counter",
                "Transactions committed since start.",
                self.txs_committed.load(Relaxed).to_string(),
            ),
            (
                "machina_txs_rejected_total",
                "counter",
                "Submitted transactions refused since start.",
                self.txs_rejected.load(Relaxed).to_string(),
            ),
            (
                "machina_readings_accepted_total",
                "counter",
                "Meter readings accepted in committed blocks.",
                self.readings_accepted.load(Relaxed).to_string(),
            ),
            (
                "machina_mempool_size",
                "gauge",
                "Transactions waiting in the mempool.",
                self.mempool.load(Relaxed).to_string(),
            ),
            (
                "machina_block_execution_seconds_sum",
                "counter",
                "Time spent building, executing and committing blocks.",
                secs(self.exec_micros_sum.load(Relaxed)).to_string(),
            ),
            (
                "machina_block_execution_seconds_last",
                "gauge",
                "Time the last block took to build, execute and commit.",
                secs(self.exec_micros_last.load(Relaxed)).to_string(),
            ),
        ];
        for (name, kind, help, value) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        let summaries = [
            (
                "machina_finality_seconds",
                "Time from admission through this node's API to commit (finalization under consensus), latest samples.",
                &self.finality,
            ),
            (
                "machina_block_interval_seconds",
                "Chain time between consecutive committed blocks, latest samples.",
                &self.block_interval,
            ),
        ];
        for (name, help, samples) in summaries {
            let (values, count) = samples.lock().expect("metrics lock").quantiles(&QUANTILES);
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} summary");
            for (q, v) in QUANTILES.iter().zip(values) {
                let _ = writeln!(out, "{name}{{quantile=\"{q}\"}} {v}");
            }
            let _ = writeln!(out, "{name}_count {count}");
        }
        self.render_labelled(&mut out);
        out
    }
}

/// One log line per committed transaction: id, sender, actions, result, fee.
pub(crate) fn log_txs(
    txs: &[(machina_primitives::Hash, &machina_stf::Transaction)],
    receipts: &[machina_primitives::Receipt],
) {
    for ((hash, tx), r) in txs.iter().zip(receipts) {
        let actions: Vec<&str> = tx.body.actions.iter().map(|a| a.name()).collect();
        let result = r.error.as_ref().map_or("success", |e| e.code.as_str());
        tracing::info!(
            tx = %hash,
            sender = %tx.body.sender,
            actions = %actions.join(","),
            result,
            fee = %r.fee_charged,
            "transaction"
        );
    }
}

/// The process's resident set size, from `/proc/self/statm` (Linux; `None` elsewhere).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;
    use machina_primitives::{Amount, Event, Receipt, TxFailure};

    fn receipt(success: bool, events: Vec<Event>) -> Receipt {
        Receipt {
            tx_hash: Hash::default(),
            success,
            error: (!success).then(|| TxFailure {
                code: "x".into(),
                message: "y".into(),
            }),
            fee_charged: Amount(1),
            events,
        }
    }

    fn refusal(item: u64, code: &str) -> Event {
        Event::new(
            "oracle",
            "rejected",
            &[
                ("item", item.into()),
                ("machine_id", 1u64.into()),
                ("seq", item.into()),
                ("code", code.into()),
                ("message", "why".into()),
            ],
        )
    }

    #[test]
    fn readings_are_counted_accepted_and_refused_by_code_from_successful_receipts() {
        let m = Metrics::default();
        let summary = |a: u64, r: u64| {
            Event::new(
                "oracle",
                "readings",
                &[("accepted", a.into()), ("rejected", r.into())],
            )
        };
        m.readings_committed(&[
            receipt(true, vec![summary(3, 3), refusal(1, "stale_reading")]),
            receipt(true, vec![summary(1, 1), refusal(0, "stale_reading")]),
            receipt(false, vec![summary(9, 9)]),
        ]);
        let text = m.render();
        for line in [
            "machina_readings_accepted_total 4",
            "machina_readings_refused_total{code=\"stale_reading\"} 2",
            "machina_readings_refused_total{code=\"unreported\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing: {text}");
        }
    }
}
