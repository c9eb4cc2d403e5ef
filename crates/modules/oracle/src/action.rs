//! The oracle's actions and the signed data they carry.

use machina_primitives::codec::put_str;
use machina_primitives::limits::{
    MAX_FEED_REPORTERS, MAX_LABEL_BYTES, MAX_READINGS_PER_TX, MAX_REPORTS_PER_TX,
};
use machina_primitives::{Address, Amount, Decode, Encode, Keypair, PublicKey, Signature};
use serde::{Deserialize, Serialize};

/// One meter reading: cumulative counters, so readings are idempotent and a lost one loses
/// nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
pub struct MeterReading {
    /// The machine that measured it.
    pub machine_id: u64,
    /// The meter channel (a machine may have several meters).
    #[serde(default)]
    pub channel: u16,
    /// Strictly increasing per machine and channel.
    pub seq: u64,
    /// When it was measured, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// Energy imported since the meter was installed, Wh.
    pub import_wh: u64,
    /// Energy exported since the meter was installed, Wh.
    pub export_wh: u64,
}

impl MeterReading {
    /// The message the device key signs: a domain prefix, the chain id and the reading.
    pub fn signing_message(&self, chain_id: u64) -> Vec<u8> {
        let mut m = b"machina/reading/v1".to_vec();
        chain_id.encode_to(&mut m);
        self.encode_to(&mut m);
        m
    }

    /// Signs the reading with a device key.
    pub fn sign(self, chain_id: u64, device: &Keypair) -> SignedReading {
        SignedReading {
            signature: device.sign(&self.signing_message(chain_id)),
            device_key: device.public(),
            reading: self,
        }
    }
}

/// A reading with its device's signature. The key travels with it so that signatures verify
/// in one batch before execution; execution then checks it is the machine's current key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
pub struct SignedReading {
    /// The reading.
    pub reading: MeterReading,
    /// The key that signed it.
    pub device_key: PublicKey,
    /// Signature over [`MeterReading::signing_message`].
    pub signature: Signature,
}

/// A reporter's signed value for one round of a data feed. Two of these for the same feed and
/// round with different values prove equivocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
pub struct FeedReport {
    /// The feed.
    #[codec(max = MAX_LABEL_BYTES, what = "feed name")]
    pub feed: String,
    /// The round.
    pub round: u64,
    /// The value, in the feed's own integer unit.
    pub value: i64,
    /// The reporter's key.
    pub reporter: PublicKey,
    /// Signature over [`FeedReport::signing_message`].
    pub signature: Signature,
}

impl FeedReport {
    /// The message a reporter signs.
    pub fn signing_message(chain_id: u64, feed: &str, round: u64, value: i64) -> Vec<u8> {
        let mut m = b"machina/feed-report/v1".to_vec();
        chain_id.encode_to(&mut m);
        put_str(&mut m, feed);
        round.encode_to(&mut m);
        value.encode_to(&mut m);
        m
    }

    /// A report signed by `reporter`.
    pub fn sign(chain_id: u64, feed: &str, round: u64, value: i64, reporter: &Keypair) -> Self {
        FeedReport {
            feed: feed.to_owned(),
            round,
            value,
            reporter: reporter.public(),
            signature: reporter.sign(&Self::signing_message(chain_id, feed, round, value)),
        }
    }

    /// The message this report's signature covers.
    pub fn message(&self, chain_id: u64) -> Vec<u8> {
        Self::signing_message(chain_id, &self.feed, self.round, self.value)
    }
}

/// How a data feed aggregates its reporters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// The feed's name, e.g. `grid.retail_price.zone-a`.
    #[codec(max = MAX_LABEL_BYTES, what = "feed name")]
    pub name: String,
    /// The reporters' addresses (each counts only while its staking bond for the feed covers
    /// `bond` and it is not jailed).
    #[codec(max = MAX_FEED_REPORTERS, what = "feed reporters")]
    pub reporters: Vec<Address>,
    /// Stake each reporter must have bonded for the feed (role `reporter`), micro-units.
    pub bond: Amount,
    /// Reports needed to set a round's value (the median of them).
    pub quorum: u16,
    /// Reports needed to move the value by more than `max_change_bps`.
    pub super_quorum: u16,
    /// Most a round may move the value, in basis points of the current value.
    pub max_change_bps: u32,
    /// After this long without a new round the value is stale.
    pub stale_after_ms: u64,
}

/// The oracle's actions. Tags are protocol: they never change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[codec(what = "oracle action")]
pub enum OracleAction {
    /// Device-signed meter readings, submitted by anyone. Each is accepted or refused on its
    /// own; the receipt says which.
    #[codec(tag = 30)]
    SubmitReadings {
        /// The readings.
        #[codec(max = MAX_READINGS_PER_TX)]
        readings: Vec<SignedReading>,
    },
    /// Create a data feed; the sender administers nothing after this: the rules are fixed.
    #[codec(tag = 31)]
    CreateFeed(Box<FeedConfig>),
    // Tag 32 was `bond_feed`: reporters now bond in the staking module. Never reuse it.
    /// Reporters' signed values, submitted by anyone.
    #[codec(tag = 33)]
    ReportFeed {
        /// The reports.
        #[codec(max = MAX_REPORTS_PER_TX, what = "feed reports")]
        reports: Vec<FeedReport>,
    },
    /// Two signed values of one reporter for the same round: slashes its stake for the feed.
    #[codec(tag = 34)]
    ProveEquivocation {
        /// One report.
        a: Box<FeedReport>,
        /// Another report, same feed, round and reporter, different value.
        b: Box<FeedReport>,
    },
}
