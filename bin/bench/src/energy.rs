//! `machina bench --clearing`: the market's clearing on random books, one core.

use crate::median;
use machina_bank::BankAction;
use machina_energy::EnergyAction;
use machina_energy::{clear, Order, PricingRule};
use machina_energy::{MarketRule, Side, ZoneConfig};
use machina_identity::IdentityAction;
use machina_identity::{device_pop_message, MachineKind, MachineMetadata, MachineRegistration};
use machina_oracle::MeterReading;
use machina_oracle::OracleAction;
use machina_primitives::sha256;
use machina_stf::{Action, Transaction, TxBody};
use serde_json::json;
use std::time::Instant;

/// A deterministic random book: prices 50,000 to 300,000 micro/kWh, 100 to 5,000 Wh.
fn book(n: usize, seed: &[u8]) -> Vec<Order> {
    (0..n as u64)
        .map(|i| {
            let h = sha256(&[seed, &i.to_be_bytes()]).0;
            let r = |k: usize| u64::from_be_bytes(h[k..k + 8].try_into().expect("8 bytes"));
            Order {
                price: 50_000 + r(0) % 250_001,
                qty_wh: 100 + r(8) % 4_901,
            }
        })
        .collect()
}

/// Times clearing books of 10k, 100k and 1M orders (half bids, half asks).
pub fn run(runs: usize, json: bool) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for total in [10_000usize, 100_000, 1_000_000] {
        let (bids, asks) = (book(total / 2, b"bids"), book(total / 2, b"asks"));
        let mut ms = Vec::new();
        let mut volume = 0;
        for _ in 0..runs.max(1) {
            let t = Instant::now();
            let c = clear(&bids, &asks, PricingRule::PayAsClear { k_ppm: 500_000 });
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            volume = c.volume_wh;
        }
        rows.push(json!({"orders": total, "clear_ms": (median(ms) * 100.0).round() / 100.0, "volume_wh": volume}));
    }
    if json {
        println!("{}", json!({ "clearing": rows }));
    } else {
        println!("machina bench --clearing: pay-as-clear on random books, one core, median of {runs} runs");
        for r in &rows {
            println!(
                "  {:>9} orders  {:>9.2} ms  volume {} Wh",
                r["orders"],
                r["clear_ms"].as_f64().unwrap_or(0.0),
                r["volume_wh"]
            );
        }
    }
    Ok(())
}

/// Settles one interval of a zone with `machines` machines (half asks, half bids, all with
/// readings) in the stf, and times the end-of-block work that clears and settles it.
pub fn run_settlement(machines: usize, json: bool) -> anyhow::Result<()> {
    use machina_primitives::{Address, Amount, BlockEnv, Keypair, DEV_CHAIN_ID};
    use machina_state::{AuthenticatedState, SparseMerkleTree};
    use machina_stf::{apply_block, verify_txs, Genesis};

    const INTERVAL: u64 = 900_000;
    let t0: u64 = 1_800_000_000_000;
    let owner = Keypair::dev("alice");
    let gateway = Keypair::dev("bob");
    let mut state = SparseMerkleTree::from_entries(std::iter::empty());
    state.apply(
        &Genesis::dev(DEV_CHAIN_ID, 0, vec![])
            .changes()
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let mut height = 0u64;
    let mut nonces = std::collections::BTreeMap::<Address, u64>::new();
    let mut run = |state: &mut SparseMerkleTree,
                   now: u64,
                   txs: Vec<(Keypair, Vec<Action>)>|
     -> anyhow::Result<std::time::Duration> {
        height += 1;
        let signed: Vec<Transaction> = txs
            .into_iter()
            .map(|(k, actions)| {
                let n = nonces.entry(k.address()).or_insert(0);
                let tx = TxBody {
                    chain_id: DEV_CHAIN_ID,
                    sender: k.address(),
                    nonce: *n,
                    fee: machina_stf::params::DEFAULT_MIN_FEE,
                    expiry_height: height + 1_000,
                    fee_payer: None,
                    actions,
                }
                .sign(&[&k]);
                *n += 1;
                tx
            })
            .collect();
        let verified: Vec<_> = verify_txs(signed).into_iter().collect::<Result<_, _>>()?;
        let env = BlockEnv {
            chain_id: DEV_CHAIN_ID,
            height,
            timestamp_ms: now,
            proposer: Address([0xfe; 20]),
        };
        let t = Instant::now();
        let out = apply_block(state, &verified, &env)?;
        let took = t.elapsed();
        if let Some(r) = out.receipts.iter().find(|r| !r.success) {
            anyhow::bail!("a setup transaction failed: {:?}", r.error);
        }
        Ok(took)
    };
    let zone = ZoneConfig {
        name: "bench".into(),
        interval_ms: INTERVAL,
        gate_closure_ms: 60_000,
        retail_price: 300_000,
        feed_in_price: 80_000,
        market_fee_bps: 100,
        rule: MarketRule::PayAsClear { k_ppm: 500_000 },
        import_limit_w: u64::MAX / 8,
        export_limit_w: u64::MAX / 8,
        settlement_deadline_ms: 600_000,
    };
    run(
        &mut state,
        t0 - 3_600_000,
        vec![(
            owner.clone(),
            vec![EnergyAction::CreateZone {
                config: Box::new(zone),
                grid_float: Amount(100_000_000_000),
            }
            .into()],
        )],
    )?;
    let devices: Vec<Keypair> = (0..machines)
        .map(|i| Keypair::from_seed(sha256(&[b"settle-dev", &(i as u64).to_be_bytes()]).0))
        .collect();
    for chunk in devices.chunks(64) {
        let actions = chunk
            .iter()
            .map(|d| {
                IdentityAction::RegisterMachine(Box::new(MachineRegistration {
                    device_key: d.public(),
                    device_signature: d.sign(&device_pop_message(DEV_CHAIN_ID, &owner.address())),
                    kind: MachineKind::Solar,
                    rated_power_w: 100_000,
                    capacity_wh: None,
                    zone: Some("bench".into()),
                    metadata: MachineMetadata::default(),
                    attestation: None,
                }))
                .into()
            })
            .collect();
        run(&mut state, t0 - 3_000_000, vec![(owner.clone(), actions)])?;
    }
    let ids: Vec<u64> = (1..=machines as u64).collect();
    for chunk in ids.chunks(64) {
        let fund = chunk
            .iter()
            .map(|id| {
                BankAction::Transfer {
                    to: machina_identity::machine_address(*id),
                    amount: Amount(10_000_000),
                }
                .into()
            })
            .collect();
        run(&mut state, t0 - 2_000_000, vec![(owner.clone(), fund)])?;
    }
    for chunk in ids.chunks(64) {
        let orders = chunk
            .iter()
            .map(|id| {
                let bid = id % 2 == 0;
                let side = if bid { Side::Bid } else { Side::Ask };
                let price = 100_000 + (sha256(&[&id.to_be_bytes()]).0[0] as u64) * 700;
                EnergyAction::PlaceOrder {
                    machine_id: *id,
                    side,
                    interval_start_ms: t0,
                    price,
                    qty_wh: 1_000,
                }
                .into()
            })
            .collect();
        run(&mut state, t0 - 1_000_000, vec![(owner.clone(), orders)])?;
    }
    let clear_time = run(&mut state, t0 - 59_000, vec![])?;
    for (seq, t) in [(1u64, t0), (2, t0 + INTERVAL)] {
        let readings: Vec<_> = devices
            .iter()
            .zip(&ids)
            .map(|(d, id)| {
                MeterReading {
                    machine_id: *id,
                    channel: 0,
                    seq,
                    timestamp_ms: t,
                    import_wh: seq * 800,
                    export_wh: seq * 900,
                }
                .sign(DEV_CHAIN_ID, d)
            })
            .collect();
        // Submitted just before the interval ends, so that settlement is the next blocks' work.
        for chunk in readings.chunks(4096) {
            run(
                &mut state,
                t - 1,
                vec![(
                    gateway.clone(),
                    vec![OracleAction::SubmitReadings {
                        readings: chunk.to_vec(),
                    }
                    .into()],
                )],
            )?;
        }
    }
    let mut settle_time = std::time::Duration::ZERO;
    let mut blocks = 0;
    loop {
        settle_time += run(&mut state, t0 + INTERVAL + 1 + blocks, vec![])?;
        blocks += 1;
        if machina_energy::market::interval(&state, "bench", t0).done || blocks > 100 {
            break;
        }
    }
    let iv = machina_energy::market::interval(&state, "bench", t0);
    if !iv.done {
        anyhow::bail!("the interval did not settle");
    }
    let v = json!({"machines": machines, "clear_ms": clear_time.as_secs_f64() * 1e3, "settle_ms": settle_time.as_secs_f64() * 1e3, "settle_blocks": blocks, "volume_wh": iv.volume_wh});
    if json {
        println!("{v}");
    } else {
        println!("machina bench --settlement: one interval, {machines} machines (half bids, half asks), all metered");
        println!(
            "  clearing at gate closure    {:>8.1} ms (one block)",
            clear_time.as_secs_f64() * 1e3
        );
        println!(
            "  settlement                  {:>8.1} ms over {blocks} blocks, volume {} Wh",
            settle_time.as_secs_f64() * 1e3,
            iv.volume_wh
        );
    }
    Ok(())
}
