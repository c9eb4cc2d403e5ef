//! Machina staking module: stake bonded for a role and a subject, unbonding after a delay by
//! bounded end-of-block work, and slashing by evidence the chain verified.
//!
//! Layer 2. Bonded and unbonding stake sits in one escrow account, so the bank's supply is
//! untouched; each subject's record lists its bonded parts and pending unbondings (both
//! bounded), so a slash takes its fraction from every part exactly. An unbonding is filed
//! under the height it matures at; each block releases the entries filed under its own height,
//! at most [`MAX_RELEASES_PER_HEIGHT`] of them (a full height files new entries under the next
//! one), so the work per block is bounded and nothing scans all bonds.

pub mod action;
pub mod cli;
mod keys;
mod module;
mod params;
pub mod routes;
mod slash;
mod stake;
mod validator;

pub use action::{Role, StakingAction, Subject, MAX_EVIDENCE_BYTES};
pub use module::Staking;
pub use params::{GenesisValidator, StakingGenesis, StakingParams, BPS};
pub use slash::{
    evidence_id, evidence_used, insurance_pool_address, prover_and_pool, slash, EvidenceKind,
    Payee, Slash,
};
pub use stake::{
    account, bond, release_due, stake, unbond, Account, Bond, Claim, Stake, Unbonding,
    MAX_BONDERS_PER_SUBJECT, MAX_BONDS_PER_ACCOUNT, MAX_RELEASES_PER_HEIGHT,
    MAX_UNBONDINGS_PER_ACCOUNT, MAX_UNBONDINGS_PER_SUBJECT,
};
pub use validator::{
    check_equivocation, consensus_namespace, validator_set, Equivocation, Offence, MAX_VALIDATORS,
};

use machina_primitives::{Address, Amount};
use machina_state::StateRead;
use thiserror::Error;

/// Why the staking module refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StakingError {
    /// Zero micro-units.
    #[error("a bond or unbonding needs at least 1 micro")]
    ZeroStake,
    /// Less than the role's minimum would remain bonded.
    #[error("a {} bond is at least {min} micro; this leaves {would}: bond more, or unbond all of it", .role.name())]
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
    /// Too many pending unbondings of one account.
    #[error(
        "{0} has {MAX_UNBONDINGS_PER_ACCOUNT} unbondings pending; wait for one to be released"
    )]
    TooManyUnbondings(Address),
    /// Too many pending unbondings of one subject.
    #[error("subject {0} has {MAX_UNBONDINGS_PER_SUBJECT} unbondings pending; wait for one to be released")]
    SubjectUnbondingFull(String),
    /// Too many bonders of one subject.
    #[error("subject {0} has {MAX_BONDERS_PER_SUBJECT} bonders; back another subject, or add to an existing part")]
    TooManyBonders(String),
    /// Too many subjects backed by one account.
    #[error("{0} backs {MAX_BONDS_PER_ACCOUNT} subjects; unbond one fully first")]
    TooManyBonds(Address),
    /// The subject does not exist or is not the bonder's to back.
    #[error("invalid subject: {0}")]
    InvalidSubject(String),
    /// The evidence does not prove an offence.
    #[error("invalid evidence: {0}")]
    InvalidEvidence(String),
    /// The offence was already punished.
    #[error("this offence was already slashed at height {0}; evidence is used once")]
    EvidenceUsed(u64),
    /// The genesis section cannot start a chain.
    #[error("invalid staking genesis: {0}")]
    InvalidGenesis(String),
    /// The subject is jailed for an earlier slash.
    #[error("subject {subject} is jailed until height {until} for an earlier slash; evidence against it counts again after that")]
    AlreadyJailed {
        /// The subject's id.
        subject: String,
        /// The end of its jail term.
        until: u64,
    },
    /// Nothing to slash.
    #[error("subject {0} has no stake to slash")]
    NothingStaked(String),
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
            StakingError::SubjectUnbondingFull(_) => "subject_unbonding_full",
            StakingError::TooManyBonders(_) => "too_many_bonders",
            StakingError::TooManyBonds(_) => "too_many_bonds",
            StakingError::InvalidSubject(_) => "invalid_subject",
            StakingError::InvalidEvidence(_) => "invalid_equivocation_evidence",
            StakingError::EvidenceUsed(_) => "evidence_used",
            StakingError::NothingStaked(_) => "nothing_staked",
            StakingError::AlreadyJailed { .. } => "already_jailed",
            StakingError::InvalidGenesis(_) => "invalid_staking_genesis",
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

/// Total stake bonded for `subject` (unbonding stake not included).
pub fn total(state: &impl StateRead, subject: &Subject) -> Amount {
    stake(state, subject).bonded()
}

/// `bonder`'s part of the stake bonded for `subject`.
pub fn bonded(state: &impl StateRead, subject: &Subject, bonder: &Address) -> Amount {
    stake(state, subject).part(bonder)
}

/// How many unbondings `owner` has pending.
pub fn pending_unbondings(state: &impl StateRead, owner: &Address) -> usize {
    account(state, owner).unbondings.len()
}

/// Whether `subject` is jailed at `height` (slashed recently: it takes no new work).
pub fn is_jailed(state: &impl StateRead, subject: &Subject, height: u64) -> bool {
    stake(state, subject).jailed_until > height
}

/// The stake a reporter has for a feed, if it may report: none while it is jailed.
pub fn reporter_stake(
    state: &impl StateRead,
    feed: &str,
    reporter: &Address,
    height: u64,
) -> Amount {
    let subject = Subject::Reporter {
        feed: feed.to_owned(),
        reporter: *reporter,
    };
    let s = stake(state, &subject);
    if s.jailed_until > height {
        Amount::ZERO
    } else {
        s.bonded()
    }
}
