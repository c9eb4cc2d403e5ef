//! History on the real binary: an account's and a machine's transactions, newest first, paged
//! with a cursor over many blocks, failures included, and a block with its receipts.

use machina_bank::BankAction;
use machina_identity::{
    device_pop_message, IdentityAction, MachineKind, MachineMetadata, MachineRegistration,
};
use machina_primitives::{Amount, Keypair, DEV_CHAIN_ID};
use machina_stf::{Action, Transaction, TxBody};
use serde_json::Value;
use std::collections::BTreeSet;

mod common;
use common::{advance, free_port, get_json, start_dev, submit};

fn tx(from: &Keypair, nonce: u64, actions: Vec<Action>) -> Transaction {
    TxBody {
        chain_id: DEV_CHAIN_ID,
        sender: from.address(),
        nonce,
        fee: machina_stf::params::DEFAULT_MIN_FEE,
        expiry_height: 10_000,
        fee_payer: None,
        actions,
    }
    .sign(&[from])
}

/// Every page of `path`'s history, `limit` at a time, following `next`.
fn all_pages(url: &str, path: &str, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let q = match &before {
            Some(b) => format!("{url}{path}?limit={limit}&before={b}"),
            None => format!("{url}{path}?limit={limit}"),
        };
        let page = get_json(&q);
        let txs = page["txs"].as_array().expect("txs").clone();
        assert!(txs.len() <= limit);
        out.extend(txs);
        match page["next"].as_str() {
            Some(n) => before = Some(n.to_owned()),
            None => return out,
        }
    }
}

#[test]
fn an_accounts_history_pages_newest_first_over_many_blocks() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = start_dev(&tmp.path().join("data"), free_port(), &["--sim-clock"]);
    let url = node.url.as_str();
    let (alice, carol) = (Keypair::dev("alice"), Keypair::from_seed([42; 32]));
    let device = Keypair::from_seed([43; 32]);
    let mut nonce = 0;
    let mut sent = Vec::new();
    // 30 blocks of 2 transfers to carol; a failing one (more than alice has) in block 10.
    for b in 1..=30u64 {
        for k in 0..2u128 {
            let amount = if b == 10 && k == 1 {
                u128::MAX / 2
            } else {
                1_000 + k
            };
            let t = tx(
                &alice,
                nonce,
                vec![BankAction::Transfer {
                    to: carol.address(),
                    amount: Amount(amount),
                }
                .into()],
            );
            nonce += 1;
            submit(url, &t);
            sent.push(t.hash().to_string());
        }
        advance(url, b * 1_000);
    }
    // alice registers a machine; its id names it in the machine's history.
    let reg = MachineRegistration {
        device_key: device.public(),
        device_signature: device.sign(&device_pop_message(DEV_CHAIN_ID, &alice.address())),
        kind: MachineKind::Solar,
        rated_power_w: 4_000,
        capacity_wh: None,
        zone: None,
        metadata: MachineMetadata::default(),
        attestation: None,
    };
    let r = tx(
        &alice,
        nonce,
        vec![IdentityAction::RegisterMachine(Box::new(reg)).into()],
    );
    submit(url, &r);
    advance(url, 31_000);

    let history = all_pages(url, &format!("/v1/account/{}/txs", alice.address()), 7);
    let hashes: Vec<&str> = history
        .iter()
        .filter_map(|t| t["tx_hash"].as_str())
        .collect();
    let mut want: Vec<String> = sent.clone();
    want.push(r.hash().to_string());
    want.reverse();
    assert_eq!(
        hashes, want,
        "every transaction once, newest first, across pages"
    );
    let failed: Vec<&Value> = history.iter().filter(|t| t["success"] == false).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["code"], "insufficient_funds");
    assert_eq!(failed[0]["height"], 10);
    // carol is named by the transfers' events: she received the 59 that succeeded (the
    // failed one moved nothing and named her in no event).
    let carol_txs = all_pages(url, &format!("/v1/account/{}/txs", carol.address()), 200);
    assert_eq!(carol_txs.len(), 59);
    let unique: BTreeSet<&str> = carol_txs
        .iter()
        .filter_map(|t| t["tx_hash"].as_str())
        .collect();
    assert_eq!(unique.len(), 59);

    let machine = get_json(&format!("{url}/v1/machines?owner={}", alice.address()));
    let id = machine["machines"][0]["machine_id"].as_u64().expect("id");
    let m = get_json(&format!("{url}/v1/machine/{id}/txs"));
    assert_eq!(m["txs"][0]["tx_hash"], r.hash().to_string());
    assert_eq!(m["txs"][0]["actions"][0], "register_machine");

    // A block with its receipts, in order.
    let b = get_json(&format!("{url}/v1/block/10?receipts=true"));
    let receipts = b["receipts"].as_array().expect("receipts");
    assert_eq!(receipts.len(), 2);
    assert_eq!(receipts[0]["tx_hash"], b["txs"][0]);
    assert_eq!(receipts[1]["receipt"]["success"], false);
    assert!(get_json(&format!("{url}/v1/block/10"))["receipts"].is_null());
}
