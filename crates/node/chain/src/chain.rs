//! The chain a dev node runs: committed state, head, mempool and the block producer.

use crate::metrics::Metrics;
use anyhow::{bail, Context};
use machina_mempool::{Limits, Mempool};
use machina_primitives::limits::{MAX_BLOCK_BYTES, MAX_BLOCK_TXS};
use machina_primitives::{
    hash::merkle_root, Address, BlockEnv, BlockHeader, Event, Hash, Keypair, Receipt,
};
use machina_state::{AuthenticatedState, ChangeSet, SparseMerkleTree};
use machina_stf::{
    apply_block, verify_txs, BlockError, BlockExecutor, Genesis, ModuleError, Params, TxError,
    VerifiedTx,
};
use machina_stf::{Block, Transaction};
use machina_store::{CommittedBlock, Store};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

mod producer;
mod submit;
pub use submit::SubmitError;

/// Room left in a block for its header and framing.
const BLOCK_HEADER_ALLOWANCE: usize = 4096;

/// The committed view: state and the header that commits to it, swapped together.
#[derive(Clone)]
pub struct Committed {
    /// State after the head block.
    pub state: SparseMerkleTree,
    /// The head block's header.
    pub head: BlockHeader,
}

/// A block executed on top of its parent's state, not yet committed.
pub struct Built {
    /// Its header (the state root is the root of `state`).
    pub header: BlockHeader,
    /// The transactions it includes, in order.
    pub txs: Vec<VerifiedTx>,
    /// One receipt per transaction.
    pub receipts: Vec<Receipt>,
    /// Its state writes.
    pub changes: ChangeSet,
    /// The state after it.
    pub state: SparseMerkleTree,
    /// Mempool transactions that were left out because they can never be included.
    pub dropped: Vec<VerifiedTx>,
    /// Events of the modules' block hooks.
    pub events: Vec<Event>,
    /// Its state writes do not all follow from executing it (a dev chain's set balance), so
    /// the store must not leave them to be recomputed after a restart.
    pub forced: bool,
}

impl Built {
    /// The block as carried on the wire and stored by consensus.
    pub fn block(&self) -> Block {
        Block {
            header: self.header.clone(),
            txs: self.txs.iter().map(|t| t.tx().clone()).collect(),
        }
    }
}

/// Why a block received from another node is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A transaction failed its signature or stateless checks.
    #[error("transaction {index} is invalid: {error}")]
    Tx {
        /// Its position in the block.
        index: usize,
        /// What was wrong.
        error: Box<TxError>,
    },
    /// Execution refused the block.
    #[error(transparent)]
    Block(Box<BlockError>),
    /// The header commits to something other than what the block produces.
    #[error("header {0} does not match the block's execution")]
    Mismatch(&'static str),
}

/// Re-executes `block` on `parent_state` (the state after its parent), as every validator does
/// before voting for a block it did not build, and checks the header against the outcome;
/// `verified` holds one signature check per transaction. Pure: the same block and state give
/// the same answer everywhere.
fn replay_verified(
    parent_state: &SparseMerkleTree,
    block: &Block,
    verified: Vec<Result<VerifiedTx, TxError>>,
) -> Result<Built, ReplayError> {
    let mut txs = Vec::with_capacity(block.txs.len());
    for (index, r) in verified.into_iter().enumerate() {
        txs.push(r.map_err(|e| ReplayError::Tx {
            index,
            error: Box::new(e),
        })?);
    }
    let ids: Vec<Hash> = txs.iter().map(|t| t.hash()).collect();
    if merkle_root(&ids) != block.header.tx_root {
        return Err(ReplayError::Mismatch("tx_root"));
    }
    let mut state = parent_state.clone();
    let outcome = apply_block(&mut state, &txs, &block.header.env())
        .map_err(|e| ReplayError::Block(Box::new(e)))?;
    if outcome.receipts_root() != block.header.receipts_root {
        return Err(ReplayError::Mismatch("receipts_root"));
    }
    if outcome.state_root != block.header.state_root {
        return Err(ReplayError::Mismatch("state_root"));
    }
    Ok(Built {
        header: block.header.clone(),
        txs,
        receipts: outcome.receipts,
        changes: outcome.changes,
        state,
        dropped: Vec::new(),
        events: outcome.events,
        forced: false,
    })
}

/// A running chain.
pub struct Chain {
    store: Store,
    params: Params,
    proposer: Address,
    committed: RwLock<Committed>,
    mempool: Mutex<Mempool>,
    work: Condvar,
    height_tx: watch::Sender<u64>,
    /// Held while a block is produced, so that the producer thread and a simulated-clock
    /// request never build on the same head.
    producing: Mutex<()>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Passes transactions admitted from this node's API on to the other validators.
    relay: OnceLock<Relay>,
    /// More Prometheus text for `/metrics` (the consensus engine's).
    extra_metrics: OnceLock<ExtraMetrics>,
    /// The consensus engine's account of the validators, for `/v1/consensus/validators`.
    pub(crate) consensus: OnceLock<crate::consensus::ConsensusView>,
    /// Blocks come at a simulated time (`machina dev --sim-clock`), not the wall clock's.
    pub(crate) simulated_clock: AtomicBool,
    /// Log a line per committed transaction (the dev chain does).
    pub(crate) log_txs: AtomicBool,
    /// How far the dev chain's clock was moved ahead of the wall clock, ms.
    pub(crate) time_offset: AtomicU64,
    /// The dev chain's snapshots (`POST /v1/dev/snapshot`), oldest first.
    pub(crate) snapshots: Mutex<Vec<Committed>>,
    /// Blocks the dev producer built that are not committed yet.
    pub(crate) in_flight: producer::InFlight,
}

/// Hands transactions admitted from clients to the rest of the network.
pub type Relay = Box<dyn Fn(&[Transaction]) + Send + Sync>;
/// Renders more Prometheus text.
pub type ExtraMetrics = Box<dyn Fn() -> String + Send + Sync>;

/// Milliseconds since the Unix epoch. The node is the only layer that reads the clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Chain {
    /// Opens the chain in `data_dir`, writing `genesis` first if the directory is new. On a
    /// restart the state is rebuilt from the store and must match the head's state root.
    pub fn open(data_dir: &Path, genesis: &Genesis) -> anyhow::Result<Chain> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data dir {}", data_dir.display()))?;
        let store = Store::open(&data_dir.join("chain.redb"))?;
        Chain::from_store(store, genesis, dev_proposer().address())
    }

    /// Opens the chain kept in `store` (writing `genesis` first if it is empty), with
    /// `proposer` as the account that collects the fees of the blocks this node produces
    /// itself. Rebuilds the state and checks it against the head's state root.
    pub fn from_store(store: Store, genesis: &Genesis, proposer: Address) -> anyhow::Result<Chain> {
        let genesis = match store.genesis()? {
            Some(bytes) => serde_json::from_slice::<Genesis>(&bytes)
                .context("genesis stored in the data dir does not parse")?,
            None => {
                init_store(&store, genesis)?;
                genesis.clone()
            }
        };
        let head_height = store.head()?.context("store has genesis but no head")?;
        let head = store
            .header(head_height)?
            .with_context(|| format!("header {head_height} missing"))?;
        let state = restore_state(&store, head_height)?;
        if state.root() != head.state_root {
            bail!(
                "state root {} does not match head {} root {}: data dir is damaged",
                state.root(),
                head_height,
                head.state_root
            );
        }
        let (height_tx, _) = watch::channel(head_height);
        let metrics = Metrics::default();
        metrics.set_height(head_height);
        Ok(Chain {
            store,
            params: genesis.params,
            proposer,
            committed: RwLock::new(Committed { state, head }),
            mempool: Mutex::new(Mempool::new(Limits::default())),
            work: Condvar::new(),
            height_tx,
            producing: Mutex::new(()),
            metrics,
            relay: OnceLock::new(),
            consensus: OnceLock::new(),
            extra_metrics: OnceLock::new(),
            simulated_clock: AtomicBool::new(false),
            log_txs: AtomicBool::new(false),
            time_offset: AtomicU64::new(0),
            snapshots: Mutex::new(Vec::new()),
            in_flight: producer::InFlight::default(),
        })
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.params.chain_id
    }

    /// The account that collects fees.
    pub fn proposer(&self) -> Address {
        self.proposer
    }

    /// The chain's parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    pub(crate) fn mempool(&self) -> &Mutex<Mempool> {
        &self.mempool
    }

    pub(crate) fn committed_lock(&self) -> &RwLock<Committed> {
        &self.committed
    }

    pub(crate) fn notify_height(&self, height: u64) {
        self.height_tx.send_replace(height);
    }

    pub(crate) fn producing(&self) -> &Mutex<()> {
        &self.producing
    }

    /// A snapshot of the committed state and head (cheap: the tree is shared).
    pub fn committed(&self) -> Committed {
        self.committed.read().expect("committed lock").clone()
    }

    /// The store, for reads of blocks and transactions.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Receives the height after every commit.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.height_tx.subscribe()
    }

    /// The nonce an account's next transaction takes: after its committed ones and those
    /// waiting in the mempool in sequence (Ethereum's `pending` nonce).
    pub fn pending_nonce(&self, account: &Address) -> u64 {
        let committed = machina_bank::account(&self.committed().state, account).nonce;
        let pool = self.mempool.lock().expect("mempool lock");
        let mut next = committed;
        while pool.get(account, next).is_some() {
            next += 1;
        }
        next
    }

    /// Whether a transaction is waiting in the mempool.
    pub fn is_pending(&self, hash: &Hash) -> bool {
        self.mempool.lock().expect("mempool lock").contains(hash)
    }

    /// Sets where transactions submitted by clients go after admission (once).
    pub fn set_relay(&self, relay: Relay) {
        let _ = self.relay.set(relay);
    }

    /// Sets a source of more Prometheus text for `/metrics` (once).
    pub fn set_extra_metrics(&self, extra: ExtraMetrics) {
        let _ = self.extra_metrics.set(extra);
    }

    /// The Prometheus text of the node and of the engine that drives it.
    pub fn render_metrics(&self) -> String {
        let mut out = self.metrics.render();
        if let Some(extra) = self.extra_metrics.get() {
            out.push_str(&extra());
        }
        out
    }

    /// Re-executes `block` on `parent_state` and checks its header, as every validator does
    /// before voting for a block it did not build. Signature checks of transactions this node
    /// admitted (the same bytes, signatures included, verify the same way) come from the
    /// mempool: under consensus most of a block's transactions were gossiped here first.
    pub fn replay(
        &self,
        parent_state: &SparseMerkleTree,
        block: &Block,
    ) -> Result<Built, ReplayError> {
        let mut known: Vec<Option<VerifiedTx>> = {
            let pool = self.mempool.lock().expect("mempool lock");
            block
                .txs
                .iter()
                .map(|t| {
                    pool.get(&t.body.sender, t.body.nonce)
                        .filter(|v| v.tx() == t)
                        .cloned()
                })
                .collect()
        };
        let unknown: Vec<Transaction> = block
            .txs
            .iter()
            .zip(&known)
            .filter(|(_, k)| k.is_none())
            .map(|(t, _)| t.clone())
            .collect();
        let mut fresh = verify_txs(unknown).into_iter();
        let verified = known
            .iter_mut()
            .map(|k| match k.take() {
                Some(v) => Ok(v),
                None => fresh
                    .next()
                    .expect("one verification per unknown transaction"),
            })
            .collect();
        replay_verified(parent_state, block, verified)
    }

    /// Whether a transaction waiting in the mempool could go into a block on `state` (its
    /// nonce is the sender's next one there).
    pub fn has_candidates(&self, state: &SparseMerkleTree) -> bool {
        self.mempool
            .lock()
            .expect("mempool lock")
            .has_candidate(|a| machina_bank::account(state, a).nonce)
    }

    /// Builds, executes and commits one block from the mempool at chain time `timestamp_ms`
    /// (moved forward past the head's if needed: chain time never goes back). Returns the
    /// new height and the number of transactions included.
    pub fn produce_block(&self, timestamp_ms: u64) -> (u64, usize) {
        let _producing = self.producing.lock().expect("producer lock");
        self.in_flight.settle();
        let Committed { state, head } = self.committed();
        let built = self.build_next(&state, &head, timestamp_ms);
        let (height, included) = (built.header.height, built.txs.len());
        self.commit(&built);
        (height, included)
    }

    /// Builds the block after `head` (whose state is `state`) from the mempool at chain time
    /// `timestamp_ms` (moved past the head's), as full as the limits allow, and removes from the
    /// mempool what can never be included.
    pub(crate) fn build_next(
        &self,
        state: &SparseMerkleTree,
        head: &BlockHeader,
        timestamp_ms: u64,
    ) -> Built {
        let env = BlockEnv {
            chain_id: self.params.chain_id,
            height: head.height + 1,
            timestamp_ms: timestamp_ms.max(head.timestamp_ms + 1),
            proposer: self.proposer,
        };
        let built = self.build_block(
            state,
            head,
            env,
            MAX_BLOCK_TXS,
            MAX_BLOCK_BYTES - BLOCK_HEADER_ALLOWANCE,
        );
        self.forget(&built.dropped);
        built
    }

    /// Builds and executes a block in `env` on top of `parent` (whose state is
    /// `parent_state`) from the transactions waiting in the mempool, leaving out those that
    /// cannot be included, taking at most `max_txs` transactions of at most `max_bytes` in
    /// all. Changes nothing: [`Chain::commit`] makes the block final.
    pub fn build_block(
        &self,
        parent_state: &SparseMerkleTree,
        parent: &BlockHeader,
        env: BlockEnv,
        max_txs: usize,
        max_bytes: usize,
    ) -> Built {
        let started = Instant::now();
        let candidates =
            self.mempool
                .lock()
                .expect("mempool lock")
                .candidates(max_txs, max_bytes, |a| {
                    machina_bank::account(parent_state, a).nonce
                });
        let mut exec = BlockExecutor::begin(parent_state, env);
        let mut included = Vec::with_capacity(candidates.len());
        let mut dropped = Vec::new();
        for tx in candidates {
            match exec.execute(&tx) {
                Ok(_) => included.push(tx),
                // A nonce error means an earlier transaction of the sender was dropped; this
                // one may still become valid, so it stays.
                Err(TxError::Sender(ModuleError::Bank(machina_bank::BankError::BadNonce {
                    ..
                }))) => {}
                // The block's gas is spent; the transaction waits for the next one.
                Err(TxError::BlockGasFull { .. }) => {}
                Err(e) => {
                    tracing::debug!(tx = %tx.hash(), error = %e, "dropping transaction");
                    dropped.push(tx);
                }
            }
        }
        let machina_stf::BlockParts {
            receipts,
            changes,
            events,
        } = exec.finish();
        let executed = started.elapsed();
        let mut state = parent_state.clone();
        let state_root = state.apply(&changes);
        let rooted = started.elapsed();
        let ids: Vec<Hash> = included.iter().map(|t| t.hash()).collect();
        let header = BlockHeader {
            chain_id: env.chain_id,
            height: env.height,
            parent_hash: parent.hash(),
            timestamp_ms: env.timestamp_ms,
            proposer: env.proposer,
            tx_root: merkle_root(&ids),
            receipts_root: machina_stf::receipts_root(&receipts),
            state_root,
        };
        tracing::debug!(
            height = env.height,
            txs = included.len(),
            exec_ms = executed.as_millis() as u64,
            root_ms = (rooted - executed).as_millis() as u64,
            "block built"
        );
        Built {
            header,
            txs: included,
            receipts,
            changes,
            state,
            dropped,
            events,
            forced: false,
        }
    }

    /// Removes transactions that can never be included from the mempool.
    fn forget(&self, dropped: &[VerifiedTx]) {
        if dropped.is_empty() {
            return;
        }
        let mut pool = self.mempool.lock().expect("mempool lock");
        for tx in dropped {
            pool.remove_from(&tx.tx().body.sender, tx.tx().body.nonce);
        }
        self.metrics.set_mempool(pool.len());
    }

    /// Makes a built block final: writes it to the store in one transaction, swaps the
    /// committed state and prunes the mempool. The block must extend the committed head.
    pub fn commit(&self, built: &Built) {
        let started = Instant::now();
        let Built {
            header,
            txs: included,
            receipts,
            changes,
            state,
            dropped: _,
            events,
            forced,
        } = built;
        let head = self.committed().head;
        assert_eq!(
            (header.height, header.parent_hash),
            (head.height + 1, head.hash()),
            "a committed block must extend the head"
        );
        let txs: Vec<(Hash, &Transaction)> = included.iter().map(|t| (t.hash(), t.tx())).collect();
        // If the disk refuses a block we cannot know what reached it: stop, and let the
        // restart recover the last committed block.
        self.store
            .commit_block(&CommittedBlock {
                header,
                txs: &txs,
                receipts,
                changes,
                events,
                forced: *forced,
            })
            .expect("committing a block to the store");
        let stored = started.elapsed();
        let height = header.height;
        let state_root = header.state_root;
        *self.committed.write().expect("committed lock") = Committed {
            state: state.clone(),
            head: header.clone(),
        };
        self.update_mempool(state, included, height + 1);
        let ids: Vec<Hash> = txs.iter().map(|(h, _)| *h).collect();
        self.metrics.finalized(&ids, header.timestamp_ms);
        self.metrics.readings_committed(receipts);
        self.metrics
            .block_committed(height, included.len(), started.elapsed());
        self.height_tx.send_replace(height);
        if self.log_txs.load(Ordering::Relaxed) {
            crate::metrics::log_txs(&txs, receipts);
        }
        tracing::info!(
            height,
            txs = included.len(),
            store_ms = stored.as_millis() as u64,
            root = %state_root,
            "block committed"
        );
    }

    fn update_mempool(&self, state: &SparseMerkleTree, included: &[VerifiedTx], next_height: u64) {
        let mut pool = self.mempool.lock().expect("mempool lock");
        let mut senders: Vec<Address> = included.iter().map(|t| t.tx().body.sender).collect();
        senders.dedup();
        for s in senders {
            pool.prune_sender(&s, machina_bank::account(state, &s).nonce);
        }
        pool.prune_expired(next_height);
        self.metrics.set_mempool(pool.len());
    }
}

/// The state at the head of `store`, just opened: its state table is as of the last flush
/// ([`Store::flushed`]), so the blocks after it are executed again, each checked against its
/// header, and their writes handed back to the store.
fn restore_state(store: &Store, head: u64) -> anyhow::Result<SparseMerkleTree> {
    let flushed = store.flushed();
    let mut state = SparseMerkleTree::from_entries(store.state_entries()?);
    for height in flushed + 1..=head {
        let header = store
            .header(height)?
            .with_context(|| format!("header {height} missing"))?;
        let block = Block {
            header,
            txs: store.block_txs(height)?,
        };
        let verified = verify_txs(block.txs.clone());
        let built = replay_verified(&state, &block, verified).map_err(|e| {
            anyhow::anyhow!(
                "block {height} does not execute to its header again ({e}): data dir is damaged"
            )
        })?;
        store.restore_state(height, &built.changes);
        state = built.state;
    }
    Ok(state)
}

/// The dev chain's block producer and fee collector, derived like the dev accounts.
pub fn dev_proposer() -> Keypair {
    Keypair::dev("validator")
}

fn init_store(store: &Store, genesis: &Genesis) -> anyhow::Result<()> {
    let changes = genesis
        .changes()
        .map_err(|e| anyhow::anyhow!("genesis is invalid: {e}"))?;
    crate::dump::init_store_with(store, genesis, &changes)
}
