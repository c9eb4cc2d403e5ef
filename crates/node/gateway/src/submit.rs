//! Sending batches. Each batch is signed once, at a nonce of its own, and sent again as the
//! very same transaction until the chain has it or it can never get in: a lost answer costs
//! no second fee, since the node knows the transaction by its id and one nonce pays one fee.
//! A machine's readings are in at most one unresolved batch, so a newer batch never overtakes
//! an older one of the same machine (the older readings would come back `stale_reading`).

use crate::outcome::{Failure, Queued};
use crate::{read_receipt, send_failure, Gateway, ReadingOutcome, MAX_BACKOFF};
use anyhow::Context;
use machina_client::NodeError;
use machina_oracle::{OracleAction, SignedReading};
use machina_stf::{Transaction, TxBody};
use serde_json::Value;
use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most batches sent and not yet resolved at once; `POST /v1/flush` sends no more beyond it.
/// Far below the node's `MEMPOOL_MAX_PER_SENDER` (1,024), and 64 batches of 4,096 readings
/// are more than the gateway's queue holds.
pub const MAX_UNRESOLVED_BATCHES: usize = 64;

/// Blocks a batch's transaction may wait for inclusion. Once the chain is past it unseen the
/// transaction can never be included, and the batch is signed again at the same nonce.
pub const EXPIRY_BLOCKS: u64 = 100;

/// Longest `POST /v1/flush` waits for the unresolved batches of machines it has readings of:
/// a batch in a block a moment ago is resolved well within it. Readings of a machine whose
/// batch is still unresolved then stay queued, for a later flush or the submitter.
pub const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// First pause before a batch is sent again; it doubles up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// The queue and what is in flight, under one lock.
#[derive(Default)]
pub(crate) struct Pending {
    /// Readings waiting for a batch, in the order posted.
    pub(crate) queue: VecDeque<Queued>,
    /// Machines with readings in a batch sent and not yet resolved.
    busy: BTreeSet<u64>,
    /// Batches sent and not yet resolved.
    unresolved: usize,
    /// The least nonce the next batch is signed with (it takes the chain's when larger).
    next_nonce: u64,
}

impl Pending {
    /// At most `max` readings in queue order, skipping machines in an unresolved batch (their
    /// later readings stay behind their earlier ones).
    fn take(&mut self, max: usize) -> Vec<Queued> {
        let mut taken = Vec::new();
        let mut i = 0;
        while i < self.queue.len() && taken.len() < max {
            if self.busy.contains(&self.queue[i].machine_id()) {
                i += 1;
            } else if let Some(q) = self.queue.remove(i) {
                taken.push(q);
            }
        }
        taken
    }
}

/// A batch of readings and its signed transaction, until resolved.
pub(crate) struct Batch {
    tx: Transaction,
    readings: Vec<Queued>,
    machines: BTreeSet<u64>,
    /// Whether its readings were counted as submitted.
    counted: bool,
}

impl Batch {
    /// The id of its transaction.
    pub(crate) fn hash(&self) -> String {
        self.tx.hash().to_string()
    }
}

/// What one submission of a batch's transaction came to.
pub(crate) enum Sent {
    /// In the mempool: admitted now, or it was already.
    Admitted,
    /// Already in a block: the node's record of it.
    Committed(Value),
    /// Expired without being included: it never can be, so it is signed again.
    Expired,
    /// Another transaction took its nonce: its readings go back to the queue.
    NonceTaken(Failure),
    /// Not taken now; sent again later.
    Retry(Failure),
}

impl Gateway {
    /// The next batch: readings of machines not in an unresolved batch, in queue order, at
    /// most `max_batch`, signed at the next nonce. `None` when there is nothing to send; an
    /// error when the node cannot be asked for its height and the gateway's nonce (the
    /// readings go back to the queue, unsigned).
    pub(crate) fn start_batch(&self) -> anyhow::Result<Option<Batch>> {
        let mut readings = {
            let mut p = self.pending.lock().expect("queue lock");
            if p.unresolved >= MAX_UNRESOLVED_BATCHES {
                return Ok(None);
            }
            let readings = p.take(self.max_batch);
            if readings.is_empty() {
                return Ok(None);
            }
            p.busy.extend(readings.iter().map(Queued::machine_id));
            p.unresolved += 1;
            readings
        };
        let machines = readings.iter().map(Queued::machine_id).collect();
        let head = self.chain_head().and_then(|(chain_id, height)| {
            let account = self
                .client
                .get(&format!("/v1/account/{}", self.key.address()))?;
            let nonce = account["nonce"].as_u64().context("nonce")?;
            Ok((chain_id, height, nonce))
        });
        let (chain_id, height, on_chain) = match head {
            Ok(h) => h,
            Err(e) => {
                self.fail(&mut readings, &send_failure(&e));
                self.resolve(&machines, readings);
                return Err(e);
            }
        };
        let nonce = {
            let mut p = self.pending.lock().expect("queue lock");
            let nonce = p.next_nonce.max(on_chain);
            p.next_nonce = nonce + 1;
            nonce
        };
        Ok(Some(Batch {
            tx: self.sign(&readings, nonce, chain_id, height),
            readings,
            machines,
            counted: false,
        }))
    }

    /// The transaction carrying `readings` at `nonce`, expiring [`EXPIRY_BLOCKS`] after
    /// `height`.
    fn sign(&self, readings: &[Queued], nonce: u64, chain_id: u64, height: u64) -> Transaction {
        let readings: Vec<SignedReading> = readings.iter().map(|q| q.reading).collect();
        TxBody {
            chain_id,
            sender: self.key.address(),
            nonce,
            fee: machina_stf::params::DEFAULT_MIN_FEE,
            expiry_height: height + EXPIRY_BLOCKS,
            fee_payer: self.fee_payer,
            actions: vec![OracleAction::SubmitReadings { readings }.into()],
        }
        .sign(&[&self.key])
    }

    /// Ends a batch: its machines may be sent again, and `back` (readings that did not get
    /// in) go to the front of the queue, ahead of their machines' later readings.
    fn resolve(&self, machines: &BTreeSet<u64>, back: Vec<Queued>) {
        let mut p = self.pending.lock().expect("queue lock");
        for q in back.into_iter().rev() {
            p.queue.push_front(q);
        }
        for m in machines {
            p.busy.remove(m);
        }
        p.unresolved -= 1;
        self.resolved.notify_all();
    }

    /// Waits at most `wait` until no queued reading's machine is in an unresolved batch.
    fn wait_for_older_batches(&self, wait: Duration) {
        let deadline = Instant::now() + wait;
        let mut p = self.pending.lock().expect("queue lock");
        while p.queue.iter().any(|q| p.busy.contains(&q.machine_id())) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            p = self.resolved.wait_timeout(p, left).expect("queue lock").0;
        }
    }

    /// Submits a batch's transaction once and says what came of it.
    pub(crate) fn submit(&self, tx: &Transaction) -> Sent {
        let e = match self.client.submit(tx) {
            Ok(_) => return Sent::Admitted,
            Err(e) => e,
        };
        let Some(code) = e.downcast_ref::<NodeError>().map(|n| n.code.clone()) else {
            return Sent::Retry(send_failure(&e));
        };
        match code.as_str() {
            "already_known" => Sent::Admitted,
            // Perhaps because it is in a block already (its answer lost).
            "nonce_too_low" | "expired" => {
                let hash = tx.hash();
                match self.client.get(&format!("/v1/tx/{hash}")) {
                    Ok(v) if v["status"] == "committed" => Sent::Committed(v),
                    Ok(_) => Sent::Admitted,
                    Err(l) if is_not_found(&l) && code == "expired" => Sent::Expired,
                    Err(l) if is_not_found(&l) => Sent::NonceTaken(Failure {
                        code: "nonce_taken",
                        message: format!(
                            "another transaction of the gateway's account took nonce {} of \
                             batch {hash}",
                            tx.body.nonce
                        ),
                        tx_hash: None,
                        height: None,
                    }),
                    Err(l) => Sent::Retry(send_failure(&l)),
                }
            }
            _ => Sent::Retry(send_failure(&e)),
        }
    }

    /// Sends batch `b` until it is resolved: in a block (each reading gets its outcome), or
    /// never to be (its readings go back to the queue). `sent` is what its first submission
    /// came to, when it was made already. The same transaction is sent every time, except
    /// after it expired unseen: then it is signed again at the same nonce.
    pub(crate) fn drive(&self, mut b: Batch, mut sent: Option<Sent>) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let hash = b.tx.hash();
            let failure = match sent.take().unwrap_or_else(|| self.submit(&b.tx)) {
                Sent::Admitted => {
                    if !b.counted {
                        b.counted = true;
                        let n = b.readings.len() as u64;
                        self.stats.submitted.fetch_add(n, Relaxed);
                    }
                    match self
                        .client
                        .wait_for_tx(&hash.to_string(), self.receipt_wait)
                    {
                        Ok(rec) => return self.finish(b, &rec),
                        Err(e) => Failure {
                            code: "not_committed",
                            message: format!("{e:#}"),
                            tx_hash: Some(hash),
                            height: None,
                        },
                    }
                }
                Sent::Committed(rec) => return self.finish(b, &rec),
                Sent::Expired => match self.chain_head() {
                    Ok((chain_id, height)) => {
                        b.tx = self.sign(&b.readings, b.tx.body.nonce, chain_id, height);
                        continue;
                    }
                    Err(e) => send_failure(&e),
                },
                Sent::NonceTaken(f) => {
                    self.fail(&mut b.readings, &f);
                    return self.resolve(&b.machines, b.readings);
                }
                Sent::Retry(f) => f,
            };
            tracing::warn!(code = failure.code, error = %failure.message, tx = %hash, "batch not in a block yet; sending it again");
            self.stats.retries.fetch_add(1, Relaxed);
            self.fail(&mut b.readings, &failure);
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Gives each reading of a committed batch its outcome from the receipt `rec`; a batch
    /// that failed as a whole took its nonce and fee without its readings, which go back to
    /// the queue.
    fn finish(&self, mut b: Batch, rec: &Value) {
        let hash = b.tx.hash();
        let (report, height) = match read_receipt(hash, rec) {
            Ok(r) => r,
            Err(f) => {
                self.stats.retries.fetch_add(1, Relaxed);
                self.fail(&mut b.readings, &f);
                return self.resolve(&b.machines, b.readings);
            }
        };
        self.stats.count(&report);
        for (i, q) in b.readings.into_iter().enumerate() {
            let o = ReadingOutcome::from_report(&q.reading, &report, i as u64, hash, height);
            let o = self.outcomes.record(&q.reading, o);
            if let Some(w) = q.waiter {
                let _ = w.send(o);
            }
        }
        self.resolve(&b.machines, Vec::new());
    }

    /// Sends everything that can go now, in batches, without waiting for blocks; returns the
    /// transaction ids. Readings of a machine in an unresolved batch wait for it, at most
    /// [`FLUSH_WAIT`], and stay queued if it is still unresolved. The batches are followed in
    /// the background until resolved; when the node refused one (it is sent again), the
    /// error says so.
    pub fn flush(self: &Arc<Self>) -> anyhow::Result<Vec<String>> {
        self.wait_for_older_batches(FLUSH_WAIT);
        let mut started = Vec::new();
        let mut result = Ok(());
        loop {
            let b = match self.start_batch() {
                Ok(Some(b)) => b,
                Ok(None) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            let sent = self.submit(&b.tx);
            let refused = match &sent {
                Sent::Retry(f) | Sent::NonceTaken(f) => Some(f.message.clone()),
                Sent::Admitted | Sent::Committed(_) | Sent::Expired => None,
            };
            started.push((b, sent));
            if let Some(m) = refused {
                result = Err(anyhow::anyhow!("{m}; the gateway sends it again"));
                break;
            }
        }
        let hashes = started.iter().map(|(b, _)| b.hash()).collect();
        if !started.is_empty() {
            let g = self.clone();
            let (tx, rx) = std::sync::mpsc::channel::<(Batch, Sent)>();
            let follow = move || {
                for (b, sent) in rx {
                    g.drive(b, Some(sent));
                }
            };
            match std::thread::Builder::new()
                .name("gateway-follow".into())
                .spawn(follow)
            {
                Ok(_) => started.into_iter().for_each(|s| {
                    let _ = tx.send(s);
                }),
                // Followed here then: slower to answer, but no batch is left unresolved.
                Err(e) => {
                    tracing::error!(error = %e, "cannot follow the flushed batches in the background");
                    started
                        .into_iter()
                        .for_each(|(b, s)| self.drive(b, Some(s)));
                }
            }
        }
        result.map(|()| hashes)
    }
}

/// Whether the node answered that it has no such thing.
fn is_not_found(e: &anyhow::Error) -> bool {
    e.downcast_ref::<NodeError>()
        .is_some_and(|n| n.code == "not_found")
}

/// Every `every`, sends a batch and follows it until resolved.
pub(crate) fn run_submitter(g: Arc<Gateway>, every: Duration) {
    let mut pause = every;
    loop {
        std::thread::sleep(pause);
        pause = match g.start_batch() {
            Ok(Some(b)) => {
                g.drive(b, None);
                every
            }
            Ok(None) => every,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot start a batch; will retry");
                g.stats.retries.fetch_add(1, Relaxed);
                (pause * 2).min(MAX_BACKOFF).max(every)
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use machina_oracle::MeterReading;
    use machina_primitives::Keypair;

    fn queued(machine_id: u64, seq: u64) -> Queued {
        let r = MeterReading {
            machine_id,
            channel: 0,
            seq,
            timestamp_ms: 1_000 + seq,
            import_wh: seq,
            export_wh: 0,
        }
        .sign(9, &Keypair::dev("meter"));
        Queued::new(r, None)
    }

    #[test]
    fn a_machine_in_an_unresolved_batch_keeps_its_later_readings_queued_in_order() {
        let mut p = Pending::default();
        p.queue.extend([
            queued(1, 1),
            queued(2, 1),
            queued(1, 2),
            queued(3, 1),
            queued(2, 2),
        ]);
        p.busy.insert(1);
        let seqs = |v: &[Queued]| -> Vec<(u64, u64)> {
            v.iter()
                .map(|q| (q.machine_id(), q.reading.reading.seq))
                .collect()
        };
        assert_eq!(seqs(&p.take(2)), [(2, 1), (3, 1)]);
        let left: Vec<Queued> = p.queue.drain(..).collect();
        assert_eq!(seqs(&left), [(1, 1), (1, 2), (2, 2)]);
    }
}
