//! What a Machina module is: its actions, stateless checks, embedded signatures, execution,
//! hooks and genesis section.
//!
//! Layer 2, below every module. A module is one crate that implements [`Module`]; the state
//! transition function keeps one ordered list of them and derives from it the action enum,
//! the dispatch, the order of the block hooks and the genesis. Nothing here does I/O or reads
//! a clock: time and height come in the [`BlockEnv`].

use machina_primitives::codec::Tagged;
use machina_primitives::{Address, Amount, BlockEnv, Decode, Encode, Event, PublicKey, Signature};
use machina_state::StateWrite;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// A module's error: a sentence (`Display`) and a stable code that is part of the protocol.
pub trait ModuleError: std::error::Error + Clone + PartialEq + Debug {
    /// The codes this module owns. A code belongs to one module (or to the stf); a module that
    /// reports another's fact (the oracle about a revoked machine) uses the owner's code, and
    /// the API names the module that raised it in `"module"`.
    const CODES: &'static [&'static str];

    /// The stable code, e.g. `insufficient_funds`.
    fn code(&self) -> &'static str;

    /// Whether this refusal counts against a machine's wallet record (a spend its owner's
    /// policy forbade): it is written even though the transaction's changes are undone.
    fn is_policy_breach(&self) -> bool {
        false
    }
}

/// What a signature embedded in an action proves; a bad one refuses the whole transaction
/// with the matching code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigRole {
    /// A key's proof of possession (device keys, manufacturer keys).
    ProofOfPossession,
    /// A manufacturer's attestation of a device key.
    Attestation,
    /// A signed statement used as evidence (equivocation, SLA breaches).
    Evidence,
}

/// A signature inside an action, with the message it signs, for batch verification.
#[derive(Clone, Debug)]
pub struct EmbeddedSig {
    /// What it proves.
    pub role: SigRole,
    /// The signed message.
    pub message: Vec<u8>,
    /// The key.
    pub key: PublicKey,
    /// The signature.
    pub signature: Signature,
}

/// A signature of one item of an action (a reading, a report): a bad one refuses only its
/// item, so a gateway's batch of thousands survives one bad device.
#[derive(Clone, Debug)]
pub struct ItemSig {
    /// Position of the item in the action.
    pub item: usize,
    /// The signed message.
    pub message: Vec<u8>,
    /// The key.
    pub key: PublicKey,
    /// The signature.
    pub signature: Signature,
}

/// What stateless checks may consult besides the action.
#[derive(Clone, Copy)]
pub struct StatelessCtx {
    /// The chain id.
    pub chain_id: u64,
    /// Whether a name is the name of some action of the chain (for session grants).
    pub is_action_name: fn(&str) -> bool,
}

/// The context an action runs in.
#[derive(Clone, Debug)]
pub struct ActionCtx {
    /// The transaction's sender, whose authority the action uses.
    pub sender: Address,
    /// The machine whose account the sender is, when it is one.
    pub machine: Option<u64>,
    /// The block the action runs in.
    pub env: BlockEnv,
    /// Position of the transaction in the block.
    pub tx_index: u64,
    /// The transaction's nonce.
    pub tx_nonce: u64,
    /// Position of the action in the transaction.
    pub action_index: u64,
    /// The session key that authorised the transaction, if one did.
    pub session: Option<PublicKey>,
    /// Items of this action whose own signatures did not verify (see [`ItemSig`]).
    pub bad_items: Vec<usize>,
}

impl ActionCtx {
    /// Height of the block.
    pub fn height(&self) -> u64 {
        self.env.height
    }

    /// Chain time of the block, ms.
    pub fn now_ms(&self) -> u64 {
        self.env.timestamp_ms
    }
}

/// A payment the spend path refused: the refusing module's code and sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpendRefusal {
    /// Stable code, e.g. `not_allowlisted`.
    pub code: &'static str,
    /// The sentence.
    pub message: String,
    /// Whether the refusal counts against the machine's wallet record.
    pub policy_breach: bool,
}

impl std::fmt::Display for SpendRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The state an action runs on, with the chain's one spend path: every payment out of an
/// account goes through the wallet, so a machine's policy always applies. The state
/// transition function provides it; modules below the wallet (the bank) pay through it.
pub trait Host: StateWrite {
    /// Moves `amount` from `from` to `to` under `from`'s wallet policy and the session's cap.
    fn pay(
        &mut self,
        ctx: &ActionCtx,
        from: &Address,
        to: &Address,
        amount: Amount,
    ) -> Result<Event, SpendRefusal>;
}

/// One module: a crate that owns its actions, errors, state keys, hooks and genesis section.
pub trait Module {
    /// Its name, e.g. `bank`: events and errors carry it.
    const NAME: &'static str;
    /// Its numeric id, stable.
    const ID: u8;
    /// Its actions, each with an explicit, stable tag.
    type Action: Encode
        + Decode
        + Tagged
        + Clone
        + Debug
        + PartialEq
        + Eq
        + Serialize
        + DeserializeOwned;
    /// Its errors, each with a stable code.
    type Error: ModuleError;
    /// Its section of the genesis.
    type Genesis: Clone + Debug + Default + PartialEq + Serialize + DeserializeOwned;

    /// Writes the module's genesis section into the state.
    fn init_genesis(
        _state: &mut impl StateWrite,
        _genesis: &Self::Genesis,
    ) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Everything that can be refused without reading state (refused at admission, no fee).
    fn check_stateless(_action: &Self::Action, _cx: &StatelessCtx) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Signatures the action carries that the whole transaction depends on.
    fn embedded_signatures(
        _action: &Self::Action,
        _chain_id: u64,
        _sender: &Address,
    ) -> Vec<EmbeddedSig> {
        Vec::new()
    }

    /// Signatures of the action's items, each refusing only its item when bad.
    fn item_signatures(_action: &Self::Action, _chain_id: u64) -> Vec<ItemSig> {
        Vec::new()
    }

    /// Gas the action may use at most, counted against the block's gas limit (EVM calls).
    fn gas_limit(_action: &Self::Action) -> u64 {
        0
    }

    /// What the action needs its transaction's fee to cover beyond the chain's minimum (the
    /// gas an EVM call buys up front).
    fn fee_floor(_action: &Self::Action) -> Amount {
        Amount::ZERO
    }

    /// Executes one action; returns its events.
    fn execute(
        host: &mut impl Host,
        ctx: &ActionCtx,
        action: &Self::Action,
    ) -> Result<Vec<Event>, Self::Error>;

    /// Work at the start of every block, bounded; its events are the block's.
    fn begin_block(_state: &mut impl StateWrite, _env: &BlockEnv) -> Vec<Event> {
        Vec::new()
    }

    /// Work at the end of every block, bounded; its events are the block's.
    fn end_block(_state: &mut impl StateWrite, _env: &BlockEnv) -> Vec<Event> {
        Vec::new()
    }
}
