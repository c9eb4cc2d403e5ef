//! Bonds and unbondings: the records per subject and per account, and the height-indexed
//! queue that releases matured unbondings.

use crate::{keys, Result, StakingError, Subject};
use machina_module::ActionCtx;
use machina_primitives::{Address, Amount, Decode, Encode, Event};
use machina_state::{StateRead, StateWrite};
use serde::{Deserialize, Serialize};

/// Most accounts bonded for one subject: a slash touches each of them.
pub const MAX_BONDERS_PER_SUBJECT: usize = 64;
/// Most unbondings pending for one subject: a slash touches each of them.
pub const MAX_UNBONDINGS_PER_SUBJECT: usize = 64;
/// Most subjects one account backs at once.
pub const MAX_BONDS_PER_ACCOUNT: usize = 16;
/// Most unbondings one account may have pending: each is state until it matures.
pub const MAX_UNBONDINGS_PER_ACCOUNT: usize = 16;
/// Most unbondings that mature at one height: the bound on a block's release work.
pub const MAX_RELEASES_PER_HEIGHT: u64 = 1_024;
/// Largest stored record of the module.
const MAX_RECORD_BYTES: usize = 16 * 1024;

/// One bonder's part of a subject's bonded stake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Bond {
    /// The bonder.
    pub owner: Address,
    /// Micro-units.
    pub amount: Amount,
}

/// One pending unbonding of a subject: still slashable until it is released.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Unbonding {
    /// Who gets it back.
    pub owner: Address,
    /// Micro-units (less if a slash reached it).
    pub amount: Amount,
    /// The height whose end-of-block work releases it.
    pub release_height: u64,
}

/// Everything staked for one subject.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Stake {
    /// Bonded parts, ordered by bonder.
    #[codec(max = MAX_BONDERS_PER_SUBJECT, what = "bonds")]
    pub bonds: Vec<Bond>,
    /// Pending unbondings, ordered by release height, then owner.
    #[codec(max = MAX_UNBONDINGS_PER_SUBJECT, what = "unbondings")]
    pub unbonding: Vec<Unbonding>,
    /// The subject takes no new work before this height (0: never jailed).
    pub jailed_until: u64,
    /// Micro-units slashed from it, ever.
    pub slashed_total: Amount,
}

impl Stake {
    /// Bonded in total.
    pub fn bonded(&self) -> Amount {
        sum(self.bonds.iter().map(|b| b.amount))
    }

    /// Unbonding in total.
    pub fn unbonding_total(&self) -> Amount {
        sum(self.unbonding.iter().map(|u| u.amount))
    }

    /// `owner`'s bonded part.
    pub fn part(&self, owner: &Address) -> Amount {
        self.bonds
            .iter()
            .find(|b| b.owner == *owner)
            .map_or(Amount::ZERO, |b| b.amount)
    }
}

fn sum(it: impl Iterator<Item = Amount>) -> Amount {
    it.fold(Amount::ZERO, |s, a| {
        s.checked_add(a).expect("stake is bounded by the supply")
    })
}

/// One subject an account's unbonding is pending for, and when it is released.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Claim {
    /// What it backed.
    pub subject: Subject,
    /// When it returns.
    pub release_height: u64,
}

/// What one account has staked: the subjects it backs and its pending unbondings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Account {
    /// Subjects with a bonded part of this account, in subject order.
    #[codec(max = MAX_BONDS_PER_ACCOUNT, what = "bonded subjects")]
    pub subjects: Vec<Subject>,
    /// Pending unbondings.
    #[codec(max = MAX_UNBONDINGS_PER_ACCOUNT, what = "claims")]
    pub unbondings: Vec<Claim>,
}

/// An unbonding due at a height: which subject's record holds it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
struct Due {
    subject: Subject,
    owner: Address,
}

fn read<T: Decode>(state: &impl StateRead, key: &[u8]) -> Option<T> {
    state
        .get(key)
        .map(|b| T::decode_exact(&b, MAX_RECORD_BYTES).expect("staking wrote this record"))
}

/// Everything staked for `subject`.
pub fn stake(state: &impl StateRead, subject: &Subject) -> Stake {
    read(state, &keys::subject(subject)).unwrap_or_default()
}

pub(crate) fn put_stake(state: &mut impl StateWrite, subject: &Subject, s: &Stake) {
    if *s == Stake::default() {
        state.delete(keys::subject(subject));
    } else {
        state.set(keys::subject(subject), s.encode());
    }
}

/// What `owner` has staked.
pub fn account(state: &impl StateRead, owner: &Address) -> Account {
    read(state, &keys::account(owner)).unwrap_or_default()
}

pub(crate) fn put_account(state: &mut impl StateWrite, owner: &Address, a: &Account) {
    if *a == Account::default() {
        state.delete(keys::account(owner));
    } else {
        state.set(keys::account(owner), a.encode());
    }
}

/// Drops `subject` from `owner`'s bonded subjects (its part is gone).
pub(crate) fn forget_subject(state: &mut impl StateWrite, owner: &Address, subject: &Subject) {
    let mut a = account(state, owner);
    a.subjects.retain(|s| s != subject);
    put_account(state, owner, &a);
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

/// An event about `subject` with the common attributes.
pub(crate) fn event(
    kind: &str,
    subject: &Subject,
    attrs: &[(&str, machina_primitives::AttrValue)],
) -> Event {
    let mut e = Event::new("staking", kind, attrs);
    e.attrs.insert("role".into(), subject.role().name().into());
    let id = match subject {
        Subject::Provider { machine_id } => (*machine_id).into(),
        other => other.id().into(),
    };
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
    let mut s = stake(state, subject);
    let part = s
        .part(&bonder)
        .checked_add(amount)
        .expect("stake is bounded by the supply");
    let min = crate::StakingParams::load(state).min_bond(subject.role());
    if part < min {
        return Err(StakingError::BelowMinimum {
            role: subject.role(),
            min,
            would: part,
        });
    }
    match s.bonds.binary_search_by(|b| b.owner.cmp(&bonder)) {
        Ok(i) => s.bonds[i].amount = part,
        Err(i) => {
            if s.bonds.len() >= MAX_BONDERS_PER_SUBJECT {
                return Err(StakingError::TooManyBonders(subject.id()));
            }
            let mut a = account(state, &bonder);
            let Err(j) = a.subjects.binary_search(subject) else {
                unreachable!("an account lists exactly the subjects it has a part in")
            };
            if a.subjects.len() >= MAX_BONDS_PER_ACCOUNT {
                return Err(StakingError::TooManyBonds(bonder));
            }
            a.subjects.insert(j, subject.clone());
            put_account(state, &bonder, &a);
            s.bonds.insert(
                i,
                Bond {
                    owner: bonder,
                    amount: part,
                },
            );
        }
    }
    machina_wallet::pay(state, ctx, &bonder, &crate::escrow_address(), amount)?;
    put_stake(state, subject, &s);
    Ok(event(
        "bonded",
        subject,
        &[
            ("bonder", bonder.into()),
            ("amount", amount.into()),
            ("bonded", s.bonded().into()),
        ],
    ))
}

/// Starts unbonding `amount` of the sender's stake for `subject`; it returns by itself once
/// the role's delay has passed, and stays slashable until then.
pub fn unbond(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    subject: &Subject,
    amount: Amount,
) -> Result<Event> {
    let owner = ctx.sender;
    let mut s = stake(state, subject);
    let part = s.part(&owner);
    let left = part.checked_sub(amount).ok_or(StakingError::NotBonded {
        bonder: owner,
        bonded: part,
        asked: amount,
    })?;
    let p = crate::StakingParams::load(state);
    let min = p.min_bond(subject.role());
    if left > Amount::ZERO && left < min {
        return Err(StakingError::BelowMinimum {
            role: subject.role(),
            min,
            would: left,
        });
    }
    let target = ctx
        .height()
        .saturating_add(p.unbonding_blocks(subject.role()))
        .max(ctx.height() + 1);
    let due = first_room(state, target);
    let mut a = account(state, &owner);
    let pending = s
        .unbonding
        .iter()
        .position(|u| u.owner == owner && (u.release_height == target || u.release_height == due));
    let release_height = match pending {
        // Merging into an unbonding already filed: no new entry anywhere.
        Some(i) => {
            let u = &mut s.unbonding[i];
            u.amount = u.amount.checked_add(amount).expect("bounded by the supply");
            u.release_height
        }
        None => {
            if a.unbondings.len() >= MAX_UNBONDINGS_PER_ACCOUNT {
                return Err(StakingError::TooManyUnbondings(owner));
            }
            if s.unbonding.len() >= MAX_UNBONDINGS_PER_SUBJECT {
                return Err(StakingError::SubjectUnbondingFull(subject.id()));
            }
            file_due(state, due, subject, &owner);
            let u = Unbonding {
                owner,
                amount,
                release_height: due,
            };
            let at = s
                .unbonding
                .partition_point(|x| (x.release_height, x.owner) <= (due, owner));
            s.unbonding.insert(at, u);
            a.unbondings.push(Claim {
                subject: subject.clone(),
                release_height: due,
            });
            due
        }
    };
    let i = s
        .bonds
        .binary_search_by(|b| b.owner.cmp(&owner))
        .expect("a part was found above");
    if left == Amount::ZERO {
        s.bonds.remove(i);
        a.subjects.retain(|x| x != subject);
    } else {
        s.bonds[i].amount = left;
    }
    put_account(state, &owner, &a);
    put_stake(state, subject, &s);
    Ok(event(
        "unbonding_started",
        subject,
        &[
            ("bonder", owner.into()),
            ("amount", amount.into()),
            ("release_height", release_height.into()),
        ],
    ))
}

/// The first height from `height` whose release queue has room.
fn first_room(state: &impl StateRead, height: u64) -> u64 {
    let mut h = height;
    while read::<u64>(state, &keys::due_count(h)).unwrap_or(0) >= MAX_RELEASES_PER_HEIGHT {
        h += 1;
    }
    h
}

fn file_due(state: &mut impl StateWrite, h: u64, subject: &Subject, owner: &Address) {
    let n = read::<u64>(state, &keys::due_count(h)).unwrap_or(0);
    let d = Due {
        subject: subject.clone(),
        owner: *owner,
    };
    state.set(keys::due(h, n), d.encode());
    state.set(keys::due_count(h), (n + 1).encode());
}

/// Releases the unbondings that mature at `height`: at most [`MAX_RELEASES_PER_HEIGHT`],
/// read from that height's queue alone.
pub fn release_due(state: &mut impl StateWrite, height: u64) -> Vec<Event> {
    let n = read::<u64>(state, &keys::due_count(height)).unwrap_or(0);
    let mut events = Vec::new();
    for i in 0..n {
        let d: Due = read(state, &keys::due(height, i)).expect("counted entries exist");
        state.delete(keys::due(height, i));
        events.push(release(state, height, &d));
    }
    if n > 0 {
        state.delete(keys::due_count(height));
    }
    events
}

fn release(state: &mut impl StateWrite, height: u64, d: &Due) -> Event {
    let mut s = stake(state, &d.subject);
    let i = s
        .unbonding
        .iter()
        .position(|u| u.owner == d.owner && u.release_height == height)
        .expect("a filed unbonding is in its subject's record");
    let u = s.unbonding.remove(i);
    if u.amount > Amount::ZERO {
        machina_bank::transfer(state, &crate::escrow_address(), &u.owner, u.amount)
            .expect("the escrow holds every unbonding");
    }
    put_stake(state, &d.subject, &s);
    let mut a = account(state, &u.owner);
    a.unbondings
        .retain(|c| !(c.subject == d.subject && c.release_height == height));
    put_account(state, &u.owner, &a);
    event(
        "released",
        &d.subject,
        &[("bonder", u.owner.into()), ("amount", u.amount.into())],
    )
}

/// Bonds `amount` of `owner`'s genesis balance for `subject` (a validator's stake).
pub(crate) fn genesis_bond(
    state: &mut impl StateWrite,
    subject: &Subject,
    owner: &Address,
    amount: Amount,
) -> Result<()> {
    let min = crate::StakingParams::load(state).min_bond(subject.role());
    if amount < min {
        return Err(StakingError::InvalidGenesis(format!(
            "validator {} bonds {amount} micro; the minimum is {min}",
            subject.id()
        )));
    }
    machina_bank::transfer(state, owner, &crate::escrow_address(), amount).map_err(|e| {
        StakingError::InvalidGenesis(format!(
            "validator {} cannot bond {amount} micro from {owner}'s genesis balance: {e}",
            subject.id()
        ))
    })?;
    let s = Stake {
        bonds: vec![Bond {
            owner: *owner,
            amount,
        }],
        ..Stake::default()
    };
    put_stake(state, subject, &s);
    let mut a = account(state, owner);
    a.subjects.push(subject.clone());
    a.subjects.sort();
    put_account(state, owner, &a);
    Ok(())
}
