//! The state transition function against a reference model, its invariants and each
//! rejection.

use machina_bank::Allocation;
use machina_bank::BankAction;
use machina_primitives::limits::MAX_TX_BYTES;
use machina_primitives::{Address, Amount, BlockEnv, Decode, Encode, Keypair};
use machina_state::{AuthenticatedState, SparseMerkleTree};
use machina_stf::{
    apply_block, verify_txs, BlockExecutor, Genesis, Transaction, TxBody, TxError, VerifiedTx,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

const CHAIN: u64 = 77;
const MIN_FEE: u128 = machina_stf::params::DEFAULT_MIN_FEE.0;
const NAMES: [&str; 4] = ["alice", "bob", "charlie", "dave"];

fn proposer() -> Address {
    Address([0xee; 20])
}

fn env(height: u64) -> BlockEnv {
    BlockEnv {
        chain_id: CHAIN,
        height,
        timestamp_ms: height * 100,
        proposer: proposer(),
    }
}

fn genesis_state(balances: &[u128]) -> SparseMerkleTree {
    let allocations = NAMES
        .iter()
        .zip(balances)
        .map(|(n, b)| Allocation {
            address: Keypair::dev(n).address(),
            balance: Amount(*b),
        })
        .collect();
    let mut g = Genesis::dev(CHAIN, 0, vec![]);
    g.modules.bank.allocations = allocations;
    let mut s = SparseMerkleTree::from_entries(std::iter::empty());
    s.apply(&g.changes().expect("genesis"));
    s
}

fn body(from: &Keypair, nonce: u64, to: Address, amount: u128) -> TxBody {
    TxBody {
        chain_id: CHAIN,
        sender: from.address(),
        nonce,
        fee: Amount(MIN_FEE),
        expiry_height: 1_000,
        fee_payer: None,
        actions: vec![BankAction::Transfer {
            to,
            amount: Amount(amount),
        }
        .into()],
    }
}

fn verified(tx: Transaction) -> Result<VerifiedTx, TxError> {
    verify_txs(vec![tx]).pop().expect("one result")
}

fn signed(b: TxBody, k: &Keypair) -> VerifiedTx {
    verified(b.sign(&[k])).expect("valid signature")
}

fn balance(s: &impl machina_state::StateRead, a: &Address) -> u128 {
    machina_bank::account(s, a).balance.0
}

fn total(s: &impl machina_state::StateRead) -> u128 {
    NAMES
        .iter()
        .map(|n| balance(s, &Keypair::dev(n).address()))
        .sum::<u128>()
        + balance(s, &proposer())
}

/// What the reference model says happens to a transaction.
#[derive(Debug, PartialEq)]
enum Outcome {
    NotIncluded(&'static str),
    Included { success: bool },
}

/// The obviously correct model of the bank: balances and nonces in plain maps.
struct Model {
    balance: BTreeMap<Address, u128>,
    nonce: BTreeMap<Address, u64>,
}

impl Model {
    fn apply(&mut self, from: Address, nonce: u64, to: Address, amount: u128) -> Outcome {
        let expected = *self.nonce.get(&from).unwrap_or(&0);
        if nonce != expected {
            return Outcome::NotIncluded("bad_nonce");
        }
        let bal = *self.balance.get(&from).unwrap_or(&0);
        if bal < MIN_FEE {
            return Outcome::NotIncluded("insufficient_funds");
        }
        self.nonce.insert(from, expected + 1);
        self.balance.insert(from, bal - MIN_FEE);
        *self.balance.entry(proposer()).or_default() += MIN_FEE;
        let bal = bal - MIN_FEE;
        let success = amount > 0 && from != to && bal >= amount;
        if success {
            self.balance.insert(from, bal - amount);
            *self.balance.entry(to).or_default() += amount;
        }
        Outcome::Included { success }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every transfer sequence: receipts match the model, total supply is conserved, and no
    /// balance goes below zero (a failed transfer leaves both balances as they were).
    #[test]
    fn transfers_match_the_model_and_conserve_supply(
        balances in proptest::collection::vec(0u128..5_000_000, 4),
        ops in proptest::collection::vec((0usize..4, 0usize..4, 0u128..3_000_000, 0u64..3, 1usize..4), 1..40),
    ) {
        let keys: Vec<Keypair> = NAMES.iter().map(|n| Keypair::dev(n)).collect();
        let mut state = genesis_state(&balances);
        let supply = machina_bank::total_supply(&state).0;
        prop_assert_eq!(total(&state), supply);
        let mut model = Model {
            balance: keys.iter().map(|k| k.address()).zip(balances.iter().copied()).collect(),
            nonce: BTreeMap::new(),
        };
        for (height, chunk) in (1..).zip(ops.chunks(3)) {
            let mut exec = BlockExecutor::begin(&state, env(height));
            for &(from, to, amount, nonce_skew, _) in chunk {
                let (f, t) = (&keys[from], keys[to].address());
                // A skew of 1 replays the previous nonce; 2 jumps ahead by one.
                let base = *model.nonce.get(&f.address()).unwrap_or(&0);
                let nonce = match nonce_skew { 0 => base, 1 => base.wrapping_sub(1), _ => base + 1 };
                let expect = model.apply(f.address(), nonce, t, amount);
                let got = match exec.execute(&signed(body(f, nonce, t, amount), f)) {
                    Ok(r) => Outcome::Included { success: r.success },
                    Err(e) => Outcome::NotIncluded(e.code()),
                };
                prop_assert_eq!(got, expect);
            }
            let changes = exec.finish().changes;
            state.apply(&changes);
            prop_assert_eq!(total(&state), supply);
            for (a, b) in &model.balance {
                prop_assert_eq!(balance(&state, a), *b);
            }
        }
    }

    /// Any bytes at all: decoding returns an error or a transaction, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic_transaction_decoding(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Transaction::decode_exact(&bytes, MAX_TX_BYTES);
    }
}

#[test]
fn the_same_block_gives_the_same_root_and_receipts_twice() {
    let alice = Keypair::dev("alice");
    let bob = Keypair::dev("bob").address();
    let txs: Vec<VerifiedTx> = (0..20)
        .map(|n| signed(body(&alice, n, bob, 10 + u128::from(n)), &alice))
        .collect();
    let mut a = genesis_state(&[10_000_000, 0, 0, 0]);
    let mut b = a.clone();
    let ra = apply_block(&mut a, &txs, &env(1)).expect("valid block");
    let rb = apply_block(&mut b, &txs, &env(1)).expect("valid block");
    assert_eq!(ra.state_root, rb.state_root);
    assert_eq!(ra.receipts, rb.receipts);
    assert_ne!(ra.state_root, genesis_state(&[10_000_000, 0, 0, 0]).root());
}

fn reject_code(state: &SparseMerkleTree, tx: &VerifiedTx, height: u64) -> &'static str {
    let mut exec = BlockExecutor::begin(state, env(height));
    exec.execute(tx).expect_err("must be rejected").code()
}

#[test]
fn a_bad_signature_is_rejected() {
    let alice = Keypair::dev("alice");
    let mut tx = body(&alice, 0, Address([1; 20]), 5).sign(&[&alice]);
    tx.body.fee = Amount(MIN_FEE + 1);
    assert_eq!(verified(tx).unwrap_err().code(), "bad_signature");
}

#[test]
fn a_key_that_does_not_own_the_account_is_unauthorized() {
    let alice = Keypair::dev("alice");
    let bob = Keypair::dev("bob");
    let tx = signed(body(&alice, 0, Address([1; 20]), 5), &bob);
    assert_eq!(
        reject_code(&genesis_state(&[1_000_000, 0, 0, 0]), &tx, 1),
        "unauthorized"
    );
}

#[test]
fn a_transaction_for_another_chain_is_rejected() {
    let alice = Keypair::dev("alice");
    let mut b = body(&alice, 0, Address([1; 20]), 5);
    b.chain_id = CHAIN + 1;
    let code = reject_code(&genesis_state(&[1_000_000, 0, 0, 0]), &signed(b, &alice), 1);
    assert_eq!(code, "wrong_chain");
}

#[test]
fn a_nonce_gap_is_rejected() {
    let alice = Keypair::dev("alice");
    let tx = signed(body(&alice, 1, Address([1; 20]), 5), &alice);
    assert_eq!(
        reject_code(&genesis_state(&[1_000_000, 0, 0, 0]), &tx, 1),
        "bad_nonce"
    );
}

#[test]
fn a_replayed_transaction_is_rejected() {
    let alice = Keypair::dev("alice");
    let tx = signed(body(&alice, 0, Address([1; 20]), 5), &alice);
    let mut state = genesis_state(&[1_000_000, 0, 0, 0]);
    apply_block(&mut state, std::slice::from_ref(&tx), &env(1)).expect("first time");
    assert_eq!(reject_code(&state, &tx, 2), "bad_nonce");
    let err = apply_block(&mut state.clone(), &[tx], &env(2)).unwrap_err();
    assert!(
        err.to_string().contains("transaction 0 cannot be included"),
        "{err}"
    );
}

#[test]
fn an_expired_transaction_is_rejected() {
    let alice = Keypair::dev("alice");
    let mut b = body(&alice, 0, Address([1; 20]), 5);
    b.expiry_height = 4;
    let code = reject_code(&genesis_state(&[1_000_000, 0, 0, 0]), &signed(b, &alice), 5);
    assert_eq!(code, "expired");
}

#[test]
fn a_fee_below_the_minimum_is_rejected() {
    let alice = Keypair::dev("alice");
    let mut b = body(&alice, 0, Address([1; 20]), 5);
    b.fee = Amount(MIN_FEE - 1);
    let code = reject_code(&genesis_state(&[1_000_000, 0, 0, 0]), &signed(b, &alice), 1);
    assert_eq!(code, "fee_too_low");
}

#[test]
fn a_sender_that_cannot_pay_the_fee_is_rejected() {
    let alice = Keypair::dev("alice");
    let tx = signed(body(&alice, 0, Address([1; 20]), 5), &alice);
    assert_eq!(
        reject_code(&genesis_state(&[MIN_FEE - 1, 0, 0, 0]), &tx, 1),
        "insufficient_funds"
    );
}

#[test]
fn an_overspending_transfer_fails_but_its_fee_is_charged() {
    let alice = Keypair::dev("alice");
    let bob = Keypair::dev("bob").address();
    let mut state = genesis_state(&[MIN_FEE + 100, 0, 0, 0]);
    let tx = signed(body(&alice, 0, bob, 101), &alice);
    let out = apply_block(&mut state, &[tx], &env(1)).expect("included");
    let r = &out.receipts[0];
    assert!(!r.success);
    let err = r.error.as_ref().expect("an error");
    assert_eq!(err.code, "insufficient_funds");
    assert!(
        err.message.contains("has 100 micro, needs 101"),
        "{}",
        err.message
    );
    assert_eq!(balance(&state, &alice.address()), 100);
    assert_eq!(balance(&state, &bob), 0);
    assert_eq!(machina_bank::account(&state, &alice.address()).nonce, 1);
}

#[test]
fn an_oversize_transaction_is_rejected_by_the_decoder() {
    let bytes = vec![0u8; MAX_TX_BYTES + 1];
    let e = Transaction::decode_exact(&bytes, MAX_TX_BYTES).unwrap_err();
    assert!(matches!(e, machina_primitives::CodecError::Oversize { .. }));
}

#[test]
fn malformed_bytes_are_rejected_by_the_decoder() {
    let alice = Keypair::dev("alice");
    let mut bytes = body(&alice, 0, Address([1; 20]), 5)
        .sign(&[&alice])
        .encode();
    bytes[0] = 9; // unknown version
    assert!(Transaction::decode_exact(&bytes, MAX_TX_BYTES).is_err());
    assert!(Transaction::decode_exact(&bytes[..10], MAX_TX_BYTES).is_err());
}

#[test]
fn a_transaction_without_actions_is_rejected() {
    let alice = Keypair::dev("alice");
    let mut b = body(&alice, 0, Address([1; 20]), 5);
    b.actions.clear();
    let code = reject_code(&genesis_state(&[1_000_000, 0, 0, 0]), &signed(b, &alice), 1);
    assert_eq!(code, "no_actions");
}
