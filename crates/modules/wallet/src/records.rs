//! The wallet's stored records.

use crate::action::SpendPolicy;
use machina_primitives::limits::{MAX_LABEL_BYTES, MAX_SESSION_ACTIONS};
use machina_primitives::{Amount, Decode, Encode};
use serde::{Deserialize, Serialize};

/// Buckets of the rolling window: the window is tracked in at most this many buckets (plus the
/// current one), so its state is bounded whatever the window's length.
pub const WINDOW_BUCKETS: u64 = 32;

/// A machine wallet's policy and whether it is frozen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct WalletRecord {
    /// The policy its owner set.
    pub policy: SpendPolicy,
    /// Frozen: nothing leaves.
    pub frozen: bool,
}

/// What a machine wallet has spent, for its caps and cooldown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct SpendState {
    /// `(bucket, micro-units)` of recent spends, oldest first.
    #[codec(max = WINDOW_BUCKETS + 1, what = "spend buckets")]
    pub buckets: Vec<(u64, Amount)>,
    /// No spend is allowed at heights up to and including this one.
    pub cooldown_through: Option<u64>,
    /// The transaction whose spends `tx_spent` counts, as `(height, index in block)`.
    pub tx_marker: (u64, u64),
    /// Spent so far by that transaction.
    pub tx_spent: Amount,
}

/// Rights an owner granted a session key on a machine's account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Session {
    /// The owner who granted it: the key stops working when the machine changes hands.
    pub granted_by: machina_primitives::Address,
    /// Names of the actions it may use.
    #[codec(max = MAX_SESSION_ACTIONS, each = MAX_LABEL_BYTES, what = "session actions")]
    pub actions: Vec<String>,
    /// Most it may move out in total, fees included.
    pub spend_cap: Amount,
    /// What it moved out so far.
    pub spent: Amount,
    /// Last height it is valid at.
    pub expiry_height: u64,
}

/// Fees a sponsor agreed to pay for a grantee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Allowance {
    /// Micro-units of fees left.
    pub remaining: Amount,
    /// Last height it is valid at.
    pub expiry_height: u64,
}
