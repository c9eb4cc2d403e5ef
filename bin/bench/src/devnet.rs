//! `machina bench --devnet N`: a local network of N validator processes on loopback, measured
//! from outside: time from submission to finality at a steady offered load, and throughput
//! under a burst.

use crate::{allocations, sender_key, signed_transfers};
use anyhow::{bail, Context as _};
use machina_client::Client;
use machina_consensus::devnet;
use machina_primitives::codec::put_vec;
use machina_primitives::Keypair;
use machina_stf::Transaction;
use serde_json::json;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Longest a phase may take before the bench gives up.
const PHASE_TIMEOUT: Duration = Duration::from_secs(300);
/// Client batches per second in the steady phase.
const TICKS_PER_S: u64 = 50;

/// Validator processes, killed when dropped.
struct Network(Vec<Child>);

impl Drop for Network {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What the steady and burst phases measured.
struct Figures {
    p50_s: f64,
    p90_s: f64,
    p99_s: f64,
    samples: u64,
    steady_tps: f64,
    burst_tps: f64,
    block_interval_p50_s: f64,
    /// Signatures verified per second on all cores.
    sig_ceiling: f64,
}

/// Runs the devnet bench: `n` validators, `rate` transfers per second for `seconds`, then
/// a burst of `burst` transfers.
pub fn run(
    n: usize,
    rate: usize,
    seconds: u64,
    burst: usize,
    senders: usize,
    json: bool,
) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("machina-bench-devnet")
        .tempdir()?;
    let keys: Vec<Keypair> = (0..senders.max(2)).map(sender_key).collect();
    let base = free_base_port(n)?;
    let written = devnet::init_with(
        n,
        dir.path(),
        base,
        machina_node::now_ms(),
        allocations(&keys),
    )?;
    let mut children = Vec::with_capacity(n);
    for (i, w) in written.iter().enumerate() {
        let log = std::fs::File::create(dir.path().join(format!("v{i}.log")))?;
        children.push(machina_client::process::spawn_validator(
            &w.config,
            Stdio::null(),
            log.into(),
        )?);
    }
    let network = Network(children);
    let clients: Vec<Client> = written
        .iter()
        .map(|w| Client::new(&format!("http://{}", w.http)))
        .collect();
    wait_until("the validators to finalize blocks", || {
        clients.iter().all(|c| {
            c.get("/v1/health")
                .ok()
                .and_then(|v| v["height"].as_u64())
                .is_some_and(|h| h >= 2)
        })
    })?;
    let steady_n = rate * seconds as usize;
    let txs = signed_transfers(&keys, steady_n + burst);
    let (steady, rest) = txs.split_at(steady_n);
    // Everything goes to validator 0; it gossips to the leaders. Its finality histogram then
    // covers every transaction.
    let entry = &clients[0];
    let started = Instant::now();
    let per_tick = (rate as u64).div_ceil(TICKS_PER_S) as usize;
    for (i, chunk) in steady.chunks(per_tick.max(1)).enumerate() {
        let due = started + Duration::from_millis(i as u64 * 1000 / TICKS_PER_S);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        post(entry, chunk)?;
    }
    wait_committed(entry, steady)?;
    let steady_tps = steady_n as f64 / started.elapsed().as_secs_f64();
    let metrics = entry.get_text("/metrics")?;
    let q = |name: &str, q: &str| quantile(&metrics, name, q);
    let (p50_s, p90_s, p99_s) = (
        q("machina_finality_seconds", "0.5"),
        q("machina_finality_seconds", "0.9"),
        q("machina_finality_seconds", "0.99"),
    );
    let samples = count(&metrics, "machina_finality_seconds");
    let block_interval_p50_s = q("machina_block_interval_seconds", "0.5");
    let burst_started = Instant::now();
    for chunk in rest.chunks(2_000) {
        post(entry, chunk)?;
    }
    wait_committed(entry, rest)?;
    let burst_tps = rest.len() as f64 / burst_started.elapsed().as_secs_f64();
    // The ceiling on the same machine in the same run, with the validators stopped so that
    // their idle rounds do not take from it: the burst's own signatures verified on all cores.
    drop(network);
    let sig_ceiling = crate::rate(rest.len(), 3, || {
        let t = Instant::now();
        let ok = Transaction::verify_signatures(rest);
        let took = t.elapsed();
        if ok.iter().any(|v| !v) {
            anyhow::bail!("a benchmark signature did not verify");
        }
        Ok(took)
    })?;
    let f = Figures {
        p50_s,
        p90_s,
        p99_s,
        samples,
        steady_tps,
        burst_tps,
        block_interval_p50_s,
        sig_ceiling,
    };
    report(&f, n, rate, seconds, burst, json);
    Ok(())
}

fn report(f: &Figures, n: usize, rate: usize, seconds: u64, burst: usize, json: bool) {
    let v = json!({
        "validators": n,
        "offered_tps": rate,
        "finality_p50_ms": (f.p50_s * 1000.0).round(),
        "finality_p90_ms": (f.p90_s * 1000.0).round(),
        "finality_p99_ms": (f.p99_s * 1000.0).round(),
        "finality_samples": f.samples,
        "block_interval_p50_ms": (f.block_interval_p50_s * 1000.0).round(),
        "steady_tps": f.steady_tps.round(),
        "burst_tps": f.burst_tps.round(),
        "sig_ceiling_per_s": f.sig_ceiling.round(),
        // Each validator verifies every transaction, so the machine's share per validator is
        // the ceiling over their number.
        "burst_ratio_to_share_of_ceiling": (f.burst_tps / (f.sig_ceiling / n as f64) * 1000.0).round() / 1000.0,
    });
    machina_client::print(json, &v, || {
        format!(
            "machina bench --devnet: {n} validators on loopback (simplex, ed25519)\n  \
             offered load {rate} transfers/s for {seconds} s, all sent to validator 0\n  \
             submit -> finalized  p50 {:.0} ms  p90 {:.0} ms  p99 {:.0} ms  ({} transactions)\n  \
             block interval p50 {:.0} ms; steady throughput {:.0} /s\n  \
             burst of {burst}: {:.0} transfers/s finalized, {:.2} of the ceiling's share per \
             validator ({:.0} signatures/s on all cores, over {n})",
            f.p50_s * 1000.0,
            f.p90_s * 1000.0,
            f.p99_s * 1000.0,
            f.samples,
            f.block_interval_p50_s * 1000.0,
            f.steady_tps,
            f.burst_tps,
            f.burst_tps / (f.sig_ceiling / n as f64),
            f.sig_ceiling
        )
    });
}

fn post(client: &Client, txs: &[Transaction]) -> anyhow::Result<()> {
    let mut body = Vec::new();
    put_vec(&mut body, txs);
    let v = client.post_bytes("/v1/txs", &body)?;
    let accepted = v["accepted"].as_u64().context("accepted count")? as usize;
    if accepted != txs.len() {
        bail!(
            "{} of {} transfers refused: {}",
            txs.len() - accepted,
            txs.len(),
            v["results"]
        );
    }
    Ok(())
}

/// Waits until the last transaction of every sender in `txs` is committed at `client`
/// (nonces commit in order, so the rest are too).
fn wait_committed(client: &Client, txs: &[Transaction]) -> anyhow::Result<()> {
    let mut last = std::collections::BTreeMap::new();
    for t in txs {
        last.insert(t.body.sender, t.hash());
    }
    for h in last.values() {
        client.wait_for_tx(&h.to_string(), PHASE_TIMEOUT)?;
    }
    Ok(())
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + PHASE_TIMEOUT;
    while !ok() {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// A summary's quantile from Prometheus text.
fn quantile(text: &str, name: &str, q: &str) -> f64 {
    let prefix = format!("{name}{{quantile=\"{q}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

fn count(text: &str, name: &str) -> u64 {
    let prefix = format!("{name}_count ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A base port whose 3n ports (p2p, HTTP, Ethereum JSON-RPC per validator) are free now.
fn free_base_port(n: usize) -> anyhow::Result<u16> {
    for _ in 0..200 {
        let base = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let span = u16::try_from(machina_consensus::devnet::PORTS_PER_VALIDATOR * n)
            .context("too many validators")?;
        if base.checked_add(span).is_none() {
            continue;
        }
        if (0..span).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return Ok(base);
        }
    }
    bail!(
        "no free range of {} ports",
        machina_consensus::devnet::PORTS_PER_VALIDATOR * n
    )
}
