//! Machina compute market: offers of compute machines, jobs as intents matched in the block
//! they arrive in, leases paid every few blocks from escrow and never overdrawn.
//!
//! Layer 2, on the staking module: an offer only matches while its machine has the provider
//! bond and is not jailed. Offers sit in one price book per GPU model, cheapest first; a job
//! reads only its model's book, at most [`MAX_SCAN_PER_JOB`] entries of it. Payments follow a
//! height-indexed schedule, so a block touches only the jobs due in it (`docs/compute.md`).

pub mod action;
pub mod cli;
mod jobs;
pub mod listing;
mod matching;
mod module;
mod offers;
mod params;
pub mod records;
mod results;
pub mod routes;
mod sla;

pub use action::{
    offer_attributes, result_commitment, ComputeAction, Heartbeat, JobSpec, OfferTerms, Resources,
    Sla, MAX_REDUNDANCY,
};
pub use jobs::{close, post_job, run_due, top_up};
pub use matching::{fair_order, match_waiting, reputation};
pub use module::Compute;
pub use offers::{attest, create_offer, revoke_attestation, update_offer, withdraw_offer};
pub use params::{ComputeParams, MAX_AUDITORS};
pub use records::{
    book, job, job_count, machine_leases, offer, offer_count, waiting, Attestation, Job, JobStatus,
    Lease, LeaseRef, Offer,
};
pub use results::{commit, reveal};
pub use sla::{ack, heartbeats};

use machina_primitives::{Address, Amount};
use thiserror::Error;

/// Most offers of one GPU model (not withdrawn); its price book lists those with a free slot.
pub const MAX_OFFERS_PER_CLASS: usize = 2_048;
/// Most leases one job records: its replicas and up to as many replacements again.
pub const MAX_LEASES_PER_JOB: usize = 4 * MAX_REDUNDANCY as usize;
/// Most jobs waiting for a match at once.
pub const MAX_WAITING_JOBS: usize = 4_096;
/// Most leases one machine holds at once.
pub const MAX_LEASES_PER_MACHINE: usize = 256;
/// Most waiting jobs one block tries to match: the bound on a block's matching work.
pub const MAX_MATCHES_PER_BLOCK: usize = 1_024;
/// Most price-book entries one job looks at.
pub const MAX_SCAN_PER_JOB: usize = 512;
/// Most jobs whose payment falls due at one height.
pub const MAX_DUE_PER_HEIGHT: u64 = 4_096;

/// Why the compute market refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ComputeError {
    /// The offer's terms are not valid.
    #[error("invalid offer: {0}")]
    InvalidOffer(String),
    /// The job's spec is not valid.
    #[error("invalid job: {0}")]
    InvalidJob(String),
    /// No such offer.
    #[error("no offer {0}")]
    UnknownOffer(u64),
    /// No such job.
    #[error("no job {0}")]
    UnknownJob(u64),
    /// Not the offer's machine owner, or not the job's tenant.
    #[error("{0} may not change this: only the machine's owner (offers) or the tenant (jobs) may")]
    NotYours(Address),
    /// The offer's GPU model's book is full.
    #[error(
        "the price book of GPU model {0:?} holds {MAX_OFFERS_PER_CLASS} offers; withdraw one first"
    )]
    BookFull(String),
    /// Too many jobs wait.
    #[error("{MAX_WAITING_JOBS} jobs are waiting for a match; try again later")]
    TooManyWaiting,
    /// The capacity would drop below the slots leased now.
    #[error("{leased} slots are leased; capacity cannot drop below that")]
    CapacityInUse {
        /// Slots leased now.
        leased: u16,
    },
    /// The job has ended.
    #[error("job {0} has ended")]
    JobEnded(u64),
    /// The offer was withdrawn.
    #[error("offer {0} was withdrawn")]
    OfferWithdrawn(u64),
    /// The machine's provider bond is missing.
    #[error("machine {machine_id} has {bonded} micro of provider stake, {min} needed: bond with `machina tx stake bond --role provider`")]
    NoProviderBond {
        /// The machine.
        machine_id: u64,
        /// Its stake.
        bonded: Amount,
        /// The staking module's minimum.
        min: Amount,
    },
    /// No such running lease.
    #[error("job {job_id} has no running lease {replica}")]
    UnknownLease {
        /// The job.
        job_id: u64,
        /// The replica.
        replica: u8,
    },
    /// The job has one replica: there are no results to commit.
    #[error("job {0} has one replica: results are committed only with two or more")]
    NoResults(u64),
    /// A commit or reveal outside its window, twice, or not matching.
    #[error("{0}")]
    ResultWindow(String),
    /// A heartbeat that does not count.
    #[error("bad heartbeat: {0}")]
    BadHeartbeat(String),
    /// The sender is not an auditor the chain's parameters name.
    #[error("{0} is not a registered auditor: the chain's compute parameters name the auditors")]
    NotAuditor(Address),
    /// The offer's attributes are not those the auditor attested.
    #[error(
        "offer {0}'s hardware or region changed: read the offer again and attest what it says now"
    )]
    AttributesChanged(u64),
    /// The offer has no attestation to revoke.
    #[error("offer {0} is not attested")]
    NotAttested(u64),
    /// The genesis' compute parameters are not valid.
    #[error("invalid compute parameters: {0}")]
    InvalidParams(String),
    /// From the identity module.
    #[error(transparent)]
    Identity(#[from] machina_identity::IdentityError),
    /// The escrow payment was refused (balance, wallet policy).
    #[error(transparent)]
    Wallet(#[from] machina_wallet::WalletError),
}

impl ComputeError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ComputeError::InvalidOffer(_) => "invalid_offer",
            ComputeError::InvalidJob(_) => "invalid_job",
            ComputeError::UnknownOffer(_) => "unknown_offer",
            ComputeError::UnknownJob(_) => "unknown_job",
            ComputeError::NotYours(_) => "not_yours",
            ComputeError::BookFull(_) => "book_full",
            ComputeError::TooManyWaiting => "too_many_waiting_jobs",
            ComputeError::CapacityInUse { .. } => "capacity_in_use",
            ComputeError::JobEnded(_) => "job_ended",
            ComputeError::OfferWithdrawn(_) => "offer_withdrawn",
            ComputeError::NoProviderBond { .. } => "no_provider_bond",
            ComputeError::UnknownLease { .. } => "unknown_lease",
            ComputeError::BadHeartbeat(_) => "bad_heartbeat",
            ComputeError::NoResults(_) => "no_results",
            ComputeError::ResultWindow(_) => "result_window",
            ComputeError::NotAuditor(_) => "not_auditor",
            ComputeError::AttributesChanged(_) => "attributes_changed",
            ComputeError::NotAttested(_) => "not_attested",
            ComputeError::InvalidParams(_) => "invalid_compute_params",
            ComputeError::Identity(e) => e.code(),
            ComputeError::Wallet(e) => e.code(),
        }
    }
}

/// Result alias of the compute market.
pub type Result<T> = std::result::Result<T, ComputeError>;

/// The account that holds every job's escrow.
pub fn escrow_address() -> Address {
    Address::derive(&[b"machina/compute-escrow/v1"])
}
