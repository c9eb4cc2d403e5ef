//! The staking module's actions and what stake is bonded for.

use machina_primitives::limits::MAX_LABEL_BYTES;
use machina_primitives::{Address, Amount, Decode, Encode, PublicKey};
use serde::{Deserialize, Serialize};

/// Largest validator-equivocation evidence: two simplex ed25519 votes (each a proposal of
/// round, parent and digest plus a signer index and a 64-byte signature) with room to spare.
pub const MAX_EVIDENCE_BYTES: usize = 1_024;

/// What a bond backs: the role follows from the subject.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Encode, Decode)]
#[serde(tag = "role", rename_all = "snake_case", deny_unknown_fields)]
#[codec(what = "stake subject")]
pub enum Subject {
    /// A compute machine: its SLA breaches are slashed from this stake.
    #[codec(tag = 0)]
    Provider {
        /// The machine (of kind `compute`).
        machine_id: u64,
    },
    /// One reporter of one data feed: its equivocation is slashed from this stake, and the
    /// feed counts its reports only while this stake covers the feed's bond.
    #[codec(tag = 1)]
    Reporter {
        /// The feed's name.
        #[codec(max = MAX_LABEL_BYTES, what = "feed name")]
        feed: String,
        /// The reporter's account.
        reporter: Address,
    },
    /// A validator key: double signing is slashed from this stake.
    #[codec(tag = 2)]
    Validator {
        /// The validator's consensus key.
        key: PublicKey,
    },
}

/// The roles, for parameters per role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Compute providers.
    Provider,
    /// Feed reporters.
    Reporter,
    /// Validators.
    Validator,
}

impl Role {
    /// Every role, in parameter order.
    pub const ALL: [Role; 3] = [Role::Provider, Role::Reporter, Role::Validator];

    /// The role's name as the CLI and the API spell it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Provider => "provider",
            Role::Reporter => "reporter",
            Role::Validator => "validator",
        }
    }

    /// The role called `name`.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl Subject {
    /// The role this subject's bonds play.
    pub fn role(&self) -> Role {
        match self {
            Subject::Provider { .. } => Role::Provider,
            Subject::Reporter { .. } => Role::Reporter,
            Subject::Validator { .. } => Role::Validator,
        }
    }

    /// The subject's id as the CLI and the API spell it: a machine id, `FEED:REPORTER`, or a
    /// validator key in hex.
    pub fn id(&self) -> String {
        match self {
            Subject::Provider { machine_id } => machine_id.to_string(),
            Subject::Reporter { feed, reporter } => format!("{feed}:{reporter}"),
            Subject::Validator { key } => format!("{key}"),
        }
    }
}

/// The staking module's actions. Tags are protocol: they never change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[codec(what = "staking action")]
pub enum StakingAction {
    /// Lock `amount` of the sender's balance as stake for `subject`, at once.
    #[codec(tag = 50)]
    Bond {
        /// What the stake backs.
        subject: Subject,
        /// Micro-units.
        amount: Amount,
    },
    /// Start returning `amount` of the sender's stake for `subject`: it stays slashable and
    /// earns nothing until the role's delay has passed, then returns by itself.
    #[codec(tag = 51)]
    Unbond {
        /// What the stake backs.
        subject: Subject,
        /// Micro-units.
        amount: Amount,
    },
    /// Evidence that a validator signed two conflicting consensus votes for one view, as
    /// Commonware simplex reports it (a `ConflictingNotarize`, `ConflictingFinalize` or
    /// `NullifyFinalize`, in its own encoding behind a one-byte kind). The chain verifies
    /// both signatures and slashes the signer's stake; the sender is paid as the prover.
    #[codec(tag = 52)]
    ProveValidatorEquivocation {
        /// The encoded evidence.
        #[codec(max = MAX_EVIDENCE_BYTES, what = "equivocation evidence")]
        #[serde(with = "machina_primitives::hex_serde::bytes")]
        evidence: Vec<u8>,
    },
}
