//! Meter readings and data feeds through the whole transaction path.

use machina_bank::BankAction;
use machina_identity::{
    device_pop_message, IdentityAction, MachineKind, MachineMetadata, MachineRegistration,
};
use machina_oracle::feed::reporter_subject;
use machina_oracle::{FeedConfig, FeedReport, OracleAction, SignedReading};
use machina_primitives::{Address, Amount, BlockEnv, Event, Keypair};
use machina_staking::StakingAction;
use machina_stf::{verify_txs, Action, BlockExecutor, TxBody, TxError};
use proptest::prelude::*;

use machina_testkit::{key, reading, Chain, FEE};

const CHAIN: u64 = 11;
const T0: u64 = 1_800_000_000_000;

/// What these tests do with a chain, beyond the shared harness.
trait Oracle {
    /// Sends, expects the actions to succeed, and returns the receipt's events.
    fn run(&mut self, signer: &Keypair, actions: Vec<Action>) -> Result<Vec<Event>, TxError>;
    fn register(&mut self, device: &Keypair, rated_power_w: u64) -> u64;
    fn readings(&mut self, readings: Vec<SignedReading>) -> Vec<String>;
    fn reputation(&self, id: u64) -> machina_oracle::ReadingStats;
}

impl Oracle for Chain {
    fn run(&mut self, signer: &Keypair, actions: Vec<Action>) -> Result<Vec<Event>, TxError> {
        let r = Chain::send(self, signer, actions)?;
        match r.error {
            None => Ok(r.events),
            Some(e) => panic!("actions failed: {} {}", e.code, e.message),
        }
    }

    fn register(&mut self, device: &Keypair, rated_power_w: u64) -> u64 {
        let owner = key("alice");
        let reg = MachineRegistration {
            device_key: device.public(),
            device_signature: device.sign(&device_pop_message(CHAIN, &owner.address())),
            kind: MachineKind::Meter,
            rated_power_w,
            capacity_wh: None,
            zone: None,
            metadata: MachineMetadata::default(),
            attestation: None,
        };
        let ev = self
            .run(
                &owner,
                vec![IdentityAction::RegisterMachine(Box::new(reg)).into()],
            )
            .expect("registered");
        ev[1].attrs["machine_id"].parse().expect("id")
    }

    /// Submits readings from a gateway (bob); returns the code of each refused one, in order.
    fn readings(&mut self, readings: Vec<SignedReading>) -> Vec<String> {
        let ev = self
            .run(
                &key("bob"),
                vec![OracleAction::SubmitReadings { readings }.into()],
            )
            .expect("included");
        ev.iter()
            .filter(|e| e.kind == "rejected")
            .map(|e| e.attrs["code"].to_string())
            .collect()
    }

    fn reputation(&self, id: u64) -> machina_oracle::ReadingStats {
        machina_oracle::stats(&self.state, id)
    }
}

#[test]
fn good_readings_are_accepted_and_each_bad_one_is_refused_with_its_own_code() {
    let mut c = Chain::new(CHAIN, T0);
    let dev = key("meter-1");
    let id = c.register(&dev, 10_000);
    let ok = reading(id, 1, T0 - 60_000, 100, 0).sign(CHAIN, &dev);
    assert!(c.readings(vec![ok]).is_empty());
    let mut forged = reading(id, 2, T0, 110, 0).sign(CHAIN, &dev);
    forged.signature = key("x").sign(b"nothing");
    let cases = vec![
        (
            reading(id, 2, T0, 110, 0).sign(CHAIN, &key("other")),
            "wrong_device_key",
        ),
        (forged, "bad_reading_signature"),
        (
            reading(id, 2, T0, 90, 0).sign(CHAIN, &dev),
            "counter_regression",
        ),
        // 10 kW for one minute is 167 Wh; 1000 Wh is far above.
        (
            reading(id, 2, T0, 1_100, 0).sign(CHAIN, &dev),
            "power_above_rating",
        ),
        (
            reading(id, 2, T0 + 3_600_000, 110, 0).sign(CHAIN, &dev),
            "timestamp_in_future",
        ),
        (
            reading(id, 2, T0 - 7 * 3_600_000, 110, 0).sign(CHAIN, &dev),
            "timestamp_too_old",
        ),
        (
            reading(id, 1, T0 - 60_000, 100, 0).sign(CHAIN, &dev),
            "stale_reading",
        ),
        (
            reading(999, 1, T0, 1, 0).sign(CHAIN, &dev),
            "unknown_machine",
        ),
    ];
    for (r, want) in cases {
        assert_eq!(c.readings(vec![r]), vec![want.to_string()]);
    }
    // Evidence against the device (regression, power, future time) counts; forgeries,
    // replays and late arrivals, which anyone can submit, do not.
    let rep = c.reputation(id);
    assert_eq!((rep.readings_accepted, rep.readings_rejected), (1, 3));
    let last = machina_oracle::meter_log(&c.state, id, 0)
        .last
        .expect("a reading");
    assert_eq!((last.seq, last.import_wh), (1, 100));
}

#[test]
fn one_bad_reading_in_a_batch_refuses_only_itself() {
    let mut c = Chain::new(CHAIN, T0);
    let devs: Vec<Keypair> = (0..5).map(|i| key(&format!("m{i}"))).collect();
    let ids: Vec<u64> = devs.iter().map(|d| c.register(d, 5_000)).collect();
    let mut batch: Vec<SignedReading> = ids
        .iter()
        .zip(&devs)
        .map(|(id, d)| reading(*id, 1, T0, 10, 5).sign(CHAIN, d))
        .collect();
    batch[2].signature = key("x").sign(b"garbage");
    assert_eq!(c.readings(batch), vec!["bad_reading_signature".to_string()]);
    let accepted = ids
        .iter()
        .filter(|id| machina_oracle::meter_log(&c.state, **id, 0).last.is_some())
        .count();
    assert_eq!(accepted, 4);
}

#[test]
fn a_revoked_machine_and_a_rotated_key_are_refused() {
    let mut c = Chain::new(CHAIN, T0);
    let (old, new) = (key("m-old"), key("m-new"));
    let id = c.register(&old, 5_000);
    let alice = key("alice");
    c.run(
        &alice,
        vec![IdentityAction::RotateDeviceKey {
            machine_id: id,
            new_key: new.public(),
            signature: new.sign(&device_pop_message(CHAIN, &alice.address())),
        }
        .into()],
    )
    .expect("rotated");
    assert_eq!(
        c.readings(vec![reading(id, 1, T0, 1, 0).sign(CHAIN, &old)]),
        vec!["wrong_device_key".to_string()]
    );
    assert!(c
        .readings(vec![reading(id, 1, T0, 1, 0).sign(CHAIN, &new)])
        .is_empty());
    c.run(
        &alice,
        vec![IdentityAction::RevokeMachine { machine_id: id }.into()],
    )
    .expect("revoked");
    assert_eq!(
        c.readings(vec![reading(id, 2, T0, 2, 0).sign(CHAIN, &new)]),
        vec!["machine_revoked".to_string()]
    );
}

#[test]
fn a_receipt_tells_each_reading_apart_until_it_runs_out_of_room_to_name_refusals() {
    use machina_oracle::meter::MAX_REJECTION_EVENTS as MAX;
    use machina_oracle::{readings_reports, ItemOutcome};
    let mut c = Chain::new(CHAIN, T0);
    let dev = key("meter-r");
    let id = c.register(&dev, 10_000);
    assert!(c
        .readings(vec![reading(id, 1, T0 - 60_000, 10, 0).sign(CHAIN, &dev)])
        .is_empty());
    // Item 0 accepted, then more stale copies than a receipt names, then a good one.
    let stale = MAX as u64 + 50;
    let mut batch = vec![reading(id, 2, T0 - 50_000, 11, 0).sign(CHAIN, &dev)];
    batch.extend((0..stale).map(|_| reading(id, 1, T0 - 60_000, 10, 0).sign(CHAIN, &dev)));
    batch.push(reading(id, 3, T0 - 40_000, 12, 0).sign(CHAIN, &dev));
    let r = c
        .send(
            &key("bob"),
            vec![OracleAction::SubmitReadings { readings: batch }.into()],
        )
        .expect("included");
    let reports = readings_reports(&r.events);
    assert_eq!(reports.len(), 1);
    let rep = &reports[0];
    assert_eq!((rep.accepted, rep.refused, rep.unnamed()), (2, stale, 50));
    assert_eq!(rep.item(0), ItemOutcome::Accepted);
    assert!(
        matches!(rep.item(1), ItemOutcome::Refused(f) if f.code == "stale_reading" && f.seq == 1)
    );
    assert!(matches!(rep.item(MAX as u64), ItemOutcome::Refused(_)));
    assert_eq!(rep.item(MAX as u64 + 1), ItemOutcome::Unreported);
    assert_eq!(rep.item(stale + 1), ItemOutcome::Unreported);
}

/// The obviously correct model: all readings in a list, the counter at t by scanning.
fn model_counter(points: &[(u64, u64)], t: u64) -> Option<u64> {
    let last = points.last()?;
    if t > last.0 {
        return None;
    }
    let after = points.iter().position(|(pt, _)| *pt > t);
    Some(match after {
        Some(0) => points[0].1,
        None => last.1,
        Some(i) => {
            let (t1, c1) = points[i - 1];
            let (t2, c2) = points[i];
            if t1 == t {
                c1
            } else {
                c1 + ((c2 - c1) as u128 * (t - t1) as u128 / (t2 - t1) as u128) as u64
            }
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Interval energy from random reading times with gaps matches the model, and adjacent
    /// spans add up.
    #[test]
    fn interval_energy_matches_the_model(
        steps in proptest::collection::vec((1u64..3_600_000, 0u64..5_000), 1..30),
        spans in proptest::collection::vec((0u64..120_000_000, 0u64..120_000_000), 1..10),
    ) {
        let mut c = Chain::new(CHAIN, T0);
        let dev = key("meter");
        // 1 TW: every step passes the power check; this test is about interpolation.
        let id = c.register(&dev, 1_000_000_000_000);
        let start = T0 - 100_000_000;
        let (mut t, mut imp) = (start, 1_000u64);
        let mut points = Vec::new();
        for (seq, (dt, de)) in steps.iter().enumerate() {
            t += dt;
            imp += de;
            points.push((t, imp));
            // Each reading arrives while it is fresh.
            c.now = t;
            prop_assert!(c.readings(vec![reading(id, seq as u64 + 1, t, imp, 0).sign(CHAIN, &dev)]).is_empty());
        }
        for (a, b) in spans {
            let (a, b) = (start + a.min(b), start + a.max(b));
            let got = machina_oracle::energy_between(&c.state, id, 0, a, b);
            match (model_counter(&points, a), model_counter(&points, b)) {
                (Some(ca), Some(cb)) => {
                    let e = got.expect("measured");
                    prop_assert_eq!(e.import_wh, cb - ca);
                    let mid = a + (b - a) / 2;
                    let left = machina_oracle::energy_between(&c.state, id, 0, a, mid).expect("left");
                    let right = machina_oracle::energy_between(&c.state, id, 0, mid, b).expect("right");
                    prop_assert_eq!(left.import_wh + right.import_wh, e.import_wh);
                }
                _ => prop_assert!(got.is_err()),
            }
        }
    }
}

fn feed_config(reporters: &[Keypair], quorum: u16, super_quorum: u16) -> FeedConfig {
    FeedConfig {
        name: "grid.retail_price.zone-a".into(),
        reporters: reporters.iter().map(Keypair::address).collect(),
        bond: Amount(1_000_000),
        quorum,
        super_quorum,
        max_change_bps: 1_000,
        stale_after_ms: 600_000,
    }
}

const FEED: &str = "grid.retail_price.zone-a";

fn setup_feed(c: &mut Chain, reporters: &[Keypair], quorum: u16, super_quorum: u16) {
    let alice = key("alice");
    let addrs: Vec<Action> = reporters
        .iter()
        .map(|r| {
            BankAction::Transfer {
                to: r.address(),
                amount: Amount(10_000_000),
            }
            .into()
        })
        .collect();
    c.run(&alice, addrs).expect("funded");
    c.run(
        &alice,
        vec![
            OracleAction::CreateFeed(Box::new(feed_config(reporters, quorum, super_quorum))).into(),
        ],
    )
    .expect("created");
    for r in reporters {
        c.run(r, vec![stake_for_feed(r)]).expect("bonded");
    }
}

/// A reporter's bond for the feed, in the staking module.
fn stake_for_feed(r: &Keypair) -> Action {
    StakingAction::Bond {
        subject: reporter_subject(FEED, &r.address()),
        amount: Amount(1_000_000),
    }
    .into()
}

fn stake_of(c: &Chain, r: &Keypair) -> Amount {
    machina_staking::total(&c.state, &reporter_subject(FEED, &r.address()))
}

fn report(c: &mut Chain, reports: Vec<FeedReport>) -> Vec<String> {
    let ev = c
        .run(
            &key("bob"),
            vec![OracleAction::ReportFeed { reports }.into()],
        )
        .expect("included");
    ev.iter()
        .filter(|e| e.kind == "rejected")
        .map(|e| e.attrs["code"].to_string())
        .collect()
}

fn reporters(n: usize) -> Vec<Keypair> {
    (0..n).map(|i| key(&format!("reporter{i}"))).collect()
}

#[test]
fn a_feed_takes_the_median_once_a_quorum_reports_and_bounds_its_moves() {
    let mut c = Chain::new(CHAIN, T0);
    let rs = reporters(5);
    setup_feed(&mut c, &rs, 3, 5);
    let round = |c: &mut Chain, r: u64, vals: &[i64]| {
        let reps = vals
            .iter()
            .zip(&rs)
            .map(|(v, k)| FeedReport::sign(CHAIN, FEED, r, *v, k))
            .collect();
        report(c, reps)
    };
    assert!(round(&mut c, 1, &[100, 300]).is_empty());
    assert!(machina_oracle::feed(&c.state, FEED)
        .expect("feed")
        .value
        .is_none());
    // The third report makes the quorum: median of 100, 300, 200.
    let third = FeedReport::sign(CHAIN, FEED, 1, 200, &rs[2]);
    assert!(report(&mut c, vec![third]).is_empty());
    assert_eq!(
        machina_oracle::feed_value(&c.state, FEED, c.now),
        Ok((200, 1))
    );
    // Round 2 wants to jump by 50%: three reports are not enough, five are.
    assert!(round(&mut c, 2, &[300, 300, 300]).is_empty());
    assert_eq!(
        machina_oracle::feed(&c.state, FEED).expect("feed").value,
        Some(200)
    );
    let rest: Vec<FeedReport> = [3usize, 4]
        .iter()
        .map(|i| FeedReport::sign(CHAIN, FEED, 2, 300, &rs[*i]))
        .collect();
    assert!(report(&mut c, rest).is_empty());
    assert_eq!(
        machina_oracle::feed(&c.state, FEED).expect("feed").value,
        Some(300)
    );
    // Old rounds, unbonded outsiders and repeats are refused.
    let late = FeedReport::sign(CHAIN, FEED, 1, 5, &rs[0]);
    assert_eq!(report(&mut c, vec![late]), vec!["wrong_round".to_string()]);
    let outsider = FeedReport::sign(CHAIN, FEED, 3, 5, &key("eve"));
    assert_eq!(
        report(&mut c, vec![outsider]),
        vec!["not_a_reporter".to_string()]
    );
    // Staleness is judged against block time.
    c.now += 600_001;
    assert_eq!(
        machina_oracle::feed_value(&c.state, FEED, c.now).map_err(|e| e.code()),
        Err("feed_stale")
    );
}

#[test]
fn equivocation_slashes_the_stake_half_to_the_prover() {
    let mut c = Chain::new(CHAIN, T0);
    let rs = reporters(3);
    setup_feed(&mut c, &rs, 2, 3);
    let (a, b) = (
        FeedReport::sign(CHAIN, FEED, 1, 100, &rs[0]),
        FeedReport::sign(CHAIN, FEED, 1, 101, &rs[0]),
    );
    let prover = key("charlie");
    let before = machina_bank::account(&c.state, &prover.address()).balance.0;
    let supply = machina_bank::total_supply(&c.state);
    c.run(
        &prover,
        vec![OracleAction::ProveEquivocation {
            a: Box::new(a.clone()),
            b: Box::new(b.clone()),
        }
        .into()],
    )
    .expect("proved");
    assert_eq!(
        machina_bank::account(&c.state, &prover.address()).balance.0,
        before - FEE + 500_000
    );
    assert_eq!(
        machina_bank::account(&c.state, &machina_staking::insurance_pool_address())
            .balance
            .0,
        500_000
    );
    assert_eq!(stake_of(&c, &rs[0]), Amount::ZERO);
    assert_eq!(machina_bank::total_supply(&c.state), supply);
    // The slashed reporter no longer counts; the same offence is punished once.
    assert_eq!(
        report(&mut c, vec![a.clone()]),
        vec!["not_bonded".to_string()]
    );
    let vtx = TxBody {
        chain_id: CHAIN,
        sender: prover.address(),
        nonce: machina_bank::account(&c.state, &prover.address()).nonce,
        fee: Amount(FEE),
        expiry_height: 1000,
        fee_payer: None,
        actions: vec![OracleAction::ProveEquivocation {
            a: Box::new(a.clone()),
            b: Box::new(b),
        }
        .into()],
    }
    .sign(&[&prover]);
    let vtx = verify_txs(vec![vtx]).pop().expect("one").expect("valid");
    let mut exec = BlockExecutor::begin(
        &c.state,
        BlockEnv {
            chain_id: CHAIN,
            height: 99,
            timestamp_ms: c.now,
            proposer: Address([0xfe; 20]),
        },
    );
    assert_eq!(
        exec.execute(&vtx)
            .expect("included")
            .error
            .as_ref()
            .map(|e| e.code.as_str()),
        Some("evidence_used")
    );
    // Evidence with a forged signature is refused before execution.
    let mut forged = a.clone();
    forged.value = 7;
    let tx = TxBody {
        chain_id: CHAIN,
        sender: prover.address(),
        nonce: 0,
        fee: Amount(FEE),
        expiry_height: 1000,
        fee_payer: None,
        actions: vec![OracleAction::ProveEquivocation {
            a: Box::new(a),
            b: Box::new(forged),
        }
        .into()],
    }
    .sign(&[&prover]);
    assert_eq!(
        verify_txs(vec![tx])
            .pop()
            .expect("one")
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("bad_evidence_signature")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// With f liars among 2f+1 bonded reporters, all reporting, the feed's value lies within
    /// the honest values whatever the liars say.
    #[test]
    fn f_liars_among_2f_plus_1_cannot_move_the_value_outside_the_honest_range(
        f in 1usize..4,
        honest in proptest::collection::vec(1_000i64..2_000, 4),
        lies in proptest::collection::vec(any::<i64>(), 3),
    ) {
        let mut c = Chain::new(CHAIN, T0);
        let rs = reporters(2 * f + 1);
        let n = rs.len() as u16;
        setup_feed(&mut c, &rs, n, n);
        let values: Vec<i64> = (0..rs.len()).map(|i| if i < f { lies[i % 3] } else { honest[i % 4] }).collect();
        let reps = values.iter().zip(&rs).map(|(v, k)| FeedReport::sign(CHAIN, FEED, 1, *v, k)).collect();
        prop_assert!(report(&mut c, reps).is_empty());
        let v = machina_oracle::feed(&c.state, FEED).expect("feed").value.expect("set");
        let honest_vals = &values[f..];
        prop_assert!(v >= *honest_vals.iter().min().unwrap() && v <= *honest_vals.iter().max().unwrap());
    }
}

#[test]
fn old_evidence_cannot_take_a_new_bond() {
    let mut c = Chain::new(CHAIN, T0);
    let rs = reporters(3);
    setup_feed(&mut c, &rs, 2, 3);
    let (a, b) = (
        FeedReport::sign(CHAIN, FEED, 1, 100, &rs[0]),
        FeedReport::sign(CHAIN, FEED, 1, 101, &rs[0]),
    );
    let prover = key("charlie");
    c.run(
        &prover,
        vec![OracleAction::ProveEquivocation {
            a: Box::new(a.clone()),
            b: Box::new(b.clone()),
        }
        .into()],
    )
    .expect("proved");
    // Two honest reports finish round 1; the slashed reporter bonds again in round 2, and the
    // old evidence cannot take the new stake.
    let honest: Vec<FeedReport> = rs[1..]
        .iter()
        .map(|k| FeedReport::sign(CHAIN, FEED, 1, 100, k))
        .collect();
    assert!(report(&mut c, honest).is_empty());
    c.run(&rs[0], vec![stake_for_feed(&rs[0])])
        .expect("bonded again");
    let replay = c
        .send(
            &prover,
            vec![OracleAction::ProveEquivocation {
                a: Box::new(a),
                b: Box::new(b),
            }
            .into()],
        )
        .expect("included");
    assert_eq!(
        replay.error.map(|e| e.code),
        Some("evidence_used".to_string())
    );
    assert_eq!(stake_of(&c, &rs[0]), Amount(1_000_000));
}
