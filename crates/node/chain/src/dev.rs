//! The dev chain's tools, none of which a validator has: moving its clock forward and setting
//! a balance, each as a block of its own so that the head's state root always covers the
//! state.

use crate::chain::{now_ms, Chain, Committed};
use machina_primitives::limits::MAX_BLOCK_BYTES;
use machina_primitives::{Address, Amount, BlockEnv};
use machina_state::{AuthenticatedState, Overlay};
use std::sync::atomic::Ordering;

/// Longest single move of the dev chain's clock: a year.
pub const MAX_TIME_STEP_MS: u64 = 366 * 24 * 3_600_000;

impl Chain {
    /// Marks the chain as driven by a simulated clock (its blocks' times are set by
    /// `POST /v1/dev/advance`).
    pub fn set_simulated_clock(&self) {
        self.simulated_clock.store(true, Ordering::Relaxed);
    }

    /// Logs a line per committed transaction from now on.
    pub fn set_log_txs(&self) {
        self.log_txs.store(true, Ordering::Relaxed);
    }

    /// Whether a simulated clock drives the chain.
    pub fn is_simulated_clock(&self) -> bool {
        self.simulated_clock.load(Ordering::Relaxed)
    }

    pub(crate) fn time_offset(&self) -> &std::sync::atomic::AtomicU64 {
        &self.time_offset
    }

    /// Moves the chain's clock `ms` forward and produces a block at the new time (with what the
    /// mempool holds), so time-driven work (clearing, settlement, unbonding) happens now. On a
    /// real clock the offset stays for every later block. Returns the height, the block's time
    /// and the transactions it included.
    pub fn dev_increase_time(&self, ms: u64) -> (u64, u64, usize) {
        let ms = ms.min(MAX_TIME_STEP_MS);
        let target = if self.is_simulated_clock() {
            self.committed().head.timestamp_ms.saturating_add(ms)
        } else {
            self.time_offset().fetch_add(ms, Ordering::Relaxed);
            self.clock_ms()
        };
        let (height, txs) = self.produce_block_or_abort(target);
        (height, self.committed().head.timestamp_ms, txs)
    }

    /// The producer's clock: the wall clock moved by every `dev_increase_time`.
    pub fn clock_ms(&self) -> u64 {
        now_ms().saturating_add(self.time_offset().load(Ordering::Relaxed))
    }

    /// Sets `addr`'s balance (minting or burning the difference) in a block of its own,
    /// with no transactions. Returns the height, or `None` when the total supply would
    /// overflow.
    pub fn dev_set_balance(&self, addr: &Address, balance: Amount) -> Option<u64> {
        let _producing = self.producing().lock().expect("producer lock");
        self.in_flight.settle();
        let Committed { state, head } = self.committed();
        let env = BlockEnv {
            chain_id: self.chain_id(),
            height: head.height + 1,
            timestamp_ms: self
                .next_block_time(head.timestamp_ms)
                .max(head.timestamp_ms + 1),
            proposer: self.proposer(),
        };
        let mut built = self.build_block(&state, &head, env, 0, MAX_BLOCK_BYTES);
        let mut ov = Overlay::new(&built.state);
        machina_bank::dev_set_balance(&mut ov, addr, balance)?;
        built.changes.extend(ov.into_changes());
        let mut next = state.clone();
        built.header.state_root = next.apply(&built.changes);
        built.state = next;
        built.forced = true;
        self.commit(&built);
        Some(env.height)
    }

    /// Remembers the head and its state; returns the snapshot's id for
    /// [`Chain::dev_revert`]. `None` when [`MAX_SNAPSHOTS`] are held.
    pub fn dev_snapshot(&self) -> Option<usize> {
        let _producing = self.producing().lock().expect("producer lock");
        self.in_flight.settle();
        let mut snaps = self.snapshots.lock().expect("snapshots lock");
        if snaps.len() >= MAX_SNAPSHOTS {
            return None;
        }
        snaps.push(self.committed());
        Some(snaps.len() - 1)
    }

    /// Takes the chain back to snapshot `id`: the blocks after it are deleted from the store
    /// in one transaction, the state is the snapshot's again and the mempool is emptied. The
    /// snapshot and every later one are used up. Returns the height, or `None` for an unknown
    /// id.
    pub fn dev_revert(&self, id: usize) -> anyhow::Result<Option<u64>> {
        let _producing = self.producing().lock().expect("producer lock");
        self.in_flight.settle();
        let mut snaps = self.snapshots.lock().expect("snapshots lock");
        let Some(snap) = snaps.get(id).cloned() else {
            return Ok(None);
        };
        snaps.truncate(id);
        let now = self.committed();
        let changes = now.state.diff_to(&snap.state);
        self.store().revert_to(snap.head.height, &changes)?;
        let height = snap.head.height;
        *self.committed_lock().write().expect("committed lock") = snap;
        *self.mempool().lock().expect("mempool lock") =
            machina_mempool::Mempool::new(machina_mempool::Limits::default());
        self.metrics.set_mempool(0);
        self.metrics.set_height(height);
        self.notify_height(height);
        Ok(Some(height))
    }
}

/// Most snapshots a dev chain holds at once.
pub const MAX_SNAPSHOTS: usize = 64;
