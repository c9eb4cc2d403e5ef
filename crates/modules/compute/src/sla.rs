//! Service levels: the provider acknowledges a lease, its device signs heartbeats, and a
//! lease that stops beating is a breach that the staking module slashes to the tenant.
//!
//! The checks run in a job's payment work (at most `pay_every_blocks` apart), after its
//! leases were paid through the block: a lease not acknowledged within `ack_blocks` ends and
//! its provider's `leases_breached` grows; a lease whose last heartbeat is more than
//! `(max_missed + 1) × heartbeat_every_blocks` blocks old is breached: `penalty_bps` of the
//! provider's bond goes to the tenant (evidence: the job and the lease, so once), the lease
//! ends, and the job waits for a replacement replica for the rest of its length.

use crate::action::Heartbeat;
use crate::jobs::{event, free_slot};
use crate::records::{self, keys, Job, JobStatus};
use crate::{ComputeError, ComputeParams, Result};
use machina_module::ActionCtx;
use machina_primitives::Event;
use machina_staking::{EvidenceKind, Payee, Slash, Subject, BPS};
use machina_state::StateWrite;

/// The provider of a lease (its machine's owner or the machine's own account) acknowledges it.
pub fn ack(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    job_id: u64,
    replica: u8,
) -> Result<Event> {
    let mut j = records::job(state, job_id).ok_or(ComputeError::UnknownJob(job_id))?;
    let i = usize::from(replica);
    let Some(l) = j.leases.get(i).filter(|l| l.active) else {
        return Err(ComputeError::UnknownLease { job_id, replica });
    };
    let m = machina_identity::machine(state, l.machine_id)
        .ok_or(ComputeError::UnknownLease { job_id, replica })?;
    if ctx.sender != m.owner && ctx.machine != Some(l.machine_id) {
        return Err(ComputeError::NotYours(ctx.sender));
    }
    j.leases[i].acked = true;
    records::put(state, keys::job(job_id), &j);
    Ok(event(
        "acknowledged",
        &j,
        &[("replica", u64::from(replica).into())],
    ))
}

fn accept(state: &mut impl StateWrite, b: &Heartbeat, height: u64) -> Result<()> {
    let unknown = ComputeError::UnknownLease {
        job_id: b.job_id,
        replica: b.replica,
    };
    let mut j = records::job(state, b.job_id).ok_or(unknown.clone())?;
    if j.status != JobStatus::Leased {
        return Err(unknown);
    }
    let i = usize::from(b.replica);
    let l = j
        .leases
        .get(i)
        .filter(|l| l.active)
        .ok_or(unknown.clone())?;
    let m = machina_identity::machine(state, l.machine_id).ok_or(unknown)?;
    if m.device_key != b.device_key {
        return Err(ComputeError::BadHeartbeat(
            "not the provider machine's device key".into(),
        ));
    }
    if b.height > height || b.height <= l.last_beat_height {
        return Err(ComputeError::BadHeartbeat(format!(
            "height {} is not after the last heartbeat ({}) and at most the block's ({height})",
            b.height, l.last_beat_height
        )));
    }
    let l = &mut j.leases[i];
    l.last_beat_height = b.height;
    l.gpu_seconds = l.gpu_seconds.max(b.gpu_seconds);
    // A heartbeat shows the lease runs: it acknowledges it too.
    l.acked = true;
    records::put(state, keys::job(b.job_id), &j);
    Ok(())
}

/// Records heartbeats; each is accepted or refused on its own. `bad_signatures` lists those
/// whose device signatures did not verify.
pub fn heartbeats(
    state: &mut impl StateWrite,
    beats: &[Heartbeat],
    bad_signatures: &[usize],
    height: u64,
) -> Vec<Event> {
    let (mut accepted, mut rejected) = (0u64, 0u64);
    let mut events = Vec::new();
    for (i, b) in beats.iter().enumerate() {
        let r = if bad_signatures.contains(&i) {
            Err(ComputeError::BadHeartbeat(
                "the device signature does not verify".into(),
            ))
        } else {
            accept(state, b, height)
        };
        match r {
            Ok(()) => accepted += 1,
            Err(e) => {
                rejected += 1;
                if events.len() < 100 {
                    events.push(Event::new(
                        "compute",
                        "heartbeat_rejected",
                        &[
                            ("item", i.into()),
                            ("code", e.code().into()),
                            ("message", e.to_string().into()),
                        ],
                    ));
                }
            }
        }
    }
    events.insert(
        0,
        Event::new(
            "compute",
            "heartbeats",
            &[("accepted", accepted.into()), ("rejected", rejected.into())],
        ),
    );
    events
}

/// The SLA checks of `j` at height `h` (its leases are paid through `h`).
pub(crate) fn check(state: &mut impl StateWrite, j: &mut Job, h: u64) -> Vec<Event> {
    let sla = j.spec.sla;
    if sla.heartbeat_every_blocks == 0 || j.status != JobStatus::Leased {
        return Vec::new();
    }
    let ack_blocks = ComputeParams::load(state).ack_blocks;
    let mut events = Vec::new();
    for i in 0..j.leases.len() {
        let l = j.leases[i].clone();
        if !l.active || l.start_height > h {
            continue;
        }
        if !l.acked {
            if h >= l.start_height + ack_blocks {
                machina_identity::update_reputation(state, l.machine_id, |r| {
                    r.leases_breached += 1
                });
                events.push(end_lease(state, j, i, h, "not_acknowledged"));
            }
            continue;
        }
        if h.saturating_sub(l.last_beat_height) > sla.window() {
            events.extend(breach(state, j, i, h));
        }
    }
    events
}

/// Slashes `bps` of the provider stake of lease `i` of `j` to the tenant, once per lease and
/// kind (the evidence is the job and the lease), and counts it in the machine's reputation.
/// `None` when nothing is staked any more (the provider unbonded everything).
pub(crate) fn slash_provider(
    state: &mut impl StateWrite,
    j: &Job,
    i: usize,
    h: u64,
    kind: EvidenceKind,
    bps: u32,
) -> Option<(machina_primitives::Amount, Event)> {
    let machine_id = j.leases[i].machine_id;
    let subject = Subject::Provider { machine_id };
    let payees = [Payee {
        place: "tenant",
        to: j.tenant,
        share_bps: BPS,
    }];
    let evidence =
        machina_staking::evidence_id(kind, &[&j.job_id.to_be_bytes(), &(i as u64).to_be_bytes()]);
    let slash = Slash {
        subject: &subject,
        kind,
        evidence,
        bps: bps.min(BPS),
        payees: &payees,
    };
    let slashed = machina_staking::slash(state, h, &slash).ok()?;
    machina_identity::update_reputation(state, machine_id, |r| r.slashes += 1);
    Some(slashed)
}

fn breach(state: &mut impl StateWrite, j: &mut Job, i: usize, h: u64) -> Vec<Event> {
    let l = j.leases[i].clone();
    let mut events = Vec::new();
    // A provider that unbonded everything has nothing left to take; the lease still ends.
    let slashed = slash_provider(
        state,
        j,
        i,
        h,
        EvidenceKind::SlaBreach,
        j.spec.sla.penalty_bps,
    );
    machina_identity::update_reputation(state, l.machine_id, |r| r.leases_breached += 1);
    let amount = slashed
        .as_ref()
        .map_or(machina_primitives::Amount::ZERO, |s| s.0);
    events.push(event(
        "breach",
        j,
        &[
            ("replica", i.into()),
            ("machine_id", l.machine_id.into()),
            ("last_heartbeat_height", l.last_beat_height.into()),
            ("slashed", amount.into()),
        ],
    ));
    events.extend(slashed.map(|s| s.1));
    events.push(end_lease(state, j, i, h, "breach"));
    events
}

/// Ends lease `i` after block `h` (it was paid through it) and asks for a replacement.
fn end_lease(state: &mut impl StateWrite, j: &mut Job, i: usize, h: u64, why: &str) -> Event {
    free_slot(state, j, i);
    let l = &mut j.leases[i];
    l.active = false;
    l.end_height = h + 1;
    if j.missing == 0 {
        let mut w = records::waiting(state);
        if w.len() < crate::MAX_WAITING_JOBS {
            w.push(j.job_id);
            w.sort_unstable();
            records::put_waiting(state, w);
        }
    }
    j.missing += 1;
    event(
        "lease_ended",
        j,
        &[("replica", i.into()), ("reason", why.into())],
    )
}
