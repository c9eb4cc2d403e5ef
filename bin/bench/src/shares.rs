//! `machina bench --shares`: the cost of one revenue event and of one claim with 10 and with
//! 100,000 holders (the index makes both O(1), so they should match), and of the revenue work
//! of a block in which 10,000 machines with shares earn, in the stf's state.

use crate::compute::ctx;
use crate::median;
use anyhow::bail;
use machina_bank::Allocation;
use machina_identity::{MachineKind, MachineMetadata, MachineRegistration};
use machina_primitives::{Address, Amount, BlockEnv, Keypair, Signature, DEV_CHAIN_ID};
use machina_shares::Source;
use machina_state::{AuthenticatedState, Overlay, SparseMerkleTree};
use machina_stf::Genesis;
use serde_json::json;
use std::time::Instant;

/// Revenue events timed per measurement.
const EVENTS: usize = 1_000;
/// Claims timed per measurement, each on a fresh overlay.
const CLAIMS: usize = 1_000;

/// The owner of machine `i`: one each, as a fleet of households would be.
fn owner(i: usize) -> Address {
    Address::derive(&[b"bench-shares-owner", &(i as u64).to_be_bytes()])
}

fn market() -> Address {
    Address::derive(&[b"bench-shares-market"])
}

fn holder(i: usize) -> Address {
    Address::derive(&[b"bench-shares-holder", &(i as u64).to_be_bytes()])
}

fn env(height: u64) -> BlockEnv {
    ctx(Address([0xfe; 20]), height).env
}

fn source(i: usize) -> Source {
    Source::Compute {
        job_id: i as u64,
        lease: 0,
        from_height: 1,
        to_height: 2,
    }
}

/// A dev genesis in which the market account can pay any revenue the bench credits.
fn genesis() -> anyhow::Result<SparseMerkleTree> {
    let funds = vec![Allocation {
        address: market(),
        balance: Amount(1_000_000_000_000_000_000),
    }];
    let mut s = SparseMerkleTree::from_entries(std::iter::empty());
    s.apply(
        &Genesis::dev(DEV_CHAIN_ID, 0, funds)
            .changes()
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    Ok(s)
}

/// Registers a machine per entry of `holders`, each of its own [`owner`]; with `issue`, issues
/// each 1,000,000 shares and gives one to each of that many holders of its own (the owner
/// keeps the rest). Machine `i`'s holders are `holder(first[i])` onwards.
fn machines(
    holders: &[usize],
    issue: bool,
) -> anyhow::Result<(SparseMerkleTree, Vec<u64>, Vec<usize>)> {
    let mut base = genesis()?;
    let mut ov = Overlay::new(&base);
    let (mut ids, mut first, mut next) = (Vec::new(), Vec::new(), 0);
    for (i, &h) in holders.iter().enumerate() {
        let c = ctx(owner(i), 1);
        let mut seed = [9u8; 32];
        seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
        // Registration's proof of possession is checked with the transaction's signatures,
        // which this bench does not build.
        let reg = MachineRegistration {
            device_key: Keypair::from_seed(seed).public(),
            device_signature: Signature([0; 64]),
            kind: MachineKind::Battery,
            rated_power_w: 5_000,
            capacity_wh: Some(10_000),
            zone: None,
            metadata: MachineMetadata::default(),
            attestation: None,
        };
        let (id, _) = machina_identity::register(&mut ov, &owner(i), &reg, 1)?;
        if issue {
            machina_shares::issue(&mut ov, &c, id, 1_000_000, 500, false)?;
            for j in next..next + h {
                machina_shares::transfer(&mut ov, &c, id, &holder(j), 1)?;
            }
        }
        ids.push(id);
        first.push(next);
        next += h;
    }
    let changes = ov.into_changes();
    base.apply(&changes);
    Ok((base, ids, first))
}

/// µs of one revenue event of machine `m`: [`EVENTS`] on one overlay, median of `runs`.
fn revenue_us(state: &SparseMerkleTree, m: u64, runs: usize) -> f64 {
    let e = env(2);
    median(
        (0..runs)
            .map(|_| {
                let mut ov = Overlay::new(state);
                let t = Instant::now();
                for i in 0..EVENTS {
                    machina_shares::credit(&mut ov, &e, m, &market(), Amount(1_000_003), source(i));
                }
                t.elapsed().as_secs_f64() * 1e6 / EVENTS as f64
            })
            .collect(),
    )
}

/// µs of one holder's claim of machine `m` after a revenue event, each on a fresh overlay over
/// the same state, median of [`CLAIMS`] over its holders in turn.
fn claim_us(
    state: &mut SparseMerkleTree,
    m: u64,
    first: usize,
    holders: usize,
) -> anyhow::Result<f64> {
    let mut ov = Overlay::new(&*state);
    machina_shares::credit(
        &mut ov,
        &env(2),
        m,
        &market(),
        Amount(1_000_000_000_000),
        source(0),
    );
    let changes = ov.into_changes();
    state.apply(&changes);
    let mut times = Vec::with_capacity(CLAIMS);
    for i in 0..CLAIMS {
        let mut ov = Overlay::new(&*state);
        // The same ten claimants in both classes: what differs is only the class's size.
        let c = ctx(holder(first + i % holders.min(10)), 3);
        let t = Instant::now();
        let events = machina_shares::claim(&mut ov, &c, Some(m))?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
        if events.len() != 1 {
            bail!("a claim paid {} machines, not 1", events.len());
        }
    }
    Ok(median(times))
}

/// ms of a block's revenue work when each of `ids` earns once: the credits, then committing
/// the block's changes to the state. Median of `runs`, each on a copy of the state.
fn block_ms(state: &SparseMerkleTree, ids: &[u64], runs: usize) -> f64 {
    let e = env(2);
    median(
        (0..runs)
            .map(|_| {
                let mut s = state.clone();
                let t = Instant::now();
                let mut ov = Overlay::new(&s);
                for (i, m) in ids.iter().enumerate() {
                    machina_shares::credit(&mut ov, &e, *m, &market(), Amount(187_500), source(i));
                }
                let changes = ov.into_changes();
                s.apply(&changes);
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect(),
    )
}

/// Runs `machina bench --shares`.
pub fn run(runs: usize, json: bool) -> anyhow::Result<()> {
    let runs = runs.max(1);
    // Both classes in one state, so that the only difference is the number of holders.
    let (mut s, ids, first) = machines(&[10, 100_000], true)?;
    let (r10, r100k) = (revenue_us(&s, ids[0], runs), revenue_us(&s, ids[1], runs));
    let c10 = claim_us(&mut s, ids[0], first[0], 10)?;
    let c100k = claim_us(&mut s, ids[1], first[1], 100_000)?;
    drop(s);
    let (with, ids, _) = machines(&[10; 10_000], true)?;
    let block = block_ms(&with, &ids, runs);
    drop(with);
    let (without, ids, _) = machines(&[0; 10_000], false)?;
    let block_plain = block_ms(&without, &ids, runs);
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let v = json!({"shares": {
        "revenue_us_10": round(r10), "revenue_us_100k": round(r100k),
        "claim_us_10": round(c10), "claim_us_100k": round(c100k),
        "block_ms_10k_machines": round(block),
        "block_ms_10k_machines_without_shares": round(block_plain),
        "runs": runs,
    }});
    if json {
        println!("{v}");
    } else {
        println!("machina bench --shares (in the stf's state, median of {runs})");
        println!("  one revenue event:  {r10:.2} µs with 10 holders, {r100k:.2} µs with 100,000");
        println!("  one claim:          {c10:.2} µs with 10 holders, {c100k:.2} µs with 100,000");
        println!("  a block in which 10,000 machines earn, credits and commit: {block:.1} ms with shares (10 holders each), {block_plain:.1} ms without");
    }
    Ok(())
}
