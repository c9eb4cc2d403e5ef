//! The energy module's stored records.

use crate::action::{Side, ZoneConfig};
use machina_primitives::{Address, Amount, Decode, Encode};
use serde::{Deserialize, Serialize};

/// A zone: its rules and where its end-of-block work stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Zone {
    /// The rules, fixed at creation.
    pub config: ZoneConfig,
    /// Id of the next order.
    pub next_order_id: u64,
    /// Start of the next interval to clear.
    pub clear_cursor: u64,
    /// Start of the next interval to settle.
    pub settle_cursor: u64,
    /// Next slot to settle within that interval.
    pub settle_pos: u64,
}

/// One delivery interval of a zone: its book size, clearing result and settlement totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Interval {
    /// Orders placed (cancelled ones included).
    pub orders: u64,
    /// Cleared at gate closure.
    pub cleared: bool,
    /// Uniform price (pay-as-clear), micro-units per kWh.
    pub price: Option<u64>,
    /// Traded volume, Wh.
    pub volume_wh: u64,
    /// Residual import beyond the transformer's limit, curtailed, Wh.
    pub curtailed_import_wh: u64,
    /// Residual export beyond the transformer's limit, curtailed, Wh.
    pub curtailed_export_wh: u64,
    /// Orders settled so far.
    pub settled: u64,
    /// All orders settled.
    pub done: bool,
    /// Paid by buyers for their matched energy.
    pub buyers_paid: Amount,
    /// Paid to sellers for their matched energy, before fees.
    pub sellers_gross: Amount,
    /// Market fees.
    pub fees: Amount,
    /// Sellers' shortfalls bought from the grid at retail.
    pub shortfall_charges: Amount,
    /// Buyers' unused energy credited by the grid at feed-in.
    pub unused_credits: Amount,
    /// Rounding left over once every order settled, moved to the fee account.
    pub rounding: Amount,
}

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
#[codec(what = "order status")]
pub enum Status {
    /// In the book.
    #[codec(tag = 0)]
    Open,
    /// Cancelled before gate closure; escrow returned.
    #[codec(tag = 1)]
    Cancelled,
    /// Cleared with a fill; waiting for settlement.
    #[codec(tag = 2)]
    Cleared,
    /// Settled (or cleared without a fill); nothing more will happen.
    #[codec(tag = 3)]
    Settled,
}

/// An order and, as it progresses, its fill and settlement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct OrderRec {
    /// Id within the zone.
    pub order_id: u64,
    /// The machine it is for.
    pub machine_id: u64,
    /// The machine's account, which paid the escrow and receives what is due.
    pub account: Address,
    /// Bid or ask.
    pub side: Side,
    /// Delivery interval start, ms.
    pub interval_start_ms: u64,
    /// Limit price, micro-units per kWh.
    pub price: u64,
    /// Quantity, Wh.
    pub qty_wh: u64,
    /// Escrow (bid) or collateral (ask) held.
    pub escrow: Amount,
    /// Where it stands.
    pub status: Status,
    /// Filled at clearing, Wh.
    pub fill_wh: u64,
    /// `price * Wh` of the fill (micro-units x 1000).
    pub value: u128,
    /// Residual the transformer could not carry: the machine may not draw or feed it, Wh.
    pub curtailed_wh: u64,
    /// Metered energy counted against the fill at settlement (received or delivered), Wh.
    pub metered_wh: u64,
    /// What it paid (bid) or was paid before fees (ask) for matched energy.
    pub amount: Amount,
    /// Fee (ask) charged.
    pub fee: Amount,
    /// Imbalance: shortfall charge (ask) or feed-in credit for unused energy (bid).
    pub imbalance: Amount,
}
