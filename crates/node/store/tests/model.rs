//! The store against a reference model: random blocks of transfers and state writes, flushed
//! after few blocks, with restarts (what waited in memory rebuilt from the tables) and reverts
//! in between. Every read must agree with the model whatever was flushed when.

use machina_bank::BankAction;
use machina_primitives::{Address, Amount, BlockHeader, Event, Hash, Keypair, Receipt};
use machina_state::ChangeSet;
use machina_stf::{Transaction, TxBody};
use machina_store::{CommittedBlock, FlushLimits, Store, TxPosition};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn header(height: u64) -> BlockHeader {
    BlockHeader {
        chain_id: 1,
        height,
        parent_hash: Hash::ZERO,
        timestamp_ms: height,
        proposer: Address::default(),
        tx_root: Hash::ZERO,
        receipts_root: Hash::ZERO,
        state_root: Hash::ZERO,
    }
}

fn transfer(sender: u8, to: u8, nonce: u64) -> (Transaction, Receipt) {
    let k = Keypair::dev(&format!("model-{sender}"));
    let to = Address([to; 20]);
    let tx = TxBody {
        chain_id: 1,
        sender: k.address(),
        nonce,
        fee: Amount(1),
        expiry_height: 1_000,
        fee_payer: None,
        actions: vec![BankAction::Transfer {
            to,
            amount: Amount(5),
        }
        .into()],
    }
    .sign(&[&k]);
    let receipt = Receipt {
        tx_hash: tx.hash(),
        success: true,
        error: None,
        fee_charged: Amount(1),
        events: vec![Event::new(
            "bank",
            "transfer",
            &[("to", (&to).into()), ("amount", Amount(5).into())],
        )],
    };
    (tx, receipt)
}

#[derive(Debug, Clone)]
enum Step {
    /// A block: transfers (sender, receiver) and state writes (key, value or delete).
    Block(Vec<(u8, u8)>, Vec<(u8, Option<u8>)>),
    /// A restart on the same database.
    Reopen,
    /// Back by this many blocks (at most to genesis).
    Revert(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (
            proptest::collection::vec((0u8..4, 0u8..6), 0..5),
            proptest::collection::vec((0u8..12, proptest::option::of(any::<u8>())), 0..6)
        )
            .prop_map(|(t, w)| Step::Block(t, w)),
        1 => Just(Step::Reopen),
        1 => (1u8..4).prop_map(Step::Revert),
    ]
}

/// A block as the model keeps it: its transactions (id, sender, receiver), the state before it
/// and its state writes (which a restart recomputes by executing it again).
type ModelBlock = (
    Vec<(Hash, Address, Address)>,
    BTreeMap<Vec<u8>, Vec<u8>>,
    ChangeSet,
);

/// What the store must say.
#[derive(Default, Clone)]
struct Model {
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    blocks: Vec<ModelBlock>,
}

fn check(store: &Store, m: &Model) {
    let entries: BTreeMap<_, _> = store
        .state_entries()
        .expect("entries")
        .into_iter()
        .collect();
    assert_eq!(entries, m.state);
    let keys = store.state_keys(b"k/", None, 1_000).expect("keys");
    assert_eq!(keys.height, m.blocks.len() as u64);
    let want: Vec<_> = m
        .state
        .keys()
        .filter(|k| k.starts_with(b"k/"))
        .cloned()
        .collect();
    assert_eq!(keys.keys, want);
    let mut history: BTreeMap<Address, Vec<TxPosition>> = BTreeMap::new();
    for (h, (txs, _, _)) in m.blocks.iter().enumerate() {
        let height = h as u64 + 1;
        let ids: Vec<Hash> = txs.iter().map(|t| t.0).collect();
        assert_eq!(store.block_tx_hashes(height).expect("ids"), ids);
        for (i, (id, from, to)) in txs.iter().enumerate() {
            let rec = store.tx(id).expect("tx").expect("found");
            assert_eq!((rec.height, rec.index), (height, i as u32));
            assert_eq!(rec.receipt.tx_hash, *id);
            let at = TxPosition {
                height,
                index: i as u32,
            };
            history.entry(*from).or_default().push(at);
            if to != from {
                history.entry(*to).or_default().push(at);
            }
        }
    }
    for (account, mut want) in history {
        want.reverse();
        let got: Vec<_> = store
            .account_txs(&account, None, 200)
            .expect("history")
            .iter()
            .map(|e| e.at)
            .collect();
        assert_eq!(got, want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn reads_agree_with_the_model_across_flushes_restarts_and_reverts(
        steps in proptest::collection::vec(step(), 1..30),
        flush_blocks in 1u64..5,
    ) {
        let limits = FlushLimits { blocks: flush_blocks, entries: 12, bytes: 1 << 20 };
        let mut store = Store::in_memory_with(limits).expect("store");
        store.init(b"{}", &header(0), &ChangeSet::new()).expect("init");
        let mut m = Model::default();
        let mut nonces: BTreeMap<u8, u64> = BTreeMap::new();
        let mut gone = Vec::new();
        for s in steps {
            match s {
                Step::Block(transfers, writes) => {
                    let height = m.blocks.len() as u64 + 1;
                    let before = m.state.clone();
                    let mut txs = Vec::new();
                    let mut receipts = Vec::new();
                    let mut seen = Vec::new();
                    for (from, to) in transfers {
                        let n = nonces.entry(from).or_default();
                        let (tx, r) = transfer(from, to, *n);
                        *n += 1;
                        seen.push((tx.hash(), tx.body.sender, Address([to; 20])));
                        txs.push(tx);
                        receipts.push(r);
                    }
                    let changes: ChangeSet = writes
                        .into_iter()
                        .map(|(k, v)| (format!("k/{k}").into_bytes(), v.map(|v| vec![v; 3])))
                        .collect();
                    for (k, v) in &changes {
                        match v {
                            Some(v) => m.state.insert(k.clone(), v.clone()),
                            None => m.state.remove(k),
                        };
                    }
                    let ids: Vec<(Hash, &Transaction)> = txs.iter().map(|t| (t.hash(), t)).collect();
                    store.commit_block(&CommittedBlock {
                        header: &header(height),
                        txs: &ids,
                        receipts: &receipts,
                        changes: &changes,
                        events: &[],
                        forced: false,
                    }).expect("commit");
                    m.blocks.push((seen, before, changes));
                }
                Step::Reopen => {
                    // As the node does on start: the blocks after the last flush give their
                    // state writes back, as executing them again would.
                    store = store.reopened().expect("reopen");
                    for h in store.flushed() + 1..=m.blocks.len() as u64 {
                        store.restore_state(h, &m.blocks[h as usize - 1].2);
                    }
                }
                Step::Revert(n) => {
                    let to = m.blocks.len().saturating_sub(n as usize);
                    if to == m.blocks.len() {
                        continue;
                    }
                    let target = m.blocks[to].1.clone();
                    let mut changes = ChangeSet::new();
                    for k in m.state.keys() {
                        if !target.contains_key(k) {
                            changes.insert(k.clone(), None);
                        }
                    }
                    for (k, v) in &target {
                        changes.insert(k.clone(), Some(v.clone()));
                    }
                    store.revert_to(to as u64, &changes).expect("revert");
                    m.state = target;
                    gone.extend(m.blocks.drain(to..).flat_map(|b| b.0).map(|t| t.0));
                }
            }
            // Ids of reverted blocks are gone.
            for id in &gone {
                prop_assert!(store.tx(id).expect("tx").is_none());
            }
            check(&store, &m);
        }
        prop_assert_eq!(store.head().expect("head"), Some(m.blocks.len() as u64));
    }
}
