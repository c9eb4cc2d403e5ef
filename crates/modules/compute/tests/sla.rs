//! Service levels: heartbeats keep a lease, a breach slashes the provider's bond to the
//! tenant exactly once, and the replica is matched again on another machine.

mod common;
use common::*;
use machina_compute::{ComputeAction, Heartbeat, JobStatus, Sla};
use machina_primitives::Amount;
use machina_staking::{StakingParams, Subject};
use machina_testkit::{key, Chain};

fn beat(c: &mut Chain, job: u64, replica: u8, device: &str) -> Vec<machina_primitives::Event> {
    let h = c.height + 1;
    let b = Heartbeat::sign(CHAIN, job, replica, h, 60 * h, &key(device));
    c.ok(
        &key("alice"),
        vec![ComputeAction::Heartbeats { beats: vec![b] }.into()],
    )
    .events
}

/// The `heartbeats` event's attributes.
fn counts(
    ev: &[machina_primitives::Event],
) -> std::collections::BTreeMap<String, machina_primitives::AttrValue> {
    ev.iter()
        .find(|e| e.kind == "heartbeats")
        .expect("heartbeats event")
        .attrs
        .clone()
}

fn tick(c: &mut Chain) {
    let now = c.now + 1000;
    c.tick(now);
}

/// Two bonded machines (slots at 10 and 11 per block) and a leased one-replica job with an SLA:
/// a heartbeat every 5 blocks, one may be missed, a breach takes 20% of the bond.
fn sla_job() -> (Chain, Vec<u64>, u64) {
    let mut c = Chain::new(CHAIN, 1_000);
    let m = machines(&mut c, 2, 2);
    c.ok(&key("bob"), vec![offer(m[0], terms(10, 1, "eu"))]);
    c.ok(&key("bob"), vec![offer(m[1], terms(11, 1, "eu"))]);
    let t = tenant();
    fund(&mut c, &t);
    let mut s = spec(20, 200, 1, "");
    s.sla = Sla {
        heartbeat_every_blocks: 5,
        max_missed: 1,
        penalty_bps: 2_000,
    };
    let job = job_id(&c.ok(&t, vec![job(s, 10_000)]));
    (c, m, job)
}

#[test]
fn a_breach_slashes_once_to_the_tenant_and_the_replica_is_matched_again() {
    let (mut c, m, job) = sla_job();
    let t = tenant();
    assert_eq!(
        machina_compute::job(&c.state, job).expect("job").leases[0].machine_id,
        m[0]
    );
    // A forged heartbeat (another device) is refused; the provider's own ones count.
    let h = c.height + 1;
    let forged = Heartbeat::sign(CHAIN, job, 0, h, 1, &key("gpu-1"));
    let ev = c
        .ok(
            &key("alice"),
            vec![ComputeAction::Heartbeats {
                beats: vec![forged],
            }
            .into()],
        )
        .events;
    assert_eq!(counts(&ev)["rejected"], "1");
    for _ in 0..6 {
        assert_eq!(counts(&beat(&mut c, job, 0, "gpu-0"))["accepted"], "1");
        for _ in 0..3 {
            tick(&mut c);
        }
    }
    let bond = StakingParams::default().min_provider_bond.0;
    let provider = Subject::Provider { machine_id: m[0] };
    assert_eq!(
        machina_staking::total(&c.state, &provider),
        Amount(bond),
        "beating: no breach"
    );
    // The device stops: within two SLA windows and a payment period the breach lands.
    let before = c.balance(&t.address());
    let mut breached_at = None;
    for _ in 0..40 {
        tick(&mut c);
        if c.block_events.iter().any(|e| e.kind == "breach") {
            breached_at = Some(c.height);
            break;
        }
    }
    let at = breached_at.expect("a breach");
    let take = bond * 2_000 / 10_000;
    assert_eq!(
        machina_staking::total(&c.state, &provider),
        Amount(bond - take)
    );
    let slashed = c
        .block_events
        .iter()
        .find(|e| e.kind == "slashed")
        .expect("slashed");
    assert_eq!(slashed.attrs["kind"], "sla_breach");
    assert_eq!(slashed.attrs["to_tenant"], take.to_string().as_str());
    assert_eq!(
        c.balance(&t.address()),
        before + take,
        "the harmed tenant is paid"
    );
    let rep = machina_identity::machine(&c.state, m[0])
        .expect("m")
        .reputation;
    assert_eq!((rep.leases_breached, rep.slashes), (1, 1));
    // The replica is matched again at the end of the same block, on the other machine.
    let j = machina_compute::job(&c.state, job).expect("job");
    assert_eq!(j.status, JobStatus::Leased);
    assert!(!j.leases[0].active);
    assert_eq!(j.leases[0].end_height, at + 1);
    assert_eq!(j.leases[1].machine_id, m[1]);
    assert_eq!(j.leases[1].start_height, at + 1);
    assert_eq!(
        machina_compute::offer(&c.state, 1).expect("offer").leased,
        0,
        "slot freed"
    );
    // The replacement beats; the breached machine is never slashed again.
    for _ in 0..8 {
        beat(&mut c, job, 1, "gpu-1");
        for _ in 0..3 {
            tick(&mut c);
        }
    }
    let st = machina_staking::stake(&c.state, &provider);
    assert_eq!(st.slashed_total, Amount(take), "one breach, one slash");
    let j = machina_compute::job(&c.state, job).expect("job");
    assert!(j.leases[1].active);
    let paid_new = j.leases[1].paid.0;
    assert!(
        paid_new > 0 && paid_new.is_multiple_of(11),
        "the replacement is paid from its start"
    );
    assert_eq!(machine_balance(&c, m[1]), paid_new);
}

#[test]
fn a_lease_not_acknowledged_in_time_ends_and_costs_reputation_but_no_stake() {
    let (mut c, m, job) = sla_job();
    for _ in 0..25 {
        tick(&mut c);
    }
    let j = machina_compute::job(&c.state, job).expect("job");
    assert!(!j.leases[0].active, "never acknowledged");
    let rep = machina_identity::machine(&c.state, m[0])
        .expect("m")
        .reputation;
    assert_eq!((rep.leases_breached, rep.slashes), (1, 0));
    let provider = Subject::Provider { machine_id: m[0] };
    assert_eq!(
        machina_staking::stake(&c.state, &provider).slashed_total,
        Amount::ZERO
    );
    // The replacement acknowledges through its owner and keeps the lease.
    let replica = (j.leases.len() - 1) as u8;
    assert_eq!(j.leases[usize::from(replica)].machine_id, m[1]);
    c.ok(
        &key("bob"),
        vec![ComputeAction::Ack {
            job_id: job,
            replica,
        }
        .into()],
    );
    assert_eq!(
        c.code(
            &key("alice"),
            vec![ComputeAction::Ack {
                job_id: job,
                replica
            }
            .into()]
        ),
        "not_yours"
    );
}

#[test]
fn a_silent_provider_is_found_within_its_sla_window_not_the_payment_period() {
    // Payments every 10 blocks, but a window of 2 × 1 block: the job is looked at every 2.
    let mut c = Chain::new(CHAIN, 1_000);
    let m = machines(&mut c, 1, 1);
    c.ok(&key("bob"), vec![offer(m[0], terms(10, 1, "eu"))]);
    let t = tenant();
    fund(&mut c, &t);
    let mut s = spec(20, 200, 1, "");
    s.sla = Sla {
        heartbeat_every_blocks: 1,
        max_missed: 1,
        penalty_bps: 1_000,
    };
    let job = job_id(&c.ok(&t, vec![job(s, 10_000)]));
    c.ok(
        &key("bob"),
        vec![ComputeAction::Ack {
            job_id: job,
            replica: 0,
        }
        .into()],
    );
    let last_beat = c.height + 1;
    beat(&mut c, job, 0, "gpu-0");
    let mut breached_at = None;
    for _ in 0..20 {
        tick(&mut c);
        if c.block_events.iter().any(|e| e.kind == "breach") {
            breached_at = Some(c.height);
            break;
        }
    }
    let at = breached_at.expect("a breach");
    assert!(
        at <= last_beat + 2 * 2,
        "breach at {at}, last heartbeat at {last_beat}: found within one window of the lapse"
    );
    let lease = &machina_compute::job(&c.state, job).expect("job").leases[0];
    assert!(
        lease.paid.0 <= 10 * u128::from(at + 1 - lease.start_height),
        "paid only through the breach"
    );
}
