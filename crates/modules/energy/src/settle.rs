//! End-of-block work: clear intervals at gate closure, settle them against metered delivery.
//! Each block does a bounded amount of it per zone; what is left continues in the next block.

use crate::action::{MarketRule, Side};
use crate::clearing::{clear, Order, PricingRule};
use crate::market::{self, escrow_address, fee_address, grid_address};
use crate::records::{Interval, OrderRec, Status, Zone};
use machina_primitives::{Amount, BlockEnv, Event};
use machina_shares::Source;
use machina_state::StateWrite;

/// Most intervals cleared per zone per block (each up to `MAX_ORDERS_PER_INTERVAL` orders).
pub const MAX_CLEARINGS_PER_BLOCK: usize = 2;

/// Most orders settled per zone per block.
pub const MAX_SETTLEMENTS_PER_BLOCK: u64 = 4096;

/// Most intervals a cursor moves per zone per block (empty intervals cost one read each), so a
/// chain that was idle catches up over a few blocks instead of in one unbounded block.
pub const MAX_INTERVAL_STEPS_PER_BLOCK: usize = 256;

/// Runs the due clearing and settlement of every zone; returns an event per interval cleared
/// and per interval whose settlement finished, so both are visible as block events.
pub fn end_block(state: &mut impl StateWrite, env: &BlockEnv) -> Vec<Event> {
    let now_ms = env.timestamp_ms;
    let mut events = Vec::new();
    for name in market::zones(state) {
        let mut z = market::zone(state, &name).expect("listed zones exist");
        clear_due(state, &mut z, now_ms, &mut events);
        settle_due(state, &mut z, env, &mut events);
        market::put_zone(state, &z);
    }
    events
}

fn clear_due(state: &mut impl StateWrite, z: &mut Zone, now_ms: u64, events: &mut Vec<Event>) {
    let (mut steps, mut clears) = (0, 0);
    while now_ms.saturating_add(z.config.gate_closure_ms) >= z.clear_cursor
        && steps < MAX_INTERVAL_STEPS_PER_BLOCK
        && clears < MAX_CLEARINGS_PER_BLOCK
    {
        if market::interval(state, &z.config.name, z.clear_cursor).orders > 0 {
            events.push(clear_interval(state, z, z.clear_cursor));
            clears += 1;
        }
        z.clear_cursor += z.config.interval_ms;
        steps += 1;
    }
}

fn rule(r: MarketRule) -> PricingRule {
    match r {
        MarketRule::PayAsClear { k_ppm } => PricingRule::PayAsClear { k_ppm },
        MarketRule::PayAsBid => PricingRule::PayAsBid,
    }
}

/// Clears one interval: fills, prices, transformer curtailment, and immediate refunds for
/// orders that got nothing.
fn clear_interval(state: &mut impl StateWrite, z: &Zone, start: u64) -> Event {
    let name = &z.config.name;
    let mut orders: Vec<OrderRec> = market::orders_of(state, name, start)
        .into_iter()
        .filter(|o| o.status == Status::Open)
        .collect();
    let side = |s: Side| -> (Vec<usize>, Vec<Order>) {
        orders
            .iter()
            .enumerate()
            .filter(|(_, o)| o.side == s)
            .map(|(i, o)| {
                (
                    i,
                    Order {
                        price: o.price,
                        qty_wh: o.qty_wh,
                    },
                )
            })
            .unzip()
    };
    let (bid_idx, bids) = side(Side::Bid);
    let (ask_idx, asks) = side(Side::Ask);
    let c = clear(&bids, &asks, rule(z.config.rule));
    for (k, &i) in bid_idx.iter().enumerate() {
        orders[i].fill_wh = c.bid_fills[k];
        orders[i].value = c.bid_values[k];
    }
    for (k, &i) in ask_idx.iter().enumerate() {
        orders[i].fill_wh = c.ask_fills[k];
        orders[i].value = c.ask_values[k];
    }
    let hours_cap = |w: u64| {
        u64::try_from(u128::from(w) * u128::from(z.config.interval_ms) / 3_600_000)
            .unwrap_or(u64::MAX)
    };
    let curtailed_import = curtail(&mut orders, Side::Bid, hours_cap(z.config.import_limit_w));
    let curtailed_export = curtail(&mut orders, Side::Ask, hours_cap(z.config.export_limit_w));
    for o in &mut orders {
        if o.fill_wh == 0 {
            machina_bank::transfer(state, &escrow_address(name), &o.account, o.escrow)
                .expect("the escrow account holds every open order's escrow");
            o.status = Status::Settled;
        } else {
            o.status = Status::Cleared;
            if o.side == Side::Ask {
                let fill = o.fill_wh;
                machina_identity::update_reputation(state, o.machine_id, |r| {
                    r.energy_promised_wh += fill
                });
            }
        }
        market::put_order(state, name, o);
    }
    let mut iv = market::interval(state, name, start);
    iv.cleared = true;
    iv.price = c.price;
    iv.volume_wh = c.volume_wh;
    iv.curtailed_import_wh = curtailed_import;
    iv.curtailed_export_wh = curtailed_export;
    market::put_interval(state, name, start, &iv);
    let mut event = Event::new(
        "energy",
        "interval_cleared",
        &[
            ("zone", name.into()),
            ("interval_start_ms", start.into()),
            ("volume_wh", c.volume_wh.into()),
            ("orders", orders.len().into()),
        ],
    );
    // Pay-as-bid has no single price: the attribute is then left out.
    if let Some(p) = c.price {
        event.attrs.insert("price".into(), p.into());
    }
    event
}

/// Keeps the residual grid flow of one side within the transformer: the unfilled quantity of
/// bids is imported from the grid, that of asks exported to it. Beyond `cap_wh`, the least
/// competitive unfilled orders (lowest bids, highest asks; later placement first among equals)
/// are curtailed: the machine may not draw or feed that energy. Returns the curtailed Wh.
fn curtail(orders: &mut [OrderRec], side: Side, cap_wh: u64) -> u64 {
    let residual: u64 = orders
        .iter()
        .filter(|o| o.side == side)
        .map(|o| o.qty_wh - o.fill_wh)
        .sum();
    let mut excess = residual.saturating_sub(cap_wh);
    let total = excess;
    let mut idx: Vec<usize> = (0..orders.len())
        .filter(|&i| orders[i].side == side && orders[i].qty_wh > orders[i].fill_wh)
        .collect();
    idx.sort_by_key(|&i| {
        let p = orders[i].price;
        let worst_first = if side == Side::Bid { p } else { u64::MAX - p };
        (worst_first, std::cmp::Reverse(orders[i].order_id))
    });
    for i in idx {
        if excess == 0 {
            break;
        }
        let c = (orders[i].qty_wh - orders[i].fill_wh).min(excess);
        orders[i].curtailed_wh = c;
        excess -= c;
    }
    total
}

fn settle_due(state: &mut impl StateWrite, z: &mut Zone, env: &BlockEnv, events: &mut Vec<Event>) {
    let now_ms = env.timestamp_ms;
    let name = z.config.name.clone();
    let (mut settled, mut steps) = (0u64, 0usize);
    while z.settle_cursor < z.clear_cursor && steps < MAX_INTERVAL_STEPS_PER_BLOCK {
        let start = z.settle_cursor;
        let end = start + z.config.interval_ms;
        if now_ms < end {
            return;
        }
        let mut iv = market::interval(state, &name, start);
        while z.settle_pos < iv.orders && settled < MAX_SETTLEMENTS_PER_BLOCK {
            let id = market::slot(state, &name, start, z.settle_pos);
            let o = market::order(state, &name, id).expect("slots name orders");
            if o.status == Status::Cleared {
                let Some(metered) =
                    metered(state, &o, end, now_ms, z.config.settlement_deadline_ms)
                else {
                    market::put_interval(state, &name, start, &iv);
                    return;
                };
                events.extend(settle_order(state, env, z, &mut iv, o, metered));
                settled += 1;
            }
            z.settle_pos += 1;
        }
        if z.settle_pos < iv.orders {
            market::put_interval(state, &name, start, &iv);
            return;
        }
        if iv.orders > 0 {
            finish_interval(state, &name, &mut iv);
            market::put_interval(state, &name, start, &iv);
            events.push(settled_event(&name, start, &iv));
        }
        z.settle_cursor += z.config.interval_ms;
        z.settle_pos = 0;
        steps += 1;
    }
}

/// The energy the order's machine imported (bid) or exported (ask) in the interval, once its
/// readings cover the interval's end; `None` to wait; zero once the deadline has passed
/// without readings.
fn metered(
    state: &impl machina_state::StateRead,
    o: &OrderRec,
    end: u64,
    now_ms: u64,
    deadline_ms: u64,
) -> Option<u64> {
    match machina_oracle::energy_between(state, o.machine_id, 0, o.interval_start_ms, end) {
        Ok(e) => Some(match o.side {
            Side::Bid => e.import_wh,
            Side::Ask => e.export_wh,
        }),
        Err(_) if now_ms < end.saturating_add(deadline_ms) => None,
        Err(_) => Some(0),
    }
}

fn settled_event(zone: &str, start: u64, iv: &Interval) -> Event {
    Event::new(
        "energy",
        "interval_settled",
        &[
            ("zone", zone.into()),
            ("interval_start_ms", start.into()),
            ("orders", iv.settled.into()),
            ("buyers_paid", iv.buyers_paid.into()),
            ("sellers_gross", iv.sellers_gross.into()),
            ("fees", iv.fees.into()),
            ("shortfall_charges", iv.shortfall_charges.into()),
            ("unused_credits", iv.unused_credits.into()),
        ],
    )
}

fn pay(
    state: &mut impl StateWrite,
    from: &machina_primitives::Address,
    to: &machina_primitives::Address,
    a: Amount,
) {
    if a > Amount::ZERO {
        machina_bank::transfer(state, from, to, a)
            .expect("settlement moves only money the escrow holds");
    }
}

fn add(total: &mut Amount, a: Amount) {
    *total = total
        .checked_add(a)
        .expect("interval totals are bounded by the supply");
}

/// Settles one filled order against what its meter measured; a seller's revenue goes through
/// the shares module, which returns an event when the machine has holders.
fn settle_order(
    state: &mut impl StateWrite,
    env: &BlockEnv,
    z: &Zone,
    iv: &mut Interval,
    mut o: OrderRec,
    metered: u64,
) -> Option<Event> {
    let name = &z.config.name;
    let (escrow, grid, fees) = (escrow_address(name), grid_address(name), fee_address(name));
    let counted = metered.min(o.fill_wh);
    let missing = o.fill_wh - counted;
    let mut revenue = None;
    match o.side {
        Side::Bid => {
            // The buyer pays for its whole fill (the sellers delivered it); what it did not use
            // went back to the grid, which credits it at the feed-in tariff.
            let cost = Amount(o.value.div_ceil(1000));
            let wanted = Amount(u128::from(z.config.feed_in_price) * u128::from(missing) / 1000);
            let credit = wanted.min(machina_bank::account(state, &grid).balance);
            pay(
                state,
                &escrow,
                &o.account,
                o.escrow
                    .checked_sub(cost)
                    .expect("a bid's escrow covers its cost"),
            );
            pay(state, &grid, &o.account, credit);
            add(&mut iv.buyers_paid, cost);
            add(&mut iv.unused_credits, credit);
            o.amount = cost;
            o.imbalance = credit;
        }
        Side::Ask => {
            // The seller is paid for its whole fill and buys what it did not deliver from the
            // grid at the retail price, out of its collateral.
            let gross = Amount(o.value / 1000);
            let fee = Amount(gross.0 * u128::from(z.config.market_fee_bps) / 10_000);
            let charge =
                Amount((u128::from(z.config.retail_price) * u128::from(missing)).div_ceil(1000));
            let back = o
                .escrow
                .checked_sub(charge)
                .expect("collateral covers the worst shortfall");
            let net = gross.checked_sub(fee).expect("fee is a part of revenue");
            // The collateral's return is not revenue; the net sale is, and only it.
            pay(state, &escrow, &o.account, back);
            revenue = machina_shares::credit(
                state,
                env,
                o.machine_id,
                &escrow,
                net,
                Source::Energy {
                    zone: name.clone(),
                    interval_start_ms: o.interval_start_ms,
                    order_id: o.order_id,
                    metered_wh: counted,
                },
            );
            pay(state, &escrow, &fees, fee);
            pay(state, &escrow, &grid, charge);
            add(&mut iv.sellers_gross, gross);
            add(&mut iv.fees, fee);
            add(&mut iv.shortfall_charges, charge);
            o.amount = gross;
            o.fee = fee;
            o.imbalance = charge;
            machina_identity::update_reputation(state, o.machine_id, |r| {
                r.energy_delivered_wh += counted
            });
        }
    }
    o.metered_wh = counted;
    o.status = Status::Settled;
    iv.settled += 1;
    market::put_order(state, name, &o);
    revenue
}

/// Moves the interval's rounding (buyers pay rounded up, sellers are paid rounded down) to the
/// fee account once every order settled.
fn finish_interval(state: &mut impl StateWrite, name: &str, iv: &mut Interval) {
    let rounding = iv
        .buyers_paid
        .checked_sub(iv.sellers_gross)
        .expect("buyers pay at least what sellers are paid");
    pay(state, &escrow_address(name), &fee_address(name), rounding);
    iv.rounding = rounding;
    iv.done = true;
}
