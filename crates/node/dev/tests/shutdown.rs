//! The in-process dev node commits every block it built before `shutdown` returns (the
//! producer builds a block while the previous one is committed on another thread), and the
//! data dir reopens at the same head and state.

use machina_bank::BankAction;
use machina_chain::Chain;
use machina_primitives::{Amount, Keypair, DEV_CHAIN_ID};
use machina_state::AuthenticatedState;
use machina_stf::{Genesis, TxBody};
use std::time::{Duration, Instant};

#[test]
fn shutdown_commits_what_was_built_and_the_chain_reopens_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let node = rt
        .block_on(machina_node::start(machina_node::DevConfig {
            data_dir: dir.path().to_owned(),
            http: "127.0.0.1:0".parse().expect("addr"),
            block_time: Duration::from_millis(5),
            idle_block: None,
            sim_clock: false,
            extra_genesis: Vec::new(),
            chain_id: DEV_CHAIN_ID,
            load_state: None,
            genesis: None,
            http_limits: Default::default(),
            eth_rpc: None,
        }))
        .expect("dev node starts");
    let alice = Keypair::dev("alice");
    let bob = Keypair::dev("bob").address();
    // Several submissions, so that blocks are built while earlier ones commit.
    for round in 0..20u64 {
        let txs = (0..50)
            .map(|i| {
                TxBody {
                    chain_id: DEV_CHAIN_ID,
                    sender: alice.address(),
                    nonce: round * 50 + i,
                    fee: Amount(1_000),
                    expiry_height: 100_000,
                    fee_payer: None,
                    actions: vec![BankAction::Transfer {
                        to: bob,
                        amount: Amount(1),
                    }
                    .into()],
                }
                .sign(&[&alice])
            })
            .collect();
        assert!(node.chain.submit(txs).iter().all(Result::is_ok));
        std::thread::sleep(Duration::from_millis(3));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while node.chain.metrics.txs_committed() < 1_000 {
        assert!(
            Instant::now() < deadline,
            "the transfers were not committed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let chain = node.chain.clone();
    // Shutdown must return: the committer stops once the producer stops handing it blocks.
    let (done, stopped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        rt.block_on(node.shutdown());
        let _ = done.send(());
    });
    stopped
        .recv_timeout(Duration::from_secs(60))
        .expect("shutdown returned");
    let before = chain.committed();
    drop(chain);
    let reopened = Chain::open(dir.path(), &Genesis::dev(DEV_CHAIN_ID, 0, Vec::new()))
        .expect("the data dir reopens");
    let after = reopened.committed();
    assert_eq!(after.head, before.head);
    assert_eq!(after.state.root(), before.state.root());
    assert_eq!(
        machina_bank::account(&after.state, &bob).balance,
        machina_bank::account(&before.state, &bob).balance
    );
    assert_eq!(
        machina_bank::account(&after.state, &alice.address()).nonce,
        1_000
    );
}
