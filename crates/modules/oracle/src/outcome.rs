//! What a receipt says about each meter reading of its `submit_readings` actions, read back
//! from the events [`crate::submit_readings`] writes: the node counts them for `/metrics` and
//! the gateway answers devices with them.
//!
//! A `submit_readings` action writes a `readings` summary (how many were accepted and refused)
//! followed by one `rejected` event per refused reading, in item order, for at most the first
//! [`MAX_REJECTION_EVENTS`](crate::meter::MAX_REJECTION_EVENTS) refusals; the stf may cut a receipt's events further. So the named
//! refusals are always a prefix of all refusals in item order, and an item before the last named
//! one that is not named was accepted.

use crate::meter::{READINGS_EVENT, REJECTED_EVENT};
use machina_module::Module;
use machina_primitives::{AttrValue, Event};

/// One `submit_readings` action's outcome as its receipt reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadingsReport {
    /// Readings accepted.
    pub accepted: u64,
    /// Readings refused, named or not.
    pub refused: u64,
    /// The refused readings the receipt names, in item order: the first refusals of the batch,
    /// at most [`MAX_REJECTION_EVENTS`](crate::meter::MAX_REJECTION_EVENTS) of them.
    pub named: Vec<Refusal>,
}

/// A refused reading as its receipt names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Its position in the action's readings.
    pub item: u64,
    /// The machine the reading is for.
    pub machine_id: u64,
    /// The reading's sequence number.
    pub seq: u64,
    /// The stable code, e.g. `stale_reading`.
    pub code: String,
    /// The sentence.
    pub message: String,
}

/// What became of one reading of an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemOutcome<'a> {
    /// Accepted.
    Accepted,
    /// Refused, with the code and sentence the receipt names.
    Refused(&'a Refusal),
    /// Accepted or refused: the receipt ran out of room to name refusals before this item.
    Unreported,
}

impl ReadingsReport {
    /// Refusals the receipt counts but has no room to name.
    pub fn unnamed(&self) -> u64 {
        self.refused.saturating_sub(self.named.len() as u64)
    }

    /// The outcome of the reading at `item` of the action.
    pub fn item(&self, item: u64) -> ItemOutcome<'_> {
        match self.named.binary_search_by_key(&item, |r| r.item) {
            Ok(i) => ItemOutcome::Refused(&self.named[i]),
            Err(_) if self.unnamed() == 0 => ItemOutcome::Accepted,
            // A later item is named, and the names are a prefix of the refusals.
            Err(i) if i < self.named.len() => ItemOutcome::Accepted,
            Err(_) => ItemOutcome::Unreported,
        }
    }
}

/// The reports of every `submit_readings` action in a receipt's events, in action order.
/// Events of other actions (feed reports write `rejected` events too, without a machine) are
/// not counted.
pub fn readings_reports(events: &[Event]) -> Vec<ReadingsReport> {
    let mut out: Vec<ReadingsReport> = Vec::new();
    // Whether the events seen since the last summary still belong to it.
    let mut open = false;
    for e in events {
        if e.module != crate::Oracle::NAME {
            open = false;
            continue;
        }
        match e.kind.as_str() {
            READINGS_EVENT => {
                out.push(ReadingsReport {
                    accepted: int(e, "accepted").unwrap_or(0),
                    refused: int(e, "rejected").unwrap_or(0),
                    named: Vec::new(),
                });
                open = true;
            }
            REJECTED_EVENT if open => match (refusal(e), out.last_mut()) {
                (Some(r), Some(report)) => report.named.push(r),
                _ => open = false,
            },
            _ => open = false,
        }
    }
    out
}

fn int(e: &Event, key: &str) -> Option<u64> {
    e.attrs.get(key).and_then(AttrValue::as_u64)
}

fn refusal(e: &Event) -> Option<Refusal> {
    let text = |key: &str| match e.attrs.get(key) {
        Some(AttrValue::Text(t)) => Some(t.clone()),
        _ => None,
    };
    Some(Refusal {
        item: int(e, "item")?,
        machine_id: int(e, "machine_id")?,
        seq: int(e, "seq")?,
        code: text("code")?,
        message: text("message").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(kind: &str, accepted: u64, refused: u64) -> Event {
        Event::new(
            "oracle",
            kind,
            &[("accepted", accepted.into()), ("rejected", refused.into())],
        )
    }

    fn rejected(item: u64, code: &str) -> Event {
        Event::new(
            "oracle",
            "rejected",
            &[
                ("item", item.into()),
                ("machine_id", 7u64.into()),
                ("seq", (100 + item).into()),
                ("code", code.into()),
                ("message", "why".into()),
            ],
        )
    }

    #[test]
    fn each_readings_action_gets_its_own_report_and_feed_refusals_are_left_out() {
        let fee = Event::new("bank", "fee", &[("amount", 1u64.into())]);
        let feed_refusal = Event::new(
            "oracle",
            "rejected",
            &[("item", 0u64.into()), ("code", "wrong_round".into())],
        );
        let events = vec![
            fee,
            summary("readings", 2, 1),
            rejected(1, "stale_reading"),
            summary("reports", 0, 1),
            feed_refusal.clone(),
            summary("readings", 1, 0),
            feed_refusal,
        ];
        let reports = readings_reports(&events);
        assert_eq!(reports.len(), 2);
        assert_eq!((reports[0].accepted, reports[0].refused), (2, 1));
        assert_eq!(reports[0].named.len(), 1);
        assert_eq!(reports[0].item(0), ItemOutcome::Accepted);
        assert!(
            matches!(reports[0].item(1), ItemOutcome::Refused(r) if r.code == "stale_reading" && r.seq == 101)
        );
        assert_eq!(reports[0].item(2), ItemOutcome::Accepted);
        assert!(reports[1].named.is_empty());
    }

    #[test]
    fn items_after_the_last_named_refusal_are_unreported_when_refusals_are_missing() {
        let events = vec![
            summary("readings", 1, 3),
            rejected(1, "stale_reading"),
            rejected(3, "counter_regression"),
        ];
        let r = &readings_reports(&events)[0];
        assert_eq!(r.unnamed(), 1);
        assert_eq!(r.item(0), ItemOutcome::Accepted);
        assert_eq!(r.item(2), ItemOutcome::Accepted);
        assert_eq!(r.item(4), ItemOutcome::Unreported);
    }

    #[test]
    fn a_receipt_without_readings_has_no_report() {
        assert!(readings_reports(&[]).is_empty());
        assert!(readings_reports(&[rejected(0, "stale_reading")]).is_empty());
    }
}
