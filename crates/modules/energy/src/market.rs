//! Zones and orders: creation, placement with escrow, cancellation before gate closure.

use crate::action::{MarketRule, Side, ZoneConfig};
use crate::records::{Interval, OrderRec, Status, Zone};
use crate::{keys, EnergyError, Result};
use machina_primitives::limits::MAX_LABEL_BYTES;
use machina_primitives::{Address, Amount, Decode, Encode, Event};
use machina_state::{StateRead, StateWrite};
use machina_wallet::ActionCtx;

/// Most zones: end-of-block work visits each zone (two reads when nothing is due), so their
/// number bounds that work.
pub const MAX_ZONES: usize = 1024;

/// Least grid float a zone is created with: zones are never deleted, so taking one costs
/// something real (100 tokens), and its grid account can pay feed-in credits.
pub const MIN_GRID_FLOAT: Amount = Amount(100_000_000);

/// Longest gate closure: a day.
pub const MAX_GATE_CLOSURE_MS: u64 = 24 * 3_600_000;

/// Longest settlement deadline: a week.
pub const MAX_SETTLEMENT_DEADLINE_MS: u64 = 7 * 24 * 3_600_000;

/// Shortest interval: one second (a demo may run short intervals; real zones use minutes).
pub const MIN_INTERVAL_MS: u64 = 1_000;

/// Most orders in one interval of one zone: a neighbourhood of 10,000 machines with a bid or
/// an ask each, and room for some with both. Bounds the work of clearing one interval.
pub const MAX_ORDERS_PER_INTERVAL: u64 = 20_000;

/// Most orders one machine has in one interval.
pub const MAX_ORDERS_PER_MACHINE: u64 = 4;

/// Orders may be placed at most this far ahead of the current time: one week.
pub const MAX_HORIZON_MS: u64 = 7 * 24 * 3_600_000;

const MAX_RECORD_BYTES: usize = 4096;

fn read<T: Decode>(state: &impl StateRead, key: &[u8]) -> Option<T> {
    state
        .get(key)
        .map(|b| T::decode_exact(&b, MAX_RECORD_BYTES).expect("energy wrote this record"))
}

fn derived(domain: &[u8], zone: &str) -> Address {
    Address::derive(&[domain, zone.as_bytes()])
}

/// The account holding a zone's escrows, collaterals and money in transit.
pub fn escrow_address(zone: &str) -> Address {
    derived(b"machina/energy-escrow/v1", zone)
}

/// The account standing for the grid: it receives sellers' shortfall charges and pays buyers'
/// feed-in credits.
pub fn grid_address(zone: &str) -> Address {
    derived(b"machina/energy-grid/v1", zone)
}

/// The account receiving market fees and rounding.
pub fn fee_address(zone: &str) -> Address {
    derived(b"machina/energy-fees/v1", zone)
}

/// Names of all zones, in creation order.
pub fn zones(state: &impl StateRead) -> Vec<String> {
    state
        .get(&keys::zones())
        .map(|b| {
            let mut r = machina_primitives::Reader::new(&b);
            let n = r.len("zones", MAX_ZONES).expect("energy wrote this list");
            (0..n)
                .map(|_| {
                    r.string("zone", MAX_LABEL_BYTES)
                        .expect("energy wrote this list")
                })
                .collect()
        })
        .unwrap_or_default()
}

fn put_zones(state: &mut impl StateWrite, names: &[String]) {
    let mut out = Vec::new();
    machina_primitives::codec::put_len(&mut out, names.len());
    for n in names {
        machina_primitives::codec::put_str(&mut out, n);
    }
    state.set(keys::zones(), out);
}

/// A zone.
pub fn zone(state: &impl StateRead, name: &str) -> Option<Zone> {
    read(state, &keys::zone(name))
}

pub(crate) fn put_zone(state: &mut impl StateWrite, z: &Zone) {
    state.set(keys::zone(&z.config.name), z.encode());
}

/// An interval of a zone (empty if nothing was ever placed in it).
pub fn interval(state: &impl StateRead, zone: &str, start: u64) -> Interval {
    read(state, &keys::interval(zone, start)).unwrap_or_default()
}

pub(crate) fn put_interval(state: &mut impl StateWrite, zone: &str, start: u64, i: &Interval) {
    state.set(keys::interval(zone, start), i.encode());
}

/// An order.
pub fn order(state: &impl StateRead, zone: &str, id: u64) -> Option<OrderRec> {
    read(state, &keys::order(zone, id))
}

pub(crate) fn put_order(state: &mut impl StateWrite, zone: &str, o: &OrderRec) {
    state.set(keys::order(zone, o.order_id), o.encode());
}

/// The id of the order in slot `n` of an interval.
pub(crate) fn slot(state: &impl StateRead, zone: &str, start: u64, n: u64) -> u64 {
    read(state, &keys::slot(zone, start, n)).expect("slots below the order count exist")
}

/// How many orders a machine placed in an interval.
pub fn machine_order_count(state: &impl StateRead, zone: &str, start: u64, machine_id: u64) -> u64 {
    read(state, &keys::machine_count(zone, start, machine_id)).unwrap_or(0)
}

/// The orders of an interval, in placement order.
pub fn orders_of(state: &impl StateRead, zone: &str, start: u64) -> Vec<OrderRec> {
    let n = interval(state, zone, start).orders;
    (0..n)
        .filter_map(|i| order(state, zone, slot(state, zone, start, i)))
        .collect()
}

fn check_config(c: &ZoneConfig) -> Result<()> {
    let bad = |s: &str| Err(EnergyError::InvalidZone(s.to_owned()));
    if c.name.is_empty() || c.name.len() > MAX_LABEL_BYTES {
        return bad("a zone name has 1 to 64 bytes");
    }
    if c.interval_ms < MIN_INTERVAL_MS || c.interval_ms > 24 * 3_600_000 {
        return bad("interval_ms must be between one second and a day");
    }
    if c.gate_closure_ms > MAX_GATE_CLOSURE_MS {
        return bad("gate_closure_ms is at most a day");
    }
    if c.settlement_deadline_ms > MAX_SETTLEMENT_DEADLINE_MS {
        return bad("settlement_deadline_ms is at most a week");
    }
    if c.feed_in_price > c.retail_price {
        return bad("the feed-in tariff cannot exceed the retail price");
    }
    if c.market_fee_bps > 10_000 {
        return bad("the market fee is at most 10,000 basis points");
    }
    if let MarketRule::PayAsClear { k_ppm } = c.rule {
        if k_ppm > 1_000_000 {
            return bad("k is between 0 and 1,000,000 ppm");
        }
    }
    Ok(())
}

/// The first interval whose gate has not closed at `now_ms`.
pub(crate) fn first_open_interval(c: &ZoneConfig, now_ms: u64) -> u64 {
    let start = (now_ms + c.gate_closure_ms) / c.interval_ms * c.interval_ms;
    if start >= now_ms + c.gate_closure_ms {
        start
    } else {
        start + c.interval_ms
    }
}

/// Creates a zone and moves `grid_float` from the creator into its grid account.
pub fn create_zone(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    config: &ZoneConfig,
    grid_float: Amount,
    now_ms: u64,
) -> Result<Event> {
    check_config(config)?;
    let mut names = zones(state);
    if names.contains(&config.name) {
        return Err(EnergyError::DuplicateZone(config.name.clone()));
    }
    if names.len() >= MAX_ZONES {
        return Err(EnergyError::TooManyZones);
    }
    if grid_float < MIN_GRID_FLOAT {
        return Err(EnergyError::InvalidZone(format!(
            "a zone needs a grid float of at least {MIN_GRID_FLOAT} micro"
        )));
    }
    machina_wallet::pay(
        state,
        ctx,
        &ctx.sender,
        &grid_address(&config.name),
        grid_float,
    )?;
    let first = first_open_interval(config, now_ms);
    put_zone(
        state,
        &Zone {
            config: config.clone(),
            next_order_id: 1,
            clear_cursor: first,
            settle_cursor: first,
            settle_pos: 0,
        },
    );
    names.push(config.name.clone());
    put_zones(state, &names);
    Ok(Event::new(
        "energy",
        "zone_created",
        &[("zone", config.name.clone().into())],
    ))
}

/// What an order locks: a bid its limit price times quantity, an ask the retail price times
/// quantity (its worst shortfall). Rounded up: in favour of the escrow.
pub(crate) fn lock_for(side: Side, price: u64, retail: u64, qty_wh: u64) -> Amount {
    let p = match side {
        Side::Bid => price,
        Side::Ask => retail,
    };
    Amount((u128::from(p) * u128::from(qty_wh)).div_ceil(1000))
}

/// An order as a machine places it.
#[derive(Clone, Copy, Debug)]
pub struct NewOrder {
    /// The machine.
    pub machine_id: u64,
    /// Bid or ask.
    pub side: Side,
    /// Start of the delivery interval, ms.
    pub start: u64,
    /// Limit price, micro-units per kWh.
    pub price: u64,
    /// Quantity, Wh.
    pub qty_wh: u64,
}

/// Places an order for a machine (sent by the machine or its owner); the escrow leaves the
/// machine's account under its wallet policy.
pub fn place_order(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    new: NewOrder,
    now_ms: u64,
) -> Result<Event> {
    let NewOrder {
        machine_id,
        side,
        start,
        price,
        qty_wh,
    } = new;
    let m = machina_identity::machine(state, machine_id).ok_or(EnergyError::Identity(
        machina_identity::IdentityError::UnknownMachine(machine_id),
    ))?;
    if m.status == machina_identity::Status::Revoked {
        return Err(EnergyError::Identity(
            machina_identity::IdentityError::MachineRevoked(machine_id),
        ));
    }
    if ctx.sender != m.address && ctx.sender != m.owner {
        return Err(EnergyError::NotMachineOrOwner(machine_id));
    }
    let zone_name = m.zone.clone().ok_or(EnergyError::NoZone(machine_id))?;
    let mut z =
        zone(state, &zone_name).ok_or_else(|| EnergyError::UnknownZone(zone_name.clone()))?;
    let c = &z.config;
    if qty_wh == 0 {
        return Err(EnergyError::ZeroQuantity);
    }
    match side {
        Side::Bid if price > c.retail_price => {
            return Err(EnergyError::BidAboveRetail {
                price,
                retail: c.retail_price,
            })
        }
        Side::Ask if price < c.feed_in_price => {
            return Err(EnergyError::AskBelowFeedIn {
                price,
                feed_in: c.feed_in_price,
            })
        }
        _ => {}
    }
    if start % c.interval_ms != 0 || start > now_ms.saturating_add(MAX_HORIZON_MS) {
        return Err(EnergyError::BadInterval(start));
    }
    if now_ms + c.gate_closure_ms > start || start < z.clear_cursor {
        return Err(EnergyError::GateClosed(start));
    }
    let mut iv = interval(state, &zone_name, start);
    if iv.orders >= MAX_ORDERS_PER_INTERVAL {
        return Err(EnergyError::TooManyOrders(MAX_ORDERS_PER_INTERVAL));
    }
    let count_key = keys::machine_count(&zone_name, start, machine_id);
    let count: u64 = read(state, &count_key).unwrap_or(0);
    if count >= MAX_ORDERS_PER_MACHINE {
        return Err(EnergyError::TooManyMachineOrders(MAX_ORDERS_PER_MACHINE));
    }
    let escrow = lock_for(side, price, c.retail_price, qty_wh);
    machina_wallet::pay(state, ctx, &m.address, &escrow_address(&zone_name), escrow)?;
    let id = z.next_order_id;
    z.next_order_id += 1;
    let o = OrderRec {
        order_id: id,
        machine_id,
        account: m.address,
        side,
        interval_start_ms: start,
        price,
        qty_wh,
        escrow,
        status: Status::Open,
        fill_wh: 0,
        value: 0,
        curtailed_wh: 0,
        metered_wh: 0,
        amount: Amount::ZERO,
        fee: Amount::ZERO,
        imbalance: Amount::ZERO,
    };
    put_order(state, &zone_name, &o);
    state.set(keys::slot(&zone_name, start, iv.orders), id.encode());
    iv.orders += 1;
    put_interval(state, &zone_name, start, &iv);
    state.set(count_key, (count + 1).encode());
    put_zone(state, &z);
    Ok(Event::new(
        "energy",
        "order_placed",
        &[
            ("zone", zone_name.into()),
            ("order_id", id.into()),
            ("machine_id", machine_id.into()),
            ("escrow", escrow.into()),
        ],
    ))
}

/// Cancels an open order before its gate closes; the escrow returns to the machine at once.
pub fn cancel_order(
    state: &mut impl StateWrite,
    sender: &Address,
    zone_name: &str,
    id: u64,
    now_ms: u64,
) -> Result<Event> {
    let z = zone(state, zone_name).ok_or_else(|| EnergyError::UnknownZone(zone_name.to_owned()))?;
    let mut o = order(state, zone_name, id).ok_or(EnergyError::UnknownOrder(id))?;
    let m =
        machina_identity::machine(state, o.machine_id).expect("orders name registered machines");
    if *sender != m.address && *sender != m.owner {
        return Err(EnergyError::NotMachineOrOwner(o.machine_id));
    }
    if o.status != Status::Open {
        return Err(EnergyError::OrderNotOpen(id));
    }
    if now_ms + z.config.gate_closure_ms > o.interval_start_ms
        || o.interval_start_ms < z.clear_cursor
    {
        return Err(EnergyError::GateClosed(o.interval_start_ms));
    }
    machina_bank::transfer(state, &escrow_address(zone_name), &o.account, o.escrow)?;
    o.status = Status::Cancelled;
    put_order(state, zone_name, &o);
    Ok(Event::new(
        "energy",
        "order_cancelled",
        &[("order_id", id.into()), ("refund", o.escrow.into())],
    ))
}
