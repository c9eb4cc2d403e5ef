//! Properties of the compute market on random offers, jobs, top-ups, closes and blocks:
//! matching agrees with a brute-force reference and does not depend on the order of jobs in
//! their block; every micro-unit of escrow is accounted for and no lease is paid beyond it.

mod common;
use common::*;
use machina_compute::{ComputeAction, Job, JobSpec, JobStatus, Offer, OfferTerms, Resources};
use machina_primitives::{Amount, Encode};
use machina_stf::Action;
use machina_testkit::{key, Chain};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct OfferGen {
    machine: usize,
    price: u128,
    capacity: u16,
    gpus: u16,
    eu: bool,
    max_lease: u64,
    attested: bool,
}

fn offer_gen() -> impl Strategy<Value = OfferGen> {
    (
        0..4usize,
        1..40u128,
        1..3u16,
        1..4u16,
        any::<bool>(),
        1..60u64,
        any::<bool>(),
    )
        .prop_map(
            |(machine, price, capacity, gpus, eu, max_lease, attested)| OfferGen {
                machine,
                price,
                capacity,
                gpus,
                eu,
                max_lease,
                attested,
            },
        )
}

#[derive(Clone, Debug)]
struct JobGen {
    max_price: u128,
    gpus: u16,
    region: u8,
    blocks: u64,
    redundancy: u8,
    deposit: u128,
    attested: bool,
}

fn job_gen() -> impl Strategy<Value = JobGen> {
    (
        1..50u128,
        1..4u16,
        0..3u8,
        1..50u64,
        1..4u8,
        1..400u128,
        proptest::bool::weighted(0.25),
    )
        .prop_map(
            |(max_price, gpus, region, blocks, redundancy, deposit, attested)| JobGen {
                max_price,
                gpus,
                region,
                blocks,
                redundancy,
                deposit,
                attested,
            },
        )
}

fn offer_terms(g: &OfferGen) -> OfferTerms {
    OfferTerms {
        resources: Resources {
            gpus: g.gpus,
            ..slot(1)
        },
        region: if g.eu { "eu" } else { "us" }.into(),
        price_per_block: Amount(g.price),
        capacity: g.capacity,
        max_lease_blocks: g.max_lease,
    }
}

fn job_spec(g: &JobGen) -> JobSpec {
    JobSpec {
        requirements: Resources {
            gpus: g.gpus,
            ..slot(1)
        },
        region: ["", "eu", "us"][usize::from(g.region)].into(),
        min_reputation: 0,
        max_price_per_block: Amount(g.max_price),
        blocks: g.blocks,
        redundancy: g.redundancy,
        sla: machina_compute::Sla::default(),
        attested: g.attested,
    }
}

/// A market with four bonded machines and `offers`, those marked attested attested by dave,
/// the chain's auditor.
fn market(offers: &[OfferGen]) -> (Chain, Vec<u64>) {
    let mut g = machina_stf::Genesis::dev(CHAIN, 1_000, Vec::new());
    g.modules.compute.auditors = vec![key("dave").address()];
    let mut c = Chain::from_genesis(&g, 1_000);
    let m = machines(&mut c, 4, 4);
    let actions: Vec<Action> = offers
        .iter()
        .map(|g| offer(m[g.machine], offer_terms(g)))
        .collect();
    c.ok(&key("bob"), actions);
    let attest: Vec<Action> = (1..)
        .zip(offers)
        .filter(|(_, g)| g.attested)
        .map(|(offer_id, g)| {
            ComputeAction::Attest {
                offer_id,
                attributes: machina_compute::offer_attributes(&offer_terms(g)),
            }
            .into()
        })
        .collect();
    if !attest.is_empty() {
        c.ok(&key("dave"), attest);
    }
    let t = tenant();
    fund(&mut c, &t);
    (c, m)
}

/// The reference: jobs in the module's documented order, each taking per replica the
/// cheapest offer (then lowest id) with a free slot on a machine it does not use yet, found by
/// looking at every offer.
fn reference(offers: &mut [Offer], bonded: &[u64], jobs: &[Job]) -> Vec<(u64, Vec<u64>)> {
    let mut out = Vec::new();
    for j in jobs {
        let mut cands: Vec<&Offer> = offers
            .iter()
            .filter(|o| {
                let t = &o.terms;
                bonded.contains(&o.machine_id)
                    && o.leased < t.capacity
                    && t.price_per_block <= j.spec.max_price_per_block
                    && t.resources.covers(&j.spec.requirements)
                    && (j.spec.region.is_empty() || t.region == j.spec.region)
                    && t.max_lease_blocks >= j.spec.blocks
                    && (!j.spec.attested || o.attestation.is_some())
            })
            .collect();
        cands.sort_by_key(|o| (o.terms.price_per_block, o.offer_id));
        let mut chosen: Vec<&Offer> = Vec::new();
        for o in cands {
            if chosen.len() < usize::from(j.spec.redundancy)
                && chosen.iter().all(|c| c.machine_id != o.machine_id)
            {
                chosen.push(o);
            }
        }
        let rate: u128 = chosen.iter().map(|o| o.terms.price_per_block.0).sum();
        if chosen.len() == usize::from(j.spec.redundancy) && j.escrow.0 >= rate {
            let ids: Vec<u64> = chosen.iter().map(|o| o.offer_id).collect();
            for o in offers.iter_mut() {
                if ids.contains(&o.offer_id) {
                    o.leased += 1;
                }
            }
            out.push((j.job_id, ids));
        }
    }
    out
}

/// Posts `jobs` in one transaction (one block) and returns, per job, its spec's encoding,
/// its deposit and the offers it leased.
fn post_all(c: &mut Chain, jobs: &[JobGen]) -> Vec<(Vec<u8>, u128, Vec<u64>)> {
    let actions: Vec<Action> = jobs.iter().map(|g| job(job_spec(g), g.deposit)).collect();
    let r = c.ok(&tenant(), actions);
    let ids: Vec<u64> = r
        .events
        .iter()
        .filter(|e| e.kind == "job_posted")
        .map(|e| e.attrs["job_id"].parse().expect("id"))
        .collect();
    let mut out: Vec<(Vec<u8>, u128, Vec<u64>)> = ids
        .iter()
        .map(|id| {
            let j = machina_compute::job(&c.state, *id).expect("job");
            let deposit = jobs
                .iter()
                .find(|g| job_spec(g) == j.spec)
                .map_or(0, |g| g.deposit);
            (
                j.spec.encode(),
                deposit,
                j.leases.iter().map(|l| l.offer_id).collect(),
            )
        })
        .collect();
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn matching_agrees_with_brute_force_and_ignores_order_in_the_block(
        offers in proptest::collection::vec(offer_gen(), 1..16),
        jobs in proptest::collection::vec(job_gen(), 1..10),
    ) {
        let (mut c, m) = market(&offers);
        let mut before: Vec<Offer> = (1..=offers.len() as u64).map(|id| machina_compute::offer(&c.state, id).expect("offer")).collect();
        let actions: Vec<Action> = jobs.iter().map(|g| job(job_spec(g), g.deposit)).collect();
        let r = c.ok(&tenant(), actions);
        let ids: Vec<u64> = r.events.iter().filter(|e| e.kind == "job_posted").map(|e| e.attrs["job_id"].parse().expect("id")).collect();
        let mut posted: Vec<Job> = ids.iter().map(|id| machina_compute::job(&c.state, *id).expect("job")).collect();
        // The records as posted (before matching changed them).
        for j in &mut posted {
            j.status = JobStatus::Waiting;
            j.leases.clear();
        }
        machina_compute::fair_order(&mut posted);
        let want = reference(&mut before, &m[..4], &posted);
        let mut got: Vec<(u64, Vec<u64>)> = ids
            .iter()
            .filter_map(|id| {
                let j = machina_compute::job(&c.state, *id).expect("job");
                (j.status == JobStatus::Leased).then(|| (j.job_id, j.leases.iter().map(|l| l.offer_id).collect()))
            })
            .collect();
        got.sort();
        let mut want = want;
        want.sort();
        prop_assert_eq!(&got, &want);
        for (id, offers_taken) in &got {
            let j = machina_compute::job(&c.state, *id).expect("job");
            for (l, o) in j.leases.iter().zip(offers_taken) {
                let offer = before.iter().find(|x| x.offer_id == *o).expect("offer");
                prop_assert_eq!(l.price_per_block, offer.terms.price_per_block, "pays the offer's price");
            }
        }
        // The same jobs in the opposite order within their block lease the same offers.
        let (mut c1, _) = market(&offers);
        let (mut c2, _) = market(&offers);
        let mut reversed = jobs.clone();
        reversed.reverse();
        prop_assert_eq!(post_all(&mut c1, &jobs), post_all(&mut c2, &reversed));
    }
}

#[derive(Clone, Debug)]
enum Op {
    Post(JobGen),
    TopUp(usize, u128),
    Close(usize),
    Blocks(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => job_gen().prop_map(Op::Post),
        2 => (0..8usize, 1..300u128).prop_map(|(j, a)| Op::TopUp(j, a)),
        1 => (0..8usize).prop_map(Op::Close),
        4 => (1..30u64).prop_map(Op::Blocks),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// After every step: the escrow account holds exactly every job's escrow; the tenant's
    /// money is its fees, the escrows and what the leases were paid, less the slashes of
    /// silent replicas it received; the price book lists exactly the offers with a free slot; each machine received
    /// exactly what its leases were paid; each lease was paid whole blocks at its price, never
    /// more than its length; and the supply never moved.
    #[test]
    fn every_micro_unit_of_escrow_is_accounted_for(
        offers in proptest::collection::vec(offer_gen(), 1..10),
        ops in proptest::collection::vec(op(), 1..30),
    ) {
        let (mut c, m) = market(&offers);
        let t = tenant();
        let start = c.balance(&t.address());
        let supply = machina_bank::total_supply(&c.state);
        let mut txs = 0u128;
        let mut ids: Vec<u64> = Vec::new();
        for op in ops {
            let send = |c: &mut Chain, a: Action| c.send(&t, vec![a]).expect("included");
            match op {
                Op::Post(g) => {
                    let r = send(&mut c, job(job_spec(&g), g.deposit));
                    txs += 1;
                    if r.success {
                        ids.push(job_id(&r));
                    }
                }
                Op::TopUp(i, a) if !ids.is_empty() => {
                    send(&mut c, ComputeAction::TopUp { job_id: ids[i % ids.len()], amount: Amount(a) }.into());
                    txs += 1;
                }
                Op::Close(i) if !ids.is_empty() => {
                    send(&mut c, ComputeAction::Close { job_id: ids[i % ids.len()] }.into());
                    txs += 1;
                }
                Op::Blocks(n) => {
                    for _ in 0..n {
                        let now = c.now + 1000;
                        c.tick(now);
                    }
                }
                _ => {}
            }
            let jobs: Vec<Job> = ids.iter().map(|id| machina_compute::job(&c.state, *id).expect("job")).collect();
            let escrow: u128 = jobs.iter().map(|j| j.escrow.0).sum();
            let paid: u128 = jobs.iter().flat_map(|j| &j.leases).map(|l| l.paid.0).sum();
            prop_assert_eq!(c.balance(&machina_compute::escrow_address()), escrow);
            let fees = txs * machina_stf::params::DEFAULT_MIN_FEE.0;
            // Replicas that reveal no result are slashed to the tenant.
            let slashed: u128 = m
                .iter()
                .map(|id| machina_staking::stake(&c.state, &machina_staking::Subject::Provider { machine_id: *id }).slashed_total.0)
                .sum();
            prop_assert_eq!(start + slashed, c.balance(&t.address()) + fees + escrow + paid);
            let to_machines: u128 = m.iter().map(|id| machine_balance(&c, *id)).sum();
            prop_assert_eq!(to_machines, paid);
            for j in &jobs {
                for l in &j.leases {
                    prop_assert_eq!(l.paid.0 % l.price_per_block.0, 0, "whole blocks");
                    prop_assert!(l.paid.0 <= l.price_per_block.0 * u128::from(j.spec.blocks));
                }
                if matches!(j.status, JobStatus::Closed | JobStatus::Failed) {
                    prop_assert_eq!(j.escrow, Amount::ZERO);
                }
            }
            // The book lists exactly the offers a job could take a slot of.
            let book = machina_compute::book(&c.state, "h100");
            for id in 1..=offers.len() as u64 {
                let o = machina_compute::offer(&c.state, id).expect("offer");
                let listed = book.iter().any(|(_, x)| *x == id);
                prop_assert_eq!(listed, !o.withdrawn && o.leased < o.terms.capacity, "offer {}", id);
            }
            prop_assert_eq!(machina_bank::total_supply(&c.state), supply);
        }
    }
}
