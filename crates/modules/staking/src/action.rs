//! The staking module's actions and what stake is bonded for.

use machina_primitives::limits::MAX_LABEL_BYTES;
use machina_primitives::{Amount, Decode, Encode, PublicKey};
use serde::{Deserialize, Serialize};

/// What a bond backs: the role follows from the subject.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Encode, Decode)]
#[serde(tag = "role", rename_all = "snake_case", deny_unknown_fields)]
#[codec(what = "stake subject")]
pub enum Subject {
    /// A compute machine its owner sells: its SLAs are slashed from this stake.
    #[codec(tag = 0)]
    Provider {
        /// The machine (of kind `compute`, owned by the bonder).
        machine_id: u64,
    },
    /// A data feed's reporter: equivocation is slashed from this stake.
    #[codec(tag = 1)]
    Reporter {
        /// The feed's name.
        #[codec(max = MAX_LABEL_BYTES, what = "feed name")]
        feed: String,
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

impl Subject {
    /// The role this subject's bonds play.
    pub fn role(&self) -> Role {
        match self {
            Subject::Provider { .. } => Role::Provider,
            Subject::Reporter { .. } => Role::Reporter,
            Subject::Validator { .. } => Role::Validator,
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
}
