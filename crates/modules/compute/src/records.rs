//! What the compute market stores: offers, the per-GPU-model price books, jobs with their
//! leases, the waiting list, each machine's leases and the payment schedule.

use crate::action::{JobSpec, OfferTerms, MAX_URI_BYTES};
use crate::{MAX_LEASES_PER_JOB, MAX_LEASES_PER_MACHINE, MAX_OFFERS_PER_CLASS, MAX_WAITING_JOBS};
use machina_primitives::{Address, Amount, Decode, Encode, Hash};
use machina_state::{StateRead, StateWrite};
use serde::{Deserialize, Serialize};

/// Largest stored record of the module.
const MAX_RECORD_BYTES: usize = 64 * 1024;

/// An offer of slots of a compute machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Offer {
    /// Its id.
    pub offer_id: u64,
    /// The machine.
    pub machine_id: u64,
    /// What it sells.
    pub terms: OfferTerms,
    /// Slots leased now.
    pub leased: u16,
    /// Withdrawn: no new leases.
    pub withdrawn: bool,
    /// A registered auditor's attestation of its attributes, if any.
    pub attestation: Option<Attestation>,
}

/// A registered auditor vouches for an offer's hardware and region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Attestation {
    /// The auditor.
    pub auditor: Address,
    /// The attested [`crate::offer_attributes`].
    pub attributes: Hash,
    /// When.
    pub height: u64,
}

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
#[codec(what = "job status")]
pub enum JobStatus {
    /// Not matched yet; retried every block until it expires.
    #[codec(tag = 0)]
    Waiting,
    /// Its leases run and are paid.
    #[codec(tag = 1)]
    Leased,
    /// The escrow ran out: the providers are neither paid nor bound; a top-up resumes it.
    #[codec(tag = 2)]
    Paused,
    /// Ended: run to its length, closed by the tenant, or closed after a pause's grace.
    #[codec(tag = 3)]
    Closed,
    /// Never matched before its matching window passed; the escrow was refunded.
    #[codec(tag = 4)]
    Failed,
}

impl JobStatus {
    /// The status as the API and the CLI spell it.
    pub fn name(self) -> &'static str {
        match self {
            JobStatus::Waiting => "waiting",
            JobStatus::Leased => "leased",
            JobStatus::Paused => "paused",
            JobStatus::Closed => "closed",
            JobStatus::Failed => "failed",
        }
    }
}

/// One replica's lease of one slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Lease {
    /// The offer whose slot it holds.
    pub offer_id: u64,
    /// The provider machine, paid into its account.
    pub machine_id: u64,
    /// Micro-units per block.
    pub price_per_block: Amount,
    /// Paid so far.
    pub paid: Amount,
    /// Its first block.
    pub start_height: u64,
    /// The block after its last: the job's end, or where a breach ended it.
    pub end_height: u64,
    /// Still running (not ended by a breach or a missing acknowledgement).
    pub active: bool,
    /// The provider acknowledged it.
    pub acked: bool,
    /// Height of its last heartbeat (its start until the first).
    pub last_beat_height: u64,
    /// GPU-seconds the device last reported.
    pub gpu_seconds: u64,
    /// Its result commitment (jobs with two replicas or more).
    pub commitment: Option<Hash>,
    /// The result it revealed.
    pub revealed: Option<Hash>,
    /// Where it says the result is.
    #[codec(max = MAX_URI_BYTES, what = "result URI")]
    pub uri: String,
}

/// A job and its leases.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Job {
    /// Its id.
    pub job_id: u64,
    /// Who posted and pays.
    pub tenant: Address,
    /// What it needs.
    pub spec: JobSpec,
    /// Where it is.
    pub status: JobStatus,
    /// Escrow left, micro-units.
    pub escrow: Amount,
    /// The height it was posted at.
    pub posted_height: u64,
    /// Its leases: one per replica, and those that replaced breached ones (empty while
    /// waiting).
    #[codec(max = MAX_LEASES_PER_JOB, what = "leases")]
    pub leases: Vec<Lease>,
    /// Replicas to match again (their leases ended by a breach).
    pub missing: u8,
    /// The majority result, once tallied.
    pub result: Option<Hash>,
    /// Where the majority says it is.
    #[codec(max = MAX_URI_BYTES, what = "result URI")]
    pub result_uri: String,
    /// The height whose end tallies the results (0: none pending).
    pub tally_height: u64,
    /// The first block not yet paid for (leases run from the block after their match).
    pub paid_until_height: u64,
    /// The block after the last one the job runs (later by any time spent paused).
    pub end_height: u64,
    /// When the current pause began (the first unpaid block), if paused.
    pub paused_at: Option<u64>,
    /// The height whose end-of-block work next looks at this job.
    pub next_due: u64,
}

impl Job {
    /// Micro-units per block of its active leases.
    pub fn rate(&self) -> Amount {
        self.leases
            .iter()
            .filter(|l| l.active)
            .fold(Amount::ZERO, |s, l| {
                s.checked_add(l.price_per_block)
                    .expect("prices are bounded")
            })
    }

    /// The first block the escrow does not cover.
    pub fn covered_until(&self) -> u64 {
        let rate = self.rate().0;
        if rate == 0 {
            return self.end_height;
        }
        let blocks = u64::try_from(self.escrow.0 / rate).unwrap_or(u64::MAX);
        self.paid_until_height.saturating_add(blocks)
    }
}

/// A lease of a machine, by job and replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct LeaseRef {
    /// The job.
    pub job_id: u64,
    /// The replica.
    pub replica: u8,
}

#[derive(Default, Encode, Decode)]
pub(crate) struct Book(
    #[codec(max = MAX_OFFERS_PER_CLASS, what = "price book")] pub(crate) Vec<(Amount, u64)>,
);

#[derive(Default, Encode, Decode)]
pub(crate) struct Waiting(
    #[codec(max = MAX_WAITING_JOBS, what = "waiting jobs")] pub(crate) Vec<u64>,
);

#[derive(Default, Encode, Decode)]
pub(crate) struct MachineLeases(
    #[codec(max = MAX_LEASES_PER_MACHINE, what = "machine leases")] pub(crate) Vec<LeaseRef>,
);

pub(crate) mod keys {
    //! The state keys the compute module owns, all under `compute/`.

    pub(crate) fn next_offer() -> Vec<u8> {
        b"compute/next_offer".to_vec()
    }
    pub(crate) fn offer(id: u64) -> Vec<u8> {
        [b"compute/offer/".as_slice(), &id.to_be_bytes()].concat()
    }
    /// The price book of one GPU model (length-prefixed, so no model is a prefix of another).
    pub(crate) fn book(model: &str) -> Vec<u8> {
        let len = u16::try_from(model.len()).expect("labels are short");
        [
            b"compute/book/".as_slice(),
            &len.to_be_bytes(),
            model.as_bytes(),
        ]
        .concat()
    }
    /// How many offers of one GPU model are not withdrawn.
    pub(crate) fn class_count(model: &str) -> Vec<u8> {
        let len = u16::try_from(model.len()).expect("labels are short");
        [
            b"compute/class_count/".as_slice(),
            &len.to_be_bytes(),
            model.as_bytes(),
        ]
        .concat()
    }
    pub(crate) fn next_job() -> Vec<u8> {
        b"compute/next_job".to_vec()
    }
    pub(crate) fn job(id: u64) -> Vec<u8> {
        [b"compute/job/".as_slice(), &id.to_be_bytes()].concat()
    }
    pub(crate) fn waiting() -> Vec<u8> {
        b"compute/waiting".to_vec()
    }
    pub(crate) fn machine_leases(machine_id: u64) -> Vec<u8> {
        [
            b"compute/machine_leases/".as_slice(),
            &machine_id.to_be_bytes(),
        ]
        .concat()
    }
    pub(crate) fn due_count(h: u64) -> Vec<u8> {
        [b"compute/due_count/".as_slice(), &h.to_be_bytes()].concat()
    }
    pub(crate) fn due(h: u64, i: u64) -> Vec<u8> {
        [
            b"compute/due/".as_slice(),
            &h.to_be_bytes(),
            &i.to_be_bytes(),
        ]
        .concat()
    }
    pub(crate) fn params() -> Vec<u8> {
        b"compute/params".to_vec()
    }
}

pub(crate) fn read<T: Decode>(state: &impl StateRead, key: &[u8]) -> Option<T> {
    state
        .get(key)
        .map(|b| T::decode_exact(&b, MAX_RECORD_BYTES).expect("compute wrote this record"))
}

pub(crate) fn put<T: Encode>(state: &mut impl StateWrite, key: Vec<u8>, v: &T) {
    state.set(key, v.encode());
}

/// Takes the next id from a counter.
pub(crate) fn next_id(state: &mut impl StateWrite, key: Vec<u8>) -> u64 {
    let id = read::<u64>(state, &key).unwrap_or(0) + 1;
    state.set(key, id.encode());
    id
}

/// The offer `id`.
pub fn offer(state: &impl StateRead, id: u64) -> Option<Offer> {
    read(state, &keys::offer(id))
}

/// The job `id`.
pub fn job(state: &impl StateRead, id: u64) -> Option<Job> {
    read(state, &keys::job(id))
}

/// How many offers were ever made: offers are numbered 1 to this.
pub fn offer_count(state: &impl StateRead) -> u64 {
    read(state, &keys::next_offer()).unwrap_or(0)
}

/// How many jobs were ever posted: jobs are numbered 1 to this.
pub fn job_count(state: &impl StateRead) -> u64 {
    read(state, &keys::next_job()).unwrap_or(0)
}

/// The leases a machine holds now (running or paused).
pub fn machine_leases(state: &impl StateRead, machine_id: u64) -> Vec<LeaseRef> {
    read::<MachineLeases>(state, &keys::machine_leases(machine_id))
        .unwrap_or_default()
        .0
}

pub(crate) fn put_machine_leases(state: &mut impl StateWrite, machine_id: u64, l: Vec<LeaseRef>) {
    if l.is_empty() {
        state.delete(keys::machine_leases(machine_id));
    } else {
        put(state, keys::machine_leases(machine_id), &MachineLeases(l));
    }
}

/// The jobs waiting for a match, oldest first.
pub fn waiting(state: &impl StateRead) -> Vec<u64> {
    read::<Waiting>(state, &keys::waiting())
        .unwrap_or_default()
        .0
}

pub(crate) fn put_waiting(state: &mut impl StateWrite, w: Vec<u64>) {
    if w.is_empty() {
        state.delete(keys::waiting());
    } else {
        put(state, keys::waiting(), &Waiting(w));
    }
}

/// The price book of a GPU model: (price, offer id), cheapest first.
pub fn book(state: &impl StateRead, model: &str) -> Vec<(Amount, u64)> {
    read::<Book>(state, &keys::book(model))
        .unwrap_or_default()
        .0
}

pub(crate) fn put_book(state: &mut impl StateWrite, model: &str, b: Vec<(Amount, u64)>) {
    if b.is_empty() {
        state.delete(keys::book(model));
    } else {
        put(state, keys::book(model), &Book(b));
    }
}
