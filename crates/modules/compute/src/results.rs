//! Redundant execution: each replica of a job with two or more commits to a hash of its result,
//! then reveals it; the majority result is recorded on the job and the other replicas are
//! slashed.
//!
//! Commits are taken while the job runs and for `result_blocks` after its end. Reveals are
//! taken once every counted replica has committed, or once the commit window has closed, for
//! `result_blocks` more, so no replica can copy a result it saw revealed. The commitment holds
//! the replica's index, so copying another replica's commitment does not help either. At the
//! end of the reveal window the job's payment work tallies: a result revealed by more than half
//! of the replicas that ran to the end is accepted, with the URI of the first of them. Replicas
//! that revealed another result, or none, lose `result_penalty_bps` of their provider's bond to
//! the tenant (evidence kind `minority_result`). With no majority no result is recorded and
//! every replica that revealed nothing is slashed. The providers keep what they were paid per
//! block; the escrow left over came back when the job ended.

use crate::action::{result_commitment, MAX_URI_BYTES};
use crate::jobs::event;
use crate::records::{self, keys, Job, JobStatus};
use crate::{ComputeError, ComputeParams, Result};
use machina_module::ActionCtx;
use machina_primitives::{Event, Hash};
use machina_staking::{EvidenceKind, BPS};
use machina_state::{StateRead, StateWrite};
use std::collections::BTreeMap;

/// The leases whose results count: those that ran to the job's end.
fn counted(j: &Job) -> impl Iterator<Item = usize> + '_ {
    (0..j.leases.len()).filter(|i| j.leases[*i].active)
}

fn provider_lease(state: &impl StateRead, ctx: &ActionCtx, j: &Job, replica: u8) -> Result<usize> {
    let unknown = ComputeError::UnknownLease {
        job_id: j.job_id,
        replica,
    };
    let i = usize::from(replica);
    let l = j
        .leases
        .get(i)
        .filter(|l| l.active)
        .ok_or(unknown.clone())?;
    if j.spec.redundancy < 2 {
        return Err(ComputeError::NoResults(j.job_id));
    }
    let m = machina_identity::machine(state, l.machine_id).ok_or(unknown)?;
    if ctx.sender != m.owner && ctx.machine != Some(l.machine_id) {
        return Err(ComputeError::NotYours(ctx.sender));
    }
    Ok(i)
}

fn windows(state: &impl StateRead, j: &Job) -> (u64, u64) {
    let w = ComputeParams::load(state).result_blocks;
    (j.end_height + w, j.end_height + 2 * w)
}

/// A replica's provider commits to its result.
pub fn commit(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    job_id: u64,
    replica: u8,
    commitment: Hash,
) -> Result<Event> {
    let mut j = records::job(state, job_id).ok_or(ComputeError::UnknownJob(job_id))?;
    let i = provider_lease(state, ctx, &j, replica)?;
    let (commit_by, _) = windows(state, &j);
    if !matches!(
        j.status,
        JobStatus::Leased | JobStatus::Paused | JobStatus::Closed
    ) || ctx.height() >= commit_by
        || j.leases[i].commitment.is_some()
    {
        return Err(ComputeError::ResultWindow(format!(
            "commits are taken once per replica, until height {commit_by}"
        )));
    }
    j.leases[i].commitment = Some(commitment);
    records::put(state, keys::job(job_id), &j);
    Ok(event(
        "result_committed",
        &j,
        &[("replica", u64::from(replica).into())],
    ))
}

/// A replica's provider reveals the result it committed to.
pub fn reveal(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    job_id: u64,
    replica: u8,
    result: Hash,
    uri: &str,
    salt: Hash,
) -> Result<Event> {
    let mut j = records::job(state, job_id).ok_or(ComputeError::UnknownJob(job_id))?;
    let i = provider_lease(state, ctx, &j, replica)?;
    let (commit_by, reveal_by) = windows(state, &j);
    let h = ctx.height();
    let all_committed = counted(&j).all(|k| j.leases[k].commitment.is_some());
    if h >= reveal_by || !(all_committed || h >= commit_by) || j.leases[i].revealed.is_some() {
        return Err(ComputeError::ResultWindow(format!(
            "a reveal comes once every replica committed (or from height {commit_by}), before height {reveal_by}, once"
        )));
    }
    if uri.len() > MAX_URI_BYTES
        || j.leases[i].commitment != Some(result_commitment(job_id, replica, &result, &salt))
    {
        return Err(ComputeError::ResultWindow(
            "the reveal does not match the commitment".into(),
        ));
    }
    j.leases[i].revealed = Some(result);
    j.leases[i].uri = uri.to_owned();
    records::put(state, keys::job(job_id), &j);
    Ok(event(
        "result_revealed",
        &j,
        &[
            ("replica", u64::from(replica).into()),
            ("result", result.into()),
        ],
    ))
}

/// When a job with two or more replicas ends: the height of its tally.
pub(crate) fn tally_height(state: &impl StateRead, j: &Job) -> u64 {
    windows(state, j).1
}

/// Tallies the results of `j` at height `h`.
pub(crate) fn tally(state: &mut impl StateWrite, j: &mut Job, h: u64) -> Vec<Event> {
    j.tally_height = 0;
    let n = counted(j).count();
    let mut votes: BTreeMap<Hash, (usize, usize)> = BTreeMap::new();
    for i in counted(j) {
        if let Some(r) = j.leases[i].revealed {
            let e = votes.entry(r).or_insert((0, i));
            e.0 += 1;
        }
    }
    let majority = votes
        .iter()
        .find(|(_, (c, _))| 2 * c > n)
        .map(|(r, (_, first))| (*r, *first));
    let mut events = Vec::new();
    if let Some((r, first)) = majority {
        j.result = Some(r);
        j.result_uri = j.leases[first].uri.clone();
        events.push(event(
            "result_accepted",
            j,
            &[("result", r.into()), ("uri", j.result_uri.clone().into())],
        ));
    } else {
        j.status = JobStatus::Failed;
        events.push(event(
            "result_failed",
            j,
            &[("reason", "no_majority".into())],
        ));
    }
    let bps = ComputeParams::load(state).result_penalty_bps.min(BPS);
    for i in counted(j).collect::<Vec<_>>() {
        let l = &j.leases[i];
        let agrees = matches!((majority, l.revealed), (Some((r, _)), Some(x)) if r == x);
        let silent = l.revealed.is_none();
        if agrees || (majority.is_none() && !silent) {
            continue;
        }
        let slashed = crate::sla::slash_provider(state, j, i, h, EvidenceKind::MinorityResult, bps);
        events.extend(slashed.map(|s| s.1));
    }
    events
}
