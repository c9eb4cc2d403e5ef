//! Prometheus metrics of the node, rendered as text at `GET /metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

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
}

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

    /// Transactions committed since start.
    pub fn txs_committed(&self) -> u64 {
        self.txs_committed.load(Relaxed)
    }

    /// Sets the mempool size.
    pub fn set_mempool(&self, n: usize) {
        self.mempool.store(n as u64, Relaxed);
    }

    /// Counts submitted transactions that were refused.
    pub fn rejected(&self, n: usize) {
        self.txs_rejected.fetch_add(n as u64, Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let secs = |m: u64| m as f64 / 1e6;
        let rows: [(&str, &str, &str, String); 7] = [
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
        out
    }
}
