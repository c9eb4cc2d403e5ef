//! `machina bench --machines`: machine registrations and policy-checked payments executed by
//! the stf, beside plain transfers measured in the same run.

use crate::bench::{allocations, rate, sender_key, signed_transfers, stf_rate};
use anyhow::bail;
use machina_primitives::action::{
    device_pop_message, MachineKind, MachineMetadata, MachineRegistration, SpendPolicy,
};
use machina_primitives::{
    sha256, Action, Address, Amount, BlockEnv, Keypair, Transaction, TxBody, DEV_CHAIN_ID,
};
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
        expiry_height: 1_000_000,
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
                vec![Action::RegisterMachine(Box::new(reg))],
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
                Action::Transfer {
                    to: addr(i),
                    amount: Amount(1_000_000_000),
                },
                Action::SetSpendPolicy {
                    machine_id: i as u64 + 1,
                    policy,
                },
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
                    vec![Action::Transfer {
                        to: recipients[i % 2],
                        amount: Amount(10),
                    }],
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
