//! Machina staking module: stake bonded for a role and a subject, unbonding after a delay by
//! bounded end-of-block work.
//!
//! Layer 2. Bonded stake sits in one escrow account, so the bank's supply is untouched; each
//! subject's total and each bonder's part are queryable. An unbonding is filed under the
//! height it matures at; each block releases the entries filed under its own height, at most
//! [`MAX_RELEASES_PER_HEIGHT`] of them (a full height files new entries under the next one),
//! so the work per block is bounded and nothing scans all bonds.

pub mod action;
pub mod cli;
mod keys;
mod module;
mod params;
pub mod routes;

pub use action::{Role, StakingAction, Subject};
pub use module::Staking;
pub use params::StakingParams;

use machina_module::ActionCtx;
use machina_primitives::{Address, Amount, Decode, Encode, Event};
use machina_state::{StateRead, StateWrite};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Most unbondings one account may have pending: each is state until it matures.
pub const MAX_UNBONDINGS_PER_ACCOUNT: u64 = 16;

/// Most unbondings that mature at one height: the bound on a block's release work.
pub const MAX_RELEASES_PER_HEIGHT: u64 = 1_024;

/// Why the staking module refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StakingError {
    /// Zero micro-units.
    #[error("a bond or unbonding needs at least 1 micro")]
    ZeroStake,
    /// Less than the role's minimum would remain bonded.
    #[error("a {role:?} bond is at least {min} micro; this leaves {would}")]
    BelowMinimum {
        /// The role.
        role: Role,
        /// Its minimum.
        min: Amount,
        /// What the bonder's part would be.
        would: Amount,
    },
    /// More than is bonded.
    #[error("{bonder} has {bonded} micro bonded for this subject, not {asked}")]
    NotBonded {
        /// The bonder.
        bonder: Address,
        /// Its part.
        bonded: Amount,
        /// What it asked to unbond.
        asked: Amount,
    },
    /// Too many pending unbondings.
    #[error("{0} has {MAX_UNBONDINGS_PER_ACCOUNT} unbondings pending; wait for one to mature")]
    TooManyUnbondings(Address),
    /// The subject does not exist or is not the bonder's to back.
    #[error("invalid subject: {0}")]
    InvalidSubject(String),
    /// The payment into escrow was refused (balance, wallet policy).
    #[error(transparent)]
    Wallet(#[from] machina_wallet::WalletError),
    /// From the identity module.
    #[error(transparent)]
    Identity(#[from] machina_identity::IdentityError),
}

impl StakingError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            StakingError::ZeroStake => "zero_stake",
            StakingError::BelowMinimum { .. } => "bond_below_minimum",
            StakingError::NotBonded { .. } => "not_bonded_enough",
            StakingError::TooManyUnbondings(_) => "too_many_unbondings",
            StakingError::InvalidSubject(_) => "invalid_subject",
            StakingError::Wallet(e) => e.code(),
            StakingError::Identity(e) => e.code(),
        }
    }
}

/// Result alias of the staking module.
pub type Result<T> = std::result::Result<T, StakingError>;

/// The account that holds all bonded and unbonding stake.
pub fn escrow_address() -> Address {
    Address::derive(&[b"machina/staking-escrow/v1"])
}

/// One pending unbonding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Unbonding {
    /// Who gets it back.
    pub owner: Address,
    /// What it backed (still slashable until it matures).
    pub subject: Subject,
    /// Micro-units.
    pub amount: Amount,
}

fn read<T: Decode>(state: &impl StateRead, key: &[u8]) -> Option<T> {
    state
        .get(key)
        .map(|b| T::decode_exact(&b, 1024).expect("staking wrote this record"))
}

fn read_amount(state: &impl StateRead, key: &[u8]) -> Amount {
    read(state, key).unwrap_or(Amount::ZERO)
}

fn read_u64(state: &impl StateRead, key: &[u8]) -> u64 {
    read(state, key).unwrap_or(0)
}

fn put_amount(state: &mut impl StateWrite, key: Vec<u8>, a: Amount) {
    if a == Amount::ZERO {
        state.delete(key);
    } else {
        state.set(key, a.encode());
    }
}

/// Total stake bonded for `subject` (unbonding stake not included).
pub fn total(state: &impl StateRead, subject: &Subject) -> Amount {
    read_amount(state, &keys::total(subject))
}

/// `bonder`'s part of the stake bonded for `subject`.
pub fn bonded(state: &impl StateRead, subject: &Subject, bonder: &Address) -> Amount {
    read_amount(state, &keys::bond(subject, bonder))
}

/// How many unbondings `owner` has pending.
pub fn pending_unbondings(state: &impl StateRead, owner: &Address) -> u64 {
    read_u64(state, &keys::pending(owner))
}

fn check_subject(state: &impl StateRead, bonder: &Address, s: &Subject) -> Result<()> {
    if let Subject::Provider { machine_id } = s {
        let m = machina_identity::owned_active(state, bonder, *machine_id)?;
        if m.kind != machina_identity::MachineKind::Compute {
            return Err(StakingError::InvalidSubject(format!(
                "machine {machine_id} is a {} machine; providers bond for compute machines",
                m.kind.name()
            )));
        }
    }
    Ok(())
}

fn event(kind: &str, subject: &Subject, who: &Address, amount: Amount) -> Event {
    let mut e = Event::new(
        "staking",
        kind,
        &[("bonder", who.into()), ("amount", amount.into())],
    );
    let (role, id) = match subject {
        Subject::Provider { machine_id } => ("provider", (*machine_id).into()),
        Subject::Reporter { feed } => ("reporter", feed.into()),
        Subject::Validator { key } => ("validator", key.into()),
    };
    e.attrs.insert("role".into(), role.into());
    e.attrs.insert("subject".into(), id);
    e
}

/// Locks `amount` from the sender as stake for `subject`, through the sender's wallet policy.
pub fn bond(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    subject: &Subject,
    amount: Amount,
) -> Result<Event> {
    let bonder = ctx.sender;
    check_subject(state, &bonder, subject)?;
    let part = bonded(state, subject, &bonder)
        .checked_add(amount)
        .expect("stake is bounded by the supply");
    let min = params::load(state).min_bond(subject.role());
    if part < min {
        return Err(StakingError::BelowMinimum {
            role: subject.role(),
            min,
            would: part,
        });
    }
    machina_wallet::pay(state, ctx, &bonder, &escrow_address(), amount)?;
    put_amount(state, keys::bond(subject, &bonder), part);
    let t = total(state, subject)
        .checked_add(amount)
        .expect("bounded by the supply");
    put_amount(state, keys::total(subject), t);
    Ok(event("bonded", subject, &bonder, amount))
}

/// Starts unbonding `amount` of the sender's stake for `subject`; it returns by itself once
/// the role's delay has passed.
pub fn unbond(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    subject: &Subject,
    amount: Amount,
) -> Result<Event> {
    let owner = ctx.sender;
    let part = bonded(state, subject, &owner);
    let left = part.checked_sub(amount).ok_or(StakingError::NotBonded {
        bonder: owner,
        bonded: part,
        asked: amount,
    })?;
    let p = params::load(state);
    let min = p.min_bond(subject.role());
    if left > Amount::ZERO && left < min {
        return Err(StakingError::BelowMinimum {
            role: subject.role(),
            min,
            would: left,
        });
    }
    let pending = pending_unbondings(state, &owner);
    if pending >= MAX_UNBONDINGS_PER_ACCOUNT {
        return Err(StakingError::TooManyUnbondings(owner));
    }
    put_amount(state, keys::bond(subject, &owner), left);
    let t = total(state, subject)
        .checked_sub(amount)
        .expect("a part is within the total");
    put_amount(state, keys::total(subject), t);
    state.set(keys::pending(&owner), (pending + 1).encode());
    let due = file_unbonding(
        state,
        ctx.height()
            .saturating_add(p.unbonding_blocks(subject.role())),
        &Unbonding {
            owner,
            subject: subject.clone(),
            amount,
        },
    );
    let mut e = event("unbonding_started", subject, &owner, amount);
    e.attrs.insert("release_height".into(), due.into());
    Ok(e)
}

/// Files an unbonding under the first height from `height` with room; returns that height.
fn file_unbonding(state: &mut impl StateWrite, height: u64, u: &Unbonding) -> u64 {
    let mut h = height.max(1);
    loop {
        let n = read_u64(state, &keys::due_count(h));
        if n < MAX_RELEASES_PER_HEIGHT {
            state.set(keys::due(h, n), u.encode());
            state.set(keys::due_count(h), (n + 1).encode());
            return h;
        }
        h += 1;
    }
}

/// Releases the unbondings that mature at `height`: at most [`MAX_RELEASES_PER_HEIGHT`].
pub fn release_due(state: &mut impl StateWrite, height: u64) -> Vec<Event> {
    let n = read_u64(state, &keys::due_count(height));
    let mut events = Vec::new();
    for i in 0..n {
        let u: Unbonding = read(state, &keys::due(height, i)).expect("counted entries exist");
        machina_bank::transfer(state, &escrow_address(), &u.owner, u.amount)
            .expect("the escrow holds every unbonding");
        let pending = pending_unbondings(state, &u.owner);
        if pending <= 1 {
            state.delete(keys::pending(&u.owner));
        } else {
            state.set(keys::pending(&u.owner), (pending - 1).encode());
        }
        state.delete(keys::due(height, i));
        events.push(event("unbonded", &u.subject, &u.owner, u.amount));
    }
    if n > 0 {
        state.delete(keys::due_count(height));
    }
    events
}
