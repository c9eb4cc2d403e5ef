//! The machine record and its reputation counters.

use crate::action::{MachineKind, MachineMetadata};
use machina_primitives::limits::MAX_LABEL_BYTES;
use machina_primitives::{Address, Decode, Encode, PublicKey};
use serde::{Deserialize, Serialize};

/// Whether a machine may act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(rename_all = "snake_case")]
#[codec(what = "status")]
pub enum Status {
    /// It acts with its device key.
    #[codec(tag = 0)]
    Active,
    /// Revoked by its owner for good; its history stays.
    #[codec(tag = 1)]
    Revoked,
}

/// Counters other modules update as they observe a machine. They stay with the machine when
/// it changes owner: reputation is not for sale. (Meter reading counters, written with every
/// batch of readings, are kept by the oracle next to the readings: `machina_oracle::stats`.)
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Reputation {
    /// Energy delivered against market commitments, Wh.
    pub energy_delivered_wh: u64,
    /// Energy promised in market commitments, Wh.
    pub energy_promised_wh: u64,
    /// Compute leases completed.
    pub leases_completed: u64,
    /// Compute leases breached.
    pub leases_breached: u64,
    /// Times slashed.
    pub slashes: u64,
    /// Spends its wallet policy refused.
    pub policy_breaches: u64,
}

/// A registered machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Machine {
    /// Fixed at registration.
    pub machine_id: u64,
    /// The account that controls it.
    pub owner: Address,
    /// Its own account; the address never changes, whatever the device key.
    pub address: Address,
    /// What it is.
    pub kind: MachineKind,
    /// Rated power, W.
    pub rated_power_w: u64,
    /// Storage capacity, Wh (batteries).
    pub capacity_wh: Option<u64>,
    /// Energy zone.
    #[codec(max = MAX_LABEL_BYTES)]
    pub zone: Option<String>,
    /// Descriptive metadata.
    pub metadata: MachineMetadata,
    /// The current device key.
    pub device_key: PublicKey,
    /// Active or revoked.
    pub status: Status,
    /// The manufacturer key that attested the device key at registration, if any.
    pub attested_by: Option<PublicKey>,
    /// Height of registration.
    pub registered_height: u64,
    /// Reputation counters.
    pub reputation: Reputation,
    /// Position in the owner's list (for removal in O(1) on ownership transfer).
    #[serde(skip)]
    pub(crate) owner_slot: u64,
}
