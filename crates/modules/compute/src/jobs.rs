//! Jobs: escrow in, payments out on a height-indexed schedule, pause when the escrow runs
//! out, resume on top-up, close with an immediate refund.
//!
//! A running job has a `paid_until_height` (its first unpaid block) and is filed under the
//! height of its next payment: `pay_every_blocks` later, its end, or the last block its escrow
//! covers, whichever comes first. The end-of-block work of a height reads only the jobs filed
//! under it, so it does not grow with the leases running elsewhere. Every payment is exactly
//! `blocks × price` per lease, from the job's escrow, so no lease is paid beyond it.

use crate::action::{JobSpec, MAX_REDUNDANCY};
use crate::records::{self, keys, Job, JobStatus};
use crate::{ComputeError, ComputeParams, Result, MAX_DUE_PER_HEIGHT, MAX_WAITING_JOBS};
use machina_module::ActionCtx;
use machina_primitives::{Address, Amount, BlockEnv, Encode, Event};
use machina_shares::Source;
use machina_state::StateWrite;

fn check_spec(s: &JobSpec) -> Result<()> {
    let bad = |m: String| Err(ComputeError::InvalidJob(m));
    if s.redundancy == 0 || s.redundancy > MAX_REDUNDANCY {
        return bad(format!("redundancy is 1 to {MAX_REDUNDANCY}"));
    }
    if s.blocks == 0 {
        return bad("a job runs at least 1 block".into());
    }
    if s.sla.penalty_bps > machina_staking::BPS {
        return bad("penalty_bps is at most 10000".into());
    }
    if s.requirements.gpu_model.is_empty() {
        return bad("name the GPU model (`cpu` for CPU only)".into());
    }
    if s.max_price_per_block.0 == 0 {
        return bad("max_price_per_block is at least 1 micro".into());
    }
    Ok(())
}

pub(crate) fn event(kind: &str, j: &Job, extra: &[(&str, machina_primitives::AttrValue)]) -> Event {
    let mut e = Event::new("compute", kind, extra);
    e.attrs.insert("job_id".into(), j.job_id.into());
    e
}

/// Posts a job: its deposit moves into escrow now (through the tenant's wallet policy), and
/// the job is matched at the end of this block.
pub fn post_job(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    spec: &JobSpec,
    deposit: Amount,
) -> Result<Event> {
    check_spec(spec)?;
    let mut w = records::waiting(state);
    if w.len() >= MAX_WAITING_JOBS {
        return Err(ComputeError::TooManyWaiting);
    }
    machina_wallet::pay(state, ctx, &ctx.sender, &crate::escrow_address(), deposit)?;
    let job_id = records::next_id(state, keys::next_job());
    let j = Job {
        job_id,
        tenant: ctx.sender,
        spec: spec.clone(),
        status: JobStatus::Waiting,
        escrow: deposit,
        posted_height: ctx.height(),
        leases: Vec::new(),
        paid_until_height: 0,
        end_height: 0,
        paused_at: None,
        next_due: 0,
        missing: 0,
        result: None,
        result_uri: String::new(),
        tally_height: 0,
    };
    w.push(job_id);
    records::put_waiting(state, w);
    records::put(state, keys::job(job_id), &j);
    Ok(event("job_posted", &j, &[("deposit", deposit.into())]))
}

fn tenant_job(state: &impl machina_state::StateRead, sender: &Address, job_id: u64) -> Result<Job> {
    let j = records::job(state, job_id).ok_or(ComputeError::UnknownJob(job_id))?;
    if j.tenant != *sender {
        return Err(ComputeError::NotYours(*sender));
    }
    if matches!(j.status, JobStatus::Closed | JobStatus::Failed) {
        return Err(ComputeError::JobEnded(job_id));
    }
    Ok(j)
}

/// Adds escrow; a paused job resumes at this block, its end moved by the time it was paused.
pub fn top_up(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    job_id: u64,
    amount: Amount,
) -> Result<Vec<Event>> {
    let mut j = tenant_job(state, &ctx.sender, job_id)?;
    machina_wallet::pay(state, ctx, &ctx.sender, &crate::escrow_address(), amount)?;
    j.escrow = j.escrow.checked_add(amount).expect("bounded by the supply");
    let mut events = vec![event("topped_up", &j, &[("amount", amount.into())])];
    let h = ctx.height();
    if let Some(at) = j.paused_at {
        if j.escrow >= j.rate() {
            j.end_height += h - at;
            for l in j.leases.iter_mut().filter(|l| l.active) {
                l.end_height = j.end_height;
            }
            j.paid_until_height = h;
            j.paused_at = None;
            j.status = JobStatus::Leased;
            events.push(event("resumed", &j, &[("end_height", j.end_height.into())]));
        }
    }
    if j.status == JobStatus::Leased {
        schedule(state, &mut j, h);
    }
    records::put(state, keys::job(job_id), &j);
    Ok(events)
}

/// The tenant closes the job: the blocks run up to this one are paid, the rest of the escrow
/// returns at once.
pub fn close(state: &mut impl StateWrite, ctx: &ActionCtx, job_id: u64) -> Result<Vec<Event>> {
    let mut j = tenant_job(state, &ctx.sender, job_id)?;
    let mut events = Vec::new();
    if j.status == JobStatus::Leased {
        events.extend(pay(state, &ctx.env, &mut j, ctx.height() + 1));
    }
    if j.status == JobStatus::Waiting {
        let mut w = records::waiting(state);
        w.retain(|id| *id != job_id);
        records::put_waiting(state, w);
    }
    events.push(finish(state, &mut j, JobStatus::Closed, "closed_by_tenant"));
    records::put(state, keys::job(job_id), &j);
    Ok(events)
}

/// Pays every lease of `j` for the blocks from its `paid_until_height` to `upto` (exclusive),
/// capped by its end and what its escrow covers. Each lease's payment is its machine's revenue,
/// credited through the shares module (with a `revenue` event when the machine has holders).
pub(crate) fn pay(
    state: &mut impl StateWrite,
    env: &BlockEnv,
    j: &mut Job,
    upto: u64,
) -> Vec<Event> {
    let until = upto.min(j.end_height).min(j.covered_until());
    if until <= j.paid_until_height {
        return Vec::new();
    }
    let mut total = Amount::ZERO;
    let mut revenue = Vec::new();
    for (i, l) in j.leases.iter_mut().enumerate() {
        // Each lease pays the blocks of [paid_until, until) it ran: replacements start late,
        // ended leases stopped early (and were paid up to their end when they ended).
        let lo = j.paid_until_height.max(l.start_height);
        let hi = until.min(l.end_height);
        let blocks = u128::from(hi.saturating_sub(lo));
        if blocks == 0 {
            continue;
        }
        let a = Amount(l.price_per_block.0 * blocks);
        let source = Source::Compute {
            job_id: j.job_id,
            lease: u16::try_from(i).expect("a job has at most MAX_REDUNDANCY leases"),
            from_height: lo,
            to_height: hi,
        };
        revenue.extend(machina_shares::credit(
            state,
            env,
            l.machine_id,
            &crate::escrow_address(),
            a,
            source,
        ));
        l.paid = l.paid.checked_add(a).expect("bounded");
        total = total.checked_add(a).expect("bounded");
    }
    j.escrow = j
        .escrow
        .checked_sub(total)
        .expect("covered_until keeps payments within escrow");
    let from = j.paid_until_height;
    j.paid_until_height = until;
    let paid = event(
        "paid",
        j,
        &[
            ("amount", total.into()),
            ("from_height", from.into()),
            ("paid_until_height", until.into()),
        ],
    );
    std::iter::once(paid).chain(revenue).collect()
}

/// Ends a job: frees its slots, refunds its escrow, records its status.
pub(crate) fn finish(
    state: &mut impl StateWrite,
    j: &mut Job,
    status: JobStatus,
    why: &str,
) -> Event {
    for i in 0..j.leases.len() {
        if !j.leases[i].active {
            continue;
        }
        free_slot(state, j, i);
        if why == "completed" {
            let m = j.leases[i].machine_id;
            machina_identity::update_reputation(state, m, |r| r.leases_completed += 1);
        }
    }
    if j.missing > 0 {
        let mut w = records::waiting(state);
        w.retain(|id| *id != j.job_id);
        records::put_waiting(state, w);
        j.missing = 0;
    }
    let refund = j.escrow;
    if refund > Amount::ZERO {
        machina_bank::transfer(state, &crate::escrow_address(), &j.tenant, refund)
            .expect("the escrow holds every job's escrow");
    }
    j.escrow = Amount::ZERO;
    j.status = status;
    j.paused_at = None;
    event(
        "job_ended",
        j,
        &[("reason", why.into()), ("refund", refund.into())],
    )
}

/// Gives lease `i`'s slot back to its offer and drops it from its machine's lease list.
pub(crate) fn free_slot(state: &mut impl StateWrite, j: &Job, i: usize) {
    let l = &j.leases[i];
    if let Some(mut o) = records::offer(state, l.offer_id) {
        o.leased = o.leased.saturating_sub(1);
        // A full offer left its book; with a free slot again it is listed again.
        crate::offers::book_insert(state, &o);
        records::put(state, keys::offer(o.offer_id), &o);
    }
    let mut ml = records::machine_leases(state, l.machine_id);
    ml.retain(|r| !(r.job_id == j.job_id && usize::from(r.replica) == i));
    records::put_machine_leases(state, l.machine_id, ml);
}

/// Files `j` under the height of its next payment, from height `h` on.
pub(crate) fn schedule(state: &mut impl StateWrite, j: &mut Job, h: u64) {
    let mut every = ComputeParams::load(state).pay_every_blocks.max(1);
    // A job with an SLA is looked at (paid and checked) at least once per heartbeat window,
    // so a silent provider is found, and stops being paid, within that window.
    if j.spec.sla.heartbeat_every_blocks > 0 {
        every = every.min(j.spec.sla.window().max(1));
    }
    // The last block of the next payment period, of the job, and of its escrow.
    let last = (j.paid_until_height + every - 1)
        .min(j.end_height - 1)
        .min(j.covered_until().max(j.paid_until_height + 1) - 1);
    file(state, j, last.max(h));
}

fn file(state: &mut impl StateWrite, j: &mut Job, h: u64) {
    let mut h = h;
    loop {
        let n = records::read::<u64>(state, &keys::due_count(h)).unwrap_or(0);
        if n < MAX_DUE_PER_HEIGHT {
            state.set(keys::due(h, n), j.job_id.encode());
            state.set(keys::due_count(h), (n + 1).encode());
            j.next_due = h;
            return;
        }
        h += 1;
    }
}

/// The payment work of height `h`: each job filed under it is paid through `h`, then ends,
/// pauses, closes after its grace, or is filed again.
pub fn run_due(state: &mut impl StateWrite, env: &BlockEnv) -> Vec<Event> {
    let h = env.height;
    let n = records::read::<u64>(state, &keys::due_count(h)).unwrap_or(0);
    let mut events = Vec::new();
    for i in 0..n {
        let id: u64 = records::read(state, &keys::due(h, i)).expect("counted entries exist");
        state.delete(keys::due(h, i));
        let Some(mut j) = records::job(state, id) else {
            continue;
        };
        // A top-up filed the job again elsewhere: this entry is stale.
        if j.next_due != h {
            continue;
        }
        if j.status == JobStatus::Closed && j.tally_height == h {
            events.extend(crate::results::tally(state, &mut j, h));
        } else if matches!(j.status, JobStatus::Closed | JobStatus::Failed) {
            continue;
        } else {
            events.extend(due(state, env, &mut j));
        }
        records::put(state, keys::job(id), &j);
    }
    if n > 0 {
        state.delete(keys::due_count(h));
    }
    events
}

fn due(state: &mut impl StateWrite, env: &BlockEnv, j: &mut Job) -> Vec<Event> {
    let h = env.height;
    let mut events = Vec::new();
    if let Some(at) = j.paused_at {
        let grace = ComputeParams::load(state).grace_blocks;
        if h >= at + grace {
            events.push(finish(state, j, JobStatus::Closed, "grace_expired"));
        }
        return events;
    }
    events.extend(pay(state, env, j, h + 1));
    events.extend(crate::sla::check(state, j, h));
    if j.paid_until_height >= j.end_height {
        events.push(finish(state, j, JobStatus::Closed, "completed"));
        if j.spec.redundancy >= 2 {
            // The replicas' results are tallied once the commit and reveal windows closed.
            j.tally_height = crate::results::tally_height(state, j);
            file(state, j, j.tally_height);
        }
    } else if j.paid_until_height >= j.covered_until() {
        // The escrow cannot pay the next block: pause until a top-up, close after the grace.
        j.status = JobStatus::Paused;
        j.paused_at = Some(j.paid_until_height);
        let grace = ComputeParams::load(state).grace_blocks;
        events.push(event(
            "paused",
            j,
            &[("paid_until_height", j.paid_until_height.into())],
        ));
        file(state, j, j.paid_until_height + grace);
    } else {
        schedule(state, j, h + 1);
    }
    events
}
