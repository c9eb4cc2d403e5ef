//! What the EVM reads (accounts, code, storage from the state before the call) and where
//! precompiles write (a journaled layer over it that follows the EVM's call frames).

use crate::keys;
use crate::units::micro_to_wei;
use alloy_primitives::{keccak256, B256, U256};
use machina_primitives::{Address, Event};
use machina_state::{StateRead, StateWrite};
use revm::bytecode::Bytecode;
use revm::state::AccountInfo;
use std::collections::BTreeMap;
use std::convert::Infallible;

/// A Machina address as the EVM spells it.
pub(crate) fn to_evm(a: &Address) -> alloy_primitives::Address {
    alloy_primitives::Address::from(a.0)
}

/// An EVM address as Machina spells it.
pub(crate) fn from_evm(a: &alloy_primitives::Address) -> Address {
    Address(a.0 .0)
}

/// A contract's code and its hash, as stored.
pub(crate) fn code_of(state: &impl StateRead, addr: &Address) -> Option<(B256, Vec<u8>)> {
    let v = state.get(&keys::code(addr))?;
    // The module wrote `hash ‖ code` itself; anything shorter is a broken invariant.
    assert!(v.len() >= 32, "stored contract code carries its hash");
    Some((B256::from_slice(&v[..32]), v[32..].to_vec()))
}

/// Stores a contract's code.
pub(crate) fn put_code(state: &mut impl StateWrite, addr: &Address, code: &[u8]) {
    let mut v = keccak256(code).0.to_vec();
    v.extend_from_slice(code);
    state.set(keys::code(addr), v);
}

/// A storage slot's value; zero when never written.
pub(crate) fn slot_of(state: &impl StateRead, addr: &Address, slot: &[u8; 32]) -> U256 {
    state
        .get(&keys::slot(addr, slot))
        .map(|v| U256::from_be_slice(&v))
        .unwrap_or_default()
}

/// Writes a storage slot; zero deletes it, so storage costs only what holds a value.
pub(crate) fn put_slot(state: &mut impl StateWrite, addr: &Address, slot: &[u8; 32], v: U256) {
    let key = keys::slot(addr, slot);
    if v.is_zero() {
        state.delete(key);
    } else {
        state.set(key, v.to_be_bytes::<32>().to_vec());
    }
}

/// The EVM's view of the state as it was before the call.
pub(crate) struct StateDb<'a, S: StateRead> {
    state: &'a S,
    caller: Address,
    /// The caller's nonce as the EVM must see it: before the transaction, which the stf has
    /// already counted, so that a creation gets the address Ethereum gives it.
    caller_nonce: u64,
}

impl<'a, S: StateRead> StateDb<'a, S> {
    pub(crate) fn new(state: &'a S, caller: Address, caller_nonce: u64) -> Self {
        StateDb {
            state,
            caller,
            caller_nonce,
        }
    }
}

impl<S: StateRead> revm::Database for StateDb<'_, S> {
    type Error = Infallible;

    fn basic(
        &mut self,
        address: alloy_primitives::Address,
    ) -> Result<Option<AccountInfo>, Infallible> {
        let addr = from_evm(&address);
        let acct = machina_bank::account(self.state, &addr);
        let code = code_of(self.state, &addr);
        if acct.balance.0 == 0 && acct.nonce == 0 && code.is_none() && addr != self.caller {
            return Ok(None);
        }
        let (code_hash, code) = match code {
            Some((hash, code)) => (hash, Bytecode::new_raw(code.into())),
            None => (revm::primitives::KECCAK_EMPTY, Bytecode::default()),
        };
        let nonce = if addr == self.caller {
            self.caller_nonce
        } else {
            acct.nonce
        };
        Ok(Some(AccountInfo {
            balance: micro_to_wei(acct.balance),
            nonce,
            code_hash,
            code: Some(code),
            ..Default::default()
        }))
    }

    fn code_by_hash(&mut self, _code_hash: B256) -> Result<Bytecode, Infallible> {
        // `basic` always hands the code over with the account, so the EVM never asks.
        Ok(Bytecode::default())
    }

    fn storage(
        &mut self,
        address: alloy_primitives::Address,
        index: U256,
    ) -> Result<U256, Infallible> {
        Ok(slot_of(
            self.state,
            &from_evm(&address),
            &index.to_be_bytes::<32>(),
        ))
    }

    fn block_hash(&mut self, _number: u64) -> Result<B256, Infallible> {
        // Block hashes are not in the state (the store has them); BLOCKHASH reads zero, as
        // for blocks further back than 256 on Ethereum.
        Ok(B256::ZERO)
    }
}

/// Pending writes by key: `None` deletes.
pub(crate) type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A write's previous entry in [`Writes`] (`None`: there was none), to undo it.
type Undo = (Vec<u8>, Option<Option<Vec<u8>>>);

/// A position in a [`Layer`]'s journal to roll back to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Checkpoint {
    undo: usize,
    events: usize,
}

/// Writes of precompiles during one EVM execution, over the state before it, journaled so
/// that a reverted call frame takes its precompiles' writes (and events) back with it.
pub(crate) struct Layer<'a, S: StateRead> {
    base: &'a S,
    writes: Writes,
    /// Each write's previous entry, newest last.
    undo: Vec<Undo>,
    events: Vec<Event>,
    /// Open frames' checkpoints, innermost last.
    frames: Vec<Checkpoint>,
}

impl<'a, S: StateRead> Layer<'a, S> {
    pub(crate) fn new(base: &'a S) -> Self {
        Layer {
            base,
            writes: BTreeMap::new(),
            undo: Vec::new(),
            events: Vec::new(),
            frames: Vec::new(),
        }
    }

    /// Opens a call frame.
    pub(crate) fn enter(&mut self) {
        self.frames.push(Checkpoint {
            undo: self.undo.len(),
            events: self.events.len(),
        });
    }

    /// Closes the innermost call frame, keeping its writes or taking them back.
    pub(crate) fn exit(&mut self, keep: bool) {
        let Some(cp) = self.frames.pop() else {
            return;
        };
        if keep {
            return;
        }
        while self.undo.len() > cp.undo {
            let (key, prev) = self.undo.pop().expect("undo is longer than the checkpoint");
            match prev {
                Some(p) => self.writes.insert(key, p),
                None => self.writes.remove(&key),
            };
        }
        self.events.truncate(cp.events);
    }

    /// Records events of a precompile's module call.
    pub(crate) fn emit(&mut self, events: Vec<Event>) {
        self.events.extend(events);
    }

    /// Events recorded so far.
    pub(crate) fn events(&self) -> &[Event] {
        &self.events
    }

    /// The writes and events that stood at the end.
    pub(crate) fn into_parts(self) -> (Writes, Vec<Event>) {
        (self.writes, self.events)
    }

    fn record(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        let prev = self.writes.insert(key.clone(), value);
        self.undo.push((key, prev));
    }
}

impl<S: StateRead> StateRead for Layer<'_, S> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.writes.get(key) {
            Some(v) => v.clone(),
            None => self.base.get(key),
        }
    }
}

impl<S: StateRead> StateWrite for Layer<'_, S> {
    fn set(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.record(key, Some(value));
    }

    fn delete(&mut self, key: Vec<u8>) {
        self.record(key, None);
    }
}
