//! Meter readings: checks, a pruned log per machine and channel, and interval energy.

use crate::action::SignedReading;
use crate::{keys, params, OracleError};
use machina_identity::Status;
use machina_primitives::codec::{Decode, Encode};
use machina_primitives::Event;
use machina_state::{StateRead, StateWrite};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most old readings pruned per accepted reading: pruning keeps pace with arrivals while the
/// work of one reading stays bounded.
const MAX_PRUNE_PER_READING: u64 = 2;

/// Most per-reading rejection events in one receipt; the summary event counts them all.
pub const MAX_REJECTION_EVENTS: usize = 200;

/// The kind of the summary event of a `submit_readings` action (`accepted`, `rejected`).
pub const READINGS_EVENT: &str = "readings";
/// The kind of the event naming one refused reading (`item`, `machine_id`, `seq`, `code`,
/// `message`); feed reports write it too, without `machine_id`.
pub const REJECTED_EVENT: &str = "rejected";

/// One accepted reading as kept in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Point {
    /// Sequence number.
    pub seq: u64,
    /// Measured at, ms.
    pub timestamp_ms: u64,
    /// Cumulative import, Wh.
    pub import_wh: u64,
    /// Cumulative export, Wh.
    pub export_wh: u64,
}

/// The log of one machine's channel: slots `tail..head` hold readings in time order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct MeterLog {
    /// Oldest slot still kept.
    pub tail: u64,
    /// Next slot to write.
    pub head: u64,
    /// The latest accepted reading.
    pub last: Option<Point>,
    /// Time of the slot after `tail`, if there is one: pruning checks it without a read.
    pub next_ts: Option<u64>,
}

/// The log of a machine's channel.
pub fn meter_log(state: &impl StateRead, machine_id: u64, channel: u16) -> MeterLog {
    state
        .get(&keys::meter(machine_id, channel))
        .map(|b| MeterLog::decode_exact(&b, 64).expect("oracle wrote this log"))
        .unwrap_or_default()
}

fn point(state: &impl StateRead, machine_id: u64, channel: u16, slot: u64) -> Point {
    let b = state
        .get(&keys::log(machine_id, channel, slot))
        .expect("slots between tail and head exist");
    Point::decode_exact(&b, 32).expect("oracle wrote this point")
}

/// Whether a rejection is evidence against the device itself (it signed something
/// implausible), as opposed to a replay or a forgery that anyone could submit.
fn counts_against_device(e: &OracleError) -> bool {
    matches!(
        e,
        OracleError::CounterRegression { .. }
            | OracleError::PowerAboveRating { .. }
            | OracleError::TimestampInFuture { .. }
    )
}

/// Checks one reading against its machine and the latest accepted reading; returns the point
/// to append and the log to append it to.
fn check(
    state: &impl StateRead,
    r: &SignedReading,
    signature_ok: bool,
    now_ms: u64,
    p: &params::OracleParams,
) -> Result<(Point, MeterLog), OracleError> {
    let rd = &r.reading;
    if !signature_ok {
        return Err(OracleError::BadReadingSignature);
    }
    let m = machina_identity::machine(state, rd.machine_id)
        .ok_or(OracleError::UnknownMachine(rd.machine_id))?;
    if m.status == Status::Revoked {
        return Err(OracleError::MachineRevoked(rd.machine_id));
    }
    if r.device_key != m.device_key {
        return Err(OracleError::WrongDeviceKey(rd.machine_id));
    }
    if rd.timestamp_ms > now_ms.saturating_add(p.max_future_ms) {
        return Err(OracleError::TimestampInFuture {
            timestamp_ms: rd.timestamp_ms,
            now_ms,
        });
    }
    if rd.timestamp_ms.saturating_add(p.max_age_ms) < now_ms {
        return Err(OracleError::TimestampTooOld {
            timestamp_ms: rd.timestamp_ms,
            now_ms,
        });
    }
    let new = Point {
        seq: rd.seq,
        timestamp_ms: rd.timestamp_ms,
        import_wh: rd.import_wh,
        export_wh: rd.export_wh,
    };
    let log = meter_log(state, rd.machine_id, rd.channel);
    if let Some(last) = &log.last {
        check_against_last(last, &new, m.rated_power_w, p.power_tolerance_pct)?;
    }
    Ok((new, log))
}

fn check_against_last(
    last: &Point,
    new: &Point,
    rated_w: u64,
    tolerance_pct: u64,
) -> Result<(), OracleError> {
    if new.seq <= last.seq {
        return Err(OracleError::StaleReading {
            seq: new.seq,
            last_seq: last.seq,
        });
    }
    if new.timestamp_ms < last.timestamp_ms
        || new.import_wh < last.import_wh
        || new.export_wh < last.export_wh
    {
        return Err(OracleError::CounterRegression { seq: new.seq });
    }
    let energy_wh =
        u128::from(new.import_wh - last.import_wh) + u128::from(new.export_wh - last.export_wh);
    let dt_ms = u128::from(new.timestamp_ms - last.timestamp_ms);
    // energy / dt <= rated * (100 + tol) / 100, in Wh and ms: multiply out, no division.
    if energy_wh * 3_600_000 * 100 > u128::from(rated_w) * u128::from(100 + tolerance_pct) * dt_ms {
        return Err(OracleError::PowerAboveRating {
            energy_wh: energy_wh as u64,
            dt_ms: dt_ms as u64,
            rated_w,
        });
    }
    Ok(())
}

/// Appends an accepted point and prunes a bounded number of readings past retention, always
/// keeping the latest reading before the retention boundary (interpolation needs it).
fn append(
    state: &mut impl StateWrite,
    machine_id: u64,
    channel: u16,
    mut log: MeterLog,
    p: Point,
    cutoff_ms: u64,
) {
    state.set(keys::log(machine_id, channel, log.head), p.encode());
    if log.head == log.tail + 1 {
        log.next_ts = Some(p.timestamp_ms);
    }
    log.head += 1;
    log.last = Some(p);
    for _ in 0..MAX_PRUNE_PER_READING {
        match log.next_ts {
            Some(t) if t <= cutoff_ms => {}
            _ => break,
        }
        state.delete(keys::log(machine_id, channel, log.tail));
        log.tail += 1;
        log.next_ts = (log.tail + 1 < log.head)
            .then(|| point(state, machine_id, channel, log.tail + 1).timestamp_ms);
    }
    state.set(keys::meter(machine_id, channel), log.encode());
}

/// Checks and records readings. Each is accepted or refused on its own; refusals that are
/// evidence against the device count against its reputation. `bad_signatures` lists the
/// readings whose signatures did not verify.
pub fn submit_readings(
    state: &mut impl StateWrite,
    readings: &[SignedReading],
    bad_signatures: &[usize],
    now_ms: u64,
) -> Vec<Event> {
    let p = params::params(state);
    let cutoff = now_ms.saturating_sub(p.retention_ms);
    let mut accepted: BTreeMap<u64, u64> = BTreeMap::new();
    let mut against: BTreeMap<u64, u64> = BTreeMap::new();
    let mut events = Vec::new();
    let mut rejected = 0usize;
    for (i, r) in readings.iter().enumerate() {
        let rd = &r.reading;
        match check(state, r, !bad_signatures.contains(&i), now_ms, &p) {
            Ok((point, log)) => {
                append(state, rd.machine_id, rd.channel, log, point, cutoff);
                *accepted.entry(rd.machine_id).or_default() += 1;
            }
            Err(e) => {
                rejected += 1;
                if counts_against_device(&e) {
                    *against.entry(rd.machine_id).or_default() += 1;
                }
                if events.len() < MAX_REJECTION_EVENTS {
                    events.push(Event::new(
                        "oracle",
                        REJECTED_EVENT,
                        &[
                            ("item", i.into()),
                            ("machine_id", rd.machine_id.into()),
                            ("seq", rd.seq.into()),
                            ("code", e.code().into()),
                            ("message", e.to_string().into()),
                        ],
                    ));
                }
            }
        }
    }
    // Counters are written once per machine and batch, not once per reading.
    let machines: std::collections::BTreeSet<u64> =
        accepted.keys().chain(against.keys()).copied().collect();
    for id in machines {
        let mut st = stats(state, id);
        st.readings_accepted += accepted.get(&id).copied().unwrap_or(0);
        st.readings_rejected += against.get(&id).copied().unwrap_or(0);
        state.set(keys::stats(id), st.encode());
    }
    let total: u64 = accepted.values().sum();
    events.insert(
        0,
        Event::new(
            "oracle",
            READINGS_EVENT,
            &[("accepted", total.into()), ("rejected", rejected.into())],
        ),
    );
    events
}

/// A machine's reading counters, part of its reputation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct ReadingStats {
    /// Readings accepted.
    pub readings_accepted: u64,
    /// Readings refused as evidence against the device (regressions, implausible power,
    /// timestamps in the future).
    pub readings_rejected: u64,
}

/// The reading counters of a machine.
pub fn stats(state: &impl StateRead, machine_id: u64) -> ReadingStats {
    state
        .get(&keys::stats(machine_id))
        .map(|b| ReadingStats::decode_exact(&b, 16).expect("oracle wrote these stats"))
        .unwrap_or_default()
}

/// Energy imported and exported, Wh.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Energy {
    /// Imported, Wh.
    pub import_wh: u64,
    /// Exported, Wh.
    pub export_wh: u64,
}

/// The counters at time `t`, by linear interpolation between the readings on either side,
/// rounded down.
///
/// - A reading exactly at `t` gives its counters.
/// - No reading after `t` (the latest is earlier): not measured yet, an error; settlement waits
///   or treats it as missing data.
/// - No reading before `t`, and none was ever pruned: the first reading's counters, that is,
///   nothing is counted before a meter was first seen.
/// - No reading before `t` because they were pruned: an error (outside retention).
pub fn counters_at(
    state: &impl StateRead,
    machine_id: u64,
    channel: u16,
    t: u64,
) -> Result<Energy, OracleError> {
    let log = meter_log(state, machine_id, channel);
    let last = log.last.ok_or(OracleError::NoReadings(machine_id))?;
    if t > last.timestamp_ms {
        return Err(OracleError::NotMeasuredYet {
            t_ms: t,
            latest_ms: last.timestamp_ms,
        });
    }
    let at = |slot| point(state, machine_id, channel, slot);
    // Binary search for the first slot with timestamp > t.
    let (mut lo, mut hi) = (log.tail, log.head);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if at(mid).timestamp_ms <= t {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if lo == log.tail {
        if log.tail > 0 {
            return Err(OracleError::Pruned { t_ms: t });
        }
        let first = at(log.tail);
        return Ok(Energy {
            import_wh: first.import_wh,
            export_wh: first.export_wh,
        });
    }
    let before = at(lo - 1);
    if before.timestamp_ms == t || lo == log.head {
        return Ok(Energy {
            import_wh: before.import_wh,
            export_wh: before.export_wh,
        });
    }
    let after = at(lo);
    let lerp = |a: u64, b: u64| {
        let span = u128::from(after.timestamp_ms - before.timestamp_ms);
        let part = u128::from(t - before.timestamp_ms);
        a + ((u128::from(b - a) * part) / span) as u64
    };
    Ok(Energy {
        import_wh: lerp(before.import_wh, after.import_wh),
        export_wh: lerp(before.export_wh, after.export_wh),
    })
}

/// Energy imported and exported by a machine's channel between `from_ms` and `to_ms`.
/// Adjacent spans add up exactly to the span that covers them: each boundary is interpolated
/// once, the same way.
pub fn energy_between(
    state: &impl StateRead,
    machine_id: u64,
    channel: u16,
    from_ms: u64,
    to_ms: u64,
) -> Result<Energy, OracleError> {
    if to_ms < from_ms {
        return Err(OracleError::BadSpan { from_ms, to_ms });
    }
    let a = counters_at(state, machine_id, channel, from_ms)?;
    let b = counters_at(state, machine_id, channel, to_ms)?;
    Ok(Energy {
        import_wh: b.import_wh - a.import_wh,
        export_wh: b.export_wh - a.export_wh,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(seq: u64, t: u64, i: u64, e: u64) -> Point {
        Point {
            seq,
            timestamp_ms: t,
            import_wh: i,
            export_wh: e,
        }
    }

    #[test]
    fn a_replayed_reading_is_stale_not_a_regression() {
        let last = pt(5, 1000, 10, 10);
        assert!(matches!(
            check_against_last(&last, &pt(5, 1000, 10, 10), 1000, 10),
            Err(OracleError::StaleReading { .. })
        ));
        assert!(matches!(
            check_against_last(&last, &pt(6, 2000, 9, 10), 1000, 10),
            Err(OracleError::CounterRegression { .. })
        ));
    }

    #[test]
    fn power_is_checked_against_the_rating_with_tolerance() {
        let last = pt(1, 0, 0, 0);
        // 1000 W for one hour is 1000 Wh; 10% tolerance allows 1100 Wh.
        assert!(check_against_last(&last, &pt(2, 3_600_000, 1100, 0), 1000, 10).is_ok());
        assert!(matches!(
            check_against_last(&last, &pt(2, 3_600_000, 1101, 0), 1000, 10),
            Err(OracleError::PowerAboveRating { .. })
        ));
        // Energy in zero time is infinite power.
        assert!(check_against_last(&last, &pt(2, 0, 1, 0), 1000, 10).is_err());
    }
}
