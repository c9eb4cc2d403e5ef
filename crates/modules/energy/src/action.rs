//! The energy market's actions and the zone rules they set.

use machina_primitives::limits::MAX_LABEL_BYTES;
use machina_primitives::{Amount, Decode, Encode};
use serde::{Deserialize, Serialize};

/// How an energy zone prices its trades.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case", tag = "rule")]
#[codec(what = "market rule")]
pub enum MarketRule {
    /// One price for all, `k_ppm` parts per million of the way from `p_low` to `p_high`.
    #[codec(tag = 0)]
    PayAsClear {
        /// 0 to 1,000,000.
        k_ppm: u32,
    },
    /// Buyers pay their bids; asks are paid the bids they met.
    #[codec(tag = 1)]
    PayAsBid,
}

/// The rules of an energy zone (a neighbourhood behind one transformer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// The zone's name; machines name it as their zone.
    #[codec(max = MAX_LABEL_BYTES, what = "zone name")]
    pub name: String,
    /// Length of a delivery interval, ms of chain time.
    pub interval_ms: u64,
    /// Orders for an interval close this long before it starts.
    pub gate_closure_ms: u64,
    /// The grid's retail price, micro-units per kWh: no bid above it.
    pub retail_price: u64,
    /// The grid's feed-in tariff, micro-units per kWh: no ask below it.
    pub feed_in_price: u64,
    /// Market fee on sellers' revenue, basis points.
    pub market_fee_bps: u32,
    /// Pricing rule.
    pub rule: MarketRule,
    /// Transformer import limit, W.
    pub import_limit_w: u64,
    /// Transformer export limit, W.
    pub export_limit_w: u64,
    /// Settlement waits at most this long after an interval ends for its readings.
    pub settlement_deadline_ms: u64,
}

/// Which side of the market an order is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
#[codec(what = "side")]
pub enum Side {
    /// Buy up to the quantity at most at the price.
    #[codec(tag = 0)]
    Bid,
    /// Sell up to the quantity at least at the price.
    #[codec(tag = 1)]
    Ask,
}

/// The energy market's actions. Tags are protocol: they never change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[codec(what = "energy action")]
pub enum EnergyAction {
    /// Create a zone; the sender funds the zone's grid account with `grid_float`, from which
    /// feed-in credits for unused energy are paid.
    #[codec(tag = 40)]
    CreateZone {
        /// The rules.
        config: Box<ZoneConfig>,
        /// Micro-units moved into the zone's grid account.
        grid_float: Amount,
    },
    /// A machine's bid or ask for a future interval of its zone (sent by the machine or its
    /// owner; escrow comes from the machine's account under its wallet policy).
    #[codec(tag = 41)]
    PlaceOrder {
        /// The machine.
        machine_id: u64,
        /// Bid or ask.
        side: Side,
        /// Start of the delivery interval, ms (a multiple of the zone's interval).
        interval_start_ms: u64,
        /// Limit price, micro-units per kWh.
        price: u64,
        /// Quantity, Wh.
        qty_wh: u64,
    },
    /// Cancel an order before its gate closes; its escrow returns at once.
    #[codec(tag = 42)]
    CancelOrder {
        /// The zone.
        #[codec(max = MAX_LABEL_BYTES)]
        zone: String,
        /// The order.
        order_id: u64,
    },
}
