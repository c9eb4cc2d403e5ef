//! The energy module's stored records.

use machina_primitives::action::{Side, ZoneConfig};
use machina_primitives::codec::{Decode, Encode, Reader, Result};
use machina_primitives::{Address, Amount, CodecError};
use serde::{Deserialize, Serialize};

/// A zone: its rules and where its end-of-block work stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

impl Encode for Zone {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.config.encode_to(out);
        self.next_order_id.encode_to(out);
        self.clear_cursor.encode_to(out);
        self.settle_cursor.encode_to(out);
        self.settle_pos.encode_to(out);
    }
}

impl Decode for Zone {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Zone {
            config: Decode::decode_from(r)?,
            next_order_id: r.u64()?,
            clear_cursor: r.u64()?,
            settle_cursor: r.u64()?,
            settle_pos: r.u64()?,
        })
    }
}

/// One delivery interval of a zone: its book size, clearing result and settlement totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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

impl Encode for Interval {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.orders.encode_to(out);
        self.cleared.encode_to(out);
        self.price.encode_to(out);
        self.volume_wh.encode_to(out);
        self.curtailed_import_wh.encode_to(out);
        self.curtailed_export_wh.encode_to(out);
        self.settled.encode_to(out);
        self.done.encode_to(out);
        for a in [
            self.buyers_paid,
            self.sellers_gross,
            self.fees,
            self.shortfall_charges,
            self.unused_credits,
            self.rounding,
        ] {
            a.encode_to(out);
        }
    }
}

impl Decode for Interval {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Interval {
            orders: r.u64()?,
            cleared: r.bool()?,
            price: Decode::decode_from(r)?,
            volume_wh: r.u64()?,
            curtailed_import_wh: r.u64()?,
            curtailed_export_wh: r.u64()?,
            settled: r.u64()?,
            done: r.bool()?,
            buyers_paid: Decode::decode_from(r)?,
            sellers_gross: Decode::decode_from(r)?,
            fees: Decode::decode_from(r)?,
            shortfall_charges: Decode::decode_from(r)?,
            unused_credits: Decode::decode_from(r)?,
            rounding: Decode::decode_from(r)?,
        })
    }
}

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In the book.
    Open,
    /// Cancelled before gate closure; escrow returned.
    Cancelled,
    /// Cleared with a fill; waiting for settlement.
    Cleared,
    /// Settled (or cleared without a fill); nothing more will happen.
    Settled,
}

/// An order and, as it progresses, its fill and settlement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

impl Encode for OrderRec {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.order_id.encode_to(out);
        self.machine_id.encode_to(out);
        self.account.encode_to(out);
        out.push(match self.side {
            Side::Bid => 0,
            Side::Ask => 1,
        });
        self.interval_start_ms.encode_to(out);
        self.price.encode_to(out);
        self.qty_wh.encode_to(out);
        self.escrow.encode_to(out);
        out.push(self.status as u8);
        self.fill_wh.encode_to(out);
        self.value.encode_to(out);
        self.curtailed_wh.encode_to(out);
        self.metered_wh.encode_to(out);
        self.amount.encode_to(out);
        self.fee.encode_to(out);
        self.imbalance.encode_to(out);
    }
}

impl Decode for OrderRec {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        Ok(OrderRec {
            order_id: r.u64()?,
            machine_id: r.u64()?,
            account: Decode::decode_from(r)?,
            side: match r.u8()? {
                0 => Side::Bid,
                1 => Side::Ask,
                tag => return Err(CodecError::BadTag { what: "side", tag }),
            },
            interval_start_ms: r.u64()?,
            price: r.u64()?,
            qty_wh: r.u64()?,
            escrow: Decode::decode_from(r)?,
            status: match r.u8()? {
                0 => Status::Open,
                1 => Status::Cancelled,
                2 => Status::Cleared,
                3 => Status::Settled,
                tag => {
                    return Err(CodecError::BadTag {
                        what: "order status",
                        tag,
                    })
                }
            },
            fill_wh: r.u64()?,
            value: r.u128()?,
            curtailed_wh: r.u64()?,
            metered_wh: r.u64()?,
            amount: Decode::decode_from(r)?,
            fee: Decode::decode_from(r)?,
            imbalance: Decode::decode_from(r)?,
        })
    }
}
