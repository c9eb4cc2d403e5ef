//! Machina energy module: interval double auctions for neighbourhood energy, cleared and
//! settled on chain against metered delivery.
//!
//! Layer 2. A zone runs a market per delivery interval. Machines of the zone bid and ask with
//! escrow; at gate closure the interval is cleared in end-of-block work by [`clearing::clear`],
//! the same code `machina energy clear` runs offline; after the interval, once the machines'
//! readings cover it or its deadline passed, each order settles against the energy its meter
//! measured. Nobody has to call anything for money to move.

pub mod action;
pub mod clearing;
pub mod cli;
mod keys;
pub mod market;
mod module;
pub mod records;
pub mod routes;
pub mod settle;

pub use action::{EnergyAction, MarketRule, Side, ZoneConfig};
pub use module::Energy;

pub use clearing::{clear, Clearing, Order, PricingRule};
pub use market::{cancel_order, create_zone, place_order, NewOrder};
pub use records::{Interval, OrderRec, Status, Zone};

use machina_bank::BankError;
use machina_identity::{IdentityError, Machine};
use machina_wallet::WalletError;
use thiserror::Error;

/// Why the energy module refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EnergyError {
    /// No such zone.
    #[error("no zone named {0}")]
    UnknownZone(String),
    /// A zone with this name exists.
    #[error("a zone named {0} exists already")]
    DuplicateZone(String),
    /// The zone's rules are not valid.
    #[error("invalid zone: {0}")]
    InvalidZone(String),
    /// The zone limit is reached.
    #[error("the chain has the most zones it allows")]
    TooManyZones,
    /// The machine belongs to no zone.
    #[error("machine {0} belongs to no zone")]
    NoZone(u64),
    /// Sent by someone other than the machine or its owner.
    #[error("only machine {0} or its owner may do this")]
    NotMachineOrOwner(u64),
    /// A bid above the retail price.
    #[error("bid price {price} is above the retail price {retail}")]
    BidAboveRetail {
        /// The bid's price.
        price: u64,
        /// The zone's retail price.
        retail: u64,
    },
    /// An ask below the feed-in tariff.
    #[error("ask price {price} is below the feed-in tariff {feed_in}")]
    AskBelowFeedIn {
        /// The ask's price.
        price: u64,
        /// The zone's feed-in tariff.
        feed_in: u64,
    },
    /// The interval is not a start of an interval, or too far ahead.
    #[error("{0} is not the start of an interval within the next week")]
    BadInterval(u64),
    /// The interval's gate has closed.
    #[error("the gate for the interval starting at {0} ms has closed")]
    GateClosed(u64),
    /// A zero quantity.
    #[error("an order needs a quantity of at least 1 Wh")]
    ZeroQuantity,
    /// The interval is full.
    #[error("the interval has the most orders it allows ({0})")]
    TooManyOrders(u64),
    /// The machine has the most orders it may have in the interval.
    #[error("the machine has the most orders it may have in this interval ({0})")]
    TooManyMachineOrders(u64),
    /// No such order.
    #[error("no order {0} in this zone")]
    UnknownOrder(u64),
    /// The order is not open.
    #[error("order {0} is not open")]
    OrderNotOpen(u64),
    /// From the identity module.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// From the wallet.
    #[error(transparent)]
    Wallet(#[from] WalletError),
    /// From the bank.
    #[error(transparent)]
    Bank(#[from] BankError),
}

impl EnergyError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            EnergyError::UnknownZone(_) => "unknown_zone",
            EnergyError::DuplicateZone(_) => "duplicate_zone",
            EnergyError::InvalidZone(_) => "invalid_zone",
            EnergyError::TooManyZones => "too_many_zones",
            EnergyError::NoZone(_) => "no_zone",
            EnergyError::NotMachineOrOwner(_) => "not_machine_or_owner",
            EnergyError::BidAboveRetail { .. } => "bid_above_retail",
            EnergyError::AskBelowFeedIn { .. } => "ask_below_feed_in",
            EnergyError::BadInterval(_) => "bad_interval",
            EnergyError::GateClosed(_) => "gate_closed",
            EnergyError::ZeroQuantity => "zero_quantity",
            EnergyError::TooManyOrders(_) => "too_many_orders",
            EnergyError::TooManyMachineOrders(_) => "too_many_machine_orders",
            EnergyError::UnknownOrder(_) => "unknown_order",
            EnergyError::OrderNotOpen(_) => "order_not_open",
            EnergyError::Identity(e) => e.code(),
            EnergyError::Wallet(e) => e.code(),
            EnergyError::Bank(e) => e.code(),
        }
    }
}

/// Result alias of the energy module.
pub type Result<T> = std::result::Result<T, EnergyError>;
