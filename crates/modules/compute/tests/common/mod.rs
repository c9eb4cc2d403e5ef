//! A compute market on an in-memory chain: bonded compute machines owned by bob, offers of
//! them, tenants among the dev accounts.

#![allow(dead_code)] // Each test file uses a part of it.

use machina_compute::{ComputeAction, JobSpec, OfferTerms, Resources};
use machina_identity::{
    device_pop_message, IdentityAction, MachineKind, MachineMetadata, MachineRegistration,
};
use machina_primitives::{Amount, Keypair};
use machina_staking::{StakingAction, StakingParams, Subject};
use machina_stf::Action;
use machina_testkit::{key, Chain};

pub const CHAIN: u64 = 17;

/// Registers `n` compute machines owned by bob; the first `bonded` of them get the provider
/// bond. Returns their ids.
pub fn machines(c: &mut Chain, n: usize, bonded: usize) -> Vec<u64> {
    let bob = key("bob");
    let mut ids = Vec::new();
    for i in 0..n {
        let d = key(&format!("gpu-{i}"));
        let reg = MachineRegistration {
            device_key: d.public(),
            device_signature: d.sign(&device_pop_message(CHAIN, &bob.address())),
            kind: MachineKind::Compute,
            rated_power_w: 1_000,
            capacity_wh: None,
            zone: None,
            metadata: MachineMetadata::default(),
            attestation: None,
        };
        let r = c.ok(
            &bob,
            vec![IdentityAction::RegisterMachine(Box::new(reg)).into()],
        );
        let id: u64 = r.events[1].attrs["machine_id"].parse().expect("id");
        if i < bonded {
            c.ok(
                &bob,
                vec![StakingAction::Bond {
                    subject: Subject::Provider { machine_id: id },
                    amount: StakingParams::default().min_provider_bond,
                }
                .into()],
            );
        }
        ids.push(id);
    }
    ids
}

pub fn slot(gpus: u16) -> Resources {
    Resources {
        gpu_model: "h100".into(),
        gpus,
        gpu_mem_gb: 80,
        vcpus: 16,
        ram_gb: 128,
        disk_gb: 500,
    }
}

pub fn terms(price: u128, capacity: u16, region: &str) -> OfferTerms {
    OfferTerms {
        resources: slot(1),
        region: region.into(),
        price_per_block: Amount(price),
        capacity,
        max_lease_blocks: 10_000,
    }
}

pub fn offer(machine_id: u64, t: OfferTerms) -> Action {
    ComputeAction::Offer {
        machine_id,
        terms: t,
    }
    .into()
}

pub fn spec(max_price: u128, blocks: u64, redundancy: u8, region: &str) -> JobSpec {
    JobSpec {
        requirements: slot(1),
        region: region.into(),
        min_reputation: 0,
        max_price_per_block: Amount(max_price),
        blocks,
        redundancy,
        sla: machina_compute::Sla::default(),
        attested: false,
    }
}

pub fn job(spec: JobSpec, deposit: u128) -> Action {
    ComputeAction::Job {
        spec,
        deposit: Amount(deposit),
    }
    .into()
}

/// The id in a receipt's `job_posted` event.
pub fn job_id(r: &machina_primitives::Receipt) -> u64 {
    r.events
        .iter()
        .find(|e| e.kind == "job_posted")
        .expect("job_posted")
        .attrs["job_id"]
        .parse()
        .expect("id")
}

pub fn tenant() -> Keypair {
    key("carol")
}

/// A funded tenant (the dev accounts are funded; carol is not one).
pub fn fund(c: &mut Chain, who: &Keypair) {
    c.ok(
        &key("alice"),
        vec![machina_bank::BankAction::Transfer {
            to: who.address(),
            amount: Amount(1_000_000_000),
        }
        .into()],
    );
}

pub fn machine_balance(c: &Chain, id: u64) -> u128 {
    c.balance(&machina_identity::machine_address(id))
}
