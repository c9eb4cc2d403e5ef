//! One EVM execution: revm over the state before the call, the chain's precompiles writing to
//! a journaled layer, and the outcome applied to the state only when it succeeded.

use crate::db::{from_evm, put_code, put_slot, to_evm, Layer, StateDb};
use crate::precompiles::Precompiles;
use crate::units::{micro_to_wei, wei_to_micro};
use crate::{EvmError, Result, BLOCK_GAS_LIMIT};
use alloy_primitives::{Bytes, B256, U256};
use machina_module::ActionCtx;
use machina_primitives::{Address, Amount, Event};
use machina_state::{StateRead, StateWrite};
use revm::context::result::{ExecutionResult, Output};
use revm::context::{BlockEnv, CfgEnv, Context, Evm, FrameStack, Journal, TxEnv};
use revm::context_interface::transaction::{AccessList, AccessListItem};
use revm::handler::instructions::EthInstructions;
use revm::inspector::Inspector;
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::{CallInputs, CallOutcome, CreateInputs, CreateOutcome};
use revm::primitives::hardfork::SpecId;
use revm::primitives::TxKind;
use revm::state::{AccountStatus, EvmState};
use revm::{InspectEvm, MainContext};

/// The hardfork whose rules contracts run under.
pub const SPEC: SpecId = SpecId::CANCUN;

/// The revm context of one execution: the state before it, and the precompiles' layer.
pub(crate) type Ctx<'a, S> =
    Context<BlockEnv, TxEnv, CfgEnv, StateDb<'a, S>, Journal<StateDb<'a, S>>, Layer<'a, S>>;

/// A call or creation to run.
#[derive(Clone, Debug)]
pub struct Call {
    /// Who calls: the transaction's sender.
    pub caller: Address,
    /// The callee; `None` creates a contract.
    pub to: Option<Address>,
    /// Micro-units sent.
    pub value: Amount,
    /// Call data, or creation code.
    pub data: Vec<u8>,
    /// Most gas it may use.
    pub gas_limit: u64,
    /// The caller's nonce before the transaction (a creation's address follows from it).
    pub nonce: u64,
    /// Accounts and slots to warm up (EIP-2930).
    pub access_list: Vec<(Address, Vec<[u8; 32]>)>,
}

/// A log a contract emitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Log {
    /// The contract.
    pub address: Address,
    /// Its topics, at most four.
    pub topics: Vec<[u8; 32]>,
    /// Its data.
    pub data: Vec<u8>,
}

/// How an execution ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// It returned; a creation names its new contract.
    Success {
        /// What it returned (a creation: the deployed code).
        output: Vec<u8>,
        /// The created contract.
        created: Option<Address>,
    },
    /// It reverted with this data.
    Revert {
        /// The revert data (`Error(string)`, a custom error, or nothing).
        output: Vec<u8>,
    },
    /// It stopped abnormally.
    Halt {
        /// Why.
        reason: String,
    },
}

/// What an execution did, before it is applied.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// Gas it used, refunds taken off.
    pub gas_used: u64,
    /// Its logs (none unless it succeeded).
    pub logs: Vec<Log>,
    /// Events of the module actions its precompiles ran.
    pub events: Vec<Event>,
}

/// What a successful execution changes, to apply to the state.
pub(crate) struct Effects {
    diff: EvmState,
    writes: crate::db::Writes,
}

/// Keeps the precompiles' layer in step with the EVM's call frames.
struct Frames;

impl<'a, S: StateRead> Inspector<Ctx<'a, S>, EthInterpreter> for Frames {
    fn call(&mut self, ctx: &mut Ctx<'a, S>, _inputs: &mut CallInputs) -> Option<CallOutcome> {
        ctx.chain.enter();
        None
    }

    fn call_end(&mut self, ctx: &mut Ctx<'a, S>, _inputs: &CallInputs, outcome: &mut CallOutcome) {
        ctx.chain.exit(outcome.result.result.is_ok());
    }

    fn create(
        &mut self,
        ctx: &mut Ctx<'a, S>,
        _inputs: &mut CreateInputs,
    ) -> Option<CreateOutcome> {
        ctx.chain.enter();
        None
    }

    fn create_end(
        &mut self,
        ctx: &mut Ctx<'a, S>,
        _inputs: &CreateInputs,
        outcome: &mut CreateOutcome,
    ) {
        ctx.chain.exit(outcome.result.result.is_ok());
    }
}

/// Runs `call` on `state` without changing it: its outcome, and what applying it would write.
pub(crate) fn run<S: StateRead>(
    state: &S,
    ctx: &ActionCtx,
    call: &Call,
) -> Result<(Outcome, Option<Effects>)> {
    let mut cfg = CfgEnv::new_with_spec(SPEC);
    cfg.chain_id = ctx.env.chain_id;
    // The stf checks and advances nonces, one per transaction, before the EVM runs.
    cfg.disable_nonce_check = true;
    let block = BlockEnv {
        number: U256::from(ctx.env.height),
        beneficiary: to_evm(&ctx.env.proposer),
        timestamp: U256::from(ctx.env.timestamp_ms / 1000),
        gas_limit: BLOCK_GAS_LIMIT,
        // Gas is paid in the transaction's fee, outside the EVM, so the EVM charges nothing.
        basefee: 0,
        prevrandao: Some(B256::ZERO),
        ..Default::default()
    };
    let context = Context::mainnet()
        .with_db(StateDb::new(state, call.caller, call.nonce))
        .with_cfg(cfg)
        .with_block(block)
        .with_chain(Layer::new(state));
    let mut evm = Evm {
        ctx: context,
        inspector: Frames,
        instruction: EthInstructions::<EthInterpreter, Ctx<'_, S>>::new_mainnet_with_spec(SPEC),
        precompiles: Precompiles::new(SPEC, ctx.clone()),
        frame_stack: FrameStack::new_prealloc(8),
    };
    let result = evm
        .inspect_one_tx(tx_env(ctx, call))
        .map_err(|e| EvmError::Invalid(e.to_string()))?;
    let diff = revm::ExecuteEvm::finalize(&mut evm);
    let (writes, events) = std::mem::replace(&mut evm.ctx.chain, Layer::new(state)).into_parts();
    let gas_used = result.tx_gas_used();
    Ok(match result {
        ExecutionResult::Success { output, logs, .. } => {
            let (output, created) = match output {
                Output::Call(b) => (b.to_vec(), None),
                Output::Create(b, a) => (b.to_vec(), a.map(|a| from_evm(&a))),
            };
            let outcome = Outcome {
                status: Status::Success { output, created },
                gas_used,
                logs: logs.iter().map(log_of).collect(),
                events,
            };
            (outcome, Some(Effects { diff, writes }))
        }
        ExecutionResult::Revert { output, .. } => (
            Outcome {
                status: Status::Revert {
                    output: output.to_vec(),
                },
                gas_used,
                logs: Vec::new(),
                events: Vec::new(),
            },
            None,
        ),
        ExecutionResult::Halt { reason, .. } => (
            Outcome {
                status: Status::Halt {
                    reason: format!("{reason:?}"),
                },
                gas_used,
                logs: Vec::new(),
                events: Vec::new(),
            },
            None,
        ),
    })
}

fn tx_env(ctx: &ActionCtx, call: &Call) -> TxEnv {
    let access_list = AccessList(
        call.access_list
            .iter()
            .map(|(a, keys)| AccessListItem {
                address: to_evm(a),
                storage_keys: keys.iter().map(|k| B256::from(*k)).collect(),
            })
            .collect(),
    );
    TxEnv {
        tx_type: if call.access_list.is_empty() { 0 } else { 1 },
        caller: to_evm(&call.caller),
        gas_limit: call.gas_limit,
        gas_price: 0,
        kind: match call.to {
            Some(to) => TxKind::Call(to_evm(&to)),
            None => TxKind::Create,
        },
        value: micro_to_wei(call.value),
        data: Bytes::from(call.data.clone()),
        nonce: call.nonce,
        chain_id: Some(ctx.env.chain_id),
        access_list,
        ..Default::default()
    }
}

fn log_of(l: &revm::primitives::Log) -> Log {
    Log {
        address: from_evm(&l.address),
        topics: l.data.topics().iter().map(|t| t.0).collect(),
        data: l.data.data.to_vec(),
    }
}

/// Writes a successful execution's effects: the precompiles' writes, then the EVM's balances,
/// nonces, code and storage. Balances combine both: what the EVM moved is added to what the
/// precompiles left. Refused, with nothing kept by the caller's overlay, if a balance would
/// go negative, end between micro-units, or the total would change.
pub(crate) fn apply<S: StateWrite>(state: &mut S, caller: &Address, fx: Effects) -> Result<()> {
    let mut accounts: Vec<(Address, &revm::state::Account)> = fx
        .diff
        .iter()
        .filter(|(_, a)| a.status.contains(AccountStatus::Touched))
        .map(|(addr, a)| (from_evm(addr), a))
        .collect();
    // Sorted: the hash map's order must not reach the state.
    accounts.sort_by_key(|(a, _)| *a);
    let mut deltas = Vec::with_capacity(accounts.len());
    for (addr, acct) in &accounts {
        let before = micro_to_wei(machina_bank::account(state, addr).balance);
        deltas.push((*addr, acct.info.balance, before));
    }
    for (key, value) in fx.writes {
        match value {
            Some(v) => state.set(key, v),
            None => state.delete(key),
        }
    }
    let mut balances = Vec::with_capacity(deltas.len());
    for (addr, after_evm, before) in deltas {
        let now = micro_to_wei(machina_bank::account(state, &addr).balance);
        let wei = (now + after_evm).checked_sub(before).ok_or_else(|| {
            EvmError::Invalid(format!("{addr} would be left with less than nothing"))
        })?;
        let micro = wei_to_micro(wei)
            .ok_or_else(|| EvmError::SubMicroValue(format!("{wei} (left at {addr})")))?;
        balances.push((addr, micro));
    }
    machina_bank::set_balances_conserving(state, &balances).ok_or_else(|| {
        EvmError::Invalid(
            "the call would change the total supply (value burnt by a self-destruct)".into(),
        )
    })?;
    for (addr, acct) in &accounts {
        write_account(state, caller, addr, acct);
    }
    Ok(())
}

/// An account's nonce, code and storage as the EVM left them.
fn write_account(
    state: &mut impl StateWrite,
    caller: &Address,
    addr: &Address,
    acct: &revm::state::Account,
) {
    if acct.is_selfdestructed() {
        // Since Cancun only a contract created in the same transaction can destroy itself,
        // so all of its storage is in this diff.
        state.delete(crate::keys::code(addr));
        for slot in acct.storage.keys() {
            put_slot(state, addr, &slot.to_be_bytes::<32>(), U256::ZERO);
        }
        return;
    }
    // The sender's nonce is the stf's: one per transaction, advanced before the EVM ran.
    if addr != caller {
        machina_bank::set_contract_nonce(state, addr, acct.info.nonce);
    }
    if acct.status.contains(AccountStatus::Created) {
        if let Some(code) = &acct.info.code {
            if !code.is_empty() {
                put_code(state, addr, code.original_byte_slice());
            }
        }
    }
    let mut slots: Vec<_> = acct.changed_storage_slots().collect();
    slots.sort_by_key(|(k, _)| **k);
    for (key, slot) in slots {
        put_slot(state, addr, &key.to_be_bytes::<32>(), slot.present_value);
    }
}
