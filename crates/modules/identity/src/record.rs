//! The machine record and its reputation counters.

use machina_primitives::action::{MachineKind, MachineMetadata};
use machina_primitives::codec::{put_opt_str, Decode, Encode, Reader, Result};
use machina_primitives::limits::MAX_LABEL_BYTES;
use machina_primitives::{Address, CodecError, PublicKey};
use serde::{Deserialize, Serialize};

/// Whether a machine may act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It acts with its device key.
    Active,
    /// Revoked by its owner for good; its history stays.
    Revoked,
}

/// Counters other modules update as they observe a machine. They stay with the machine when
/// it changes owner: reputation is not for sale. (Meter reading counters, written with every
/// batch of readings, are kept by the oracle next to the readings: `machina_oracle::stats`.)
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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

const REPUTATION_FIELDS: usize = 6;

impl Reputation {
    fn fields(&self) -> [u64; REPUTATION_FIELDS] {
        [
            self.energy_delivered_wh,
            self.energy_promised_wh,
            self.leases_completed,
            self.leases_breached,
            self.slashes,
            self.policy_breaches,
        ]
    }

    fn from_fields(f: [u64; REPUTATION_FIELDS]) -> Reputation {
        Reputation {
            energy_delivered_wh: f[0],
            energy_promised_wh: f[1],
            leases_completed: f[2],
            leases_breached: f[3],
            slashes: f[4],
            policy_breaches: f[5],
        }
    }
}

/// A registered machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

impl Encode for Machine {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.machine_id.encode_to(out);
        self.owner.encode_to(out);
        self.address.encode_to(out);
        self.kind.encode_to(out);
        self.rated_power_w.encode_to(out);
        self.capacity_wh.encode_to(out);
        put_opt_str(out, self.zone.as_deref());
        self.metadata.encode_to(out);
        self.device_key.encode_to(out);
        out.push(match self.status {
            Status::Active => 0,
            Status::Revoked => 1,
        });
        self.attested_by.encode_to(out);
        self.registered_height.encode_to(out);
        for f in self.reputation.fields() {
            f.encode_to(out);
        }
        self.owner_slot.encode_to(out);
    }
}

impl Decode for Machine {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self> {
        let machine_id = r.u64()?;
        let owner = Decode::decode_from(r)?;
        let address = Decode::decode_from(r)?;
        let kind = Decode::decode_from(r)?;
        let rated_power_w = r.u64()?;
        let capacity_wh = Decode::decode_from(r)?;
        let zone = r.opt_string("zone", MAX_LABEL_BYTES)?;
        let metadata = Decode::decode_from(r)?;
        let device_key = Decode::decode_from(r)?;
        let status = match r.u8()? {
            0 => Status::Active,
            1 => Status::Revoked,
            tag => {
                return Err(CodecError::BadTag {
                    what: "status",
                    tag,
                })
            }
        };
        let attested_by = Decode::decode_from(r)?;
        let registered_height = r.u64()?;
        let mut f = [0u64; REPUTATION_FIELDS];
        for x in &mut f {
            *x = r.u64()?;
        }
        Ok(Machine {
            machine_id,
            owner,
            address,
            kind,
            rated_power_w,
            capacity_wh,
            zone,
            metadata,
            device_key,
            status,
            attested_by,
            registered_height,
            reputation: Reputation::from_fields(f),
            owner_slot: r.u64()?,
        })
    }
}
