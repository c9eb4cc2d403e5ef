//! The application consensus drives: proposing blocks from the mempool and verifying the
//! blocks of others by re-executing them against their parent's state.

use crate::block::{BlockContext, BlockLimits, ConsensusBlock};
use commonware_consensus::Application;
use commonware_consensus::marshal::ancestry::Ancestry;
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_cryptography::{Digested, Digestible, ed25519};
use commonware_runtime::{Clock, Metrics, Spawner};
use futures::StreamExt;
use machina_chain::{Built, Chain, Committed};
use machina_primitives::{Address, BlockEnv, Hash};
use machina_state::SparseMerkleTree;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Blocks executed but not yet final that are kept for reuse (by a child's verification,
/// or by the commit once the block is final). Beyond this the lowest are forgotten; they
/// can be executed again from their parent.
pub const MAX_EXECUTED_BLOCKS: usize = 256;
/// How far ahead of the local clock a block's time may be before the vote waits for it.
pub const SYNCHRONY_BOUND_MS: u64 = 500;
/// Most ancestors executed again to find a parent's state; a validator further behind its
/// peers waits for its finalizer to catch up.
pub const MAX_REPLAY_DEPTH: usize = 64;
/// How often a validator that is far behind checks whether it caught up.
const CATCH_UP_POLL: Duration = Duration::from_millis(100);

/// When a leader proposes.
#[derive(Clone, Copy, Debug)]
pub struct Pacing {
    /// With an empty mempool, how long the leader waits for transactions before proposing
    /// an empty block (which still moves chain time, for clearing and settlement). Must stay
    /// well under the leader timeout.
    pub idle_wait: Duration,
    /// How often a waiting leader looks at the mempool.
    pub poll: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            idle_wait: Duration::from_millis(400),
            poll: Duration::from_millis(5),
        }
    }
}

/// Blocks executed on top of some parent, by the hash of their Machina header (which
/// commits to the environment, the transactions and the outcome).
#[derive(Clone, Default)]
pub struct Executed(Arc<Mutex<BTreeMap<Hash, Arc<Built>>>>);

impl Executed {
    fn get(&self, h: &Hash) -> Option<Arc<Built>> {
        self.0.lock().expect("executed lock").get(h).cloned()
    }

    fn insert(&self, built: Arc<Built>) {
        let mut m = self.0.lock().expect("executed lock");
        m.insert(built.header.hash(), built);
        while m.len() > MAX_EXECUTED_BLOCKS {
            let lowest = m
                .iter()
                .min_by_key(|(_, b)| b.header.height)
                .map(|(h, _)| *h)
                .expect("map is not empty");
            m.remove(&lowest);
        }
    }

    /// Takes the executed block with header hash `h`, if it is kept.
    pub fn take(&self, h: &Hash) -> Option<Arc<Built>> {
        self.0.lock().expect("executed lock").remove(h)
    }

    /// Forgets blocks at or below a committed height: they can no longer become final.
    pub fn prune(&self, committed_height: u64) {
        self.0
            .lock()
            .expect("executed lock")
            .retain(|_, b| b.header.height > committed_height);
    }
}

/// Machina as a Commonware application.
#[derive(Clone)]
pub struct App {
    chain: Arc<Chain>,
    executed: Executed,
    limits: BlockLimits,
    pacing: Pacing,
}

impl App {
    /// An application over `chain`, sharing `executed` with the finalizer.
    pub fn new(chain: Arc<Chain>, executed: Executed, limits: BlockLimits, pacing: Pacing) -> Self {
        App {
            chain,
            executed,
            limits,
            pacing,
        }
    }

    /// The state after `parent`, from the committed head, the executed blocks, or by
    /// executing the ancestors between the committed head and `parent` again (after a
    /// restart). `None` when `parent` is not on the committed chain: nothing can extend it.
    /// More than [`MAX_REPLAY_DEPTH`] blocks behind, it waits for the finalizer to catch up
    /// instead of executing a long chain of ancestors for every request.
    async fn parent_state<E: Spawner + Clock>(
        &self,
        ctx: &E,
        parent: &Digested<ConsensusBlock>,
        ancestry: impl Ancestry<ConsensusBlock>,
    ) -> Option<SparseMerkleTree> {
        let (mut base, mut pending) = loop {
            match self.walk(parent, &mut ancestry.clone()).await {
                Walk::Found(base, pending) => break (base, pending),
                Walk::Dead => return None,
                Walk::TooDeep => ctx.sleep(CATCH_UP_POLL).await,
            }
        };
        // Execute forward from the base, parent last.
        while let Some(b) = pending.pop() {
            let block = b.inner().block.clone();
            let parent_state = base;
            let chain = self.chain.clone();
            let built = blocking(ctx, move || chain.replay(&parent_state, &block))
                .await
                .ok()?;
            let built = Arc::new(built);
            base = built.state.clone();
            self.executed.insert(built);
        }
        Some(base)
    }

    /// Walks back from `parent` to a block whose state is known.
    async fn walk(
        &self,
        parent: &Digested<ConsensusBlock>,
        ancestry: &mut impl Ancestry<ConsensusBlock>,
    ) -> Walk {
        let Committed { state, head } = self.chain.committed();
        let head_hash = head.hash();
        let mut pending = vec![parent.clone()];
        loop {
            let b = pending.last().expect("not empty").inner().header().clone();
            let h = b.hash();
            if h == head_hash {
                pending.pop();
                return Walk::Found(state, pending);
            }
            if let Some(built) = self.executed.get(&h) {
                pending.pop();
                return Walk::Found(built.state.clone(), pending);
            }
            if b.height <= head.height {
                return Walk::Dead;
            }
            if pending.len() > MAX_REPLAY_DEPTH {
                return Walk::TooDeep;
            }
            match ancestry.next().await {
                Some(a) => pending.push(a),
                None => return Walk::Dead,
            }
        }
    }

    /// Whether `header` is the committed block at its height.
    fn is_committed(&self, header: &machina_primitives::BlockHeader) -> bool {
        matches!(self.chain.store().header(header.height), Ok(Some(h)) if h == *header)
    }
}

/// Where a walk back through the ancestors ended.
enum Walk {
    /// At a block with known state: that state, and the blocks to execute on it (the
    /// parent first).
    Found(SparseMerkleTree, Vec<Digested<ConsensusBlock>>),
    /// Below the committed head without meeting it: a dead fork.
    Dead,
    /// Further than [`MAX_REPLAY_DEPTH`] from a known state.
    TooDeep,
}

/// Runs CPU work (execution, signature checks) off the async workers.
async fn blocking<E: Spawner, T: Send + 'static>(
    ctx: &E,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    ctx.child("execute")
        .shared(true)
        .spawn(move |_| async move { f() })
        .await
        .expect("execution task stopped")
}

/// Milliseconds since the Unix epoch on the runtime's clock (simulated in tests).
pub fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The Machina address of a consensus key: the same bytes as a Machina public key.
pub fn address_of(key: &ed25519::PublicKey) -> Address {
    let bytes: [u8; 32] = key.as_ref().try_into().expect("ed25519 keys are 32 bytes");
    Address::from_public_key(&bytes)
}

impl<E: Spawner + Metrics + Clock> Application<E> for App {
    type SigningScheme = Scheme;
    type Context = BlockContext;
    type Block = ConsensusBlock;
    type Input = ();

    async fn propose(
        &mut self,
        (ctx, context): (E, BlockContext),
        mut ancestry: impl Ancestry<ConsensusBlock>,
        _input: (),
    ) -> Option<Digested<ConsensusBlock>> {
        let parent = ancestry.next().await?;
        let parent_state = self.parent_state(&ctx, &parent, ancestry).await?;
        let parent_header = parent.inner().header().clone();
        // Propose as soon as a transaction can be included, or once the idle wait is over
        // (an empty block still moves chain time for clearing and settlement).
        let idle_until = millis(ctx.current()) + self.pacing.idle_wait.as_millis() as u64;
        while millis(ctx.current()) < idle_until && !self.chain.has_candidates(&parent_state) {
            ctx.sleep(self.pacing.poll).await;
        }
        let env = BlockEnv {
            chain_id: self.chain.chain_id(),
            height: parent_header.height + 1,
            timestamp_ms: millis(ctx.current()).max(parent_header.timestamp_ms + 1),
            proposer: address_of(&context.leader),
        };
        let (chain, limits) = (self.chain.clone(), self.limits);
        let built = blocking(&ctx, move || {
            chain.build_block(
                &parent_state,
                &parent_header,
                env,
                limits.max_txs,
                limits.tx_bytes(),
            )
        })
        .await;
        // Transactions left out stay in the mempool: they failed against this parent, which
        // may not be the block that is finalized; commits prune what became invalid.
        let block = ConsensusBlock::new(context, parent.digest(), built.block());
        let digest = block.digest();
        tracing::debug!(height = env.height, txs = built.txs.len(), "proposed");
        self.executed.insert(Arc::new(built));
        Some(Digested::precomputed(block, digest))
    }

    async fn verify(
        &mut self,
        (ctx, context): (E, BlockContext),
        mut ancestry: impl Ancestry<ConsensusBlock>,
    ) -> bool {
        let Some(block) = ancestry.next().await else {
            return abstain().await;
        };
        let header = block.inner().header().clone();
        if header.chain_id != self.chain.chain_id()
            || header.proposer != address_of(&context.leader)
        {
            return false;
        }
        // A block at or below the committed head is valid only if it is the committed one.
        if header.height <= self.chain.committed().head.height {
            return self.is_committed(&header);
        }
        let Some(parent) = ancestry.next().await else {
            return abstain().await;
        };
        let p = parent.inner().header();
        if header.parent_hash != p.hash()
            || header.height != p.height + 1
            || header.timestamp_ms <= p.timestamp_ms
        {
            return false;
        }
        // A block from the future waits for the clock rather than being refused: the
        // verdict could still change.
        let limit = header.timestamp_ms.saturating_sub(SYNCHRONY_BOUND_MS);
        if millis(ctx.current()) < limit {
            ctx.sleep_until(UNIX_EPOCH + Duration::from_millis(limit))
                .await;
        }
        if self.executed.get(&header.hash()).is_some() {
            return true;
        }
        let Some(parent_state) = self.parent_state(&ctx, &parent, ancestry).await else {
            // The head may have moved past the parent meanwhile, with this very block.
            return self.is_committed(&header);
        };
        let b = block.inner().block.clone();
        let chain = self.chain.clone();
        match blocking(&ctx, move || chain.replay(&parent_state, &b)).await {
            Ok(built) => {
                self.executed.insert(Arc::new(built));
                true
            }
            Err(e) => {
                tracing::warn!(height = header.height, error = %e, "refusing block");
                false
            }
        }
    }
}

/// Never resolves: the way to abstain from a vote whose verdict cannot be known yet.
async fn abstain() -> bool {
    futures::future::pending().await
}
