//! The dev chain's block producer: it builds block N+1 while block N is being committed.
//!
//! Building (executing the transactions, the new state root) and committing (the store's
//! durable write, then swapping the committed state and pruning the mempool) each take one
//! core, so on a machine that is not busy verifying signatures one of its cores was idle half
//! the time. Now a committer thread commits the blocks in order while the producer builds the
//! next one on top of the last one it built. At most one block waits for the committer, so a
//! client never sees more than one block of delay, and a block is visible (receipts, state)
//! only once it is durable, as before.
//!
//! Anything else that makes a block or changes the committed state (a dev chain's
//! set-balance, snapshot, revert, a block on request) takes the producing lock and then waits
//! until nothing is in flight ([`InFlight::settle`]), so it always works on the head.

use super::{Built, Chain, Committed};
use machina_primitives::BlockHeader;
use machina_state::SparseMerkleTree;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long the producer sleeps before looking again for work or for `stop`.
const POLL: Duration = Duration::from_millis(50);

/// Blocks built and handed to the committer, not committed yet.
#[derive(Default)]
pub(crate) struct InFlight {
    count: Mutex<usize>,
    done: Condvar,
}

impl InFlight {
    fn count(&self) -> usize {
        *self.count.lock().expect("in-flight lock")
    }

    fn add(&self) {
        *self.count.lock().expect("in-flight lock") += 1;
    }

    fn committed(&self) {
        *self.count.lock().expect("in-flight lock") -= 1;
        self.done.notify_all();
    }

    /// Waits until every block handed to the committer is committed.
    pub(crate) fn settle(&self) {
        let mut n = self.count.lock().expect("in-flight lock");
        while *n > 0 {
            n = self.done.wait(n).expect("in-flight lock");
        }
    }

    /// Waits until a block is committed, or for at most `POLL`.
    fn wait_for_commit(&self) {
        let n = self.count.lock().expect("in-flight lock");
        if *n > 0 {
            let _ = self.done.wait_timeout(n, POLL).expect("in-flight lock");
        }
    }
}

/// Stops the process when `f` panics: a node that cannot build or commit (a full disk, a
/// broken invariant) must not go on answering as if it could. The restart recovers the last
/// committed block.
fn or_abort<T>(f: impl FnOnce() -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        eprintln!("machina: block production failed; stopping so that a restart recovers the last committed block");
        std::process::abort()
    })
}

impl Chain {
    /// Produces blocks until `stop` returns true: as soon as transactions wait, and at most
    /// one block per `block_time`; with nothing waiting, an empty block after `idle_block` (if
    /// set), so that time-driven end-of-block work (clearing, settlement) happens on time.
    /// Blocks are committed on a second thread while the next one is built.
    pub fn run_producer(
        &self,
        block_time: Duration,
        idle_block: Option<Duration>,
        stop: impl Fn() -> bool,
    ) {
        // A rendezvous: the producer hands a block over only when the committer is free.
        let (to_committer, blocks) = std::sync::mpsc::sync_channel::<Built>(0);
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("committer".into())
                .spawn_scoped(s, move || {
                    for built in blocks {
                        or_abort(|| self.commit(&built));
                        self.in_flight.committed();
                    }
                })
                .expect("starting the committer thread");
            // Owned here, so that it is dropped when the loop ends and the committer, having
            // committed what it was handed, stops.
            let to_committer = to_committer;
            let mut last = Instant::now()
                .checked_sub(block_time)
                .unwrap_or_else(Instant::now);
            // The last block built, while it is in flight: the next one extends it.
            let mut tip: Option<(SparseMerkleTree, BlockHeader)> = None;
            while !stop() {
                let idle_due = idle_block.is_some_and(|d| last.elapsed() >= d);
                if !idle_due && !self.has_work(tip.as_ref()) {
                    continue;
                }
                if let Some(wait) = block_time.checked_sub(last.elapsed()) {
                    std::thread::sleep(wait);
                }
                last = Instant::now();
                let built = or_abort(|| self.build_on_tip(&mut tip));
                if to_committer.send(built).is_err() {
                    break;
                }
            }
        });
    }

    /// Whether a block should be built now on `tip` (or the head when nothing is in flight);
    /// when not, waits a little for transactions or for the block in flight to commit.
    fn has_work(&self, tip: Option<&(SparseMerkleTree, BlockHeader)>) -> bool {
        match (self.in_flight.count(), tip) {
            (0, _) => {
                let pool = self.mempool.lock().expect("mempool lock");
                if !pool.is_empty() {
                    return true;
                }
                // Wake up now and then to notice `stop` and the idle deadline.
                let _ = self.work.wait_timeout(pool, POLL).expect("mempool lock");
                false
            }
            (_, Some((state, _))) if self.has_candidates(state) => true,
            _ => {
                // What waits is in the block being committed: the mempool is pruned then.
                self.in_flight.wait_for_commit();
                false
            }
        }
    }

    /// Builds the next block on the block in flight (`tip`), or on the head, and counts it in
    /// flight.
    fn build_on_tip(&self, tip: &mut Option<(SparseMerkleTree, BlockHeader)>) -> Built {
        let _producing = self.producing.lock().expect("producer lock");
        let (state, head) = match (self.in_flight.count(), tip.take()) {
            (n, Some(t)) if n > 0 => t,
            _ => {
                let Committed { state, head } = self.committed();
                (state, head)
            }
        };
        let built = self.build_next(&state, &head, self.clock_ms());
        *tip = Some((built.state.clone(), built.header.clone()));
        self.in_flight.add();
        built
    }

    /// [`Chain::produce_block`], stopping the whole process if it fails.
    pub fn produce_block_or_abort(&self, timestamp_ms: u64) -> (u64, usize) {
        or_abort(|| self.produce_block(timestamp_ms))
    }
}
