//! Machina benchmarks (`machina bench`): throughput of each stage on this machine, measured in one run, with the
//! signature-verification ceiling that bounds them all.

mod compute;
mod devnet;
mod energy;
mod evm;
mod machines;
mod shares;

use anyhow::{bail, Context};
use clap::Args;
use machina_bank::Allocation;
use machina_bank::BankAction;
use machina_primitives::codec::put_vec;
use machina_primitives::{sha256, Amount, BlockEnv, BlockHeader, Hash, Keypair, DEV_CHAIN_ID};
use machina_state::{AuthenticatedState, ChangeSet, SparseMerkleTree};
use machina_stf::{apply_block, verify_txs, Genesis};
use machina_stf::{Transaction, TxBody};
use machina_store::{CommittedBlock, Store};
use serde_json::json;
use std::time::{Duration, Instant};

/// Options of `machina bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Signed transfers per measurement.
    #[arg(long, default_value_t = 40_000)]
    transfers: usize,
    /// Distinct sender accounts.
    #[arg(long, default_value_t = 4_000)]
    senders: usize,
    /// Transfers per HTTP batch in the end-to-end run.
    #[arg(long, default_value_t = 2_000)]
    batch: usize,
    /// Repetitions of each in-process measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Measure machine registrations and policy-checked payments in the stf instead.
    #[arg(long)]
    machines: bool,
    /// Measure signed meter readings accepted end to end instead.
    #[arg(long)]
    readings: bool,
    /// Measure the energy market's clearing on books of 10k, 100k and 1M orders instead.
    #[arg(long)]
    clearing: bool,
    /// Measure clearing and settling one interval of a zone with this many machines instead.
    #[arg(long)]
    settlement: Option<usize>,
    /// Measure the compute market instead: job to lease over HTTP, matching and payments.
    #[arg(long)]
    compute: bool,
    /// Measure ERC-20 transfers through the Ethereum JSON-RPC instead, beside the secp256k1
    /// recovery ceiling (`--transfers` of them, from `--senders` accounts of the dev mnemonic).
    #[arg(long)]
    evm: bool,
    /// Measure machine shares instead: a revenue event and a claim with 10 and 100,000
    /// holders, and a block in which 10,000 machines earn.
    #[arg(long)]
    shares: bool,
    /// Open offers in the compute matching measurement.
    #[arg(long, default_value_t = 10_000)]
    offers: usize,
    /// Running leases in the compute payment measurement (a multiple of 1,000).
    #[arg(long, default_value_t = 100_000)]
    leases: usize,
    /// Measure finality and throughput of a local network of this many validator processes
    /// instead.
    #[arg(long)]
    devnet: Option<usize>,
    /// Transfers per second offered to the devnet in its steady phase.
    #[arg(long, default_value_t = 500)]
    rate: usize,
    /// Length of the devnet's steady phase, in seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
}

/// Longest the end-to-end run may take before the bench gives up.
const E2E_TIMEOUT: Duration = Duration::from_secs(300);

pub(crate) fn sender_key(i: usize) -> Keypair {
    Keypair::from_seed(sha256(&[b"machina/bench/sender", &(i as u64).to_be_bytes()]).0)
}

pub(crate) fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Per second, from a count and the median of several timings.
pub(crate) fn rate(
    count: usize,
    runs: usize,
    mut f: impl FnMut() -> anyhow::Result<Duration>,
) -> anyhow::Result<f64> {
    let mut secs = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        secs.push(f()?.as_secs_f64());
    }
    Ok(count as f64 / median(secs))
}

/// `n` transfers from `senders` accounts in nonce order, signed on all cores.
pub(crate) fn signed_transfers(keys: &[Keypair], n: usize) -> Vec<Transaction> {
    let s = keys.len();
    let make = |i: usize| {
        TxBody {
            chain_id: DEV_CHAIN_ID,
            sender: keys[i % s].address(),
            nonce: (i / s) as u64,
            fee: machina_stf::params::DEFAULT_MIN_FEE,
            expiry_height: 50_000,
            fee_payer: None,
            actions: vec![BankAction::Transfer {
                to: keys[(i + 1) % s].address(),
                amount: Amount(1),
            }
            .into()],
        }
        .sign(&[&keys[i % s]])
    };
    parallel(n, make)
}

/// `make(0..n)` split into one contiguous share per core, in order.
pub(crate) fn parallel<T: Send>(n: usize, make: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = n.div_ceil(threads).max(1);
    std::thread::scope(|sc| {
        let make = &make;
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                sc.spawn(move || {
                    (t * per..((t + 1) * per).min(n))
                        .map(make)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().expect("worker thread"))
            .collect()
    })
}

pub(crate) fn allocations(keys: &[Keypair]) -> Vec<Allocation> {
    keys.iter()
        .map(|k| Allocation {
            address: k.address(),
            balance: Amount(1_000_000_000_000),
        })
        .collect()
}

pub(crate) fn stf_rate(keys: &[Keypair], txs: &[Transaction], runs: usize) -> anyhow::Result<f64> {
    let genesis = Genesis::dev(DEV_CHAIN_ID, 0, allocations(keys));
    let mut base = SparseMerkleTree::from_entries(std::iter::empty());
    base.apply(&genesis.changes().map_err(|e| anyhow::anyhow!("{e}"))?);
    let verified: Vec<_> = verify_txs(txs.to_vec())
        .into_iter()
        .collect::<Result<_, _>>()?;
    let env = BlockEnv {
        chain_id: DEV_CHAIN_ID,
        height: 1,
        timestamp_ms: 1,
        proposer: machina_node::dev_proposer().address(),
    };
    rate(txs.len(), runs, || {
        let mut state = base.clone();
        let t = Instant::now();
        let out = apply_block(&mut state, &verified, &env)?;
        let took = t.elapsed();
        if out.receipts.iter().any(|r| !r.success) {
            bail!("a benchmark transfer failed");
        }
        Ok(took)
    })
}

/// State updates per second on a 1M-key state: blocks of 20,000 writes (80% to existing keys,
/// 20% new), each timed from its changes to its new root and its durable commit. Index and
/// state-table writes wait in memory and are flushed every few blocks (`machina_store::pending`),
/// so a run covers at least two flushes and the rate is total writes over total time: the
/// flushes are paid for, not left out. `runs` such rounds, median. Also returns the rate of the
/// new roots alone (over all rounds) and the number of keys at the end.
fn state_rate(runs: usize) -> anyhow::Result<(f64, f64, usize)> {
    const EXISTING: u64 = 1_000_000;
    const UPDATES: u64 = 20_000;
    let blocks = 2 * machina_store::FLUSH_ENTRIES.div_ceil(UPDATES as usize) as u64;
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("bench.redb"))?;
    let key = |i: u64| sha256(&[b"bench-key", &i.to_be_bytes()]).0.to_vec();
    let value = |i: u64, round: u64| {
        [
            sha256(&[&i.to_be_bytes(), &round.to_be_bytes()])
                .0
                .as_slice(),
            &[0u8; 16],
        ]
        .concat()
    };
    let genesis: ChangeSet = (0..EXISTING).map(|i| (key(i), Some(value(i, 0)))).collect();
    let mut state = SparseMerkleTree::from_entries(std::iter::empty());
    let root = state.apply(&genesis);
    let mut head = BlockHeader {
        chain_id: DEV_CHAIN_ID,
        height: 0,
        parent_hash: Hash::ZERO,
        timestamp_ms: 0,
        proposer: Default::default(),
        tx_root: Hash::ZERO,
        receipts_root: Hash::ZERO,
        state_root: root,
    };
    store.init(b"{}", &head, &genesis)?;
    drop(genesis);
    let mut round = 0u64;
    let mut rooting = Duration::ZERO;
    let r = rate((UPDATES * blocks) as usize, runs, || {
        let mut took = Duration::ZERO;
        for _ in 0..blocks {
            round += 1;
            // 80% updates of existing keys, 20% new keys.
            let changes: ChangeSet = (0..UPDATES)
                .map(|j| {
                    let i = if j % 5 == 0 {
                        EXISTING + round * UPDATES + j
                    } else {
                        (j * 7919 + round * 104_729) % EXISTING
                    };
                    (key(i), Some(value(i, round)))
                })
                .collect();
            let t = Instant::now();
            let state_root = state.apply(&changes);
            rooting += t.elapsed();
            head = BlockHeader {
                height: head.height + 1,
                parent_hash: head.hash(),
                state_root,
                ..head.clone()
            };
            store.commit_block(&CommittedBlock {
                header: &head,
                txs: &[],
                receipts: &[],
                changes: &changes,
                events: &[],
                forced: false,
            })?;
            took += t.elapsed();
        }
        Ok(took)
    })?;
    let roots = (UPDATES * blocks * runs.max(1) as u64) as f64 / rooting.as_secs_f64();
    Ok((r, roots, state.len()))
}

/// Bytes this process has caused to be written to storage so far (`write_bytes` of
/// `/proc/self/io`: what reached the block layer, fsyncs included), where the kernel says.
pub(crate) fn disk_bytes_written() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The end-to-end rate of `txs` through a dev node, and the bytes written to disk per
/// committed transaction while they went in (none where the kernel does not count them).
pub(crate) fn e2e_rate(
    keys: &[Keypair],
    txs: &[Transaction],
    batch: usize,
) -> anyhow::Result<(f64, Option<f64>)> {
    let dir = tempfile::tempdir()?;
    let rt = tokio::runtime::Runtime::new()?;
    let node = rt.block_on(machina_node::start(machina_node::DevConfig {
        data_dir: dir.path().to_owned(),
        http: "127.0.0.1:0".parse()?,
        block_time: Duration::from_millis(100),
        idle_block: None,
        sim_clock: false,
        extra_genesis: allocations(keys),
        chain_id: machina_primitives::DEV_CHAIN_ID,
        load_state: None,
        genesis: None,
        http_limits: Default::default(),
        eth_rpc: None,
    }))?;
    let url = format!("http://{}", node.addr);
    let written_before = disk_bytes_written();
    let batches: Vec<Vec<u8>> = txs
        .chunks(batch.max(1))
        .map(|c| {
            let mut b = Vec::new();
            put_vec(&mut b, c);
            b
        })
        .collect();
    let start = Instant::now();
    // Two client threads, so the node decodes and verifies one batch while the next arrives.
    let rejected: usize = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..2)
            .map(|t| {
                let (batches, url) = (&batches, &url);
                sc.spawn(move || -> anyhow::Result<usize> {
                    let client = machina_client::Client::new(url);
                    let mut rejected = 0;
                    for b in batches.iter().skip(t).step_by(2) {
                        let v = client.post_bytes("/v1/txs", b)?;
                        let accepted = v["accepted"].as_u64().context("accepted count")? as usize;
                        rejected += v["results"].as_array().map_or(0, Vec::len) - accepted;
                    }
                    Ok(rejected)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("client thread"))
            .sum::<anyhow::Result<usize>>()
    })?;
    if rejected > 0 {
        bail!("{rejected} benchmark transactions were rejected");
    }
    while node.chain.metrics.txs_committed() < txs.len() as u64 {
        if start.elapsed() > E2E_TIMEOUT {
            bail!(
                "only {} of {} transfers committed in {E2E_TIMEOUT:?}",
                node.chain.metrics.txs_committed(),
                txs.len()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let took = start.elapsed();
    rt.block_on(node.shutdown());
    let per_tx = written_before
        .zip(disk_bytes_written())
        .map(|(a, b)| b.saturating_sub(a) as f64 / txs.len() as f64);
    Ok((txs.len() as f64 / took.as_secs_f64(), per_tx))
}

/// Runs every measurement and prints the figures.
pub fn run(args: BenchArgs, json: bool) -> anyhow::Result<()> {
    if let Some(n) = args.devnet {
        return crate::devnet::run(
            n,
            args.rate,
            args.seconds,
            args.transfers,
            args.senders,
            json,
        );
    }
    if args.evm {
        return crate::evm::run(
            args.transfers.min(100_000),
            args.senders.min(1_000),
            args.runs,
            json,
        );
    }
    if args.compute {
        return crate::compute::run(args.offers, args.leases, json);
    }
    if args.shares {
        return crate::shares::run(args.runs, json);
    }
    if let Some(machines) = args.settlement {
        return crate::energy::run_settlement(machines, json);
    }
    if args.clearing {
        return crate::energy::run(args.runs, json);
    }
    if args.readings {
        return crate::machines::run_readings(args.senders, args.transfers, args.runs, json);
    }
    if args.machines {
        return crate::machines::run(args.transfers, args.senders, args.runs, json);
    }
    let n = args
        .transfers
        .min(machina_primitives::limits::MAX_BLOCK_TXS);
    let keys: Vec<Keypair> = (0..args.senders.max(2)).map(sender_key).collect();
    let txs = signed_transfers(&keys, n);
    let sig = rate(n, args.runs, || {
        let t = Instant::now();
        let ok = Transaction::verify_signatures(&txs);
        let took = t.elapsed();
        if ok.iter().any(|v| !v) {
            bail!("a benchmark signature did not verify");
        }
        Ok(took)
    })?;
    let stf = stf_rate(&keys, &txs, args.runs)?;
    let (state, state_roots, state_keys) = state_rate(args.runs)?;
    let (e2e, bytes_per_transfer) = e2e_rate(&keys, &txs, args.batch)?;
    let v = json!({
        "sig_ceiling_per_s": sig.round(),
        "stf_transfers_per_s": stf.round(),
        "state_updates_per_s": state.round(),
        "state_root_updates_per_s": state_roots.round(),
        "e2e_transfers_per_s": e2e.round(),
        "e2e_ratio_to_sig_ceiling": (e2e / sig * 1000.0).round() / 1000.0,
        "bytes_per_transfer": bytes_per_transfer.map(f64::round),
    });
    if json {
        println!("{v}");
    } else {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "machina bench: {n} transfers from {} senders, {cores} cores, median of {} runs",
            keys.len(),
            args.runs
        );
        println!(
            "  signatures verified (batched, all cores)  {:>10.0} /s   (the ceiling)",
            sig
        );
        println!(
            "  stf transfers executed                     {:>10.0} /s",
            stf
        );
        println!(
            "  state updates committed (root + redb)      {:>10.0} /s   ({state_keys} keys)",
            state
        );
        println!("    of which the new roots alone              {state_roots:>10.0} /s");
        println!(
            "  signed transfers end to end (HTTP -> block) {:>9.0} /s   ({:.1}% of the ceiling)",
            e2e,
            100.0 * e2e / sig
        );
        if let Some(b) = bytes_per_transfer {
            println!("  bytes written to disk per transfer         {b:>10.0}");
        }
    }
    Ok(())
}
