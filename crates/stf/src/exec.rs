//! Block execution: begin-block hooks, each transaction, end-block hooks.

use crate::check::{check_stateless, VerifiedTx};
use crate::host::TxHost;
use crate::params::{self, Params};
use crate::{modules, Action, BlockError, EthMeta, TxBody, TxError};
use machina_bank::Authorization;
use machina_module::ActionCtx;
use machina_primitives::limits::{MAX_BLOCK_EVENTS, MAX_BLOCK_TXS, MAX_EVENTS_PER_RECEIPT};
use machina_primitives::{
    hash::merkle_root, sha256, Address, Amount, BlockEnv, Encode, Event, Hash, PublicKey, Receipt,
};
use machina_state::{AuthenticatedState, ChangeSet, Overlay, StateRead, StateWrite};
use machina_wallet::WalletError;

/// What executing a block produced.
#[derive(Debug, Clone)]
pub struct BlockOutcome {
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
    /// The state writes of the block, to persist with it.
    pub changes: ChangeSet,
    /// Events of the modules' begin- and end-block hooks (clearing, settlement, ...).
    pub events: Vec<Event>,
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
    events: Vec<Event>,
    /// Gas the included transactions may use, against [`machina_evm::BLOCK_GAS_LIMIT`].
    gas_reserved: u64,
}

/// What a finished block produced besides its state root.
#[derive(Debug, Clone)]
pub struct BlockParts {
    /// One receipt per transaction, in block order.
    pub receipts: Vec<Receipt>,
    /// The state writes of the block.
    pub changes: ChangeSet,
    /// Events of the modules' block hooks.
    pub events: Vec<Event>,
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
        let events = modules::begin_block(&mut overlay, &env);
        BlockExecutor {
            overlay,
            env,
            params,
            receipts: Vec::new(),
            events,
            gas_reserved: 0,
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
        let gas = crate::check::gas_limit(vtx);
        let gas_left = machina_evm::BLOCK_GAS_LIMIT - self.gas_reserved;
        if gas > gas_left {
            return Err(TxError::BlockGasFull {
                need: gas,
                left: gas_left,
            });
        }
        let sender = machina_bank::account(&self.overlay, &body.sender);
        if sender.nonce != body.nonce {
            return Err(TxError::Sender(
                machina_bank::BankError::BadNonce {
                    account: body.sender,
                    expected: sender.nonce,
                    got: body.nonce,
                }
                .into(),
            ));
        }
        let session = match vtx.ethereum() {
            // The carried transaction's signature recovered to the sender: only a plain
            // account's own key can have made it (a machine's keys are ed25519).
            Some(_) if sender.auth == Authorization::AddressKey => None,
            Some(_) => return Err(TxError::Unauthorized(body.sender)),
            None => authorize(
                &self.overlay,
                body,
                &sender.auth,
                &vtx.signers(),
                self.env.height,
            )?,
        };
        let ctx = ActionCtx {
            sender: body.sender,
            machine: sender.auth.machine_id(),
            env: self.env,
            tx_index: self.receipts.len() as u64,
            tx_nonce: body.nonce,
            action_index: 0,
            session,
            bad_items: Vec::new(),
        };
        // Fee and nonce are settled in a scratch overlay first: if the fee cannot be paid the
        // transaction is not included and leaves no trace.
        let mut fee_overlay = Overlay::new(&self.overlay);
        let fee_event = machina_wallet::pay_fee(
            &mut fee_overlay,
            &ctx,
            body.fee_payer.as_ref(),
            body.fee,
            &self.env.proposer,
        )
        .map_err(|e| TxError::Sender(e.into()))?;
        machina_bank::bump_nonce(&mut fee_overlay, &body.sender);
        let fee_changes = fee_overlay.into_changes();
        self.overlay.merge(fee_changes);

        let mut tx_overlay = Overlay::new(&self.overlay);
        let outcome = execute_actions(&mut tx_overlay, &ctx, vtx);
        let mut events = vec![fee_event];
        let gas_used = vtx.ethereum().map(|eth| match &outcome {
            Ok(evs) => machina_evm::gas_used(evs).unwrap_or(eth.gas_limit),
            Err(TxError::Action {
                error: crate::ModuleError::Evm(e),
                ..
            }) => e.gas_used().unwrap_or(eth.gas_limit),
            Err(_) => eth.gas_limit,
        });
        let error = match outcome {
            Ok(evs) => {
                let changes = tx_overlay.into_changes();
                self.overlay.merge(changes);
                events.extend(evs);
                cap_events(&mut events, MAX_EVENTS_PER_RECEIPT);
                None
            }
            Err(e) => {
                record_failure(&mut self.overlay, &body.sender, &e);
                Some(e.to_failure())
            }
        };
        let fee_charged = match (vtx.ethereum(), gas_used) {
            (Some(eth), Some(used)) => self.refund_unused_gas(body, eth, used),
            _ => body.fee,
        };
        self.gas_reserved += gas;
        self.receipts.push(Receipt {
            tx_hash: vtx.hash(),
            success: error.is_none(),
            error,
            fee_charged,
            events,
        });
        Ok(self.receipts.last().expect("a receipt was just pushed"))
    }

    /// Returns to the sender of an Ethereum transaction the fee for the gas it did not use
    /// (it paid for its whole gas limit up front), and returns the fee it paid in the end.
    fn refund_unused_gas(&mut self, body: &TxBody, eth: EthMeta, used: u64) -> Amount {
        let charged = machina_evm::gas_fee(used.min(eth.gas_limit), eth.gas_price_wei)
            .expect("the fee for less gas than the limit fits, as the limit's did");
        let refund = body.fee.checked_sub(charged).unwrap_or(Amount::ZERO);
        if refund > Amount::ZERO && body.sender != self.env.proposer {
            // The proposer was paid the whole fee in this transaction, so it can return this.
            machina_bank::transfer(&mut self.overlay, &self.env.proposer, &body.sender, refund)
                .expect("the proposer holds the fee it was just paid");
        }
        charged
    }

    /// Runs the end-block hooks and returns the receipts, the block's writes and its events.
    pub fn finish(mut self) -> BlockParts {
        let end = modules::end_block(&mut self.overlay, &self.env);
        self.events.extend(end);
        cap_events(&mut self.events, MAX_BLOCK_EVENTS);
        BlockParts {
            receipts: self.receipts,
            changes: self.overlay.into_changes(),
            events: self.events,
        }
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
    let parts = exec.finish();
    let state_root = state.apply(&parts.changes);
    Ok(BlockOutcome {
        receipts: parts.receipts,
        changes: parts.changes,
        events: parts.events,
        state_root,
    })
}

/// The cheap check that comes before any signature is verified: the account that pays the fee
/// (the fee payer, or the sender) holds at least the fee. A transaction nobody can pay for is
/// refused without costing the node its signature checks, which for a batch of readings are
/// thousands. [`check_admission`] checks the rest once the signers are known.
pub fn check_fee_funds(state: &impl StateRead, body: &TxBody) -> Result<(), TxError> {
    let payer = body.fee_payer.unwrap_or(body.sender);
    let have = machina_bank::account(state, &payer).balance;
    if have < body.fee {
        return Err(TxError::Sender(
            machina_bank::BankError::InsufficientFunds {
                account: payer,
                have,
                need: body.fee,
            }
            .into(),
        ));
    }
    Ok(())
}

/// Checks against `state` whether a verified transaction could be included at `height`:
/// everything block execution checks before the actions (authorisation, fee payment under the
/// payer's policy or allowance), except the nonce, which the mempool orders.
pub fn check_admission(
    state: &impl StateRead,
    vtx: &VerifiedTx,
    height: u64,
) -> Result<(), TxError> {
    let body = &vtx.tx().body;
    let sender = machina_bank::account(state, &body.sender);
    let signers = vtx.signers();
    if vtx.ethereum().is_some() {
        if sender.auth != Authorization::AddressKey {
            return Err(TxError::Unauthorized(body.sender));
        }
        return check_fee_funds(state, body);
    }
    // The common case, a plain account paying its own fee, needs one read.
    if sender.auth == Authorization::AddressKey && body.fee_payer.is_none() {
        if !sender.auth.allows(&body.sender, &signers) {
            return Err(TxError::Unauthorized(body.sender));
        }
        return check_fee_funds(state, body);
    }
    let session = authorize(state, body, &sender.auth, &signers, height)?;
    let ctx = ActionCtx {
        sender: body.sender,
        machine: sender.auth.machine_id(),
        env: BlockEnv {
            chain_id: body.chain_id,
            height,
            timestamp_ms: 0,
            proposer: Address::default(),
        },
        tx_index: 0,
        tx_nonce: body.nonce,
        action_index: 0,
        session,
        bad_items: Vec::new(),
    };
    // The fee goes nowhere real: this overlay is dropped.
    let mut scratch = Overlay::new(state);
    machina_wallet::pay_fee(
        &mut scratch,
        &ctx,
        body.fee_payer.as_ref(),
        body.fee,
        &Address::default(),
    )
    .map_err(|e| TxError::Sender(e.into()))?;
    Ok(())
}

/// Checks that the signers may act for the sender: on the account's own authority, or as a
/// session key granted on it. Returns the session key when one was used.
fn authorize(
    state: &impl StateRead,
    body: &TxBody,
    auth: &Authorization,
    signers: &[PublicKey],
    height: u64,
) -> Result<Option<PublicKey>, TxError> {
    if let Authorization::Revoked { machine_id } = *auth {
        return Err(TxError::Revoked(body.sender, machine_id));
    }
    if auth.allows(&body.sender, signers) {
        return Ok(None);
    }
    let names: Vec<&str> = body.actions.iter().map(Action::name).collect();
    let mut last_error = None;
    for key in signers {
        match machina_wallet::check_session(state, &body.sender, key, &names, height) {
            Ok(()) => return Ok(Some(*key)),
            Err(e) => last_error = Some(e),
        }
    }
    Err(match last_error {
        Some(e @ (WalletError::SessionExpired(_) | WalletError::SessionActionNotAllowed(_))) => {
            TxError::Sender(e.into())
        }
        _ => TxError::Unauthorized(body.sender),
    })
}

/// Keeps a receipt's (or a block's hook) events within `max`: the last kept event says how many more
/// there were (the summaries come first, so totals survive).
fn cap_events(events: &mut Vec<Event>, max: usize) {
    if events.len() <= max {
        return;
    }
    let dropped = events.len() - (max - 1);
    events.truncate(max - 1);
    events.push(Event::new(
        "stf",
        "events_truncated",
        &[("dropped", dropped.into())],
    ));
}

/// Writes that stay although the actions failed: a refused spend counts against the machine.
fn record_failure(state: &mut impl StateWrite, sender: &Address, e: &TxError) {
    if let TxError::Action { error, .. } = e {
        if error.is_policy_breach() {
            machina_wallet::record_breach(state, sender);
        }
    }
}

/// Runs the actions in order; the first failure stops the rest.
fn execute_actions(
    state: &mut impl StateWrite,
    tx_ctx: &ActionCtx,
    vtx: &VerifiedTx,
) -> Result<Vec<Event>, TxError> {
    let actions = &vtx.tx().body.actions;
    let mut events = Vec::with_capacity(actions.len());
    let mut host = TxHost(state);
    for (index, action) in actions.iter().enumerate() {
        let ctx = ActionCtx {
            action_index: index as u64,
            bad_items: vtx.bad_items(index),
            ..tx_ctx.clone()
        };
        let evs = modules::execute(&mut host, &ctx, action)
            .map_err(|error| TxError::Action { index, error })?;
        events.extend(evs);
    }
    Ok(events)
}
