//! Machina machine shares: investors own fractions of a machine and are paid its revenue pro
//! rata, every micro-unit traceable to the settlement or lease that earned it.
//!
//! Layer 2, below the markets: the energy settlement and the compute lease payments pay a
//! machine's revenue through [`credit`], the only revenue path. Without shares it pays the
//! machine's account; with shares it takes the operator fee for the owner and raises a
//! revenue-per-share index by the rest, which costs O(1) whatever the number of holders. A
//! holder's position is settled against the index whenever its balance changes or it claims
//! (`docs/shares.md`).

pub mod action;
pub mod cli;
pub mod holders;
mod module;
pub mod records;
mod revenue;
pub mod routes;
mod transfer;

pub use action::{RulesChange, SharesAction};
pub use module::Shares;
pub use records::{
    allowlisted, class, first_at_or_after, holdings, position, revenue, revenue_book, Offering,
    Position, RevenueRecord, Rules, ShareClass, Source, CLASS,
};
pub use revenue::{claim, claimable, claimable_of, credit};
pub use transfer::{buy, force_transfer, issue, offer, set_rules, transfer};

use machina_primitives::{Address, Amount};
use thiserror::Error;

/// The index's precision: revenue per share is kept in micro × 10^18.
pub const PRECISION: u128 = 1_000_000_000_000_000_000;
/// Most shares of one class.
pub const MAX_SUPPLY: u64 = 1_000_000_000_000_000;
/// Most classes one account holds a position in (a fleet owner's machines count too): the
/// bound on what a holdings listing and a claim of all holdings read.
pub const MAX_HOLDINGS: usize = 1024;
/// Most positions one claim of all holdings pays; the rest wait for the next claim.
pub const MAX_CLAIMS_PER_TX: usize = 64;
/// Most balance changes a position remembers since its last claim, for the audit trail.
pub const MAX_HISTORY: usize = 32;
/// Most allowlist additions or removals in one `set_share_rules`.
pub const MAX_RULE_ADDRESSES: usize = 256;
/// Basis points in one.
pub const BPS: u16 = 10_000;

/// Why the shares module refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SharesError {
    /// The machine has no shares.
    #[error("machine {0} has no shares; its owner issues them with `tx shares issue`")]
    NotIssued(u64),
    /// Shares were issued already.
    #[error("machine {0} already has shares; a class is issued once")]
    AlreadyIssued(u64),
    /// The supply is out of range.
    #[error("a share class has 1 to {MAX_SUPPLY} shares, not {0}")]
    InvalidSupply(u64),
    /// The fee is above 100 %.
    #[error("the operator fee is 0 to {BPS} basis points, not {0}")]
    InvalidFee(u16),
    /// The fee would rise above what the class was issued with.
    #[error(
        "the operator fee may only be lowered: the class was issued with {max} bps, not {asked}"
    )]
    FeeRaised {
        /// The fee at issue.
        max: u16,
        /// The fee asked for.
        asked: u16,
    },
    /// Zero shares.
    #[error("move or buy at least 1 share")]
    ZeroShares,
    /// Not enough free shares.
    #[error("{holder} has {free} shares free to move (others are on offer), not {need}")]
    InsufficientShares {
        /// The holder.
        holder: Address,
        /// Its balance less what it offers.
        free: u64,
        /// What it asked to move.
        need: u64,
    },
    /// Sender and receiver are one account.
    #[error("{0} cannot send shares to itself")]
    SelfTransfer(Address),
    /// The allowlist refuses the receiver.
    #[error("{0} is not on this class's allowlist; the machine's owner adds it with `tx shares set-rules --allow`")]
    NotAllowlisted(Address),
    /// The lock-up has not ended.
    #[error(
        "shares of machine {machine_id} are locked up until height {until}; try again after it"
    )]
    LockedUp {
        /// The machine.
        machine_id: u64,
        /// The lock-up's end.
        until: u64,
    },
    /// One holder too many.
    #[error(
        "machine {machine_id}'s shares may have at most {max} holders; send to an existing holder"
    )]
    TooManyHolders {
        /// The machine.
        machine_id: u64,
        /// The limit.
        max: u32,
    },
    /// The receiver holds too many classes.
    #[error("{0} holds shares of {MAX_HOLDINGS} machines; it must sell one position first")]
    TooManyHoldings(Address),
    /// Forced transfers are off.
    #[error(
        "machine {0}'s shares were issued without --forced-transfer; no one may force a transfer"
    )]
    ForcedTransferDisabled(u64),
    /// No offering is open.
    #[error("machine {0} has no shares on offer")]
    NoOffering(u64),
    /// The offering has fewer shares left.
    #[error("the offering has {left} shares left, not {asked}")]
    OfferingShort {
        /// Left.
        left: u64,
        /// Asked.
        asked: u64,
    },
    /// The price is above the buyer's limit.
    #[error("the offering's price is {price} micro per share, above your limit of {limit}")]
    PriceChanged {
        /// The price.
        price: Amount,
        /// The buyer's limit.
        limit: Amount,
    },
    /// An offering's price must be positive.
    #[error("an offering's price per share is at least 1 micro")]
    ZeroPrice,
    /// Nothing accrued.
    #[error("{0} has nothing to claim yet (less than 1 micro accrued)")]
    NothingToClaim(Address),
    /// The payment was refused (balance, wallet policy).
    #[error(transparent)]
    Wallet(#[from] machina_wallet::WalletError),
    /// From the identity module.
    #[error(transparent)]
    Identity(#[from] machina_identity::IdentityError),
}

impl SharesError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            SharesError::NotIssued(_) => "no_shares",
            SharesError::AlreadyIssued(_) => "shares_already_issued",
            SharesError::InvalidSupply(_) => "invalid_supply",
            SharesError::InvalidFee(_) => "invalid_operator_fee",
            SharesError::FeeRaised { .. } => "operator_fee_raised",
            SharesError::ZeroShares => "zero_shares",
            SharesError::InsufficientShares { .. } => "insufficient_shares",
            SharesError::SelfTransfer(_) => "shares_to_self",
            SharesError::NotAllowlisted(_) => "holder_not_allowlisted",
            SharesError::LockedUp { .. } => "locked_up",
            SharesError::TooManyHolders { .. } => "too_many_holders",
            SharesError::TooManyHoldings(_) => "too_many_holdings",
            SharesError::ForcedTransferDisabled(_) => "forced_transfer_disabled",
            SharesError::NoOffering(_) => "no_offering",
            SharesError::OfferingShort { .. } => "offering_short",
            SharesError::PriceChanged { .. } => "price_changed",
            SharesError::ZeroPrice => "zero_price",
            SharesError::NothingToClaim(_) => "nothing_to_claim",
            SharesError::Wallet(e) => e.code(),
            SharesError::Identity(e) => e.code(),
        }
    }
}

/// Result alias of the shares module.
pub type Result<T> = std::result::Result<T, SharesError>;

/// The account that holds revenue credited to holders and not yet claimed, of every machine.
/// No wallet policy governs it: what is in it is the holders' already.
pub fn pool_address() -> Address {
    Address::derive(&[b"machina/shares-pool/v1"])
}
