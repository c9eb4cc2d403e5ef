//! The energy market through the whole transaction path: zones, orders, clearing at gate
//! closure, settlement against readings, conservation of every micro-unit.

use machina_bank::BankAction;
use machina_energy::{EnergyAction, MarketRule, Side, ZoneConfig};
use machina_identity::{
    device_pop_message, IdentityAction, MachineKind, MachineMetadata, MachineRegistration,
};
use machina_oracle::OracleAction;
use machina_primitives::{Address, Amount, Keypair};
use machina_stf::Action;
use proptest::prelude::*;

use machina_testkit::{key, Chain};

const CHAIN: u64 = 13;
const INTERVAL: u64 = 900_000;
const T0: u64 = 1_800_000_000_000; // a multiple of INTERVAL
const RETAIL: u64 = 300_000;
const FEED_IN: u64 = 80_000;
const ZONE: &str = "zone-a";

fn zone_config(import_limit_w: u64, export_limit_w: u64) -> ZoneConfig {
    ZoneConfig {
        name: ZONE.into(),
        interval_ms: INTERVAL,
        gate_closure_ms: 60_000,
        retail_price: RETAIL,
        feed_in_price: FEED_IN,
        market_fee_bps: 100,
        rule: MarketRule::PayAsClear { k_ppm: 500_000 },
        import_limit_w,
        export_limit_w,
        settlement_deadline_ms: 600_000,
    }
}

/// A chain one hour before T0 with a zone and `n` machines owned by alice, in the zone.
fn market(n: usize, import_limit_w: u64, export_limit_w: u64) -> (Chain, Vec<Keypair>, Vec<u64>) {
    let mut c = Chain::new(CHAIN, T0 - 3_600_000);
    let alice = key("alice");
    c.ok(
        &alice,
        vec![EnergyAction::CreateZone {
            config: Box::new(zone_config(import_limit_w, export_limit_w)),
            grid_float: Amount(1_000_000_000),
        }
        .into()],
    );
    let devices: Vec<Keypair> = (0..n).map(|i| key(&format!("dev{i}"))).collect();
    let mut ids = Vec::new();
    for d in &devices {
        let reg = MachineRegistration {
            device_key: d.public(),
            device_signature: d.sign(&device_pop_message(CHAIN, &alice.address())),
            kind: MachineKind::Solar,
            rated_power_w: 1_000_000,
            capacity_wh: None,
            zone: Some(ZONE.into()),
            metadata: MachineMetadata::default(),
            attestation: None,
        };
        let r = c.ok(
            &alice,
            vec![IdentityAction::RegisterMachine(Box::new(reg)).into()],
        );
        let id: u64 = r.events[1].attrs["machine_id"].parse().expect("id");
        let addr = machina_identity::machine(&c.state, id).expect("m").address;
        c.ok(
            &alice,
            vec![BankAction::Transfer {
                to: addr,
                amount: Amount(10_000_000_000),
            }
            .into()],
        );
        ids.push(id);
    }
    (c, devices, ids)
}

fn order(id: u64, side: Side, price: u64, qty_wh: u64) -> Action {
    EnergyAction::PlaceOrder {
        machine_id: id,
        side,
        interval_start_ms: T0,
        price,
        qty_wh,
    }
    .into()
}

fn reading(
    c: &mut Chain,
    dev: &Keypair,
    id: u64,
    seq: u64,
    t: u64,
    import_wh: u64,
    export_wh: u64,
) {
    c.now = t;
    let r = machina_testkit::reading(id, seq, t, import_wh, export_wh).sign(CHAIN, dev);
    let rec = c.ok(
        &key("bob"),
        vec![OracleAction::SubmitReadings { readings: vec![r] }.into()],
    );
    assert_eq!(rec.events[1].attrs["accepted"], "1", "{:?}", rec.events);
}

#[test]
fn bids_above_retail_asks_below_feed_in_and_late_cancels_are_refused() {
    let (mut c, _, ids) = market(2, u64::MAX / 8, u64::MAX / 8);
    let alice = key("alice");
    assert_eq!(
        c.code(&alice, vec![order(ids[0], Side::Bid, RETAIL + 1, 100)]),
        "bid_above_retail"
    );
    assert_eq!(
        c.code(&alice, vec![order(ids[1], Side::Ask, FEED_IN - 1, 100)]),
        "ask_below_feed_in"
    );
    assert_eq!(
        c.code(&key("eve"), vec![order(ids[0], Side::Bid, RETAIL, 100)]),
        "not_machine_or_owner"
    );
    let addr = machina_identity::machine(&c.state, ids[0])
        .expect("m")
        .address;
    let before = c.balance(&addr);
    let r = c.ok(&alice, vec![order(ids[0], Side::Bid, 200_000, 1_000)]);
    let oid: u64 = r.events[1].attrs["order_id"].parse().expect("id");
    assert_eq!(c.balance(&addr), before - 200_000);
    c.ok(
        &alice,
        vec![EnergyAction::CancelOrder {
            zone: ZONE.into(),
            order_id: oid,
        }
        .into()],
    );
    assert_eq!(c.balance(&addr), before);
    let r = c.ok(&alice, vec![order(ids[0], Side::Bid, 200_000, 1_000)]);
    let oid: u64 = r.events[1].attrs["order_id"].parse().expect("id");
    c.now = T0 - 30_000; // past gate closure
    assert_eq!(
        c.code(
            &alice,
            vec![EnergyAction::CancelOrder {
                zone: ZONE.into(),
                order_id: oid
            }
            .into()]
        ),
        "gate_closed"
    );
    assert_eq!(
        c.code(&alice, vec![order(ids[1], Side::Ask, 100_000, 10)]),
        "gate_closed"
    );
}

#[test]
fn the_transformer_limit_curtails_the_residual() {
    // Four sellers of 10 kWh and one buyer of 5 kWh: 35 kWh would go to the grid; the
    // transformer takes 20 kW for 15 minutes = 5 kWh.
    let (mut c, _, ids) = market(5, u64::MAX / 8, 20_000);
    let alice = key("alice");
    c.ok(&alice, vec![order(ids[0], Side::Bid, 200_000, 5_000)]);
    for &id in &ids[1..] {
        c.ok(&alice, vec![order(id, Side::Ask, 100_000 + id, 10_000)]);
    }
    let events = c.tick(T0 - 59_000);
    let iv = machina_energy::market::interval(&c.state, ZONE, T0);
    assert!(iv.cleared);
    assert_eq!(iv.volume_wh, 5_000);
    // The clearing is a block event with the interval's result.
    let cleared = events
        .iter()
        .find(|e| e.kind == "interval_cleared")
        .expect("a clearing event");
    assert_eq!(cleared.attrs["volume_wh"].as_u64(), Some(5_000));
    assert_eq!(cleared.attrs["interval_start_ms"].as_u64(), Some(T0));
    assert_eq!(iv.curtailed_export_wh, 35_000 - 5_000);
    let orders = machina_energy::market::orders_of(&c.state, ZONE, T0);
    let residual: u64 = orders
        .iter()
        .filter(|o| o.side == Side::Ask)
        .map(|o| o.qty_wh - o.fill_wh - o.curtailed_wh)
        .sum();
    assert!(residual <= 5_000);
    // The most expensive unfilled asks are curtailed first.
    let last = orders
        .iter()
        .filter(|o| o.side == Side::Ask)
        .max_by_key(|o| o.price)
        .expect("ask");
    assert_eq!(last.curtailed_wh, 10_000);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random books and random deliveries (none, short, exact, over): every machine's balance
    /// moves exactly as the settlement rules say, the escrow is always the sum of the open
    /// obligations and ends at zero, and the supply does not change.
    #[test]
    fn clearing_and_settlement_conserve_every_micro_unit(
        book in proptest::collection::vec((any::<bool>(), 90_000u64..290_000, 1u64..20_000, 0u64..40_000, any::<bool>()), 2..8),
    ) {
        let (mut c, devices, ids) = market(book.len(), u64::MAX / 8, u64::MAX / 8);
        let alice = key("alice");
        let supply = machina_bank::total_supply(&c.state);
        let escrow = machina_energy::market::escrow_address(ZONE);
        let grid = machina_energy::market::grid_address(ZONE);
        let fees = machina_energy::market::fee_address(ZONE);
        let addrs: Vec<Address> = ids.iter().map(|id| machina_identity::machine(&c.state, *id).expect("m").address).collect();
        let start: Vec<u128> = addrs.iter().map(|a| c.balance(a)).collect();
        let grid0 = c.balance(&grid);
        c.now = T0 - 600_000;
        for (k, (is_bid, price, qty, _, _)) in book.iter().enumerate() {
            let side = if *is_bid { Side::Bid } else { Side::Ask };
            c.ok(&alice, vec![order(ids[k], side, *price, *qty)]);
        }
        // Baseline readings at the interval's start.
        for k in 0..book.len() {
            reading(&mut c, &devices[k], ids[k], 1, T0, 1_000, 1_000);
        }
        let orders = machina_energy::market::orders_of(&c.state, ZONE, T0);
        let open: u128 = orders.iter().filter(|o| o.status == machina_energy::Status::Cleared).map(|o| o.escrow.0).sum();
        prop_assert_eq!(c.balance(&escrow), open);
        // Deliveries at the interval's end, for the machines that report.
        for (k, (is_bid, _, _, delivered, reports)) in book.iter().enumerate() {
            if *reports {
                let (imp, exp) = if *is_bid { (1_000 + delivered, 1_000) } else { (1_000, 1_000 + delivered) };
                reading(&mut c, &devices[k], ids[k], 2, T0 + INTERVAL, imp, exp);
            }
        }
        let events = c.tick(T0 + INTERVAL + 600_001);
        let iv = machina_energy::market::interval(&c.state, ZONE, T0);
        prop_assert!(iv.done);
        // Settlement may finish in an earlier block (one carrying the last reading); when it
        // finishes in this one, its event carries the interval's totals.
        if let Some(settled) = events.iter().find(|e| e.kind == "interval_settled") {
            prop_assert_eq!(settled.attrs["buyers_paid"].to_string(), iv.buyers_paid.to_string());
        }
        prop_assert_eq!(c.balance(&escrow), 0);
        prop_assert_eq!(iv.buyers_paid.0, iv.sellers_gross.0 + iv.rounding.0);
        prop_assert_eq!(machina_bank::total_supply(&c.state), supply);
        let price = u128::from(iv.price.unwrap_or(0));
        let (mut charges, mut credits) = (0u128, 0u128);
        for o in machina_energy::market::orders_of(&c.state, ZONE, T0) {
            let k = ids.iter().position(|id| *id == o.machine_id).expect("ours");
            let (_, _, _, delivered, reports) = book[k];
            let measured = if reports { delivered } else { 0 };
            let missing = u128::from(o.fill_wh - measured.min(o.fill_wh));
            let fill = u128::from(o.fill_wh);
            let change = c.balance(&addrs[k]) as i128 - start[k] as i128;
            match o.side {
                Side::Bid => {
                    let credit = u128::from(FEED_IN) * missing / 1000;
                    let cost = (price * fill).div_ceil(1000);
                    prop_assert_eq!(change, credit as i128 - cost as i128);
                    credits += credit;
                }
                Side::Ask => {
                    let gross = price * fill / 1000;
                    let fee = gross * 100 / 10_000;
                    let charge = (u128::from(RETAIL) * missing).div_ceil(1000);
                    prop_assert_eq!(change, gross as i128 - fee as i128 - charge as i128);
                    charges += charge;
                }
            }
        }
        prop_assert_eq!(c.balance(&grid), grid0 + charges - credits);
        prop_assert_eq!(c.balance(&fees), iv.fees.0 + iv.rounding.0);
    }
}
