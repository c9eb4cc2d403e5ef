//! The demo's GPU servers: compute machines that sell slots overnight to the community's
//! tenants, acknowledge their leases and sign heartbeats; one of them (chosen by the seed)
//! goes silent, is slashed to its tenant, and its job moves to the spare server.

use crate::{key, Sim};
use anyhow::Context;
use machina_bank::BankAction;
use machina_compute::{ComputeAction, Heartbeat, JobSpec, OfferTerms, Resources, Sla};
use machina_identity::{device_pop_message, IdentityAction, MachineKind, MachineRegistration};
use machina_primitives::{Address, Amount, Keypair, DEV_CHAIN_ID};
use machina_staking::{StakingAction, StakingParams, Subject};
use machina_stf::{Action, Transaction};
use serde_json::{json, Value};

/// Most GPU servers the demo runs.
pub const MAX_GPU_SERVERS: usize = 16;
/// Micro-units per block (a demo block is 15 simulated minutes) of the cheapest server: 1.6
/// tokens an hour; each next one asks 0.05 tokens a block more.
const BASE_PRICE: u128 = 400_000;
/// What each next server adds to its price.
const PRICE_STEP: u128 = 50_000;
/// The most a tenant pays per block.
const MAX_PRICE: u128 = BASE_PRICE + PRICE_STEP * MAX_GPU_SERVERS as u128;
/// The faulty server stops its heartbeats from this step on.
const FAULT_STEP: usize = 3;

/// The GPU servers and their tenants.
pub struct ComputeSim {
    owners: Vec<Keypair>,
    devices: Vec<Keypair>,
    tenants: Vec<Keypair>,
    /// The servers' machine ids, in the order of their owners.
    pub machines: Vec<u64>,
    /// The jobs posted.
    pub jobs: Vec<u64>,
    /// Job length, blocks.
    blocks: u64,
    /// The server that goes silent (once its job is leased).
    faulty: Option<u64>,
}

fn slot() -> Resources {
    Resources {
        gpu_model: "h100".into(),
        gpus: 1,
        gpu_mem_gb: 80,
        vcpus: 16,
        ram_gb: 128,
        disk_gb: 500,
    }
}

fn balance(sim: &Sim, a: &Address) -> anyhow::Result<u128> {
    Ok(sim.client.get(&format!("/v1/account/{a}"))?["balance"]
        .as_str()
        .unwrap_or("0")
        .parse()?)
}

/// The accounts the compute part moves money between, for the supply check.
pub fn accounts(cs: &ComputeSim) -> Vec<Address> {
    let mut a: Vec<Address> = cs
        .owners
        .iter()
        .chain(&cs.tenants)
        .map(Keypair::address)
        .collect();
    a.extend(
        cs.machines
            .iter()
            .map(|id| machina_identity::machine_address(*id)),
    );
    a.push(machina_staking::escrow_address());
    a.push(machina_compute::escrow_address());
    a
}

/// Registers `servers` compute machines (one owner each), bonds them and offers one slot of
/// each; funds two tenants. Everything through ordinary transactions.
pub fn setup(sim: &mut Sim, servers: usize, t: &mut u64) -> anyhow::Result<ComputeSim> {
    let n = servers.min(MAX_GPU_SERVERS);
    let mut cs = ComputeSim {
        owners: (0..n).map(|i| key(sim.seed, "gpu-owner", i)).collect(),
        devices: (0..n).map(|i| key(sim.seed, "gpu", i)).collect(),
        tenants: (0..2).map(|i| key(sim.seed, "tenant", i)).collect(),
        machines: Vec::new(),
        jobs: Vec::new(),
        blocks: (sim.community.intervals as u64 / 3).max(12),
        faulty: None,
    };
    if n == 0 {
        return Ok(cs);
    }
    // What these accounts hold now is part of what the demo must still hold at its end.
    for a in cs.owners.iter().chain(&cs.tenants).map(Keypair::address) {
        sim.known_total_at_start += balance(sim, &a)?;
    }
    for a in [
        machina_staking::escrow_address(),
        machina_compute::escrow_address(),
    ] {
        sim.known_total_at_start += balance(sim, &a)?;
    }
    let bond = StakingParams::default().min_provider_bond;
    let alice = Keypair::dev("alice");
    let funding: Vec<Action> = cs
        .owners
        .iter()
        .map(|o| (o.address(), bond.0 + 10_000_000))
        .chain(cs.tenants.iter().map(|k| (k.address(), 1_000_000_000)))
        .map(|(to, amount)| {
            BankAction::Transfer {
                to,
                amount: Amount(amount),
            }
            .into()
        })
        .collect();
    let fund = sim.tx(&alice, alice.address(), None, funding);
    sim.include(vec![fund], t)?;
    let mut txs = Vec::new();
    for (owner, device) in cs.owners.iter().zip(&cs.devices) {
        let reg = MachineRegistration {
            device_key: device.public(),
            device_signature: device.sign(&device_pop_message(DEV_CHAIN_ID, &owner.address())),
            kind: MachineKind::Compute,
            rated_power_w: 700,
            capacity_wh: None,
            zone: None,
            metadata: Default::default(),
            attestation: None,
        };
        let action = IdentityAction::RegisterMachine(Box::new(reg)).into();
        txs.push(sim.tx(owner, owner.address(), None, vec![action]));
    }
    sim.include(txs, t)?;
    for owner in &cs.owners {
        let v = sim
            .client
            .get(&format!("/v1/machines?owner={}", owner.address()))?;
        let id = v["machines"][0]["machine_id"]
            .as_u64()
            .context("a GPU server was not registered")?;
        cs.machines.push(id);
    }
    let mut txs = Vec::new();
    for (i, (owner, id)) in cs.owners.iter().zip(&cs.machines).enumerate() {
        let terms = OfferTerms {
            resources: slot(),
            region: "eu".into(),
            price_per_block: Amount(BASE_PRICE + PRICE_STEP * i as u128),
            capacity: 1,
            max_lease_blocks: 10_000,
        };
        let actions = vec![
            StakingAction::Bond {
                subject: Subject::Provider { machine_id: *id },
                amount: bond,
            }
            .into(),
            ComputeAction::Offer {
                machine_id: *id,
                terms,
            }
            .into(),
        ];
        txs.push(sim.tx(owner, owner.address(), None, actions));
    }
    sim.include(txs, t)?;
    Ok(cs)
}

/// The tenants' jobs, posted at the first step: one fewer than the servers, so a spare takes
/// over a breached lease. Each has an SLA: a heartbeat every 2 blocks, one may be missed, 20%
/// of the bond to the tenant on a breach.
fn post_jobs(sim: &mut Sim, cs: &ComputeSim) -> Vec<Transaction> {
    let jobs = cs.machines.len().saturating_sub(1);
    (0..jobs)
        .map(|j| {
            let spec = JobSpec {
                requirements: slot(),
                region: String::new(),
                min_reputation: 0,
                max_price_per_block: Amount(MAX_PRICE),
                blocks: cs.blocks,
                redundancy: 1,
                sla: Sla {
                    heartbeat_every_blocks: 2,
                    max_missed: 1,
                    penalty_bps: 2_000,
                },
                attested: false,
            };
            let deposit = Amount(MAX_PRICE * u128::from(cs.blocks));
            let tenant = cs.tenants[j % cs.tenants.len()].clone();
            let action = ComputeAction::Job { spec, deposit }.into();
            sim.tx(&tenant, tenant.address(), None, vec![action])
        })
        .collect()
}

/// This step's compute transactions: at step 0 the jobs; then each server acknowledges its
/// new leases and its device signs a heartbeat for each running one, except the faulty
/// server from [`FAULT_STEP`] on.
pub fn step(sim: &mut Sim, cs: &mut ComputeSim, k: usize) -> anyhow::Result<Vec<Transaction>> {
    if k == 0 {
        return Ok(post_jobs(sim, cs));
    }
    if k == 1 {
        cs.jobs = posted_jobs(sim, cs)?;
        // The seed picks which leased server will fail.
        let pick = cs.jobs.get(sim.seed as usize % cs.jobs.len().max(1));
        if let Some(job) = pick {
            let v = sim.client.get(&format!("/v1/compute/job/{job}"))?;
            cs.faulty = v["leases"][0]["machine_id"].as_u64();
        }
    }
    let height = sim.height + 1;
    let mut txs = Vec::new();
    for i in 0..cs.machines.len() {
        let id = cs.machines[i];
        if cs.faulty == Some(id) && k >= FAULT_STEP {
            continue;
        }
        let v = sim
            .client
            .get(&format!("/v1/compute/leases?machine={id}"))?;
        let mut actions: Vec<Action> = Vec::new();
        let mut beats = Vec::new();
        for l in v["leases"].as_array().into_iter().flatten() {
            let (lease, job) = (&l["lease"], l["job_id"].as_u64().unwrap_or(0));
            let replica = l["replica"].as_u64().unwrap_or(0) as u8;
            if l["status"] != "leased" || lease["active"] != true {
                continue;
            }
            if lease["start_height"].as_u64().unwrap_or(u64::MAX) > height {
                continue;
            }
            if lease["acked"] != true {
                actions.push(
                    ComputeAction::Ack {
                        job_id: job,
                        replica,
                    }
                    .into(),
                );
            }
            let gpu_seconds = (height - lease["start_height"].as_u64().unwrap_or(0)) * 900;
            beats.push(Heartbeat::sign(
                DEV_CHAIN_ID,
                job,
                replica,
                height,
                gpu_seconds,
                &cs.devices[i],
            ));
        }
        if !beats.is_empty() {
            actions.push(ComputeAction::Heartbeats { beats }.into());
        }
        if !actions.is_empty() {
            let owner = cs.owners[i].clone();
            txs.push(sim.tx(&owner, owner.address(), None, actions));
        }
    }
    Ok(txs)
}

/// The jobs the tenants posted, read back from their leases' machines.
fn posted_jobs(sim: &Sim, cs: &ComputeSim) -> anyhow::Result<Vec<u64>> {
    let mut jobs = Vec::new();
    for id in &cs.machines {
        let v = sim
            .client
            .get(&format!("/v1/compute/leases?machine={id}"))?;
        for l in v["leases"].as_array().into_iter().flatten() {
            jobs.extend(l["job_id"].as_u64());
        }
    }
    jobs.sort_unstable();
    jobs.dedup();
    Ok(jobs)
}

/// The compute section of the report: leases, what they paid, breaches and slashes, each
/// server's revenue, and whether the module's escrow holds exactly what the jobs still hold.
pub fn report(sim: &Sim, cs: &ComputeSim) -> anyhow::Result<(Value, bool)> {
    let amount = |v: &Value| v.as_str().and_then(|s| s.parse::<u128>().ok()).unwrap_or(0);
    let (mut leases, mut paid, mut escrow, mut breaches) = (0u64, 0u128, 0u128, 0u64);
    let mut revenue = std::collections::BTreeMap::<u64, u128>::new();
    for job in &cs.jobs {
        let v = sim.client.get(&format!("/v1/compute/job/{job}"))?;
        escrow += amount(&v["escrow"]);
        let end = v["end_height"].as_u64().unwrap_or(0);
        for l in v["leases"].as_array().into_iter().flatten() {
            leases += 1;
            let p = amount(&l["paid"]);
            paid += p;
            *revenue
                .entry(l["machine_id"].as_u64().unwrap_or(0))
                .or_default() += p;
            if l["end_height"].as_u64().unwrap_or(0) < end {
                breaches += 1;
            }
        }
    }
    let mut servers = Vec::new();
    let mut slashed = 0u128;
    for id in &cs.machines {
        let s = sim.client.get(&format!("/v1/stake/provider/{id}"))?;
        let cut = amount(&s["slashed_total"]);
        slashed += cut;
        servers.push(json!({
            "machine_id": id,
            "revenue_micro": revenue.get(id).copied().unwrap_or(0).to_string(),
            "balance_micro": balance(sim, &machina_identity::machine_address(*id))?.to_string(),
            "slashed_micro": cut.to_string(),
        }));
    }
    let held = balance(sim, &machina_compute::escrow_address())?;
    let ok = held == escrow;
    Ok((
        json!({
            "gpu_servers": cs.machines.len(),
            "jobs": cs.jobs.len(),
            "leases": leases,
            "paid_micro": paid.to_string(),
            "breaches": breaches,
            "slashed_micro": slashed.to_string(),
            "faulty_machine": cs.faulty,
            "escrow_ok": ok,
            "servers": servers,
        }),
        ok,
    ))
}
