//! `machina bench --compute`: the compute market's job-to-lease time over HTTP on a dev node,
//! and its end-of-block matching and payment work on a large market in the stf's state.

use crate::median;
use anyhow::{bail, Context};
use machina_compute::{ComputeAction, ComputeParams, JobSpec, OfferTerms, Resources, Sla};
use machina_identity::{MachineKind, MachineMetadata, MachineRegistration};
use machina_module::ActionCtx;
use machina_primitives::{Address, Amount, BlockEnv, Keypair, Signature, DEV_CHAIN_ID};
use machina_staking::{StakingParams, Subject};
use machina_state::{AuthenticatedState, Overlay, SparseMerkleTree};
use machina_stf::{Genesis, TxBody};
use serde_json::json;
use std::time::{Duration, Instant};

const MODELS: [&str; 8] = [
    "h100", "a100", "l40s", "a10", "rtx4090", "t4", "v100", "cpu",
];

pub(crate) fn ctx(sender: Address, height: u64) -> ActionCtx {
    ActionCtx {
        sender,
        machine: None,
        env: BlockEnv {
            chain_id: DEV_CHAIN_ID,
            height,
            timestamp_ms: 0,
            proposer: Address([0xfe; 20]),
        },
        tx_index: 0,
        tx_nonce: 0,
        action_index: 0,
        session: None,
        bad_items: Vec::new(),
    }
}

/// A 700 W compute machine's registration.
fn gpu_machine(device_key: machina_primitives::PublicKey, pop: Signature) -> MachineRegistration {
    MachineRegistration {
        device_key,
        device_signature: pop,
        kind: MachineKind::Compute,
        rated_power_w: 700,
        capacity_wh: None,
        zone: None,
        metadata: MachineMetadata::default(),
        attestation: None,
    }
}

fn slot(model: &str) -> Resources {
    Resources {
        gpu_model: model.into(),
        gpus: 1,
        gpu_mem_gb: 24,
        vcpus: 8,
        ram_gb: 64,
        disk_gb: 200,
    }
}

fn spec(model: &str, blocks: u64) -> JobSpec {
    JobSpec {
        requirements: slot(model),
        region: String::new(),
        min_reputation: 0,
        max_price_per_block: Amount(10_000),
        blocks,
        redundancy: 1,
        sla: Sla::default(),
        attested: false,
    }
}

/// A market of `machines` bonded compute machines, each with its own owner, one offer of `capacity` slots
/// each, spread over eight GPU models, written through the modules' own functions.
fn market(
    machines: usize,
    capacity: u16,
    params: ComputeParams,
) -> anyhow::Result<SparseMerkleTree> {
    // One owner per machine: an account backs at most 16 subjects.
    let owner = |i: usize| Address::derive(&[b"bench-provider", &(i as u64).to_be_bytes()]);
    let bond = StakingParams::default().min_provider_bond;
    let mut funds: Vec<_> = (0..machines)
        .map(|i| machina_bank::Allocation {
            address: owner(i),
            balance: bond.checked_add(Amount(1_000_000)).expect("small"),
        })
        .collect();
    funds.push(machina_bank::Allocation {
        address: tenant(),
        balance: Amount(1_000_000_000_000_000_000),
    });
    let mut g = Genesis::dev(DEV_CHAIN_ID, 0, funds);
    g.modules.compute = params;
    let mut base = SparseMerkleTree::from_entries(std::iter::empty());
    base.apply(&g.changes().map_err(|e| anyhow::anyhow!("{e}"))?);
    let mut ov = Overlay::new(&base);
    for i in 0..machines {
        let bob = owner(i);
        let mut seed = [7u8; 32];
        seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
        // Registration's proof of possession is checked with the transaction's signatures,
        // which this bench does not build.
        let reg = gpu_machine(Keypair::from_seed(seed).public(), Signature([0; 64]));
        let (id, _) = machina_identity::register(&mut ov, &bob, &reg, 1)?;
        let provider = Subject::Provider { machine_id: id };
        machina_staking::bond(
            &mut ov,
            &ctx(bob, 1),
            &provider,
            StakingParams::default().min_provider_bond,
        )?;
        let terms = OfferTerms {
            resources: slot(MODELS[i % MODELS.len()]),
            region: "eu".into(),
            price_per_block: Amount(1_000 + (i as u128 * 7_919) % 5_000),
            capacity,
            max_lease_blocks: 1_000_000,
        };
        machina_compute::create_offer(&mut ov, &bob, id, &terms)?;
    }
    let changes = ov.into_changes();
    base.apply(&changes);
    Ok(base)
}

/// The tenant of the in-state measurements.
fn tenant() -> Address {
    Address::derive(&[b"bench-tenant"])
}

/// Posts `n` jobs from the tenant at `height`, each with escrow for at most 1,000 blocks, and
/// matches them at its end; returns the ms of the matching.
fn post_and_match(
    state: &mut SparseMerkleTree,
    n: usize,
    height: u64,
    blocks: u64,
) -> anyhow::Result<f64> {
    let mut ov = Overlay::new(&*state);
    for i in 0..n {
        let s = spec(MODELS[i % MODELS.len()], blocks);
        machina_compute::post_job(
            &mut ov,
            &ctx(tenant(), height),
            &s,
            Amount(10_000 * u128::from(blocks.min(1_000))),
        )?;
    }
    let t = Instant::now();
    let events = machina_compute::match_waiting(&mut ov, height);
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let matched = events.iter().filter(|e| e.kind == "matched").count();
    if matched != n {
        bail!("{matched} of {n} jobs matched");
    }
    let changes = ov.into_changes();
    state.apply(&changes);
    Ok(ms)
}

/// A state with `leases` running single-replica leases, matched 1,000 per block from height
/// 2, paid every `pay_every_blocks`.
fn running(pay_every_blocks: u64, leases: usize) -> anyhow::Result<SparseMerkleTree> {
    let params = ComputeParams {
        pay_every_blocks,
        ..ComputeParams::default()
    };
    // Spare slots: the machines split unevenly over the eight models.
    let mut state = market(leases / 10, 12, params)?;
    for b in 0..leases / 1_000 {
        post_and_match(&mut state, 1_000, 2 + b as u64, 1_000_000)?;
    }
    Ok(state)
}

/// The payment work of height `h` on an overlay (discarded): ms, and leases paid.
fn pay(state: &SparseMerkleTree, h: u64) -> (f64, usize) {
    let mut ov = Overlay::new(state);
    let env = ctx(Address([0xfe; 20]), h).env;
    let t = Instant::now();
    let events = machina_compute::run_due(&mut ov, &env);
    let ms = t.elapsed().as_secs_f64() * 1e3;
    (ms, events.iter().filter(|e| e.kind == "paid").count())
}

fn next_due(state: &SparseMerkleTree, job_id: u64) -> anyhow::Result<u64> {
    Ok(machina_compute::job(state, job_id)
        .context("a benchmark job")?
        .next_due)
}

/// `leases` running, paid every 100 blocks: each height has one batch of 1,000 due. Returns
/// the ms of one height's payments and the leases it paid.
fn pay_1k_due(leases: usize) -> anyhow::Result<(f64, usize)> {
    let state = running(100, leases)?;
    let h = next_due(&state, 1)?;
    Ok(pay(&state, h))
}

/// `leases` running, paid every block: all of them are due. A height pays at most
/// `MAX_DUE_PER_HEIGHT` jobs, so they are filed over consecutive heights (here 1,000 a
/// height, as matched); returns the ms of paying every lease once (each of those heights'
/// work from the same state, added up) and the leases paid.
fn pay_all_due(leases: usize) -> anyhow::Result<(f64, usize)> {
    let state = running(1, leases)?;
    let (from, to) = (next_due(&state, 1)?, next_due(&state, leases as u64)?);
    Ok((from..=to)
        .map(|h| pay(&state, h))
        .fold((0.0, 0), |(ms, n), (m, p)| (ms + m, n + p)))
}

/// Milliseconds from posting a job over HTTP to reading it leased, on a dev node with 100 ms
/// blocks: the median of `runs`.
fn job_to_lease(runs: usize) -> anyhow::Result<Vec<f64>> {
    let dir = tempfile::tempdir()?;
    let rt = tokio::runtime::Runtime::new()?;
    let node = rt.block_on(machina_node::start(machina_node::DevConfig {
        data_dir: dir.path().to_owned(),
        http: "127.0.0.1:0".parse()?,
        block_time: Duration::from_millis(100),
        idle_block: Some(Duration::from_millis(100)),
        sim_clock: false,
        extra_genesis: Vec::new(),
        chain_id: machina_primitives::DEV_CHAIN_ID,
        load_state: None,
        genesis: None,
        http_limits: Default::default(),
        eth_rpc: None,
    }))?;
    let client = machina_client::Client::new(&format!("http://{}", node.addr));
    let (bob, alice) = (Keypair::dev("bob"), Keypair::dev("alice"));
    let send = |k: &Keypair, nonce: u64, a: ComputeAction| -> anyhow::Result<()> {
        send_tx(&client, k, nonce, vec![a.into()])
    };
    let device = Keypair::dev("bench-gpu");
    let pop = machina_identity::device_pop_message(DEV_CHAIN_ID, &bob.address());
    let reg = gpu_machine(device.public(), device.sign(&pop));
    send_tx(
        &client,
        &bob,
        0,
        vec![machina_identity::IdentityAction::RegisterMachine(Box::new(reg)).into()],
    )?;
    wait(&node, |s| machina_identity::machine(s, 1).is_some())?;
    let bond = machina_staking::StakingAction::Bond {
        subject: Subject::Provider { machine_id: 1 },
        amount: StakingParams::default().min_provider_bond,
    };
    send_tx(&client, &bob, 1, vec![bond.into()])?;
    wait(&node, |s| {
        machina_staking::total(s, &Subject::Provider { machine_id: 1 }) > Amount::ZERO
    })?;
    let terms = OfferTerms {
        resources: slot("h100"),
        region: "eu".into(),
        price_per_block: Amount(2_500),
        capacity: u16::try_from(runs).unwrap_or(u16::MAX),
        max_lease_blocks: 1_000_000,
    };
    send(
        &bob,
        2,
        ComputeAction::Offer {
            machine_id: 1,
            terms,
        },
    )?;
    wait(&node, |s| machina_compute::offer(s, 1).is_some())?;
    let mut ms = Vec::new();
    for i in 0..runs as u64 {
        let t = Instant::now();
        send(
            &alice,
            i,
            ComputeAction::Job {
                spec: spec("h100", 100_000),
                deposit: Amount(1_000_000),
            },
        )?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(v) = client.get(&format!("/v1/compute/job/{}", i + 1)) {
                if v["status"] == "leased" {
                    break;
                }
            }
            if Instant::now() > deadline {
                bail!("job {} was not leased in 30 s", i + 1);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(ms)
}

fn send_tx(
    client: &machina_client::Client,
    k: &Keypair,
    nonce: u64,
    actions: Vec<machina_stf::Action>,
) -> anyhow::Result<()> {
    use machina_primitives::codec::put_vec;
    let tx = TxBody {
        chain_id: DEV_CHAIN_ID,
        sender: k.address(),
        nonce,
        fee: machina_stf::params::DEFAULT_MIN_FEE,
        expiry_height: 50_000,
        fee_payer: None,
        actions,
    }
    .sign(&[k]);
    let mut b = Vec::new();
    put_vec(&mut b, &[tx]);
    let v = client.post_bytes("/v1/txs", &b)?;
    if v["accepted"].as_u64() != Some(1) {
        bail!("the node refused a benchmark transaction: {v}");
    }
    Ok(())
}

fn wait(
    node: &machina_node::DevNode,
    done: impl Fn(&machina_state::SparseMerkleTree) -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(&node.chain.committed().state) {
        if Instant::now() > deadline {
            bail!("a setup transaction was not committed in 30 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Runs the compute benchmark.
pub fn run(offers: usize, leases: usize, json: bool) -> anyhow::Result<()> {
    if leases < 1_000 || !leases.is_multiple_of(1_000) || offers < 1_000 {
        bail!("--leases is a multiple of 1,000 and --offers at least 1,000");
    }
    let lease_ms = job_to_lease(20).context("job to lease on a dev node")?;
    let mut state = market(offers, 1, ComputeParams::default())?;
    let match_ms = post_and_match(&mut state, 1_000, 2, 1_000)?;
    let (pay_1k, paid_1k) = pay_1k_due(leases)?;
    let (pay_all, paid_all) = pay_all_due(leases)?;
    if paid_1k != 1_000 || paid_all != leases {
        bail!("paid {paid_1k} leases of 1,000 due and {paid_all} of {leases}");
    }
    let lease = median(lease_ms);
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let v = json!({"compute": {
        "job_to_lease_ms": round(lease),
        "match_ms": round(match_ms), "offers": offers, "jobs": 1_000,
        "pay_ms_1k_due": round(pay_1k), "jobs_paid_1k_due": paid_1k,
        "pay_ms_all_due": round(pay_all), "jobs_paid_all_due": paid_all,
        "running_leases": leases,
    }});
    if json {
        println!("{v}");
    } else {
        println!("machina bench --compute");
        println!("  job to lease over HTTP (dev node, 100 ms blocks), median of 20: {lease:.1} ms");
        println!("  end-of-block matching, {offers} offers and 1,000 new jobs: {match_ms:.1} ms");
        println!("  end-of-block payments, {leases} running leases: {pay_1k:.1} ms with {paid_1k} due, {pay_all:.1} ms with {paid_all} due");
    }
    Ok(())
}
