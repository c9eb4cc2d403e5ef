//! The wallet module's actions and the policy they set.

use machina_primitives::limits::{
    MAX_ALLOWLIST, MAX_LABEL_BYTES, MAX_MULTISIG_MEMBERS, MAX_SESSION_ACTIONS,
};
use machina_primitives::{Address, Amount, Decode, Encode, PublicKey};
use serde::{Deserialize, Serialize};

/// A machine wallet's spending policy. Every value leaving the machine's account passes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
pub struct SpendPolicy {
    /// Most micro-units one transaction may move out (fees not included).
    #[serde(default)]
    pub max_per_tx: Option<Amount>,
    /// Most micro-units, fees included, within any `window_blocks` consecutive blocks.
    #[serde(default)]
    pub max_per_window: Option<Amount>,
    /// Length of the rolling window in blocks (required with `max_per_window`).
    #[serde(default)]
    pub window_blocks: u64,
    /// If not empty, the only counterparties that may receive value.
    #[serde(default)]
    #[codec(max = MAX_ALLOWLIST)]
    pub allowlist: Vec<Address>,
    /// Blocks during which nothing may be spent after a spend above `cooldown_above`.
    #[serde(default)]
    pub cooldown_blocks: u64,
    /// A spend above this starts a cooldown.
    #[serde(default)]
    pub cooldown_above: Option<Amount>,
}

/// The wallet module's actions. Tags are protocol: they never change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[codec(what = "wallet action")]
pub enum WalletAction {
    /// Set a machine's spending policy (owner only).
    #[codec(tag = 20)]
    SetSpendPolicy {
        /// The machine.
        machine_id: u64,
        /// The policy.
        policy: SpendPolicy,
    },
    /// Freeze or unfreeze a machine's wallet (owner only).
    #[codec(tag = 21)]
    SetWalletFrozen {
        /// The machine.
        machine_id: u64,
        /// Frozen or not.
        frozen: bool,
    },
    /// Move a machine's whole balance to its owner (owner only).
    #[codec(tag = 22)]
    SweepMachine {
        /// The machine.
        machine_id: u64,
    },
    /// Let another key act for a machine within limits (owner only).
    #[codec(tag = 23)]
    GrantSession {
        /// The machine.
        machine_id: u64,
        /// The session key.
        key: PublicKey,
        /// Names of the actions it may use, e.g. `transfer`.
        #[codec(max = MAX_SESSION_ACTIONS, each = MAX_LABEL_BYTES, what = "session actions")]
        actions: Vec<String>,
        /// Most micro-units, fees included, it may move out in total.
        spend_cap: Amount,
        /// Last height it is valid at.
        expiry_height: u64,
    },
    /// Withdraw a session key (owner only).
    #[codec(tag = 24)]
    RevokeSession {
        /// The machine.
        machine_id: u64,
        /// The session key.
        key: PublicKey,
    },
    /// Create an M-of-N multisig account.
    #[codec(tag = 25)]
    CreateMultisig {
        /// Member keys.
        #[codec(max = MAX_MULTISIG_MEMBERS, what = "multisig members")]
        members: Vec<PublicKey>,
        /// Signatures needed.
        threshold: u8,
    },
    /// Change the sender multisig's members (needs M signatures like any of its transactions).
    #[codec(tag = 26)]
    UpdateMultisig {
        /// New member keys.
        #[codec(max = MAX_MULTISIG_MEMBERS, what = "multisig members")]
        members: Vec<PublicKey>,
        /// New threshold.
        threshold: u8,
    },
    /// Let `grantee` have its fees paid by the sender, within a cap, until a height.
    #[codec(tag = 27)]
    GrantFeeAllowance {
        /// The account whose fees are paid.
        grantee: Address,
        /// Most micro-units of fees in total.
        cap: Amount,
        /// Last height it is valid at.
        expiry_height: u64,
    },
    /// Withdraw a fee allowance.
    #[codec(tag = 28)]
    RevokeFeeAllowance {
        /// The grantee.
        grantee: Address,
    },
}
