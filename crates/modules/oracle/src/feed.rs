//! Data feeds: staked reporters, a median per round once a quorum reported, bounded moves,
//! staleness, and equivocation that the staking module slashes.
//!
//! A reporter's stake for a feed is the staking module's subject `reporter` (feed, reporter):
//! its reports count while that stake covers the feed's bond and it is not jailed.

use crate::action::{FeedConfig, FeedReport};
use crate::{keys, OracleError};
use machina_primitives::limits::{MAX_FEED_REPORTERS, MAX_LABEL_BYTES};
use machina_primitives::{Address, Amount, Decode, Encode, Event};
use machina_staking::{EvidenceKind, Slash, Subject};
use machina_state::{StateRead, StateWrite};
use machina_wallet::ActionCtx;
use serde::{Deserialize, Serialize};

/// Most rejection events one report batch writes into its receipt.
const MAX_REJECTION_EVENTS: usize = 200;

/// A feed: its rules and its current value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Feed {
    /// The rules, fixed at creation.
    pub config: FeedConfig,
    /// The round now open for reports.
    pub round: u64,
    /// The value of the last finished round.
    pub value: Option<i64>,
    /// When that round finished, ms of chain time.
    pub updated_ms: u64,
}

/// Reports of the open round: `(reporter index, value)`.
#[derive(Encode, Decode)]
struct RoundReports(#[codec(max = MAX_FEED_REPORTERS, what = "round reports")] Vec<(u8, i64)>);

const MAX_FEED_BYTES: usize = 4096;

/// The feed called `name`.
pub fn feed(state: &impl StateRead, name: &str) -> Option<Feed> {
    state
        .get(&keys::feed(name))
        .map(|b| Feed::decode_exact(&b, MAX_FEED_BYTES).expect("oracle wrote this feed"))
}

fn put_feed(state: &mut impl StateWrite, f: &Feed) {
    state.set(keys::feed(&f.config.name), f.encode());
}

fn reports(state: &impl StateRead, name: &str) -> RoundReports {
    state
        .get(&keys::feed_reports(name))
        .map(|b| RoundReports::decode_exact(&b, MAX_FEED_BYTES).expect("oracle wrote these"))
        .unwrap_or(RoundReports(Vec::new()))
}

/// The staking subject of one reporter of one feed.
pub fn reporter_subject(feed: &str, reporter: &Address) -> Subject {
    Subject::Reporter {
        feed: feed.to_owned(),
        reporter: *reporter,
    }
}

/// The feed's value at `now_ms`, or why there is none: never set, or stale.
pub fn feed_value(
    state: &impl StateRead,
    name: &str,
    now_ms: u64,
) -> Result<(i64, u64), OracleError> {
    let f = feed(state, name).ok_or_else(|| OracleError::UnknownFeed(name.to_owned()))?;
    let v = f
        .value
        .ok_or_else(|| OracleError::NoValue(name.to_owned()))?;
    if now_ms.saturating_sub(f.updated_ms) > f.config.stale_after_ms {
        return Err(OracleError::Stale {
            feed: name.to_owned(),
            updated_ms: f.updated_ms,
        });
    }
    Ok((v, f.round - 1))
}

fn check_config(c: &FeedConfig) -> Result<(), OracleError> {
    let bad = |s: String| Err(OracleError::InvalidFeed(s));
    let n = c.reporters.len();
    if c.name.is_empty() || c.name.len() > MAX_LABEL_BYTES {
        return bad(format!("a feed name has 1 to {MAX_LABEL_BYTES} bytes"));
    }
    if n == 0 || n > MAX_FEED_REPORTERS {
        return bad(format!("a feed has 1 to {MAX_FEED_REPORTERS} reporters"));
    }
    let mut sorted = c.reporters.clone();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != n {
        return bad("reporters repeat".into());
    }
    let (q, sq) = (usize::from(c.quorum), usize::from(c.super_quorum));
    if q == 0 || q > sq || sq > n {
        return bad(format!(
            "need 1 <= quorum ({q}) <= super quorum ({sq}) <= reporters ({n})"
        ));
    }
    if c.bond == Amount::ZERO || c.stale_after_ms == 0 {
        return bad("bond and stale_after_ms must be positive".into());
    }
    Ok(())
}

/// Creates a feed.
pub fn create(state: &mut impl StateWrite, config: &FeedConfig) -> Result<Event, OracleError> {
    check_config(config)?;
    if feed(state, &config.name).is_some() {
        return Err(OracleError::DuplicateFeed(config.name.clone()));
    }
    let f = Feed {
        config: config.clone(),
        round: 1,
        value: None,
        updated_ms: 0,
    };
    put_feed(state, &f);
    Ok(Event::new(
        "oracle",
        "feed_created",
        &[("feed", config.name.clone().into())],
    ))
}

fn reporter_index(f: &Feed, who: &Address) -> Result<usize, OracleError> {
    f.config
        .reporters
        .iter()
        .position(|r| r == who)
        .ok_or(OracleError::NotAReporter(*who))
}

/// The lower median: deterministic for an even count too.
fn median(values: &mut [i64]) -> i64 {
    values.sort_unstable();
    values[(values.len() - 1) / 2]
}

/// Whether moving from `current` to `next` stays within `max_bps` of `current`.
fn within_bound(current: i64, next: i64, max_bps: u32) -> bool {
    let diff = (i128::from(next) - i128::from(current)).unsigned_abs();
    diff * 10_000 <= i128::from(current).unsigned_abs() * u128::from(max_bps)
}

fn accept_report(
    state: &mut impl StateWrite,
    r: &FeedReport,
    now_ms: u64,
    height: u64,
) -> Result<Option<Event>, OracleError> {
    let mut f = feed(state, &r.feed).ok_or_else(|| OracleError::UnknownFeed(r.feed.clone()))?;
    let who = r.reporter.address();
    let i = reporter_index(&f, &who)?;
    if machina_staking::reporter_stake(state, &r.feed, &who, height) < f.config.bond {
        return Err(OracleError::NotBonded(who));
    }
    if r.round != f.round {
        return Err(OracleError::WrongRound {
            expected: f.round,
            got: r.round,
        });
    }
    let mut open = reports(state, &r.feed);
    if open.0.iter().any(|(j, _)| usize::from(*j) == i) {
        return Err(OracleError::DuplicateReport(who));
    }
    open.0.push((i as u8, r.value));
    let count = open.0.len();
    if count < usize::from(f.config.quorum) {
        state.set(keys::feed_reports(&r.feed), open.encode());
        return Ok(None);
    }
    let mut values: Vec<i64> = open.0.iter().map(|(_, v)| *v).collect();
    let m = median(&mut values);
    let bounded = f
        .value
        .is_none_or(|cur| within_bound(cur, m, f.config.max_change_bps));
    if !bounded && count < usize::from(f.config.super_quorum) {
        // A large move waits for the larger quorum.
        state.set(keys::feed_reports(&r.feed), open.encode());
        return Ok(None);
    }
    f.value = Some(m);
    f.updated_ms = now_ms;
    let round = f.round;
    f.round += 1;
    put_feed(state, &f);
    state.delete(keys::feed_reports(&r.feed));
    Ok(Some(Event::new(
        "oracle",
        "feed_updated",
        &[
            ("feed", r.feed.clone().into()),
            ("round", round.into()),
            ("value", m.into()),
            ("reports", count.into()),
        ],
    )))
}

/// Records reports; each is accepted or refused on its own. `bad_signatures` lists those whose
/// signatures did not verify.
pub fn report(
    state: &mut impl StateWrite,
    reports: &[FeedReport],
    bad_signatures: &[usize],
    now_ms: u64,
    height: u64,
) -> Vec<Event> {
    let mut events = Vec::new();
    let (mut accepted, mut rejected) = (0u64, 0u64);
    for (i, r) in reports.iter().enumerate() {
        let outcome = if bad_signatures.contains(&i) {
            Err(OracleError::BadReportSignature)
        } else {
            accept_report(state, r, now_ms, height)
        };
        match outcome {
            Ok(updated) => {
                accepted += 1;
                events.extend(updated);
            }
            Err(e) => {
                rejected += 1;
                if events.len() < MAX_REJECTION_EVENTS {
                    events.push(Event::new(
                        "oracle",
                        "rejected",
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
            "oracle",
            "reports",
            &[("accepted", accepted.into()), ("rejected", rejected.into())],
        ),
    );
    events
}

/// Two validly signed reports of one reporter for one round with different values: the
/// staking module slashes the reporter's stake for the feed (by default all of it, half to the
/// prover, the rest to the insurance pool), and its report in the open round no longer counts.
pub fn prove_equivocation(
    state: &mut impl StateWrite,
    ctx: &ActionCtx,
    a: &FeedReport,
    b: &FeedReport,
) -> Result<Vec<Event>, OracleError> {
    if a.feed != b.feed || a.round != b.round || a.reporter != b.reporter || a.value == b.value {
        return Err(OracleError::InvalidEvidence);
    }
    let f = feed(state, &a.feed).ok_or_else(|| OracleError::UnknownFeed(a.feed.clone()))?;
    let who = a.reporter.address();
    let i = reporter_index(&f, &who)?;
    let subject = reporter_subject(&a.feed, &who);
    let kind = EvidenceKind::FeedEquivocation;
    let evidence =
        machina_staking::evidence_id(kind, &[a.feed.as_bytes(), &a.round.to_be_bytes(), &who.0]);
    let payees = machina_staking::prover_and_pool(state, &ctx.sender);
    let (_, slashed) = machina_staking::slash(
        state,
        ctx.height(),
        &Slash {
            subject: &subject,
            kind,
            evidence,
            bps: machina_staking::StakingParams::load(state).feed_equivocation_bps,
            payees: &payees,
        },
    )?;
    let mut open = reports(state, &a.feed);
    open.0.retain(|(j, _)| usize::from(*j) != i);
    state.set(keys::feed_reports(&a.feed), open.encode());
    let proven = Event::new(
        "oracle",
        "equivocation_proven",
        &[
            ("feed", a.feed.clone().into()),
            ("round", a.round.into()),
            ("reporter", who.into()),
        ],
    );
    Ok(vec![proven, slashed])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// With f liars among 2f+1 reporters, the median lies within the honest values.
        #[test]
        fn the_median_of_2f_plus_1_stays_within_the_honest_values(
            honest in proptest::collection::vec(-1_000_000i64..1_000_000, 1..16),
            liars in proptest::collection::vec(any::<i64>(), 0..16),
        ) {
            let f = liars.len().min(honest.len() - 1);
            let mut all: Vec<i64> = honest.iter().copied().chain(liars.into_iter().take(f)).collect();
            // 2f+1 reports: pad with honest values if the draw has more honest ones.
            let m = median(&mut all);
            let (lo, hi) = (*honest.iter().min().unwrap(), *honest.iter().max().unwrap());
            prop_assert!(m >= lo && m <= hi, "median {} outside honest [{}, {}]", m, lo, hi);
        }
    }

    #[test]
    fn a_move_within_the_bound_is_measured_against_the_current_value() {
        assert!(within_bound(10_000, 10_500, 500));
        assert!(!within_bound(10_000, 10_501, 500));
        assert!(within_bound(-100, -105, 500));
    }
}
