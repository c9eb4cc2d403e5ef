//! What became of each reading the gateway took: the answer a device gets from
//! `POST /v1/readings?wait=true` and `GET /v1/readings/{machine_id}/{seq}`, and the bounded
//! memory of the latest outcomes.

use machina_oracle::{ItemOutcome, ReadingsReport, SignedReading};
use machina_primitives::{Hash, Signature};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use tokio::sync::oneshot;

/// Most reading outcomes the gateway remembers for `GET /v1/readings/{machine_id}/{seq}`: a
/// few minutes of a busy gateway's readings, in a few tens of MB. The oldest are forgotten
/// first.
pub const MAX_OUTCOMES: usize = 100_000;

/// Where a reading stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Queued or in flight.
    Pending,
    /// The chain accepted it.
    Accepted,
    /// The chain refused it, or the gateway refused it at once for a reason the chain would
    /// (a bad signature, an unknown or revoked machine, not its device key); `code` is the
    /// oracle's.
    Refused,
    /// The gateway could not get it into a block (`code` is the gateway's); the message says
    /// when it sends it again.
    Failed,
    /// Its batch's receipt had no room to name it: accepted or refused.
    Unknown,
}

/// A reading's outcome as devices see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadingOutcome {
    /// The machine.
    pub machine_id: u64,
    /// The meter channel.
    pub channel: u16,
    /// The reading's sequence number.
    pub seq: u64,
    /// Where it stands.
    pub status: Status,
    /// Why it was refused or failed (null when accepted or pending).
    pub code: Option<String>,
    /// The sentence that goes with the code.
    pub message: Option<String>,
    /// The transaction that carried it, once there is one.
    pub tx_hash: Option<Hash>,
    /// The height of that transaction's block, once committed.
    pub height: Option<u64>,
}

impl ReadingOutcome {
    /// An outcome of `r` with nothing but its status.
    pub fn new(r: &SignedReading, status: Status) -> ReadingOutcome {
        ReadingOutcome {
            machine_id: r.reading.machine_id,
            channel: r.reading.channel,
            seq: r.reading.seq,
            status,
            code: None,
            message: None,
            tx_hash: None,
            height: None,
        }
    }

    /// Still pending when the device stopped waiting.
    pub fn still_pending(r: &SignedReading, waited_s: u64) -> ReadingOutcome {
        let mut o = ReadingOutcome::new(r, Status::Pending);
        o.message = Some(format!(
            "no outcome within {waited_s} s; ask GET /v1/readings/{}/{}?channel={} later",
            o.machine_id, o.seq, o.channel
        ));
        o
    }

    /// What the receipt of `tx_hash` at `height` says about the reading at `item`.
    pub fn from_report(
        r: &SignedReading,
        report: &ReadingsReport,
        item: u64,
        tx_hash: Hash,
        height: u64,
    ) -> ReadingOutcome {
        let (status, code, message) = match report.item(item) {
            ItemOutcome::Accepted => (Status::Accepted, None, None),
            ItemOutcome::Refused(f) => (
                Status::Refused,
                Some(f.code.clone()),
                Some(f.message.clone()),
            ),
            ItemOutcome::Unreported => (
                Status::Unknown,
                Some("outcome_not_reported".to_owned()),
                Some(format!(
                    "the batch's receipt names only the first {} of its {} refused readings; \
                     GET /v1/meter/{} on the node shows the machine's latest accepted reading",
                    report.named.len(),
                    report.refused,
                    r.reading.machine_id
                )),
            ),
        };
        ReadingOutcome {
            code,
            message,
            tx_hash: Some(tx_hash),
            height: Some(height),
            ..ReadingOutcome::new(r, status)
        }
    }

    /// Refused by the gateway before it was queued, with the oracle's `code` and sentence:
    /// the chain would refuse it the same way, so it is not worth a fee.
    pub fn refused_at_door(r: &SignedReading, code: &str, message: String) -> ReadingOutcome {
        ReadingOutcome {
            code: Some(code.to_owned()),
            message: Some(message),
            ..ReadingOutcome::new(r, Status::Refused)
        }
    }

    /// Not queued because the gateway could not check it now (`code` is the gateway's).
    pub fn not_queued(r: &SignedReading, code: &str, message: String) -> ReadingOutcome {
        ReadingOutcome {
            code: Some(code.to_owned()),
            message: Some(format!(
                "{message}; the reading was not queued, post it again"
            )),
            ..ReadingOutcome::new(r, Status::Failed)
        }
    }

    /// Failed with the gateway's `failure`.
    pub fn failed(r: &SignedReading, failure: &Failure) -> ReadingOutcome {
        ReadingOutcome {
            code: Some(failure.code.to_owned()),
            message: Some(failure.message.clone()),
            tx_hash: failure.tx_hash,
            height: failure.height,
            ..ReadingOutcome::new(r, Status::Failed)
        }
    }
}

/// Why the gateway could not get a batch into a block.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The gateway's code: `node_refused`, `node_unreachable`, `not_committed`, `tx_failed`,
    /// `nonce_taken`.
    pub code: &'static str,
    /// The sentence.
    pub message: String,
    /// The batch's transaction, when the node took it.
    pub tx_hash: Option<Hash>,
    /// Its block, when it was committed (and failed as a whole).
    pub height: Option<u64>,
}

/// A reading in the queue, with the device request that waits for it.
pub struct Queued {
    /// The reading.
    pub reading: SignedReading,
    /// Where its outcome goes, when its device asked to wait (`?wait=true`).
    pub waiter: Option<oneshot::Sender<ReadingOutcome>>,
}

impl Queued {
    /// A reading just posted.
    pub fn new(reading: SignedReading, waiter: Option<oneshot::Sender<ReadingOutcome>>) -> Self {
        Queued { reading, waiter }
    }

    /// The machine that signed it.
    pub fn machine_id(&self) -> u64 {
        self.reading.reading.machine_id
    }
}

/// A reading's key: machine, channel and sequence number.
type Key = (u64, u16, u64);

struct Entry {
    /// When it was last written, for forgetting the oldest first.
    stamp: u64,
    /// The signature of the reading it is about: a copy of an accepted reading keeps the
    /// accepted outcome.
    signature: Signature,
    outcome: ReadingOutcome,
}

#[derive(Default)]
struct Memory {
    entries: HashMap<Key, Entry>,
    /// Keys by the stamp of their entry, oldest first.
    order: BTreeMap<u64, Key>,
    next_stamp: u64,
}

/// The latest outcome of each reading, at most [`MAX_OUTCOMES`], the oldest forgotten first.
#[derive(Default)]
pub struct Outcomes(Mutex<Memory>);

impl Outcomes {
    /// Records `outcome` for `r` and returns the outcome to report. An accepted outcome of the
    /// very same reading (same signature) stands: a copy of it posted again, or sent again
    /// after a lost receipt, is refused as `stale_reading` or fails without undoing that.
    pub fn record(&self, r: &SignedReading, outcome: ReadingOutcome) -> ReadingOutcome {
        let key = (r.reading.machine_id, r.reading.channel, r.reading.seq);
        let mut m = self.0.lock().expect("outcomes lock");
        if let Some(e) = m.entries.get(&key) {
            if e.outcome.status == Status::Accepted
                && e.signature == r.signature
                && outcome.status != Status::Accepted
            {
                return e.outcome.clone();
            }
        }
        let stamp = m.next_stamp;
        m.next_stamp += 1;
        let old = m.entries.insert(
            key,
            Entry {
                stamp,
                signature: r.signature,
                outcome: outcome.clone(),
            },
        );
        if let Some(old) = old {
            m.order.remove(&old.stamp);
        }
        m.order.insert(stamp, key);
        while m.entries.len() > MAX_OUTCOMES {
            let Some((_, oldest)) = m.order.pop_first() else {
                break;
            };
            m.entries.remove(&oldest);
        }
        outcome
    }

    /// The latest outcome of a reading, if remembered.
    pub fn get(&self, machine_id: u64, channel: u16, seq: u64) -> Option<ReadingOutcome> {
        let m = self.0.lock().expect("outcomes lock");
        m.entries
            .get(&(machine_id, channel, seq))
            .map(|e| e.outcome.clone())
    }

    /// How many outcomes are remembered.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.0.lock().expect("outcomes lock").entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use machina_oracle::MeterReading;
    use machina_primitives::Keypair;

    fn signed(seq: u64, import_wh: u64) -> SignedReading {
        MeterReading {
            machine_id: 1,
            channel: 0,
            seq,
            timestamp_ms: 1_000 + seq,
            import_wh,
            export_wh: 0,
        }
        .sign(9, &Keypair::dev("meter"))
    }

    #[test]
    fn a_copy_of_an_accepted_reading_keeps_the_accepted_outcome() {
        let o = Outcomes::default();
        let r = signed(1, 10);
        o.record(&r, ReadingOutcome::new(&r, Status::Accepted));
        let copy = ReadingOutcome {
            code: Some("stale_reading".into()),
            ..ReadingOutcome::new(&r, Status::Refused)
        };
        assert_eq!(o.record(&r, copy).status, Status::Accepted);
        assert_eq!(
            o.record(&r, ReadingOutcome::new(&r, Status::Pending))
                .status,
            Status::Accepted
        );
        // Another reading with the same sequence number is another reading.
        let other = signed(1, 11);
        let refused = ReadingOutcome::new(&other, Status::Refused);
        assert_eq!(o.record(&other, refused).status, Status::Refused);
        assert_eq!(o.get(1, 0, 1).map(|x| x.status), Some(Status::Refused));
        assert_eq!(o.get(1, 1, 1), None);
    }

    #[test]
    fn the_oldest_outcomes_are_forgotten_first_and_the_memory_stays_bounded() {
        let o = Outcomes::default();
        let first = signed(0, 0);
        o.record(&first, ReadingOutcome::new(&first, Status::Pending));
        // The memory does not check signatures: one serves for every sequence number.
        let template = signed(1, 1);
        for seq in 1..=MAX_OUTCOMES as u64 {
            let mut r = template;
            r.reading.seq = seq;
            o.record(&r, ReadingOutcome::new(&r, Status::Pending));
            // Rewriting one keeps it young.
            if seq == 1 {
                o.record(&r, ReadingOutcome::new(&r, Status::Accepted));
            }
        }
        assert_eq!(o.remembered(), MAX_OUTCOMES);
        assert_eq!(o.get(1, 0, 0), None);
        assert_eq!(o.get(1, 0, 1).map(|x| x.status), Some(Status::Accepted));
        assert!(o.get(1, 0, MAX_OUTCOMES as u64).is_some());
    }
}
