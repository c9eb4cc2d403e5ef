//! Block execution: begin-block hooks, each transaction, end-block hooks.

use crate::check::{check_stateless, VerifiedTx};
use crate::params::{self, Params};
use crate::{BlockError, TxError};
use machina_primitives::limits::MAX_BLOCK_TXS;
use machina_primitives::{
    hash::merkle_root, sha256, Action, Address, BlockEnv, Encode, Event, Hash, Receipt,
};
use machina_state::{AuthenticatedState, ChangeSet, Overlay, StateRead, StateWrite};

/// What executing a block produced.
#[derive(Debug, Clone)]
pub struct BlockOutcome {
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
    /// The state writes of the block, to persist with it.
    pub changes: ChangeSet,
    /// The state root after the block.
    pub state_root: Hash,
}

impl BlockOutcome {
    /// Merkle root over the receipts' hashes, for the block header.
    pub fn receipts_root(&self) -> Hash {
        receipts_root(&self.receipts)
    }
}

/// Merkle root over the hashes of `receipts`.
pub fn receipts_root(receipts: &[Receipt]) -> Hash {
    let leaves: Vec<Hash> = receipts.iter().map(|r| sha256(&[&r.encode()])).collect();
    merkle_root(&leaves)
}

/// Executes transactions one by one on top of a state, for the block producer, which keeps
/// the ones that can be included and drops the others.
pub struct BlockExecutor<'a, S: StateRead> {
    overlay: Overlay<'a, S>,
    env: BlockEnv,
    params: Params,
    receipts: Vec<Receipt>,
}

impl<'a, S: StateRead> BlockExecutor<'a, S> {
    /// Starts a block over `state` and runs the modules' begin-block hooks.
    pub fn begin(state: &'a S, env: BlockEnv) -> Self {
        let params = params::load(state);
        assert_eq!(
            params.chain_id, env.chain_id,
            "block env is for another chain than the state"
        );
        let mut overlay = Overlay::new(state);
        begin_block(&mut overlay, &env);
        BlockExecutor {
            overlay,
            env,
            params,
            receipts: Vec::new(),
        }
    }

    /// Number of transactions included so far.
    pub fn tx_count(&self) -> usize {
        self.receipts.len()
    }

    /// Executes one transaction. `Err` means it cannot be included in this block, and nothing
    /// changed. `Ok` means it is included: its fee is charged and its receipt tells whether its
    /// actions succeeded.
    pub fn execute(&mut self, vtx: &VerifiedTx) -> Result<&Receipt, TxError> {
        let body = &vtx.tx().body;
        check_stateless(vtx.tx(), &self.params, self.env.height)?;
        machina_bank::check_sender(&self.overlay, &body.sender, &vtx.signers(), body.nonce)
            .map_err(TxError::Sender)?;
        let fee_event = machina_bank::charge_fee_and_bump_nonce(
            &mut self.overlay,
            &body.sender,
            body.fee,
            &self.env.proposer,
        )
        .map_err(TxError::Sender)?;

        let mut tx_overlay = Overlay::new(&self.overlay);
        let outcome = execute_actions(&mut tx_overlay, &body.sender, &body.actions, &self.env);
        let mut events = vec![fee_event];
        let error = match outcome {
            Ok(evs) => {
                let changes = tx_overlay.into_changes();
                self.overlay.merge(changes);
                events.extend(evs);
                None
            }
            Err(e) => Some(e.to_failure()),
        };
        self.receipts.push(Receipt {
            tx_hash: vtx.hash(),
            success: error.is_none(),
            error,
            fee_charged: body.fee,
            events,
        });
        Ok(self.receipts.last().expect("a receipt was just pushed"))
    }

    /// Runs the end-block hooks and returns the receipts and the block's writes.
    pub fn finish(mut self) -> (Vec<Receipt>, ChangeSet) {
        end_block(&mut self.overlay, &self.env);
        (self.receipts, self.overlay.into_changes())
    }
}

/// Applies a block of verified transactions to `state` and returns the receipts, the writes
/// and the new state root. Pure and deterministic: the same state, transactions and env give
/// the same outcome on every machine. A block in which some transaction cannot be included
/// is invalid and leaves `state` unchanged.
pub fn apply_block<S: AuthenticatedState>(
    state: &mut S,
    txs: &[VerifiedTx],
    env: &BlockEnv,
) -> Result<BlockOutcome, BlockError> {
    if txs.len() > MAX_BLOCK_TXS {
        return Err(BlockError::TooManyTxs(txs.len()));
    }
    let mut exec = BlockExecutor::begin(&*state, *env);
    for (index, tx) in txs.iter().enumerate() {
        exec.execute(tx)
            .map_err(|error| BlockError::InvalidTx { index, error })?;
    }
    let (receipts, changes) = exec.finish();
    let state_root = state.apply(&changes);
    Ok(BlockOutcome {
        receipts,
        changes,
        state_root,
    })
}

/// Modules' begin-block hooks, in module order. The bank has no per-block work; modules with
/// scheduled work (energy gate closures, lease payments) add theirs here, bounded per block.
fn begin_block(_state: &mut impl StateWrite, _env: &BlockEnv) {}

/// Modules' end-block hooks, in module order. See [`begin_block`].
fn end_block(_state: &mut impl StateWrite, _env: &BlockEnv) {}

/// Runs the actions in order; the first failure stops the rest.
fn execute_actions(
    state: &mut impl StateWrite,
    sender: &Address,
    actions: &[Action],
    _env: &BlockEnv,
) -> Result<Vec<Event>, TxError> {
    let mut events = Vec::with_capacity(actions.len());
    for (index, action) in actions.iter().enumerate() {
        let event = match action {
            Action::Transfer { to, amount } => machina_bank::transfer(state, sender, to, *amount),
        }
        .map_err(|error| TxError::Action { index, error })?;
        events.push(event);
    }
    Ok(events)
}
