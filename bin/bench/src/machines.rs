//! `machina bench --machines`: machine registrations and policy-checked payments executed by
//! the stf, beside plain transfers measured in the same run.

use crate::{allocations, rate, sender_key, signed_transfers, stf_rate};
use anyhow::{bail, Context};
use machina_bank::BankAction;
use machina_identity::IdentityAction;
use machina_identity::{device_pop_message, MachineKind, MachineMetadata, MachineRegistration};
use machina_oracle::MeterReading;
use machina_oracle::OracleAction;
use machina_stf::{Action, Transaction, TxBody};
use machina_wallet::SpendPolicy;
use machina_wallet::WalletAction;

use machina_primitives::{sha256, Address, Amount, BlockEnv, Keypair, DEV_CHAIN_ID};
use machina_state::{AuthenticatedState, SparseMerkleTree};
use machina_stf::{apply_block, verify_txs, Genesis, VerifiedTx};
use serde_json::json;
use std::time::Instant;

fn device_key(i: usize) -> Keypair {
    Keypair::from_seed(sha256(&[b"machina/bench/device", &(i as u64).to_be_bytes()]).0)
}

fn env(height: u64) -> BlockEnv {
    BlockEnv {
        chain_id: DEV_CHAIN_ID,
        height,
        timestamp_ms: height,
        proposer: machina_node::dev_proposer().address(),
    }
}

fn body(sender: Address, nonce: u64, actions: Vec<Action>) -> TxBody {
    TxBody {
        chain_id: DEV_CHAIN_ID,
        sender,
        nonce,
        fee: machina_stf::params::DEFAULT_MIN_FEE,
        expiry_height: 50_000,
        fee_payer: None,
        actions,
    }
}

fn verified(txs: Vec<Transaction>) -> anyhow::Result<Vec<VerifiedTx>> {
    Ok(verify_txs(txs).into_iter().collect::<Result<_, _>>()?)
}

fn apply_ok(state: &mut SparseMerkleTree, txs: &[VerifiedTx], height: u64) -> anyhow::Result<()> {
    let out = apply_block(state, txs, &env(height))?;
    if let Some(r) = out.receipts.iter().find(|r| !r.success) {
        bail!("a benchmark transaction failed: {:?}", r.error);
    }
    Ok(())
}

/// One registration per device, owners taking turns.
fn registrations(owners: &[Keypair], devices: &[Keypair]) -> Vec<Transaction> {
    devices
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let o = &owners[i % owners.len()];
            let reg = MachineRegistration {
                device_key: d.public(),
                device_signature: d.sign(&device_pop_message(DEV_CHAIN_ID, &o.address())),
                kind: MachineKind::Battery,
                rated_power_w: 5_000,
                capacity_wh: Some(10_000),
                zone: Some("zone-a".into()),
                metadata: MachineMetadata::default(),
                attestation: None,
            };
            body(
                o.address(),
                (i / owners.len()) as u64,
                vec![IdentityAction::RegisterMachine(Box::new(reg)).into()],
            )
            .sign(&[o])
        })
        .collect()
}

/// Runs the machine benchmarks and prints the figures.
pub fn run(transfers: usize, senders: usize, runs: usize, json: bool) -> anyhow::Result<()> {
    let n = transfers.min(machina_primitives::limits::MAX_BLOCK_TXS);
    let owners: Vec<Keypair> = (0..senders.max(2)).map(sender_key).collect();
    let machines = (n / 10).max(1);
    let devices: Vec<Keypair> = (0..machines).map(device_key).collect();
    let mut base = SparseMerkleTree::from_entries(std::iter::empty());
    base.apply(
        &Genesis::dev(DEV_CHAIN_ID, 0, allocations(&owners))
            .changes()
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );

    let regs = verified(registrations(&owners, &devices))?;
    let reg_rate = rate(regs.len(), runs, || {
        let mut s = base.clone();
        let t = Instant::now();
        apply_ok(&mut s, &regs, 1)?;
        Ok(t.elapsed())
    })?;

    // Set up: machines registered, funded, each with a policy, then 10 payments each.
    let mut state = base.clone();
    apply_ok(&mut state, &regs, 1)?;
    let addr = |i: usize| machina_identity::machine_address(i as u64 + 1);
    let recipients = [owners[0].address(), owners[1].address()];
    let setup: Vec<Transaction> = (0..machines)
        .map(|i| {
            let o = &owners[i % owners.len()];
            let policy = SpendPolicy {
                max_per_tx: Some(Amount(1_000_000)),
                max_per_window: Some(Amount(100_000_000)),
                window_blocks: 100,
                allowlist: recipients.to_vec(),
                ..SpendPolicy::default()
            };
            let actions = vec![
                BankAction::Transfer {
                    to: addr(i),
                    amount: Amount(1_000_000_000),
                }
                .into(),
                WalletAction::SetSpendPolicy {
                    machine_id: i as u64 + 1,
                    policy,
                }
                .into(),
            ];
            body(
                o.address(),
                machina_bank::account(&state, &o.address()).nonce + (i / owners.len()) as u64,
                actions,
            )
            .sign(&[o])
        })
        .collect();
    apply_ok(&mut state, &verified(setup)?, 2)?;
    let payments = verified(
        (0..n)
            .map(|i| {
                let m = i % machines;
                let tx = body(
                    addr(m),
                    (i / machines) as u64,
                    vec![BankAction::Transfer {
                        to: recipients[i % 2],
                        amount: Amount(10),
                    }
                    .into()],
                );
                tx.sign(&[&devices[m]])
            })
            .collect(),
    )?;
    let pay_rate = rate(payments.len(), runs, || {
        let mut s = state.clone();
        let t = Instant::now();
        apply_ok(&mut s, &payments, 3)?;
        Ok(t.elapsed())
    })?;
    let plain = stf_rate(&owners, &signed_transfers(&owners, n), runs)?;
    let v = json!({
        "stf_registrations_per_s": reg_rate.round(),
        "stf_policy_payments_per_s": pay_rate.round(),
        "stf_transfers_per_s": plain.round(),
    });
    if json {
        println!("{v}");
    } else {
        println!(
            "machina bench --machines: {machines} machines, {n} payments, median of {runs} runs"
        );
        println!("  machine registrations executed           {reg_rate:>10.0} /s");
        println!("  policy-checked machine payments executed {pay_rate:>10.0} /s");
        println!("  plain transfers executed (same run)      {plain:>10.0} /s");
    }
    Ok(())
}

/// Starts an in-process dev node, registers `machines` machines, then posts `per_machine`
/// signed readings of each in batches of the largest size a transaction takes, from one
/// gateway account, and times until every batch is committed. Returns the rate, the readings
/// accepted and the bytes written to disk per reading while they went in.
fn readings_once(
    owners: &[Keypair],
    devices: &[Keypair],
    per_machine: usize,
) -> anyhow::Result<Once> {
    use machina_primitives::codec::put_vec;
    let dir = tempfile::tempdir()?;
    let rt = tokio::runtime::Runtime::new()?;
    let node = rt.block_on(machina_node::start(machina_node::DevConfig {
        data_dir: dir.path().to_owned(),
        http: "127.0.0.1:0".parse()?,
        block_time: std::time::Duration::from_millis(100),
        idle_block: None,
        sim_clock: false,
        extra_genesis: allocations(owners),
        chain_id: machina_primitives::DEV_CHAIN_ID,
        load_state: None,
        genesis: None,
        http_limits: Default::default(),
        eth_rpc: None,
    }))?;
    let client = machina_client::Client::new(&format!("http://{}", node.addr));
    let post = |txs: &[Transaction]| -> anyhow::Result<()> {
        let mut b = Vec::new();
        put_vec(&mut b, txs);
        let v = client.post_bytes("/v1/txs", &b)?;
        if v["accepted"].as_u64() != Some(txs.len() as u64) {
            bail!("the node refused benchmark transactions: {v}");
        }
        Ok(())
    };
    let wait = |n: u64| -> anyhow::Result<()> {
        let deadline = Instant::now() + std::time::Duration::from_secs(300);
        while node.chain.metrics.txs_committed() < n {
            if Instant::now() > deadline {
                bail!("benchmark transactions were not committed in time");
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        Ok(())
    };
    let regs = registrations(owners, devices);
    for chunk in regs.chunks(2_000) {
        post(chunk)?;
    }
    wait(regs.len() as u64)?;
    // The producer orders a block by sender, so ids follow no submission order: look them up.
    let registered = node.chain.committed().state;
    let mut id_of = std::collections::BTreeMap::new();
    for id in 1..=devices.len() as u64 {
        let m = machina_identity::machine(&registered, id).context("registered machine")?;
        id_of.insert(m.device_key, id);
    }
    // Readings one second apart, 1 Wh each (3.6 kW against a 5 kW rating), ending now.
    let now = machina_node::now_ms();
    let gateway = &owners[owners.len() - 1];
    let mut signed = Vec::with_capacity(devices.len() * per_machine);
    for seq in 1..=per_machine as u64 {
        for d in devices {
            let r = MeterReading {
                machine_id: id_of[&d.public()],
                channel: 0,
                seq,
                timestamp_ms: now - (per_machine as u64 - seq) * 1000,
                import_wh: seq,
                export_wh: 0,
            };
            signed.push(r.sign(DEV_CHAIN_ID, d));
        }
    }
    let base_nonce = machina_bank::account(&node.chain.committed().state, &gateway.address()).nonce;
    let txs: Vec<Transaction> = signed
        .chunks(machina_primitives::limits::MAX_READINGS_PER_TX)
        .enumerate()
        .map(|(i, c)| {
            body(
                gateway.address(),
                base_nonce + i as u64,
                vec![OracleAction::SubmitReadings {
                    readings: c.to_vec(),
                }
                .into()],
            )
            .sign(&[gateway])
        })
        .collect();
    let written_before = crate::disk_bytes_written();
    let t = Instant::now();
    for chunk in txs.chunks(4) {
        post(chunk)?;
    }
    wait((regs.len() + txs.len()) as u64)?;
    let took = t.elapsed().as_secs_f64();
    // Every block is fsynced as it commits, so its bytes are counted by now.
    let per_reading = written_before
        .zip(crate::disk_bytes_written())
        .map(|(a, b)| b.saturating_sub(a) as f64 / signed.len() as f64);
    let state = node.chain.committed().state;
    let accepted: u64 = (1..=devices.len() as u64)
        .map(|id| {
            machina_oracle::meter_log(&state, id, 0)
                .last
                .map_or(0, |p| p.seq)
        })
        .sum();
    rt.block_on(node.shutdown());
    Ok(Once {
        rate: signed.len() as f64 / took,
        accepted,
        per_reading,
        ceiling: readings_ceiling(&signed)?,
    })
}

/// One run of the readings bench.
struct Once {
    rate: f64,
    accepted: u64,
    per_reading: Option<f64>,
    ceiling: f64,
}

/// The readings' own device signatures verified the node's way (`verify_many`: sorted by key,
/// one batch per core), per second, median of 3: the ceiling the end-to-end rate is held to.
fn readings_ceiling(signed: &[machina_oracle::SignedReading]) -> anyhow::Result<f64> {
    use machina_primitives::crypto::{verify_many, SigCheck};
    let msgs: Vec<Vec<u8>> = signed
        .iter()
        .map(|s| s.reading.signing_message(DEV_CHAIN_ID))
        .collect();
    let checks: Vec<SigCheck<'_>> = signed
        .iter()
        .zip(&msgs)
        .map(|(s, msg)| SigCheck {
            msg,
            key: &s.device_key,
            sig: &s.signature,
        })
        .collect();
    rate(checks.len(), 3, || {
        let t = Instant::now();
        let ok = verify_many(&checks);
        let took = t.elapsed();
        if ok.iter().any(|v| !v) {
            bail!("a benchmark reading's signature did not verify");
        }
        Ok(took)
    })
}

/// `machina bench --readings`: signed meter readings accepted per second end to end.
pub fn run_readings(
    machines: usize,
    readings: usize,
    runs: usize,
    json: bool,
) -> anyhow::Result<()> {
    let machines = machines.clamp(1, 100_000);
    let per_machine = readings.div_ceil(machines).max(1);
    let owners: Vec<Keypair> = (0..machines.clamp(2, 2_000)).map(sender_key).collect();
    let devices: Vec<Keypair> = (0..machines).map(device_key).collect();
    let (mut rates, mut ceilings, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut bytes = Vec::new();
    let mut accepted = 0;
    for _ in 0..runs.max(1) {
        let once = readings_once(&owners, &devices, per_machine)?;
        rates.push(once.rate);
        ceilings.push(once.ceiling);
        ratios.push(once.rate / once.ceiling);
        bytes.extend(once.per_reading);
        accepted = once.accepted;
    }
    let total = machines * per_machine;
    if accepted != total as u64 {
        bail!("only {accepted} of {total} benchmark readings were accepted");
    }
    let rate = crate::median(rates);
    let ceiling = crate::median(ceilings);
    let ratio = (crate::median(ratios) * 1000.0).round() / 1000.0;
    let bytes_per_reading = (!bytes.is_empty()).then(|| crate::median(bytes).round());
    let v = json!({
        "readings_per_s": rate.round(),
        "sig_ceiling_per_s": ceiling.round(),
        "readings_ratio_to_sig_ceiling": ratio,
        "readings": total,
        "machines": machines,
        "bytes_per_reading": bytes_per_reading,
    });
    if json {
        println!("{v}");
    } else {
        println!("machina bench --readings: {total} signed readings from {machines} machines, batches of {}, median of {runs} runs", machina_primitives::limits::MAX_READINGS_PER_TX);
        println!("  signed readings accepted end to end (HTTP -> block)  {rate:>10.0} /s");
        println!("  their signatures verified (batched, all cores)       {ceiling:>10.0} /s   (the ceiling; ratio {ratio})");
        if let Some(b) = bytes_per_reading {
            println!("  bytes written to disk per reading                    {b:>10.0}");
        }
    }
    Ok(())
}
