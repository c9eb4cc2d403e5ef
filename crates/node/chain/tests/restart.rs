//! A restart executes the blocks after the store's last flush again to rebuild the state:
//! transfers, a dev chain's set-balance block (whose writes do not follow from its
//! transactions) and more transfers after it all come back, with the same state root.

use machina_bank::BankAction;
use machina_chain::Chain;
use machina_primitives::{Amount, Keypair, DEV_CHAIN_ID};
use machina_state::AuthenticatedState;
use machina_stf::{Genesis, TxBody};

fn transfer(from: &Keypair, nonce: u64, amount: u128) -> machina_stf::Transaction {
    TxBody {
        chain_id: DEV_CHAIN_ID,
        sender: from.address(),
        nonce,
        fee: Amount(1_000),
        expiry_height: 1_000,
        fee_payer: None,
        actions: vec![BankAction::Transfer {
            to: Keypair::dev("bob").address(),
            amount: Amount(amount),
        }
        .into()],
    }
    .sign(&[from])
}

#[test]
fn the_state_after_a_restart_is_the_state_before_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let alice = Keypair::dev("alice");
    // The dev genesis funds alice.
    let genesis = Genesis::dev(DEV_CHAIN_ID, 0, Vec::new());
    let carol = Keypair::dev("carol").address();
    let (root, height, bob) = {
        let chain = Chain::open(tmp.path(), &genesis).expect("open");
        let mut nonce = 0;
        for round in 0..6u64 {
            let txs: Vec<_> = (0..3)
                .map(|i| transfer(&alice, nonce + i, 10 + u128::from(round)))
                .collect();
            nonce += 3;
            assert!(chain.submit(txs).iter().all(Result::is_ok));
            chain.produce_block(round + 1);
            if round == 2 {
                chain
                    .dev_set_balance(&carol, Amount(4_242))
                    .expect("set balance");
            }
        }
        let c = chain.committed();
        let bob = machina_bank::account(&c.state, &Keypair::dev("bob").address()).balance;
        // Nothing forced a flush after the set-balance block: the blocks after it must be
        // executed again on restart.
        assert!(chain.store().flushed() < c.head.height);
        (c.state.root(), c.head.height, bob)
    };
    let chain = Chain::open(tmp.path(), &genesis).expect("reopen");
    let c = chain.committed();
    assert_eq!((c.head.height, c.state.root()), (height, root));
    assert_eq!(
        machina_bank::account(&c.state, &carol).balance,
        Amount(4_242)
    );
    assert_eq!(
        machina_bank::account(&c.state, &Keypair::dev("bob").address()).balance,
        bob
    );
    assert_eq!(
        chain.store().state_entries().expect("entries").len(),
        c.state.len()
    );
}
