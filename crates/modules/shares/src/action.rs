//! The shares module's actions. Tags are protocol: they never change.

use crate::MAX_RULE_ADDRESSES;
use machina_primitives::{Address, Amount, Decode, Encode};
use serde::{Deserialize, Serialize};

/// The shares module's actions. Each names a machine; the share class is class 0 of it (the
/// class is in every key, so later classes are new actions, not new encodings of these).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[codec(what = "shares action")]
pub enum SharesAction {
    /// The machine's owner issues `supply` shares of it, once; it holds them all at first.
    #[codec(tag = 70)]
    IssueShares {
        /// The machine.
        machine_id: u64,
        /// How many shares, fixed for ever.
        supply: u64,
        /// What the owner takes of each revenue event before the holders, in basis points; it
        /// can be lowered later, never raised.
        #[serde(default)]
        operator_fee_bps: u16,
        /// Whether the owner may force a transfer (lost keys, court orders). Only a class
        /// issued with this power has it.
        #[serde(default)]
        forced_transfer: bool,
    },
    /// Moves `amount` of the sender's shares to `to`, under the class's rules.
    #[codec(tag = 71)]
    TransferShares {
        /// The machine.
        machine_id: u64,
        /// The receiver.
        to: Address,
        /// Shares.
        amount: u64,
    },
    /// The owner moves `amount` shares from `from` to `to`, whatever the rules; only in a class
    /// issued with `forced_transfer`. Everyone sees the `forced_transfer` event.
    #[codec(tag = 72)]
    ForceTransfer {
        /// The machine.
        machine_id: u64,
        /// Whose shares.
        from: Address,
        /// The receiver.
        to: Address,
        /// Shares.
        amount: u64,
    },
    /// The owner offers `amount` of its own shares at a fixed price (a primary offering); it
    /// replaces any earlier offering, and `amount` 0 ends it.
    #[codec(tag = 73)]
    OfferShares {
        /// The machine.
        machine_id: u64,
        /// Shares on offer.
        amount: u64,
        /// Micro-units per share.
        price_per_share: Amount,
    },
    /// Buys `amount` shares from the machine's offering: the payment and the shares change
    /// hands in this one action.
    #[codec(tag = 74)]
    BuyShares {
        /// The machine.
        machine_id: u64,
        /// Shares.
        amount: u64,
        /// The most the buyer pays per share (refused with `price_changed` above it).
        max_price_per_share: Amount,
    },
    /// The owner changes the class's transfer rules, its allowlist or (lower only) its fee.
    #[codec(tag = 75)]
    SetShareRules {
        /// The machine.
        machine_id: u64,
        /// What changes.
        change: RulesChange,
    },
    /// Claims what the sender has accrued: of one machine, or of all its holdings.
    #[codec(tag = 76)]
    ClaimRevenue {
        /// One machine, or all of the sender's holdings when absent.
        #[serde(default)]
        machine_id: Option<u64>,
    },
}

/// A change of a class's rules; what is absent stays.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
pub struct RulesChange {
    /// Turn the allowlist on (only listed accounts may receive shares) or off.
    #[serde(default)]
    pub allowlist: Option<bool>,
    /// Holders other than the owner may not transfer before this height (0: no lock-up).
    #[serde(default)]
    pub lockup_until: Option<u64>,
    /// The most holders the class may have (0: no limit).
    #[serde(default)]
    pub max_holders: Option<u32>,
    /// A lower operator fee.
    #[serde(default)]
    pub operator_fee_bps: Option<u16>,
    /// Accounts to add to the allowlist.
    #[serde(default)]
    #[codec(max = MAX_RULE_ADDRESSES, what = "allowlist additions")]
    pub allow: Vec<Address>,
    /// Accounts to remove from the allowlist.
    #[serde(default)]
    #[codec(max = MAX_RULE_ADDRESSES, what = "allowlist removals")]
    pub disallow: Vec<Address>,
}
