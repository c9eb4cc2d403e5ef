//! Matching at the end of the block: each waiting job gets the cheapest feasible slots.
//!
//! **Order of jobs.** Older jobs first (by the height they were posted at); among jobs of one
//! block, the higher `max_price_per_block` first, then by a hash of the tenant and the spec, so
//! the position of a transaction in its block gives nobody an edge; identical jobs of one
//! tenant go by id. At most [`MAX_MATCHES_PER_BLOCK`] jobs are tried per block.
//!
//! **Choice of slots.** A job reads its GPU model's price book from the cheapest offer up, at
//! most [`MAX_SCAN_PER_JOB`] entries, and takes, per replica, the cheapest feasible offer on a
//! machine it does not use and did not breach: not withdrawn, a free slot, resources that cover the
//! requirements, the job's region (if it names one), a `max_lease_blocks` of at least the
//! job's length, an active machine whose provider stake covers the staking minimum and is not
//! jailed, and a reputation of at least the job's minimum. Among offers of one price the
//! higher reputation wins, then the lower offer id. The price paid is the offer's. A job gets
//! all its replicas or none; the escrow must cover at least one block of them.

use crate::jobs::{event, finish, schedule};
use crate::records::{self, keys, Job, JobStatus, Lease, LeaseRef, Offer};
use crate::{ComputeParams, MAX_LEASES_PER_MACHINE, MAX_MATCHES_PER_BLOCK, MAX_SCAN_PER_JOB};
use machina_primitives::{Amount, Encode, Event};
use machina_state::{StateRead, StateWrite};

/// A machine's reputation as a provider: leases completed minus leases breached (at least 0).
fn score(m: &machina_identity::Machine) -> u64 {
    m.reputation
        .leases_completed
        .saturating_sub(m.reputation.leases_breached)
}

/// A provider machine's reputation: leases completed minus leases breached (never below 0).
pub fn reputation(state: &impl StateRead, machine_id: u64) -> u64 {
    machina_identity::machine(state, machine_id).map_or(0, |m| score(&m))
}

/// The order in which jobs are matched (see the module docs). The hash of each job is
/// computed once, not per comparison.
pub fn fair_order(jobs: &mut [Job]) {
    jobs.sort_by_cached_key(|j| {
        let mut b = j.tenant.0.to_vec();
        j.spec.encode_to(&mut b);
        (
            j.posted_height,
            std::cmp::Reverse(j.spec.max_price_per_block),
            machina_primitives::sha256(&[&b]),
            j.job_id,
        )
    });
}

/// The offer's machine's reputation if `j` may lease a slot of `o` now, `None` if not.
/// `min_bond` is the staking module's provider minimum, read once per job.
fn feasible(
    state: &impl StateRead,
    o: &Offer,
    j: &Job,
    height: u64,
    min_bond: Amount,
) -> Option<u64> {
    let t = &o.terms;
    if o.withdrawn
        || o.leased >= t.capacity
        || t.price_per_block > j.spec.max_price_per_block
        || !t.resources.covers(&j.spec.requirements)
        || (!j.spec.region.is_empty() && t.region != j.spec.region)
        || t.max_lease_blocks < j.spec.blocks
        || (j.spec.attested && o.attestation.is_none())
        // Never the machine of another replica, nor one whose lease of this job ended.
        || j.leases.iter().any(|l| l.machine_id == o.machine_id)
    {
        return None;
    }
    let m = machina_identity::machine(state, o.machine_id)?;
    let subject = machina_staking::Subject::Provider {
        machine_id: o.machine_id,
    };
    let ok = m.status != machina_identity::Status::Revoked
        && score(&m) >= j.spec.min_reputation
        && records::machine_leases(state, o.machine_id).len() < MAX_LEASES_PER_MACHINE
        && machina_staking::total(state, &subject) >= min_bond
        && !machina_staking::is_jailed(state, &subject, height);
    ok.then(|| score(&m))
}

/// The offers chosen for `j`, one per replica, or none if it cannot be served now.
pub fn choose(state: &impl StateRead, j: &Job, height: u64) -> Option<Vec<Offer>> {
    let book = records::book(state, &j.spec.requirements.gpu_model);
    let mut chosen: Vec<Offer> = Vec::new();
    let want = usize::from(if j.status == JobStatus::Waiting {
        j.spec.redundancy
    } else {
        j.missing
    });
    let scan = &book[..book.len().min(MAX_SCAN_PER_JOB)];
    let min_bond = machina_staking::StakingParams::load(state).min_provider_bond;
    // Walk the book one price level at a time; within a level, reputation then id.
    let mut i = 0;
    while i < scan.len() && chosen.len() < want {
        let price = scan[i].0;
        if price > j.spec.max_price_per_block {
            break;
        }
        let mut level: Vec<(u64, Offer)> = Vec::new();
        while i < scan.len() && scan[i].0 == price {
            if let Some(o) = records::offer(state, scan[i].1) {
                if chosen.iter().all(|c| c.machine_id != o.machine_id) {
                    if let Some(rep) = feasible(state, &o, j, height, min_bond) {
                        level.push((rep, o));
                    }
                }
            }
            i += 1;
        }
        level.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.offer_id.cmp(&b.1.offer_id)));
        for (_, o) in level {
            if chosen.len() < want && chosen.iter().all(|c| c.machine_id != o.machine_id) {
                chosen.push(o);
            }
        }
    }
    (chosen.len() == want).then_some(chosen)
}

/// The end-of-block matching of height `h`: expired jobs fail and are refunded, then waiting
/// jobs are matched in [`fair_order`]; their leases start at `h + 1`.
pub fn match_waiting(state: &mut impl StateWrite, h: u64) -> Vec<Event> {
    let ids = records::waiting(state);
    if ids.is_empty() {
        return Vec::new();
    }
    let window = ComputeParams::load(state).match_window_blocks;
    let mut events = Vec::new();
    let mut jobs: Vec<Job> = ids
        .iter()
        .filter_map(|id| records::job(state, *id))
        .collect();
    fair_order(&mut jobs);
    let mut still = Vec::new();
    for (n, mut j) in jobs.into_iter().enumerate() {
        match j.status {
            // Replacements for breached replicas wait while the job is paused.
            JobStatus::Paused => {
                still.push(j.job_id);
                continue;
            }
            JobStatus::Closed | JobStatus::Failed => continue,
            JobStatus::Leased if j.missing == 0 => continue,
            _ => {}
        }
        if j.status == JobStatus::Waiting && h >= j.posted_height + window {
            events.push(finish(state, &mut j, JobStatus::Failed, "not_matched"));
            records::put(state, keys::job(j.job_id), &j);
            continue;
        }
        if n >= MAX_MATCHES_PER_BLOCK {
            still.push(j.job_id);
            continue;
        }
        match choose(state, &j, h).filter(|os| covers_a_block(&j, os)) {
            Some(offers) => {
                events.push(lease(state, &mut j, offers, h));
                records::put(state, keys::job(j.job_id), &j);
            }
            None => still.push(j.job_id),
        }
    }
    // Keep the waiting list in posting order (ids grow with it).
    still.sort_unstable();
    records::put_waiting(state, still);
    events
}

fn covers_a_block(j: &Job, offers: &[Offer]) -> bool {
    let rate: u128 = offers.iter().map(|o| o.terms.price_per_block.0).sum();
    j.escrow.0 >= rate + j.rate().0
}

fn lease(state: &mut impl StateWrite, j: &mut Job, offers: Vec<Offer>, h: u64) -> Event {
    let replacing = j.status == JobStatus::Leased;
    if !replacing {
        j.status = JobStatus::Leased;
        j.paid_until_height = h + 1;
        j.end_height = h + 1 + j.spec.blocks;
    }
    for mut o in offers {
        let replica = j.leases.len();
        o.leased += 1;
        if o.leased >= o.terms.capacity {
            crate::offers::book_remove(state, &o);
        }
        records::put(state, keys::offer(o.offer_id), &o);
        // Feasibility checked that the machine's lease list has room.
        let mut ml = records::machine_leases(state, o.machine_id);
        ml.push(LeaseRef {
            job_id: j.job_id,
            replica: u8::try_from(replica).expect("at most 5 replicas"),
        });
        records::put_machine_leases(state, o.machine_id, ml);
        j.leases.push(Lease {
            offer_id: o.offer_id,
            machine_id: o.machine_id,
            price_per_block: o.terms.price_per_block,
            paid: Amount::ZERO,
            start_height: h + 1,
            end_height: j.end_height,
            active: true,
            acked: false,
            last_beat_height: h + 1,
            gpu_seconds: 0,
            commitment: None,
            revealed: None,
            uri: String::new(),
        });
        if replacing {
            j.missing -= 1;
        }
    }
    schedule(state, j, h + 1);
    let new = j.leases.iter().filter(|l| l.start_height == h + 1);
    let (machines, offers): (Vec<String>, Vec<String>) = new
        .map(|l| (l.machine_id.to_string(), l.offer_id.to_string()))
        .unzip();
    event(
        "matched",
        j,
        &[
            ("machines", machines.join(",").into()),
            ("offers", offers.join(",").into()),
            ("rate", j.rate().into()),
            ("start_height", (h + 1).into()),
            ("end_height", j.end_height.into()),
        ],
    )
}
