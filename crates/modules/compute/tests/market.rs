//! The compute market through the whole transaction path: offers, a job leased in the block
//! it arrives in, payments exact to the micro-unit, pause, resume, close and expiry.

mod common;
use common::*;
use machina_compute::{ComputeAction, ComputeParams, JobStatus};
use machina_primitives::Amount;
use machina_testkit::{key, Chain};

fn job_of(c: &Chain, id: u64) -> machina_compute::Job {
    machina_compute::job(&c.state, id).expect("job")
}

#[test]
fn a_job_is_leased_in_its_own_block_on_the_cheapest_feasible_distinct_machines() {
    let mut c = Chain::new(CHAIN, 1_000);
    let m = machines(&mut c, 5, 5);
    let bob = key("bob");
    // Offer 1 is the cheapest but in another region; offer 5's machine unbonds below; offers 2
    // and 3 are on the same machine, so only one of them may serve the job.
    c.ok(&bob, vec![offer(m[0], terms(5, 1, "us"))]);
    c.ok(&bob, vec![offer(m[1], terms(10, 2, "eu"))]);
    c.ok(&bob, vec![offer(m[1], terms(11, 2, "eu"))]);
    c.ok(&bob, vec![offer(m[2], terms(30, 1, "eu"))]);
    c.ok(&bob, vec![offer(m[4], terms(1, 4, "eu"))]);
    c.ok(&bob, vec![offer(m[3], terms(20, 1, "eu"))]);
    c.ok(
        &bob,
        vec![machina_staking::StakingAction::Unbond {
            subject: machina_staking::Subject::Provider { machine_id: m[4] },
            amount: machina_staking::StakingParams::default().min_provider_bond,
        }
        .into()],
    );
    let t = tenant();
    fund(&mut c, &t);
    let r = c.ok(&t, vec![job(spec(25, 10, 2, "eu"), 1_000)]);
    let id = job_id(&r);
    let j = job_of(&c, id);
    assert_eq!(
        j.status,
        JobStatus::Leased,
        "leased at the end of its own block"
    );
    let chosen: Vec<(u64, u128)> = j
        .leases
        .iter()
        .map(|l| (l.offer_id, l.price_per_block.0))
        .collect();
    assert_eq!(chosen, vec![(2, 10), (6, 20)]);
    assert_eq!(
        j.paid_until_height,
        c.height + 1,
        "leases start in the next block"
    );
    assert_eq!(j.end_height, c.height + 11);
    assert!(c.block_events.iter().any(|e| e.kind == "matched"));
    assert_eq!(
        machina_compute::offer(&c.state, 2).expect("offer").leased,
        1
    );
    // Nothing fits a second job of the same kind under its price: it waits.
    let r = c.ok(&t, vec![job(spec(25, 10, 2, "eu"), 1_000)]);
    let second = job_id(&r);
    assert_eq!(job_of(&c, second).status, JobStatus::Waiting);
    assert_eq!(machina_compute::waiting(&c.state), vec![second]);
}

#[test]
fn payments_are_exact_pause_when_escrow_runs_out_and_resume_on_top_up() {
    let mut c = Chain::new(CHAIN, 1_000);
    let m = machines(&mut c, 1, 1);
    c.ok(&key("bob"), vec![offer(m[0], terms(10, 1, "eu"))]);
    let t = tenant();
    fund(&mut c, &t);
    let before = c.balance(&t.address());
    let supply = machina_bank::total_supply(&c.state);
    // 55 micro cover 5 blocks of 10.
    let id = job_id(&c.ok(&t, vec![job(spec(10, 20, 1, ""), 55)]));
    let start = job_of(&c, id).paid_until_height;
    while c.height < start + 5 {
        let now = c.now + 1000;
        c.tick(now);
    }
    let j = job_of(&c, id);
    assert_eq!(j.status, JobStatus::Paused);
    assert_eq!(j.paid_until_height, start + 5);
    assert_eq!(
        machine_balance(&c, m[0]),
        50,
        "5 blocks at 10, and not one more"
    );
    assert_eq!(j.escrow, Amount(5));
    assert_eq!(c.balance(&machina_compute::escrow_address()), 5);
    // Paused blocks are neither paid nor provided; a top-up resumes and moves the end.
    for _ in 0..3 {
        let now = c.now + 1000;
        c.tick(now);
    }
    c.ok(
        &t,
        vec![ComputeAction::TopUp {
            job_id: id,
            amount: Amount(1_000),
        }
        .into()],
    );
    let j = job_of(&c, id);
    assert_eq!(j.status, JobStatus::Leased);
    let paused_for = c.height - (start + 5);
    assert_eq!(j.end_height, start + 20 + paused_for);
    while job_of(&c, id).status != JobStatus::Closed {
        let now = c.now + 1000;
        c.tick(now);
    }
    let j = job_of(&c, id);
    assert_eq!(machine_balance(&c, m[0]), 200, "20 blocks at 10 in all");
    assert_eq!(j.leases[0].paid, Amount(200));
    assert_eq!(c.balance(&machina_compute::escrow_address()), 0);
    let fees = 2 * machina_stf::params::DEFAULT_MIN_FEE.0;
    assert_eq!(
        c.balance(&t.address()),
        before - 200 - fees,
        "the rest came back"
    );
    assert_eq!(machina_bank::total_supply(&c.state), supply);
    assert_eq!(
        machina_compute::offer(&c.state, 1).expect("offer").leased,
        0,
        "slot freed"
    );
    let m0 = machina_identity::machine(&c.state, m[0]).expect("machine");
    assert_eq!(m0.reputation.leases_completed, 1);
}

#[test]
fn a_paused_job_closes_after_its_grace_and_a_tenant_may_close_at_any_time() {
    let mut c = Chain::new(CHAIN, 1_000);
    let m = machines(&mut c, 2, 2);
    c.ok(&key("bob"), vec![offer(m[0], terms(10, 1, "eu"))]);
    c.ok(&key("bob"), vec![offer(m[1], terms(10, 1, "eu"))]);
    let t = tenant();
    fund(&mut c, &t);
    let a = job_id(&c.ok(&t, vec![job(spec(10, 100, 1, ""), 25)]));
    let b = job_id(&c.ok(&t, vec![job(spec(10, 100, 1, ""), 1_000)]));
    let grace = ComputeParams::default().grace_blocks;
    let deadline = c.height + 3 + grace + 2;
    while c.height < deadline {
        let now = c.now + 1000;
        c.tick(now);
        if c.height == deadline - grace {
            // Close b mid-way: used blocks paid, the rest back at once.
            let before = c.balance(&t.address());
            c.ok(&t, vec![ComputeAction::Close { job_id: b }.into()]);
            let j = job_of(&c, b);
            assert_eq!(j.status, JobStatus::Closed);
            let paid = j.leases[0].paid.0;
            assert_eq!(paid % 10, 0);
            let fee = machina_stf::params::DEFAULT_MIN_FEE.0;
            assert_eq!(c.balance(&t.address()), before + (1_000 - paid) - fee);
        }
    }
    let j = job_of(&c, a);
    assert_eq!(j.status, JobStatus::Closed, "closed after the grace");
    assert_eq!(j.leases[0].paid, Amount(20));
    assert_eq!(c.balance(&machina_compute::escrow_address()), 0);
}

#[test]
fn a_job_waits_until_an_offer_fits_and_fails_after_the_window() {
    let mut c = Chain::new(CHAIN, 1_000);
    let m = machines(&mut c, 1, 1);
    let t = tenant();
    fund(&mut c, &t);
    let a = job_id(&c.ok(&t, vec![job(spec(10, 5, 1, ""), 100)]));
    let b = job_id(&c.ok(&t, vec![job(spec(10, 5, 2, ""), 100)]));
    assert_eq!(job_of(&c, a).status, JobStatus::Waiting);
    c.ok(&key("bob"), vec![offer(m[0], terms(10, 2, "eu"))]);
    assert_eq!(
        job_of(&c, a).status,
        JobStatus::Leased,
        "retried each block"
    );
    // b needs two distinct machines; there is one.
    let before = c.balance(&t.address());
    let window = ComputeParams::default().match_window_blocks;
    while job_of(&c, b).status == JobStatus::Waiting {
        let now = c.now + 1000;
        c.tick(now);
        assert!(
            c.height <= job_of(&c, b).posted_height + window,
            "failed within its window"
        );
    }
    assert_eq!(job_of(&c, b).status, JobStatus::Failed);
    // b's deposit back, and what a (5 blocks at 10) did not use.
    assert_eq!(job_of(&c, a).status, JobStatus::Closed);
    assert_eq!(c.balance(&t.address()), before + 100 + 50, "refunded");
}

#[test]
fn offers_are_refused_without_a_compute_machine_and_capacity_in_use_stays() {
    let mut c = Chain::new(CHAIN, 1_000);
    let m = machines(&mut c, 2, 1);
    let bob = key("bob");
    assert_eq!(
        c.code(&key("alice"), vec![offer(m[0], terms(10, 1, "eu"))]),
        "not_owner"
    );
    assert_eq!(
        c.code(&bob, vec![offer(m[1], terms(10, 1, "eu"))]),
        "no_provider_bond"
    );
    assert_eq!(
        c.code(&bob, vec![offer(m[0], terms(0, 1, "eu"))]),
        "invalid_offer"
    );
    c.ok(&bob, vec![offer(m[0], terms(10, 2, "eu"))]);
    let t = tenant();
    fund(&mut c, &t);
    c.ok(&t, vec![job(spec(10, 50, 1, ""), 1_000)]);
    let update = |cap| {
        ComputeAction::UpdateOffer {
            offer_id: 1,
            terms: terms(12, cap, "eu"),
        }
        .into()
    };
    assert_eq!(c.code(&bob, vec![update(0)]), "invalid_offer");
    c.ok(&bob, vec![update(1)]);
    c.ok(
        &bob,
        vec![ComputeAction::WithdrawOffer { offer_id: 1 }.into()],
    );
    assert!(machina_compute::book(&c.state, "h100").is_empty());
    assert_eq!(
        c.code(
            &bob,
            vec![ComputeAction::WithdrawOffer { offer_id: 1 }.into()]
        ),
        "offer_withdrawn"
    );
}
