//! Redundant execution: commit, then reveal; the majority result is recorded on the job and
//! the minority or silent replicas are slashed to the tenant.

mod common;
use common::*;
use machina_compute::{result_commitment, ComputeAction, ComputeParams, JobStatus};
use machina_primitives::{sha256, Amount, Hash};
use machina_staking::{StakingParams, Subject};
use machina_testkit::{key, Chain};

fn salt(i: u8) -> Hash {
    sha256(&[b"salt", &[i]])
}

fn commit(c: &mut Chain, job: u64, replica: u8, result: &Hash) -> String {
    let commitment = result_commitment(job, replica, result, &salt(replica));
    c.code(
        &key("bob"),
        vec![ComputeAction::Commit {
            job_id: job,
            replica,
            commitment,
        }
        .into()],
    )
}

fn reveal(c: &mut Chain, job: u64, replica: u8, result: &Hash, salt: Hash) -> String {
    let a = ComputeAction::Reveal {
        job_id: job,
        replica,
        result: *result,
        uri: format!("ipfs://r{replica}"),
        salt,
    };
    c.code(&key("bob"), vec![a.into()])
}

/// Three bonded machines with one slot each and a leased three-replica job.
fn three_replicas() -> (Chain, Vec<u64>, u64) {
    let mut c = Chain::new(CHAIN, 1_000);
    let m = machines(&mut c, 3, 3);
    for id in &m {
        c.ok(&key("bob"), vec![offer(*id, terms(10, 1, "eu"))]);
    }
    let t = tenant();
    fund(&mut c, &t);
    let job = job_id(&c.ok(&t, vec![job(spec(10, 20, 3, ""), 10_000)]));
    assert_eq!(
        machina_compute::job(&c.state, job)
            .expect("job")
            .leases
            .len(),
        3
    );
    (c, m, job)
}

fn run_to_tally(c: &mut Chain, job: u64) {
    while machina_compute::job(&c.state, job)
        .expect("job")
        .result
        .is_none()
        && machina_compute::job(&c.state, job).expect("job").status != JobStatus::Failed
    {
        let now = c.now + 1000;
        c.tick(now);
        let limit = 20 + 2 * ComputeParams::default().result_blocks + 30;
        assert!(c.height < limit, "tallied by the end of the reveal window");
    }
}

fn slashed(c: &Chain, machine_id: u64) -> Amount {
    machina_staking::stake(&c.state, &Subject::Provider { machine_id }).slashed_total
}

#[test]
fn one_liar_of_three_is_slashed_and_the_majority_result_recorded() {
    let (mut c, m, job) = three_replicas();
    let (good, bad) = (sha256(&[b"the answer"]), sha256(&[b"a lie"]));
    assert_eq!(commit(&mut c, job, 0, &good), "ok");
    assert_eq!(commit(&mut c, job, 1, &good), "ok");
    // Nobody reveals before every replica committed, so nobody can copy a revealed result.
    assert_eq!(reveal(&mut c, job, 0, &good, salt(0)), "result_window");
    assert_eq!(commit(&mut c, job, 2, &bad), "ok");
    assert_eq!(
        commit(&mut c, job, 2, &good),
        "result_window",
        "one commitment per replica"
    );
    assert_eq!(reveal(&mut c, job, 0, &good, salt(0)), "ok");
    // The liar cannot switch to the revealed result: it does not match its commitment.
    assert_eq!(reveal(&mut c, job, 2, &good, salt(0)), "result_window");
    assert_eq!(reveal(&mut c, job, 1, &good, salt(1)), "ok");
    assert_eq!(reveal(&mut c, job, 2, &bad, salt(2)), "ok");
    let t = tenant();
    let before = c.balance(&t.address());
    run_to_tally(&mut c, job);
    let j = machina_compute::job(&c.state, job).expect("job");
    assert_eq!(j.result, Some(good));
    assert_eq!(j.result_uri, "ipfs://r0");
    let take = StakingParams::default().min_provider_bond.0
        * u128::from(ComputeParams::default().result_penalty_bps)
        / 10_000;
    assert_eq!(slashed(&c, m[2]), Amount(take));
    assert_eq!(slashed(&c, m[0]), Amount::ZERO);
    assert_eq!(slashed(&c, m[1]), Amount::ZERO);
    // The tenant got what the escrow did not pay (3 slots × 10 × 20 blocks) and the slash.
    let paid: u128 = j.leases.iter().map(|l| l.paid.0).sum();
    assert_eq!(paid, 600);
    assert_eq!(c.balance(&t.address()), before + (10_000 - paid) + take);
}

#[test]
fn a_silent_replica_is_slashed_and_without_a_majority_the_job_fails() {
    let (mut c, m, job) = three_replicas();
    let (a, b) = (sha256(&[b"a"]), sha256(&[b"b"]));
    // Replica 2 never commits: reveals wait for the commit window to close.
    assert_eq!(commit(&mut c, job, 0, &a), "ok");
    assert_eq!(commit(&mut c, job, 1, &b), "ok");
    let commit_by = machina_compute::job(&c.state, job).expect("job").end_height
        + ComputeParams::default().result_blocks;
    assert_eq!(reveal(&mut c, job, 0, &a, salt(0)), "result_window");
    while c.height + 1 < commit_by {
        let now = c.now + 1000;
        c.tick(now);
    }
    assert_eq!(reveal(&mut c, job, 0, &a, salt(0)), "ok");
    assert_eq!(reveal(&mut c, job, 1, &b, salt(1)), "ok");
    run_to_tally(&mut c, job);
    let j = machina_compute::job(&c.state, job).expect("job");
    assert_eq!(j.status, JobStatus::Failed, "one vote each: no majority");
    assert_eq!(j.result, None);
    assert!(slashed(&c, m[2]) > Amount::ZERO, "silent");
    assert_eq!(slashed(&c, m[0]), Amount::ZERO);
    assert_eq!(slashed(&c, m[1]), Amount::ZERO);
}

#[test]
fn a_single_replica_job_has_no_results() {
    let mut c = Chain::new(CHAIN, 1_000);
    let m = machines(&mut c, 1, 1);
    c.ok(&key("bob"), vec![offer(m[0], terms(10, 1, "eu"))]);
    let t = tenant();
    fund(&mut c, &t);
    let job = job_id(&c.ok(&t, vec![job(spec(10, 20, 1, ""), 1_000)]));
    assert_eq!(commit(&mut c, job, 0, &sha256(&[b"x"])), "no_results");
}
