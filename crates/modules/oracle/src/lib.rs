//! Machina oracle module: device-signed meter readings with plausibility checks and interval
//! energy, and data feeds from bonded reporters.
//!
//! Layer 2. Meter readings are signed by the machine's current device key and carry
//! cumulative counters, so a lost reading loses nothing and a repeated one changes nothing.
//! Feeds take the median of a quorum of bonded reporters; a reporter that signs two values for
//! one round can be proven to have done so and loses its bond.

pub mod action;
pub mod cli;
pub mod feed;
mod keys;
pub mod meter;
mod module;
pub mod outcome;
pub mod params;
pub mod routes;

pub use action::{FeedConfig, FeedReport, MeterReading, OracleAction, SignedReading};
pub use module::Oracle;

pub use feed::{feed, feed_value, Feed};
pub use meter::{
    counters_at, energy_between, meter_log, stats, submit_readings, Energy, MeterLog, Point,
    ReadingStats,
};
pub use outcome::{readings_reports, ItemOutcome, ReadingsReport, Refusal};
pub use params::{init_genesis, OracleParams};

use machina_bank::BankError;
use machina_primitives::Address;
use machina_wallet::WalletError;
use thiserror::Error;

/// Why the oracle refused a reading, a report or a request.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OracleError {
    /// The reading's signature does not verify.
    #[error("the reading's signature does not verify")]
    BadReadingSignature,
    /// No such machine.
    #[error("no machine with id {0}")]
    UnknownMachine(u64),
    /// The machine was revoked.
    #[error("machine {0} is revoked")]
    MachineRevoked(u64),
    /// Signed by a key that is not the machine's current device key.
    #[error("the reading is not signed by machine {0}'s current device key")]
    WrongDeviceKey(u64),
    /// Too far ahead of the block time.
    #[error("reading time {timestamp_ms} ms is too far ahead of block time {now_ms} ms")]
    TimestampInFuture {
        /// The reading's time.
        timestamp_ms: u64,
        /// Block time.
        now_ms: u64,
    },
    /// Too far behind the block time.
    #[error("reading time {timestamp_ms} ms is too old for block time {now_ms} ms")]
    TimestampTooOld {
        /// The reading's time.
        timestamp_ms: u64,
        /// Block time.
        now_ms: u64,
    },
    /// A sequence number at or below the latest accepted (a replay or a retry).
    #[error("sequence {seq} is not after the latest accepted {last_seq}")]
    StaleReading {
        /// The reading's sequence.
        seq: u64,
        /// The latest accepted.
        last_seq: u64,
    },
    /// A newer reading with a counter or time below the latest accepted.
    #[error(
        "reading {seq} goes backwards: a counter or the time is below the latest accepted reading"
    )]
    CounterRegression {
        /// The reading's sequence.
        seq: u64,
    },
    /// Average power since the last reading is above the rating plus tolerance.
    #[error("{energy_wh} Wh in {dt_ms} ms is above the rated {rated_w} W plus tolerance")]
    PowerAboveRating {
        /// Energy since the last reading.
        energy_wh: u64,
        /// Time since the last reading.
        dt_ms: u64,
        /// The machine's rating.
        rated_w: u64,
    },
    /// No reading for the machine.
    #[error("machine {0} has no readings")]
    NoReadings(u64),
    /// Asked for a time after the latest reading.
    #[error("time {t_ms} ms is after the latest reading at {latest_ms} ms: not measured yet")]
    NotMeasuredYet {
        /// Asked time.
        t_ms: u64,
        /// Latest reading's time.
        latest_ms: u64,
    },
    /// Asked for a time whose readings were pruned.
    #[error("readings around {t_ms} ms were pruned (past retention)")]
    Pruned {
        /// Asked time.
        t_ms: u64,
    },
    /// A span that ends before it starts.
    #[error("span from {from_ms} to {to_ms} ms ends before it starts")]
    BadSpan {
        /// Start.
        from_ms: u64,
        /// End.
        to_ms: u64,
    },
    /// No such feed.
    #[error("no feed named {0}")]
    UnknownFeed(String),
    /// A feed with this name exists.
    #[error("a feed named {0} exists already")]
    DuplicateFeed(String),
    /// The feed's rules are not valid.
    #[error("invalid feed: {0}")]
    InvalidFeed(String),
    /// Not one of the feed's reporters.
    #[error("{0} is not a reporter of this feed")]
    NotAReporter(Address),
    /// The reporter's stake for the feed is below the feed's bond, or it is jailed.
    #[error("{0} has less stake for this feed than its bond, or is jailed: bond with `machina tx stake bond --role reporter`")]
    NotBonded(Address),
    /// The report is not for the open round.
    #[error("the open round is {expected}, the report is for round {got}")]
    WrongRound {
        /// The open round.
        expected: u64,
        /// The report's round.
        got: u64,
    },
    /// The reporter reported this round already.
    #[error("{0} reported this round already")]
    DuplicateReport(Address),
    /// The report's signature does not verify.
    #[error("the report's signature does not verify")]
    BadReportSignature,
    /// The feed has no value yet.
    #[error("feed {0} has no value yet")]
    NoValue(String),
    /// The feed's value is too old.
    #[error("feed {feed} is stale: last updated at {updated_ms} ms")]
    Stale {
        /// The feed.
        feed: String,
        /// When it was last updated.
        updated_ms: u64,
    },
    /// The two reports do not prove equivocation.
    #[error("not equivocation: the reports must be for the same feed, round and reporter with different values")]
    InvalidEvidence,
    /// From the bank.
    #[error(transparent)]
    Bank(#[from] BankError),
    /// From the wallet.
    #[error(transparent)]
    Wallet(#[from] WalletError),
    /// From the staking module (a slash refused: evidence used, nothing staked).
    #[error(transparent)]
    Staking(#[from] machina_staking::StakingError),
}

impl OracleError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            OracleError::BadReadingSignature => "bad_reading_signature",
            OracleError::UnknownMachine(_) => "unknown_machine",
            OracleError::MachineRevoked(_) => "machine_revoked",
            OracleError::WrongDeviceKey(_) => "wrong_device_key",
            OracleError::TimestampInFuture { .. } => "timestamp_in_future",
            OracleError::TimestampTooOld { .. } => "timestamp_too_old",
            OracleError::StaleReading { .. } => "stale_reading",
            OracleError::CounterRegression { .. } => "counter_regression",
            OracleError::PowerAboveRating { .. } => "power_above_rating",
            OracleError::NoReadings(_) => "no_readings",
            OracleError::NotMeasuredYet { .. } => "not_measured_yet",
            OracleError::Pruned { .. } => "readings_pruned",
            OracleError::BadSpan { .. } => "bad_span",
            OracleError::UnknownFeed(_) => "unknown_feed",
            OracleError::DuplicateFeed(_) => "duplicate_feed",
            OracleError::InvalidFeed(_) => "invalid_feed",
            OracleError::NotAReporter(_) => "not_a_reporter",
            OracleError::NotBonded(_) => "not_bonded",
            OracleError::WrongRound { .. } => "wrong_round",
            OracleError::DuplicateReport(_) => "duplicate_report",
            OracleError::BadReportSignature => "bad_report_signature",
            OracleError::NoValue(_) => "no_value",
            OracleError::Stale { .. } => "feed_stale",
            OracleError::InvalidEvidence => "invalid_evidence",
            OracleError::Bank(e) => e.code(),
            OracleError::Wallet(e) => e.code(),
            OracleError::Staking(e) => e.code(),
        }
    }
}

/// Result alias of the oracle.
pub type Result<T> = std::result::Result<T, OracleError>;
