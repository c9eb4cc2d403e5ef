//! The state transition function fed arbitrary sequences of transactions: a few dev keys,
//! templates of every module's common actions (and raw decoded actions), in a few blocks.
//!
//! After every block: no panic, the sum of every account's balance is the supply fixed at
//! genesis, the compute escrow holds exactly its jobs' escrow, each zone's energy escrow
//! holds exactly its open and cleared orders' escrow, and each account's nonce counts its
//! included transactions. At the end the included transactions, applied with
//! [`apply_block`] to a fresh genesis, give the same receipts and state root at every height.

use arbitrary::{Arbitrary, Unstructured};
use machina_primitives::{Address, BlockEnv, Keypair, Receipt};
use machina_state::{AuthenticatedState, SparseMerkleTree, StateRead};
use machina_stf::{apply_block, verify_txs, Action, BlockExecutor, Genesis, TxBody, VerifiedTx};
use std::collections::BTreeMap;
use std::sync::OnceLock;

mod ops;
use ops::{action, Op};

const CHAIN: u64 = 7;
const INTERVAL: u64 = 900_000;
/// Genesis time: an hour before an interval boundary.
const T0: u64 = 1_800_000_000_000 - 3_600_000;
const ZONES: [&str; 2] = ["zone-a", "zone-b"];
const MAX_BLOCKS: usize = 12;
const MAX_TXS_PER_BLOCK: usize = 6;

/// Senders: four funded dev accounts and one unfunded.
const USERS: [&str; 5] = ["alice", "bob", "charlie", "dave", "carol"];
/// Device keys machines are registered with.
const DEVICES: usize = 4;

struct Keys {
    users: Vec<Keypair>,
    devices: Vec<Keypair>,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| Keys {
        users: USERS.iter().map(|n| Keypair::dev(n)).collect(),
        devices: (0..DEVICES)
            .map(|i| Keypair::dev(&format!("fuzz-device-{i}")))
            .collect(),
    })
}

fn user(i: u8) -> &'static Keypair {
    &keys().users[usize::from(i) % USERS.len()]
}

fn device(i: u8) -> &'static Keypair {
    &keys().devices[usize::from(i) % DEVICES]
}

/// A machine id: mostly ones that exist (ids start at 1), sometimes not.
fn machine(i: u8) -> u64 {
    u64::from(i % 6)
}

fn zone(i: bool) -> String {
    ZONES[usize::from(i)].into()
}

/// A transaction: who sends it and its actions.
#[derive(Arbitrary, Debug)]
struct Tx {
    sender: u8,
    /// Nonce offset from the expected one (mostly 0).
    skew: u8,
    ops: Vec<Op>,
}

/// A block: how much chain time passes before it (in minutes) and its transactions.
#[derive(Arbitrary, Debug)]
struct BlockIn {
    minutes: u8,
    txs: Vec<Tx>,
}

fn genesis_state() -> SparseMerkleTree {
    let g = Genesis::dev(CHAIN, T0, vec![]);
    let mut s = SparseMerkleTree::from_entries(std::iter::empty());
    s.apply(&g.changes().expect("the dev genesis is valid"));
    s
}

fn balance(s: &impl StateRead, a: &Address) -> u128 {
    machina_bank::account(s, a).balance.0
}

/// The supply is every account's balance: sums them over the whole state.
fn sum_of_balances(s: &SparseMerkleTree) -> u128 {
    // The bank's account keys (`bank/acct/` and the address); read through the bank.
    const ACCT: &[u8] = b"bank/acct/";
    s.entries()
        .into_iter()
        .filter_map(|(k, _)| {
            let a: [u8; 20] = k.strip_prefix(ACCT)?.try_into().ok()?;
            Some(balance(s, &Address(a)))
        })
        .try_fold(0u128, |t, b| t.checked_add(b))
        .expect("balances overflow u128")
}

fn check_invariants(s: &SparseMerkleTree, supply: u128, nonces: &BTreeMap<Address, u64>, h: u64) {
    assert_eq!(
        sum_of_balances(s),
        supply,
        "supply not conserved at height {h}"
    );
    let jobs: u128 = (0..64)
        .filter_map(|id| machina_compute::job(s, id))
        .map(|j| j.escrow.0)
        .sum();
    assert_eq!(
        balance(s, &machina_compute::escrow_address()),
        jobs,
        "compute escrow differs from its jobs' escrow at height {h}"
    );
    for z in machina_energy::market::zones(s) {
        let held: u128 = (0..64)
            .filter_map(|id| machina_energy::market::order(s, &z, id))
            .filter(|o| {
                matches!(
                    o.status,
                    machina_energy::Status::Open | machina_energy::Status::Cleared
                )
            })
            .map(|o| o.escrow.0)
            .sum();
        assert_eq!(
            balance(s, &machina_energy::market::escrow_address(&z)),
            held,
            "escrow of zone {z} differs from its orders' at height {h}"
        );
    }
    for (a, n) in nonces {
        assert_eq!(
            machina_bank::account(s, a).nonce,
            *n,
            "nonce of {a} at height {h}"
        );
    }
}

fn env(height: u64, timestamp_ms: u64) -> BlockEnv {
    BlockEnv {
        chain_id: CHAIN,
        height,
        timestamp_ms,
        proposer: Address([0xfe; 20]),
    }
}

/// What a sequence did: blocks run, transactions included, and how many transactions that
/// succeeded carried each action (by name). For judging how deep the fuzzer gets.
#[derive(Debug, Default)]
pub struct Summary {
    /// Blocks executed.
    pub blocks: usize,
    /// Transactions included (fee paid, nonce advanced).
    pub included: usize,
    /// Successful transactions carrying each action name.
    pub succeeded: BTreeMap<&'static str, usize>,
    /// Transactions left out of their block, by the code of the refusal.
    pub refused: BTreeMap<&'static str, usize>,
}

/// Runs the sequence the bytes describe from the dev genesis; panics on any broken invariant.
pub fn sequence(data: &[u8]) {
    run(data);
}

/// Runs the sequence the bytes describe from [`market_start`]: a zone, machines registered,
/// funded, bonded and offered, shares issued, so that short inputs reach orders, clearing,
/// settlement, leases and revenue.
pub fn market(data: &[u8]) {
    run_market(data);
}

/// [`sequence`], returning what it did.
pub fn run(data: &[u8]) -> Summary {
    run_from(genesis_start(), data)
}

/// [`market`], returning what it did.
pub fn run_market(data: &[u8]) -> Summary {
    run_from(market_start().clone(), data)
}

/// One executed block: its env, the included transactions, their receipts, the root after it.
type Executed = (
    BlockEnv,
    Vec<VerifiedTx>,
    Vec<Receipt>,
    machina_primitives::Hash,
);

/// Where a run starts: a state, the blocks that led to it from genesis, nonces and time.
#[derive(Clone)]
struct Start {
    state: SparseMerkleTree,
    chain: Vec<Executed>,
    nonces: BTreeMap<Address, u64>,
    now: u64,
    /// Whether transactions without actions are left out of the input (the dev-genesis target
    /// keeps them: they exercise the refusal; the market target spends its input on actions).
    skip_empty: bool,
}

fn genesis_start() -> Start {
    Start {
        state: genesis_state(),
        chain: Vec::new(),
        nonces: BTreeMap::new(),
        now: T0,
        skip_empty: false,
    }
}

/// Executes `txs` as block `height` at `now`: the ones the executor refuses are left out.
/// Checks the invariants after it.
fn execute(start: &mut Start, txs: Vec<machina_stf::Transaction>, summary: &mut Summary) {
    let height = start.chain.len() as u64 + 1;
    let supply = machina_bank::total_supply(&start.state).0;
    let e = env(height, start.now);
    let mut exec = BlockExecutor::begin(&start.state, e);
    let mut included = Vec::new();
    for v in verify_txs(txs) {
        let refusal = match v {
            Ok(v) => match exec.execute(&v) {
                Ok(_) => {
                    *start.nonces.entry(v.tx().body.sender).or_default() += 1;
                    included.push(v);
                    continue;
                }
                Err(e) => e.code(),
            },
            Err(e) => e.code(),
        };
        *summary.refused.entry(refusal).or_default() += 1;
    }
    let parts = exec.finish();
    summary.blocks += 1;
    summary.included += included.len();
    for (v, r) in included.iter().zip(&parts.receipts) {
        if r.success {
            for a in &v.tx().body.actions {
                *summary.succeeded.entry(a.name()).or_default() += 1;
            }
        }
    }
    let root = start.state.apply(&parts.changes);
    check_invariants(&start.state, supply, &start.nonces, height);
    start.chain.push((e, included, parts.receipts, root));
}

fn signed(k: &Keypair, nonce: u64, height: u64, actions: Vec<Action>) -> machina_stf::Transaction {
    TxBody {
        chain_id: CHAIN,
        sender: k.address(),
        nonce,
        fee: machina_stf::params::DEFAULT_MIN_FEE,
        expiry_height: height + 5,
        fee_payer: None,
        actions,
    }
    .sign(&[k])
}

/// The market the [`market`] target starts from, built once in four blocks: zone-a (pay as
/// clear) and zone-b (pay as bid); bob's compute machines 1 and 2, bonded and offered;
/// alice's solar machines 3 in zone-a and 4 in zone-b; every machine funded;
/// shares of machine 3 issued by alice, 300 of them transferred to charlie.
fn market_start() -> &'static Start {
    static S: OnceLock<Start> = OnceLock::new();
    S.get_or_init(|| {
        let mut s = genesis_start();
        let mut summary = Summary::default();
        let (alice, bob) = (user(0), user(1));
        let mut block = |s: &mut Start, sends: Vec<(&Keypair, Vec<Op>)>| {
            s.now += 60_000;
            let height = s.chain.len() as u64 + 1;
            let txs = sends
                .into_iter()
                .map(|(k, ops)| {
                    let nonce = *s.nonces.get(&k.address()).unwrap_or(&0);
                    let actions = ops
                        .iter()
                        .map(|op| action(op, k, s.now).expect("a template"))
                        .collect();
                    signed(k, nonce, height, actions)
                })
                .collect::<Vec<_>>();
            let n = txs.len();
            execute(s, txs, &mut summary);
            let (_, included, receipts, _) = s.chain.last().expect("a block");
            assert_eq!(
                included.len(),
                n,
                "the market prelude's transactions are included at {height}: {:?}",
                summary.refused
            );
            for r in receipts {
                assert!(r.success, "the market prelude failed: {:?}", r.error);
            }
        };
        let zone = |zone, pay_as_bid| Op::CreateZone {
            zone,
            pay_as_bid,
            float: 1_000_000,
        };
        let reg = |device, kind, zone| Op::Register {
            device,
            kind,
            zone,
            power_w: 20_000,
        };
        block(
            &mut s,
            vec![
                (alice, vec![zone(false, false), zone(true, true)]),
                (bob, vec![reg(0, 2, None), reg(1, 2, None)]),
            ],
        );
        block(
            &mut s,
            vec![(alice, vec![reg(2, 0, Some(false)), reg(3, 0, Some(true))])],
        );
        let fund = |machine| Op::TransferToMachine {
            machine,
            amount: 1_000_000,
        };
        let bond = |machine| Op::Bond {
            machine,
            amount: 10_000_000,
        };
        block(
            &mut s,
            vec![
                (alice, (1..=4).map(fund).collect()),
                (bob, vec![bond(1), bond(2)]),
            ],
        );
        let offer = |machine| Op::Offer {
            machine,
            price: 10,
            capacity: 2,
            max_lease: 200,
        };
        block(
            &mut s,
            vec![
                (bob, vec![offer(1), offer(2)]),
                (
                    alice,
                    vec![
                        Op::IssueShares {
                            machine: 3,
                            supply: 1000,
                            fee_bps: 500,
                            forced: false,
                        },
                        Op::TransferShares {
                            machine: 3,
                            to: 2,
                            amount: 300,
                        },
                    ],
                ),
            ],
        );
        s.skip_empty = true;
        s
    })
}

/// Runs the sequence the bytes describe from `start`, then replays every block from a fresh
/// genesis with [`apply_block`].
fn run_from(mut start: Start, data: &[u8]) -> Summary {
    let mut summary = Summary::default();
    let mut u = Unstructured::new(data);
    let supply = machina_bank::total_supply(&start.state).0;
    assert_eq!(sum_of_balances(&start.state), supply, "supply at the start");
    for _ in 0..MAX_BLOCKS {
        let Ok(b) = BlockIn::arbitrary(&mut u) else {
            break;
        };
        start.now += u64::from(b.minutes) * 60_000 + 1;
        let height = start.chain.len() as u64 + 1;
        let mut planned: BTreeMap<Address, u64> = BTreeMap::new();
        let mut txs = Vec::new();
        for t in b.txs.iter().take(MAX_TXS_PER_BLOCK) {
            let k = user(t.sender);
            let next = planned
                .entry(k.address())
                .or_insert_with(|| *start.nonces.get(&k.address()).unwrap_or(&0));
            let actions: Vec<Action> = t
                .ops
                .iter()
                .take(4)
                .filter_map(|op| action(op, k, start.now))
                .collect();
            if actions.is_empty() && start.skip_empty {
                continue;
            }
            let nonce = if t.skew % 8 == 7 {
                next.wrapping_add(u64::from(t.skew))
            } else {
                *next
            };
            *next += 1;
            txs.push(signed(k, nonce, height, actions));
        }
        execute(&mut start, txs, &mut summary);
    }
    // Replay: the same blocks through apply_block on a fresh genesis.
    let mut replay = genesis_state();
    for (e, txs, receipts, root) in &start.chain {
        let out = apply_block(&mut replay, txs, e)
            .unwrap_or_else(|err| panic!("replay refused block {}: {err:?}", e.height));
        assert_eq!(
            &out.receipts, receipts,
            "receipts differ on replay at {}",
            e.height
        );
        assert_eq!(
            &out.state_root, root,
            "root differs on replay at {}",
            e.height
        );
    }
    summary
}
