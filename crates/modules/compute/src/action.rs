//! The compute market's actions: offers of machines, jobs of tenants.

use machina_primitives::limits::MAX_LABEL_BYTES;
use machina_primitives::{Amount, Decode, Encode, Hash, PublicKey, Signature};
use serde::{Deserialize, Serialize};

/// Most replicas a job may ask for.
pub const MAX_REDUNDANCY: u8 = 5;
/// Longest result URI.
pub const MAX_URI_BYTES: usize = 256;
/// Most heartbeats in one action.
pub const MAX_HEARTBEATS_PER_TX: usize = 1_024;

/// A job's service level: each replica's device signs a heartbeat at least every
/// `heartbeat_every_blocks`; missing more than `max_missed` in a row is a breach that slashes
/// `penalty_bps` of the provider's bond to the tenant. `heartbeat_every_blocks` 0: no SLA.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(default, deny_unknown_fields)]
pub struct Sla {
    /// Blocks between heartbeats (0: no SLA).
    pub heartbeat_every_blocks: u64,
    /// Heartbeats that may be missed in a row.
    pub max_missed: u32,
    /// Part of the provider's bond a breach takes, basis points.
    pub penalty_bps: u32,
}

impl Sla {
    /// Blocks a lease may go without a heartbeat before it is breached: (M + 1) × H (0: no
    /// SLA).
    pub fn window(&self) -> u64 {
        (u64::from(self.max_missed) + 1).saturating_mul(self.heartbeat_every_blocks)
    }
}

/// A device-signed heartbeat of one replica: it is running, with its usage so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// The job.
    pub job_id: u64,
    /// The replica.
    pub replica: u8,
    /// The height the device saw when it signed (at most the block's).
    pub height: u64,
    /// GPU-seconds used so far.
    pub gpu_seconds: u64,
    /// The provider machine's device key.
    pub device_key: PublicKey,
    /// Its signature over [`Heartbeat::signing_message`].
    pub signature: Signature,
}

impl Heartbeat {
    /// What the device signs: `"machina/heartbeat/v1" || chain_id || job || replica || height
    /// || gpu_seconds`.
    pub fn signing_message(
        chain_id: u64,
        job_id: u64,
        replica: u8,
        height: u64,
        gpu_seconds: u64,
    ) -> Vec<u8> {
        let mut m = b"machina/heartbeat/v1".to_vec();
        for v in [chain_id, job_id, u64::from(replica), height, gpu_seconds] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        m
    }

    /// Signs a heartbeat with the device key.
    pub fn sign(
        chain_id: u64,
        job_id: u64,
        replica: u8,
        height: u64,
        gpu_seconds: u64,
        device: &machina_primitives::Keypair,
    ) -> Heartbeat {
        let m = Heartbeat::signing_message(chain_id, job_id, replica, height, gpu_seconds);
        Heartbeat {
            job_id,
            replica,
            height,
            gpu_seconds,
            device_key: device.public(),
            signature: device.sign(&m),
        }
    }
}

/// What one slot of an offer holds, or what one replica of a job needs at least.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(default, deny_unknown_fields)]
pub struct Resources {
    /// The GPU model, a short label (`h100`, `a10`, `rtx4090`; `cpu` for CPU only). Offers are
    /// indexed by it: a job matches offers of exactly its model.
    #[codec(max = MAX_LABEL_BYTES, what = "GPU model")]
    pub gpu_model: String,
    /// GPUs.
    pub gpus: u16,
    /// Memory per GPU, GB.
    pub gpu_mem_gb: u16,
    /// Virtual CPUs.
    pub vcpus: u16,
    /// RAM, GB.
    pub ram_gb: u32,
    /// Disk, GB.
    pub disk_gb: u32,
}

impl Resources {
    /// Whether `self` (a slot) holds at least `need` (a replica's requirements).
    pub fn covers(&self, need: &Resources) -> bool {
        self.gpu_model == need.gpu_model
            && self.gpus >= need.gpus
            && self.gpu_mem_gb >= need.gpu_mem_gb
            && self.vcpus >= need.vcpus
            && self.ram_gb >= need.ram_gb
            && self.disk_gb >= need.disk_gb
    }
}

/// What a provider sells: `capacity` identical slots, each at `price_per_block`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
pub struct OfferTerms {
    /// One slot's resources.
    pub resources: Resources,
    /// Where the machine runs, a short label (`eu-west`).
    #[codec(max = MAX_LABEL_BYTES, what = "region")]
    pub region: String,
    /// Micro-units per slot per block: one replica of a job leases one slot.
    pub price_per_block: Amount,
    /// Slots that can be leased at once.
    pub capacity: u16,
    /// The longest lease the provider accepts, blocks.
    pub max_lease_blocks: u64,
}

/// What a tenant needs and pays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// What each replica needs at least.
    pub requirements: Resources,
    /// The region, or any when empty.
    #[codec(max = MAX_LABEL_BYTES, what = "region")]
    #[serde(default)]
    pub region: String,
    /// Least provider reputation (leases completed minus leases breached).
    #[serde(default)]
    pub min_reputation: u64,
    /// The most paid per replica per block.
    pub max_price_per_block: Amount,
    /// Length of the lease, blocks.
    pub blocks: u64,
    /// Replicas on distinct providers, 1 to 5.
    #[serde(default = "one")]
    pub redundancy: u8,
    /// The service level (none by default).
    #[serde(default)]
    pub sla: Sla,
    /// Only offers whose attributes a registered auditor attested (and that did not change
    /// since).
    #[serde(default)]
    pub attested: bool,
}

fn one() -> u8 {
    1
}

/// The compute market's actions. Tags are protocol: they never change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[codec(what = "compute action")]
pub enum ComputeAction {
    /// The owner of a compute machine offers slots of it.
    #[codec(tag = 60)]
    Offer {
        /// The machine (kind `compute`, owned by the sender, with a provider bond).
        machine_id: u64,
        /// What it sells.
        terms: OfferTerms,
    },
    /// New terms for an offer; slots leased now stay leased (capacity may not drop below them).
    #[codec(tag = 61)]
    UpdateOffer {
        /// The offer.
        offer_id: u64,
        /// Its new terms (the resources' GPU model may not change).
        terms: OfferTerms,
    },
    /// Withdraw an offer: no new leases; running leases run to their end.
    #[codec(tag = 62)]
    WithdrawOffer {
        /// The offer.
        offer_id: u64,
    },
    /// A tenant posts a job with an escrow deposit; it is matched at the end of this block.
    #[codec(tag = 63)]
    Job {
        /// What it needs.
        spec: JobSpec,
        /// Escrow moved from the tenant now.
        deposit: Amount,
    },
    /// Add escrow to a job; a paused job resumes.
    #[codec(tag = 64)]
    TopUp {
        /// The job.
        job_id: u64,
        /// Micro-units.
        amount: Amount,
    },
    /// The tenant closes a job: what was used is paid, the rest of the escrow returns at once.
    #[codec(tag = 65)]
    Close {
        /// The job.
        job_id: u64,
    },
    /// The provider (the machine's owner or the machine itself) acknowledges a lease: it runs.
    #[codec(tag = 66)]
    Ack {
        /// The job.
        job_id: u64,
        /// The replica.
        replica: u8,
    },
    /// Device-signed heartbeats, submitted by anyone; each is accepted or refused on its own.
    #[codec(tag = 67)]
    Heartbeats {
        /// The heartbeats.
        #[codec(max = MAX_HEARTBEATS_PER_TX, what = "heartbeats")]
        beats: Vec<Heartbeat>,
    },
    /// A replica's provider commits to its result: [`result_commitment`] of it.
    #[codec(tag = 68)]
    Commit {
        /// The job.
        job_id: u64,
        /// The replica.
        replica: u8,
        /// The commitment.
        commitment: Hash,
    },
    /// A replica's provider reveals the result it committed to.
    #[codec(tag = 69)]
    Reveal {
        /// The job.
        job_id: u64,
        /// The replica.
        replica: u8,
        /// The result's hash.
        result: Hash,
        /// Where the result is.
        #[codec(max = MAX_URI_BYTES, what = "result URI")]
        uri: String,
        /// The commitment's salt.
        salt: Hash,
    },
    /// A registered auditor attests an offer's attributes: the hardware and region it checked.
    #[codec(tag = 160)]
    Attest {
        /// The offer.
        offer_id: u64,
        /// [`offer_attributes`] of the terms the auditor checked; refused if the offer's
        /// attributes are no longer those.
        attributes: Hash,
    },
    /// A registered auditor withdraws an offer's attestation.
    #[codec(tag = 161)]
    RevokeAttestation {
        /// The offer.
        offer_id: u64,
    },
}

/// What an auditor attests: `sha256("machina/offer-attributes/v1" || resources || region)`
/// in the wire encoding. Price, capacity and lease length are the provider's to change; a
/// change of hardware or region drops the attestation.
pub fn offer_attributes(terms: &OfferTerms) -> Hash {
    let mut b = terms.resources.encode();
    machina_primitives::codec::put_str(&mut b, &terms.region);
    machina_primitives::sha256(&[b"machina/offer-attributes/v1", &b])
}

/// What a replica commits to: `sha256("machina/result/v1" || job || replica || result ||
/// salt)`. The replica is in it, so a replica that copies another's commitment cannot reveal.
pub fn result_commitment(job_id: u64, replica: u8, result: &Hash, salt: &Hash) -> Hash {
    machina_primitives::sha256(&[
        b"machina/result/v1",
        &job_id.to_be_bytes(),
        &[replica],
        &result.0,
        &salt.0,
    ])
}
