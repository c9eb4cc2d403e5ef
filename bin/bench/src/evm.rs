//! `machina bench --evm`: ERC-20 transfers per second end to end through
//! `eth_sendRawTransaction` into a dev node, beside the secp256k1 recoveries per second on all
//! cores in the same run (the ceiling: every Ethereum transaction's sender is recovered once).

use anyhow::{bail, Context};
use machina_bank::Allocation;
use machina_evm::sign::{mnemonic_keys, sign_1559, EthKey, Unsigned, DEV_MNEMONIC};
use machina_evm::{create_address, BASE_FEE_WEI};
use machina_primitives::{Address, Amount, DEV_CHAIN_ID};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Gas limit of each benchmark transfer: an ERC-20 transfer to a holder uses about 35,000.
const TRANSFER_GAS: u64 = 60_000;
/// Signed transactions per JSON-RPC batch.
const BATCH: usize = 100;
/// Longest the run may take.
const TIMEOUT: Duration = Duration::from_secs(300);

fn erc20_creation(supply: u128) -> Vec<u8> {
    let mut code = hex::decode(include_str!("../../../crates/stf/tests/fixtures/erc20.hex").trim())
        .expect("the fixture is hex");
    let word = |n: u128| {
        let mut w = [0u8; 32];
        w[16..].copy_from_slice(&n.to_be_bytes());
        w
    };
    code.extend_from_slice(&word(0x60));
    code.extend_from_slice(&word(0xa0));
    code.extend_from_slice(&word(supply));
    for s in ["Bench", "BNCH"] {
        code.extend_from_slice(&word(s.len() as u128));
        let mut w = [0u8; 32];
        w[..s.len()].copy_from_slice(s.as_bytes());
        code.extend_from_slice(&w);
    }
    code
}

fn transfer_call(to: &Address, amount: u128) -> Vec<u8> {
    let mut d = machina_evm::abi::selector("transfer(address,uint256)").to_vec();
    d.extend_from_slice(&[0u8; 12]);
    d.extend_from_slice(&to.0);
    d.extend_from_slice(&[0u8; 16]);
    d.extend_from_slice(&amount.to_be_bytes());
    d
}

fn tx(key: &EthKey, nonce: u64, to: Option<Address>, input: Vec<u8>, gas: u64) -> Vec<u8> {
    sign_1559(
        key,
        &Unsigned {
            chain_id: DEV_CHAIN_ID,
            nonce,
            to,
            value_wei: Default::default(),
            input,
            gas_limit: gas,
            max_fee_per_gas: 2 * BASE_FEE_WEI,
            max_priority_fee_per_gas: 0,
        },
    )
}

/// `n` presigned transfers of one token unit, round robin over `keys`, each sender's from
/// `first_nonce` on, signed on all cores.
fn presign(keys: &[EthKey], token: Address, n: usize, first_nonce: &[u64]) -> Vec<Vec<u8>> {
    let s = keys.len();
    let make = |i: usize| {
        let to = keys[(i + 1) % s].address();
        tx(
            &keys[i % s],
            first_nonce[i % s] + (i / s) as u64,
            Some(token),
            transfer_call(&to, 1),
            TRANSFER_GAS,
        )
    };
    crate::parallel(n, make)
}

/// secp256k1 recoveries per second on all cores: decoding and recovering every transaction.
fn recovery_rate(raws: &[Vec<u8>], runs: usize) -> anyhow::Result<f64> {
    crate::rate(raws.len(), runs, || {
        let t = Instant::now();
        let ok = crate::parallel(raws.len(), |i| {
            machina_evm::decode_ethereum(&raws[i]).is_ok()
        });
        let took = t.elapsed();
        if ok.iter().any(|v| !v) {
            bail!("a benchmark transaction did not recover");
        }
        Ok(took)
    })
}

fn rpc(client: &machina_client::Client, body: &Value) -> anyhow::Result<Value> {
    client.post_json("/", body.to_string().as_bytes())
}

fn send_batch(client: &machina_client::Client, raws: &[Vec<u8>]) -> anyhow::Result<()> {
    let batch: Vec<Value> = raws
        .iter()
        .enumerate()
        .map(|(i, r)| json!({"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [format!("0x{}", hex::encode(r))]}))
        .collect();
    let answers = rpc(client, &Value::Array(batch))?;
    if let Some(e) = answers
        .as_array()
        .and_then(|a| a.iter().find_map(|x| x.get("error")))
    {
        bail!("a benchmark transaction was refused: {e}");
    }
    Ok(())
}

/// Waits until `n` transactions are committed in all.
fn wait_committed(node: &machina_node::DevNode, n: u64, start: Instant) -> anyhow::Result<()> {
    while node.chain.metrics.txs_committed() < n {
        if start.elapsed() > TIMEOUT {
            bail!(
                "only {} of {n} transactions committed in {TIMEOUT:?}",
                node.chain.metrics.txs_committed()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// Runs the measurement and prints it.
pub fn run(transfers: usize, senders: usize, runs: usize, json_out: bool) -> anyhow::Result<()> {
    let keys = mnemonic_keys(DEV_MNEMONIC, senders.clamp(2, 1_000));
    let dir = tempfile::tempdir()?;
    let rt = tokio::runtime::Runtime::new()?;
    let node = rt.block_on(machina_node::start(machina_node::DevConfig {
        data_dir: dir.path().to_owned(),
        http: "127.0.0.1:0".parse()?,
        block_time: Duration::from_millis(100),
        idle_block: None,
        sim_clock: false,
        extra_genesis: keys
            .iter()
            .map(|k| Allocation {
                address: k.address(),
                balance: Amount(1_000_000_000_000),
            })
            .collect(),
        chain_id: DEV_CHAIN_ID,
        load_state: None,
        genesis: None,
        http_limits: Default::default(),
        eth_rpc: Some(machina_node::EthRpcConfig {
            addr: "127.0.0.1:0".parse()?,
            required: true,
        }),
    }))?;
    let url = format!("http://{}", node.eth_addr.context("the JSON-RPC is on")?);
    let client = machina_client::Client::new(&url);
    // Setup: deploy the token and give every sender some, so each transfer moves a balance.
    let token = create_address(&keys[0].address(), 0);
    let mut setup = vec![tx(
        &keys[0],
        0,
        None,
        erc20_creation(u128::from(u64::MAX)),
        2_000_000,
    )];
    for (i, k) in keys.iter().enumerate().skip(1) {
        setup.push(tx(
            &keys[0],
            i as u64,
            Some(token),
            transfer_call(&k.address(), 1_000_000),
            TRANSFER_GAS,
        ));
    }
    let started = Instant::now();
    for chunk in setup.chunks(BATCH) {
        send_batch(&client, chunk)?;
    }
    let base = node.chain.metrics.txs_committed();
    wait_committed(&node, setup.len() as u64, started)?;
    let mut first_nonce = vec![0u64; keys.len()];
    first_nonce[0] = setup.len() as u64;
    let raws = presign(&keys, token, transfers, &first_nonce);
    let ceiling = recovery_rate(&raws, runs)?;
    let committed_before = node.chain.metrics.txs_committed().max(base);
    let start = Instant::now();
    // Two client threads, each with its own half of the senders, so that each sender's
    // transactions arrive in nonce order (the mempool takes no gaps).
    let s = keys.len();
    let halves: Vec<Vec<Vec<u8>>> = (0..2)
        .map(|t| {
            raws.iter()
                .enumerate()
                .filter(|(i, _)| i % s % 2 == t)
                .map(|(_, r)| r.clone())
                .collect()
        })
        .collect();
    std::thread::scope(|sc| -> anyhow::Result<()> {
        let hs: Vec<_> = halves
            .iter()
            .map(|half| {
                let url = &url;
                sc.spawn(move || -> anyhow::Result<()> {
                    let c = machina_client::Client::new(url);
                    for b in half.chunks(BATCH) {
                        send_batch(&c, b)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in hs {
            h.join().expect("client thread")?;
        }
        Ok(())
    })?;
    wait_committed(&node, committed_before + raws.len() as u64, start)?;
    let took = start.elapsed();
    let erc20 = raws.len() as f64 / took.as_secs_f64();
    rt.block_on(node.shutdown());
    let v = json!({
        "erc20_per_s": erc20.round(),
        "secp256k1_ceiling_per_s": ceiling.round(),
        "ratio_to_secp256k1_ceiling": (erc20 / ceiling * 1000.0).round() / 1000.0,
        "transfers": raws.len(),
        "senders": keys.len(),
    });
    if json_out {
        println!("{v}");
    } else {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "machina bench --evm: {} ERC-20 transfers from {} senders, {cores} cores",
            raws.len(),
            keys.len()
        );
        println!(
            "  secp256k1 recoveries (all cores)               {ceiling:>10.0} /s   (the ceiling)"
        );
        println!("  ERC-20 transfers end to end (eth_sendRawTransaction -> block) {erc20:>8.0} /s   ({:.1}% of the ceiling)", 100.0 * erc20 / ceiling);
    }
    Ok(())
}
