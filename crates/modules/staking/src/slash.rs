//! Slashing: a fraction of a subject's stake (bonded and unbonding, pro rata across every
//! part), taken once per piece of evidence and paid to named places, and a jail term.
//!
//! Only code that verified the evidence calls [`slash`]: the oracle for feed equivocation,
//! this module for validator equivocation, the compute market for SLA breaches and minority
//! results. Every micro-unit taken leaves the escrow for a payee, so the supply is untouched.

use crate::params::BPS;
use crate::stake::{forget_subject, put_stake, stake};
use crate::{keys, Result, StakingError, Subject};
use machina_primitives::{prorata, Address, Amount, Event, Hash};
use machina_state::{StateRead, StateWrite};

/// What the evidence showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvidenceKind {
    /// A reporter signed two values for one feed round.
    FeedEquivocation,
    /// A compute provider missed its SLA.
    SlaBreach,
    /// A compute provider's result lost to the majority of redundant runs.
    MinorityResult,
    /// A validator signed two conflicting consensus votes for one view.
    ValidatorEquivocation,
}

impl EvidenceKind {
    /// The kind's name in events.
    pub fn name(self) -> &'static str {
        match self {
            EvidenceKind::FeedEquivocation => "feed_equivocation",
            EvidenceKind::SlaBreach => "sla_breach",
            EvidenceKind::MinorityResult => "minority_result",
            EvidenceKind::ValidatorEquivocation => "validator_equivocation",
        }
    }
}

/// Where part of a slash goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payee {
    /// The place's name in the event: `prover`, `harmed`, `insurance_pool`.
    pub place: &'static str,
    /// The account paid.
    pub to: Address,
    /// Its part of the slash, basis points; the last payee takes whatever the others leave.
    pub share_bps: u32,
}

/// A slash to apply, from verified evidence.
#[derive(Clone, Debug)]
pub struct Slash<'a> {
    /// Whose stake.
    pub subject: &'a Subject,
    /// What the evidence showed.
    pub kind: EvidenceKind,
    /// The evidence's id: the same offence always has the same id, so it is used once.
    pub evidence: Hash,
    /// Part of the subject's stake taken, basis points.
    pub bps: u32,
    /// Where the taken stake goes; the last payee takes the rounding.
    pub payees: &'a [Payee],
}

/// The account that receives the parts of slashes no one else is owed.
pub fn insurance_pool_address() -> Address {
    Address::derive(&[b"machina/staking-insurance-pool/v1"])
}

/// The height `evidence` was used at, if it was.
pub fn evidence_used(state: &impl StateRead, evidence: &Hash) -> Option<u64> {
    state
        .get(&keys::evidence(evidence))
        .map(|b| u64::from_be_bytes(b.try_into().expect("staking wrote 8 bytes")))
}

/// The payees of an equivocation slash: the prover's share, the rest to the insurance pool.
pub fn prover_and_pool(state: &impl StateRead, prover: &Address) -> [Payee; 2] {
    [
        Payee {
            place: "prover",
            to: *prover,
            share_bps: crate::StakingParams::load(state).prover_share_bps,
        },
        Payee {
            place: "insurance_pool",
            to: insurance_pool_address(),
            share_bps: 0,
        },
    ]
}

/// Applies `s` at `height`: takes `bps` of the subject's stake pro rata from every bonded part
/// and pending unbonding, pays it out, jails the subject and marks the evidence used.
/// Returns the amount taken and the `slashed` event.
pub fn slash(state: &mut impl StateWrite, height: u64, s: &Slash) -> Result<(Amount, Event)> {
    assert!(
        s.bps <= BPS && !s.payees.is_empty(),
        "callers pass a valid slash"
    );
    if let Some(at) = evidence_used(state, &s.evidence) {
        return Err(StakingError::EvidenceUsed(at));
    }
    let mut st = stake(state, s.subject);
    let parts: Vec<u128> = st
        .bonds
        .iter()
        .map(|b| b.amount.0)
        .chain(st.unbonding.iter().map(|u| u.amount.0))
        .collect();
    let staked: u128 = parts.iter().sum();
    if staked == 0 {
        return Err(StakingError::NothingStaked(s.subject.id()));
    }
    let (take, _) = prorata::mul_div(staked, u128::from(s.bps), u128::from(BPS))
        .expect("bps <= BPS keeps the quotient within the stake");
    let shares = prorata::split(&parts, take).expect("take <= staked");
    let nb = st.bonds.len();
    let from_bonded: u128 = shares[..nb].iter().sum();
    for (b, cut) in st.bonds.iter_mut().zip(&shares[..nb]) {
        b.amount = Amount(b.amount.0 - cut);
    }
    for (u, cut) in st.unbonding.iter_mut().zip(&shares[nb..]) {
        u.amount = Amount(u.amount.0 - cut);
    }
    let emptied: Vec<Address> = st
        .bonds
        .iter()
        .filter(|b| b.amount == Amount::ZERO)
        .map(|b| b.owner)
        .collect();
    st.bonds.retain(|b| b.amount > Amount::ZERO);
    for owner in &emptied {
        forget_subject(state, owner, s.subject);
    }
    let jail = crate::StakingParams::load(state).jail_blocks(s.subject.role());
    st.jailed_until = st.jailed_until.max(height.saturating_add(jail));
    st.slashed_total = st
        .slashed_total
        .checked_add(Amount(take))
        .expect("bounded by the supply");
    put_stake(state, s.subject, &st);
    state.set(keys::evidence(&s.evidence), height.to_be_bytes().to_vec());
    let mut e = crate::stake::event(
        "slashed",
        s.subject,
        &[
            ("kind", s.kind.name().into()),
            ("evidence", s.evidence.into()),
            ("bps", u64::from(s.bps).into()),
            ("amount", Amount(take).into()),
            ("from_bonded", Amount(from_bonded).into()),
            ("from_unbonding", Amount(take - from_bonded).into()),
            ("jailed_until", st.jailed_until.into()),
        ],
    );
    pay_out(state, take, s.payees, &mut e);
    Ok((Amount(take), e))
}

/// Pays `take` from the escrow to the payees and names each part in the event.
fn pay_out(state: &mut impl StateWrite, take: u128, payees: &[Payee], e: &mut Event) {
    let mut left = take;
    for (i, p) in payees.iter().enumerate() {
        let part = if i + 1 == payees.len() {
            left
        } else {
            let (q, _) = prorata::mul_div(take, u128::from(p.share_bps.min(BPS)), u128::from(BPS))
                .expect("a share of the slash fits");
            q.min(left)
        };
        left -= part;
        if part > 0 {
            machina_bank::transfer(state, &crate::escrow_address(), &p.to, Amount(part))
                .expect("the escrow holds every stake");
        }
        e.attrs.insert(p.place.into(), p.to.into());
        e.attrs
            .insert(format!("to_{}", p.place), Amount(part).into());
    }
}

/// The id of an offence, from its kind and the fields that identify it (not the particular
/// signatures that prove it, so one offence is punished once).
pub fn evidence_id(kind: EvidenceKind, fields: &[&[u8]]) -> Hash {
    // Each field behind its length, so no two field lists hash the same bytes.
    let mut buf = b"machina/staking-evidence/v1/".to_vec();
    buf.extend_from_slice(kind.name().as_bytes());
    for f in fields {
        buf.extend_from_slice(&(f.len() as u64).to_be_bytes());
        buf.extend_from_slice(f);
    }
    machina_primitives::sha256(&[&buf])
}
