//! Uniform-price double auction: the largest tradeable volume, pro-rata at the margin, and a
//! price between the marginal orders.
//!
//! Prices are integer micro-units per kWh, quantities integer Wh. Values of fills are kept as
//! `price * qty_wh` (micro-units per 1,000): exact, so settlement rounds once, explicitly.
//!
//! **Volume.** Bids fill highest price first, asks lowest price first; the traded volume V is
//! what this merit order matches while the bid's price is at least the ask's, which is the
//! largest volume at which the bids willing to pay a price meet the asks willing to sell at it.
//!
//! **Ties.** Orders of one price form a level. Levels fill whole in merit order; the level where
//! V runs out shares what is left pro rata by quantity, rounded down. The remainder (fewer Wh
//! than the level has orders) goes 1 Wh at a time to the orders of the level whose share had a
//! fractional part, in placement order (earliest first), so no order gets more than it asked and
//! both sides sum to V exactly.
//!
//! **Price, pay-as-clear.** `p_low` is the larger of the highest price among asks that trade and
//! the highest among bids left with unfilled quantity; `p_high` the smaller of the lowest price
//! among bids that trade and the lowest among asks left unfilled. The price is
//! `p_low + floor(k * (p_high - p_low))`, k in parts per million.
//!
//! **Price, pay-as-bid.** The same volume and fills. Each buyer pays its own bid price; the
//! bids' filled slices, in merit order, are laid against the asks' filled slices in merit order,
//! and each ask is paid the price of the bid slices it met. Fair because no buyer pays more than
//! it offered, no seller gets less than it asked (every matched slice has bid >= ask), every
//! micro-unit a buyer pays reaches a seller, and the volume is the efficient one (gsy-e's
//! pay-as-bid matches about twice the efficient volume).

use serde::{Deserialize, Serialize};

/// Parts per million: the unit of `k`.
pub const PPM: u64 = 1_000_000;

/// One order: a limit price and a quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Micro-units per kWh: the most a bid pays, the least an ask accepts.
    pub price: u64,
    /// Wh wanted (bid) or offered (ask).
    pub qty_wh: u64,
}

/// How trades are priced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PricingRule {
    /// One price for all, `k` (ppm) of the way from `p_low` to `p_high`.
    PayAsClear {
        /// Position between `p_low` (0) and `p_high` (1,000,000).
        k_ppm: u32,
    },
    /// Buyers pay their bids; asks are paid the bids they met.
    PayAsBid,
}

/// The result of clearing one book.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Clearing {
    /// Traded volume, Wh.
    pub volume_wh: u64,
    /// The uniform price under pay-as-clear; `None` when nothing trades or under pay-as-bid.
    pub price: Option<u64>,
    /// Filled Wh of each bid, in input order.
    pub bid_fills: Vec<u64>,
    /// Filled Wh of each ask, in input order.
    pub ask_fills: Vec<u64>,
    /// `price * Wh` each bid pays (micro-units x 1000), in input order.
    pub bid_values: Vec<u128>,
    /// `price * Wh` each ask receives (micro-units x 1000), in input order.
    pub ask_values: Vec<u128>,
}

/// A run of orders with one price, in merit order; `orders` are input indices in placement
/// order.
struct Level {
    price: u64,
    qty: u64,
    orders: Vec<usize>,
}

/// Groups the orders with a quantity into price levels, best price first.
fn levels(orders: &[Order], best_first_is_high: bool) -> Vec<Level> {
    let mut idx: Vec<usize> = (0..orders.len())
        .filter(|&i| orders[i].qty_wh > 0)
        .collect();
    if best_first_is_high {
        idx.sort_by_key(|&i| (std::cmp::Reverse(orders[i].price), i));
    } else {
        idx.sort_by_key(|&i| (orders[i].price, i));
    }
    let mut out: Vec<Level> = Vec::new();
    for i in idx {
        let o = orders[i];
        match out.last_mut() {
            Some(l) if l.price == o.price => {
                l.qty += o.qty_wh;
                l.orders.push(i);
            }
            _ => out.push(Level {
                price: o.price,
                qty: o.qty_wh,
                orders: vec![i],
            }),
        }
    }
    out
}

/// The volume the merit order matches.
fn matched_volume(bids: &[Level], asks: &[Level]) -> u64 {
    let (mut i, mut j) = (0, 0);
    let (mut rb, mut ra) = (
        bids.first().map_or(0, |l| l.qty),
        asks.first().map_or(0, |l| l.qty),
    );
    let mut v = 0u64;
    while i < bids.len() && j < asks.len() && bids[i].price >= asks[j].price {
        let t = rb.min(ra);
        v += t;
        rb -= t;
        ra -= t;
        if rb == 0 {
            i += 1;
            rb = bids.get(i).map_or(0, |l| l.qty);
        }
        if ra == 0 {
            j += 1;
            ra = asks.get(j).map_or(0, |l| l.qty);
        }
    }
    v
}

/// Shares `amount` (less than the level's quantity) among the level's orders pro rata.
fn share(orders: &[Order], level: &Level, amount: u64, fills: &mut [u64]) {
    let total = u128::from(level.qty);
    let mut given = 0u64;
    let mut fractional = Vec::new();
    for &i in &level.orders {
        let exact = u128::from(amount) * u128::from(orders[i].qty_wh);
        let f = (exact / total) as u64;
        fills[i] = f;
        given += f;
        if !exact.is_multiple_of(total) {
            fractional.push(i);
        }
    }
    let remainder = amount - given;
    assert!(
        remainder as usize <= fractional.len(),
        "remainder is below the count of fractional shares"
    );
    for &i in fractional.iter().take(remainder as usize) {
        fills[i] += 1;
    }
}

/// Fills one side: whole levels in merit order, the marginal level pro rata. Returns the
/// fills and the position of the last level with any fill.
fn fill_side(orders: &[Order], levels: &[Level], volume: u64) -> (Vec<u64>, Option<usize>) {
    let mut fills = vec![0u64; orders.len()];
    let mut left = volume;
    let mut last = None;
    for (n, l) in levels.iter().enumerate() {
        if left == 0 {
            break;
        }
        last = Some(n);
        if l.qty <= left {
            for &i in &l.orders {
                fills[i] = orders[i].qty_wh;
            }
            left -= l.qty;
        } else {
            share(orders, l, left, &mut fills);
            left = 0;
        }
    }
    (fills, last)
}

/// The highest-priority price among orders of `levels` left with unfilled quantity, given
/// that levels after `last` are untouched and `last` may be partial.
fn first_unfilled_price(
    levels: &[Level],
    last: usize,
    fills: &[u64],
    orders: &[Order],
) -> Option<u64> {
    let l = &levels[last];
    if l.orders.iter().any(|&i| fills[i] < orders[i].qty_wh) {
        return Some(l.price);
    }
    levels.get(last + 1).map(|l| l.price)
}

/// Clears a book. Orders with zero quantity are ignored.
pub fn clear(bids: &[Order], asks: &[Order], rule: PricingRule) -> Clearing {
    let bl = levels(bids, true);
    let al = levels(asks, false);
    let volume = matched_volume(&bl, &al);
    let (bid_fills, last_bid) = fill_side(bids, &bl, volume);
    let (ask_fills, last_ask) = fill_side(asks, &al, volume);
    let (Some(lb), Some(la)) = (last_bid, last_ask) else {
        return Clearing {
            bid_fills,
            ask_fills,
            bid_values: vec![0; bids.len()],
            ask_values: vec![0; asks.len()],
            ..Clearing::default()
        };
    };
    let (price, bid_values, ask_values) = match rule {
        PricingRule::PayAsClear { k_ppm } => {
            // Asks that trade reach up to the marginal ask level; bids that trade down to the
            // marginal bid level.
            let p_low = Some(al[la].price)
                .into_iter()
                .chain(first_unfilled_price(&bl, lb, &bid_fills, bids))
                .max()
                .expect("one candidate at least");
            let p_high = Some(bl[lb].price)
                .into_iter()
                .chain(first_unfilled_price(&al, la, &ask_fills, asks))
                .min()
                .expect("one candidate at least");
            assert!(p_low <= p_high, "clearing bounds cross: {p_low} > {p_high}");
            let p = p_low
                + ((u128::from(p_high - p_low) * u128::from(k_ppm.min(PPM as u32)))
                    / u128::from(PPM)) as u64;
            let value = |f: &u64| u128::from(*f) * u128::from(p);
            (
                Some(p),
                bid_fills.iter().map(value).collect(),
                ask_fills.iter().map(value).collect(),
            )
        }
        PricingRule::PayAsBid => {
            let (bv, av) = pay_as_bid_values(bids, &bl, &bid_fills, asks, &al, &ask_fills);
            (None, bv, av)
        }
    };
    Clearing {
        volume_wh: volume,
        price,
        bid_fills,
        ask_fills,
        bid_values,
        ask_values,
    }
}

/// Lays the bids' filled slices against the asks' filled slices, both in merit order.
fn pay_as_bid_values(
    bids: &[Order],
    bl: &[Level],
    bid_fills: &[u64],
    asks: &[Order],
    al: &[Level],
    ask_fills: &[u64],
) -> (Vec<u128>, Vec<u128>) {
    let bid_values: Vec<u128> = bids
        .iter()
        .zip(bid_fills)
        .map(|(o, f)| u128::from(*f) * u128::from(o.price))
        .collect();
    let mut ask_values = vec![0u128; asks.len()];
    let bid_slices = bl
        .iter()
        .flat_map(|l| l.orders.iter())
        .filter(|&&i| bid_fills[i] > 0);
    let mut ask_slices = al
        .iter()
        .flat_map(|l| l.orders.iter())
        .filter(|&&i| ask_fills[i] > 0);
    let mut current = ask_slices.next().map(|&i| (i, ask_fills[i]));
    for &b in bid_slices {
        let mut left = bid_fills[b];
        while left > 0 {
            let (a, room) = current.as_mut().expect("ask fills sum to the bid fills");
            let t = left.min(*room);
            ask_values[*a] += u128::from(t) * u128::from(bids[b].price);
            left -= t;
            *room -= t;
            if *room == 0 {
                current = ask_slices.next().map(|&i| (i, ask_fills[i]));
            }
        }
    }
    (bid_values, ask_values)
}

#[cfg(test)]
mod tests;
