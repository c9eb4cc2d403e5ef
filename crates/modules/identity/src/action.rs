//! The identity module's actions and the data they carry.
//!
//! A device key proves possession by signing [`device_pop_message`] for its owner; a
//! manufacturer attests a device key by signing [`attestation_message`]. Both are checked
//! with the transaction's own signatures, in one batch, before anything executes.

use machina_primitives::limits::{MAX_LABEL_BYTES, MAX_METADATA_PAIRS};
use machina_primitives::{Address, Decode, Encode, PublicKey, Signature};
use serde::{Deserialize, Serialize};

/// What kind of machine an identity belongs to.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Encode, Decode,
)]
#[serde(rename_all = "snake_case")]
#[codec(what = "machine kind")]
pub enum MachineKind {
    /// PV inverter.
    #[codec(tag = 0)]
    Solar,
    /// Battery storage (has a capacity in Wh).
    #[codec(tag = 1)]
    Battery,
    /// EV charger.
    #[codec(tag = 2)]
    EvCharger,
    /// Energy meter.
    #[codec(tag = 3)]
    Meter,
    /// GPU or CPU server.
    #[codec(tag = 4)]
    Compute,
    /// Sensor.
    #[codec(tag = 5)]
    Sensor,
    /// Anything else.
    #[codec(tag = 6)]
    Other,
}

impl MachineKind {
    /// The kind's name, as the CLI and JSON spell it.
    pub fn name(self) -> &'static str {
        machina_primitives::codec::Tagged::name(&self)
    }
}

impl std::str::FromStr for MachineKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        use machina_primitives::codec::Tagged;
        Self::TAGS
            .iter()
            .find(|(_, n)| *n == s)
            .and_then(|(t, _)| MachineKind::decode_exact(&[*t], 1).ok())
            .ok_or_else(|| {
                let names: Vec<&str> = Self::TAGS.iter().map(|(_, n)| *n).collect();
                format!("unknown machine kind {s}; one of {}", names.join(", "))
            })
    }
}

/// Descriptive data of a machine, bounded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
pub struct MachineMetadata {
    /// Manufacturer's name.
    #[serde(default)]
    #[codec(max = MAX_LABEL_BYTES)]
    pub manufacturer: String,
    /// Model.
    #[serde(default)]
    #[codec(max = MAX_LABEL_BYTES)]
    pub model: String,
    /// Serial number.
    #[serde(default)]
    #[codec(max = MAX_LABEL_BYTES)]
    pub serial: String,
    /// A few free key-value pairs.
    #[serde(default)]
    #[codec(max = MAX_METADATA_PAIRS, each = MAX_LABEL_BYTES, what = "metadata pairs")]
    pub extra: Vec<(String, String)>,
}

impl MachineMetadata {
    /// Checks the bounds that JSON input does not enforce by itself.
    pub fn check(&self) -> std::result::Result<(), String> {
        let labels = [&self.manufacturer, &self.model, &self.serial];
        let pairs = self.extra.iter().flat_map(|(k, v)| [k, v]);
        if let Some(l) = labels
            .into_iter()
            .chain(pairs)
            .find(|l| l.len() > MAX_LABEL_BYTES)
        {
            return Err(format!(
                "label of {} bytes exceeds {MAX_LABEL_BYTES}",
                l.len()
            ));
        }
        if self.extra.len() > MAX_METADATA_PAIRS {
            return Err(format!(
                "{} metadata pairs exceed {MAX_METADATA_PAIRS}",
                self.extra.len()
            ));
        }
        Ok(())
    }
}

/// A manufacturer's signature over a device key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    /// A registered manufacturer key.
    pub manufacturer_key: PublicKey,
    /// Its signature over [`attestation_message`] of the device key.
    pub signature: Signature,
}

/// Everything needed to register a machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
pub struct MachineRegistration {
    /// The device's public key; the device keeps the secret.
    pub device_key: PublicKey,
    /// The device key's signature over [`device_pop_message`] for the owner (the sender).
    pub device_signature: Signature,
    /// What kind of machine.
    pub kind: MachineKind,
    /// Rated power in W.
    pub rated_power_w: u64,
    /// Storage capacity in Wh (batteries).
    #[serde(default)]
    pub capacity_wh: Option<u64>,
    /// Energy zone it belongs to.
    #[serde(default)]
    #[codec(max = MAX_LABEL_BYTES)]
    pub zone: Option<String>,
    /// Descriptive metadata.
    #[serde(default)]
    pub metadata: MachineMetadata,
    /// Optional manufacturer attestation of the device key.
    #[serde(default)]
    pub attestation: Option<Attestation>,
}

/// The identity module's actions. Tags are protocol: they never change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[codec(what = "identity action")]
pub enum IdentityAction {
    /// Register a manufacturer key that can attest devices.
    #[codec(tag = 10)]
    RegisterManufacturer {
        /// Its name.
        #[codec(max = MAX_LABEL_BYTES, what = "manufacturer name")]
        name: String,
        /// The manufacturer's key.
        public_key: PublicKey,
        /// That key's signature over [`manufacturer_pop_message`] for the sender.
        signature: Signature,
    },
    /// Register a machine owned by the sender.
    #[codec(tag = 11)]
    RegisterMachine(Box<MachineRegistration>),
    /// Replace a machine's metadata (owner only).
    #[codec(tag = 12)]
    SetMachineMetadata {
        /// The machine.
        machine_id: u64,
        /// New metadata.
        metadata: MachineMetadata,
    },
    /// Move a machine to another zone, or out of any (owner only).
    #[codec(tag = 13)]
    SetMachineZone {
        /// The machine.
        machine_id: u64,
        /// New zone.
        #[codec(max = MAX_LABEL_BYTES)]
        zone: Option<String>,
    },
    /// Replace the device key (owner only); the old key is refused at once.
    #[codec(tag = 14)]
    RotateDeviceKey {
        /// The machine.
        machine_id: u64,
        /// The new device key.
        new_key: PublicKey,
        /// The new key's signature over [`device_pop_message`] for the owner.
        signature: Signature,
    },
    /// Revoke a machine for good (owner only); its history stays.
    #[codec(tag = 15)]
    RevokeMachine {
        /// The machine.
        machine_id: u64,
    },
    /// Give a machine to a new owner; identity and reputation stay.
    #[codec(tag = 16)]
    TransferMachine {
        /// The machine.
        machine_id: u64,
        /// The new owner.
        new_owner: Address,
    },
}

/// The message a device key signs to prove possession for `owner` on `chain_id`.
pub fn device_pop_message(chain_id: u64, owner: &Address) -> Vec<u8> {
    [
        b"machina/device-pop/v1".as_slice(),
        &chain_id.to_be_bytes(),
        &owner.0,
    ]
    .concat()
}

/// The message a manufacturer key signs to attest `device_key`.
pub fn attestation_message(device_key: &PublicKey) -> Vec<u8> {
    [b"machina/attest/v1".as_slice(), &device_key.0].concat()
}

/// The message a manufacturer key signs to prove possession for `registrant` on `chain_id`.
pub fn manufacturer_pop_message(chain_id: u64, registrant: &Address) -> Vec<u8> {
    [
        b"machina/manufacturer-pop/v1".as_slice(),
        &chain_id.to_be_bytes(),
        &registrant.0,
    ]
    .concat()
}
