//! Integration tests on the real `machina` binary: a dev node on a free port with a temporary
//! data dir, driven through the CLI and the HTTP API, killed with SIGKILL and restarted.

use machina_bank::BankAction;
use machina_primitives::codec::put_vec;
use machina_primitives::{Address, Amount, Encode, Keypair, DEV_CHAIN_ID};
use machina_stf::TxBody;
use serde_json::Value;

mod common;
use common::devcli::{cli, cli_json, env, get, post, start};
use common::free_port;

#[test]
fn a_transfer_survives_kill_9_and_restart() {
    let e = env();
    let port = free_port();
    let node = start(&e.data, port);
    let carol = cli_json(&e.keys, &["keys", "new", "carol", "--json"]);
    let carol_addr = carol["address"].as_str().expect("address").to_owned();
    let rec = cli_json(
        &e.keys,
        &[
            "tx",
            "transfer",
            "--from",
            "alice",
            "--to",
            &carol_addr,
            "--amount",
            "1234",
            "--node",
            &node.url,
            "--json",
        ],
    );
    assert_eq!(rec["status"], "committed");
    assert_eq!(rec["receipt"]["success"], true);
    let hash = rec["tx_hash"].as_str().expect("tx_hash").to_owned();
    let acct = cli_json(
        &e.keys,
        &[
            "query",
            "account",
            &carol_addr,
            "--node",
            &node.url,
            "--json",
        ],
    );
    assert_eq!(acct["balance"], "1234");
    assert_eq!(acct["nonce"], 0);
    let block = cli_json(
        &e.keys,
        &["query", "block", "latest", "--node", &node.url, "--json"],
    );
    let height = block["height"].as_u64().expect("height");
    assert!(height >= 1);
    for key in ["hash", "state_root", "tx_count", "timestamp_ms"] {
        assert!(!block[key].is_null(), "block lacks {key}");
    }

    drop(node); // SIGKILL: no chance to flush anything
    let node = start(&e.data, port);
    let health = get(&format!("{}/v1/health", node.url));
    // Idle blocks may have followed; the block seen before the kill is there unchanged.
    assert!(health["height"].as_u64() >= Some(height));
    let again = get(&format!("{}/v1/block/{height}", node.url));
    assert_eq!(
        (&again["hash"], &again["state_root"]),
        (&block["hash"], &block["state_root"])
    );
    let acct = cli_json(
        &e.keys,
        &["query", "account", "carol", "--node", &node.url, "--json"],
    );
    assert_eq!(acct["balance"], "1234");
    let tx = cli_json(
        &e.keys,
        &["query", "tx", &hash, "--node", &node.url, "--json"],
    );
    assert_eq!(tx["status"], "committed");
}

#[test]
fn a_rejected_transfer_exits_non_zero_with_its_code() {
    let e = env();
    let node = start(&e.data, free_port());
    cli_json(&e.keys, &["keys", "new", "poor", "--json"]);
    cli_json(
        &e.keys,
        &[
            "tx", "transfer", "--from", "alice", "--to", "poor", "--amount", "5000", "--node",
            &node.url, "--json",
        ],
    );
    // poor can pay the fee (1000) but not 5000 more on top.
    let out = cli(
        &e.keys,
        &[
            "tx", "transfer", "--from", "poor", "--to", "alice", "--amount", "5000", "--node",
            &node.url,
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("insufficient_funds"), "{stderr}");
    assert!(stderr.contains("has 4000 micro, needs 5000"), "{stderr}");
    // A key with nothing cannot even pay the fee: refused at the door.
    cli_json(&e.keys, &["keys", "new", "broke", "--json"]);
    let out = cli(
        &e.keys,
        &[
            "tx", "transfer", "--from", "broke", "--to", "alice", "--amount", "1", "--node",
            &node.url, "--json",
        ],
    );
    assert!(!out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON error");
    assert_eq!(v["code"], "insufficient_funds");
}

fn transfer(k: &Keypair, nonce: u64, chain_id: u64, expiry: u64) -> TxBody {
    TxBody {
        chain_id,
        sender: k.address(),
        nonce,
        fee: Amount(1000),
        expiry_height: expiry,
        fee_payer: None,
        actions: vec![BankAction::Transfer {
            to: Address([7; 20]),
            amount: Amount(1),
        }
        .into()],
    }
}

#[test]
fn the_api_rejects_each_bad_transaction_with_its_code() {
    let e = env();
    let node = start(&e.data, free_port());
    let url = format!("{}/v1/tx", node.url);
    let bin = "application/octet-stream";
    let bob = Keypair::dev("bob");
    let code = |body: &[u8]| post(&url, bin, body);

    let (s, v) = code(b"\x01\x02garbage");
    assert_eq!((s, v["code"].as_str()), (400, Some("malformed")));
    let (s, v) = code(&vec![0u8; machina_primitives::limits::MAX_TX_BYTES + 1]);
    assert_eq!((s, v["code"].as_str()), (413, Some("oversize")));
    let (s, v) = code(
        &transfer(&bob, 0, DEV_CHAIN_ID + 1, 100)
            .sign(&[&bob])
            .encode(),
    );
    assert_eq!((s, v["code"].as_str()), (400, Some("wrong_chain")));
    let mut bad = transfer(&bob, 0, DEV_CHAIN_ID, 100).sign(&[&bob]);
    bad.body.nonce = 1;
    let (s, v) = code(&bad.encode());
    assert_eq!((s, v["code"].as_str()), (400, Some("bad_signature")));
    let mut cheap = transfer(&bob, 0, DEV_CHAIN_ID, 100);
    cheap.fee = Amount(1);
    let (s, v) = code(&cheap.sign(&[&bob]).encode());
    assert_eq!((s, v["code"].as_str()), (400, Some("fee_too_low")));
    let (s, v) = code(
        &transfer(&bob, 5000, DEV_CHAIN_ID, 100)
            .sign(&[&bob])
            .encode(),
    );
    assert_eq!((s, v["code"].as_str()), (400, Some("nonce_too_far_ahead")));
    // What needs no state is refused at admission, no fee charged, naming the module.
    let mut zero = transfer(&bob, 0, DEV_CHAIN_ID, 100);
    zero.actions = vec![BankAction::Transfer {
        to: Address([7; 20]),
        amount: Amount(0),
    }
    .into()];
    let (s, v) = code(&zero.sign(&[&bob]).encode());
    assert_eq!(
        (s, v["code"].as_str(), v["module"].as_str()),
        (400, Some("zero_amount"), Some("bank")),
        "{v}"
    );

    let ok = transfer(&bob, 0, DEV_CHAIN_ID, 100).sign(&[&bob]);
    let (s, v) = code(&ok.encode());
    assert_eq!(s, 200, "{v}");
    let hash = v["tx_hash"].as_str().expect("tx_hash").to_owned();
    let rec = get(&format!("{}/v1/tx/{hash}?wait_ms=10000", node.url));
    assert_eq!(rec["status"], "committed");
    let (s, v) = code(&ok.encode());
    assert_eq!((s, v["code"].as_str()), (409, Some("nonce_too_low")));
    let (s, v) = code(&transfer(&bob, 1, DEV_CHAIN_ID, 0).sign(&[&bob]).encode());
    assert_eq!((s, v["code"].as_str()), (400, Some("expired")));

    // JSON submission goes through the same checks.
    let (s, v) = post(
        &url,
        "application/json",
        &serde_json::to_vec(&ok).expect("json"),
    );
    assert_eq!((s, v["code"].as_str()), (409, Some("nonce_too_low")));
    let (s, v) = post(&url, "application/json", b"{\"body\": 1}");
    assert_eq!((s, v["code"].as_str()), (400, Some("malformed")));

    let metrics = ureq::get(&format!("{}/metrics", node.url))
        .call()
        .expect("metrics")
        .into_string()
        .expect("text");
    for m in [
        "machina_height",
        "machina_txs_committed_total",
        "machina_mempool_size",
        "machina_block_execution_seconds_sum",
    ] {
        assert!(metrics.contains(m), "metrics lack {m}");
    }
    let openapi = get(&format!("{}/v1/openapi.json", node.url));
    assert!(openapi["paths"]["/v1/txs"].is_object());
}

#[test]
fn every_receipt_a_client_saw_survives_a_kill_during_a_burst() {
    let e = env();
    let port = free_port();
    let node = start(&e.data, port);
    let keys: Vec<Keypair> = ["alice", "bob", "charlie", "dave"]
        .iter()
        .map(|n| Keypair::dev(n))
        .collect();
    let txs: Vec<_> = (0..400u64)
        .map(|i| {
            let k = &keys[(i % 4) as usize];
            transfer(k, i / 4, DEV_CHAIN_ID, 10_000).sign(&[k])
        })
        .collect();
    let mut batch = Vec::new();
    put_vec(&mut batch, &txs);
    let (s, v) = post(
        &format!("{}/v1/txs", node.url),
        "application/octet-stream",
        &batch,
    );
    assert_eq!((s, v["accepted"].as_u64()), (200, Some(400)), "{v}");
    // Read receipts until some are committed, then kill at once, mid-stream.
    let mut seen = Vec::new();
    for tx in &txs {
        let r = get(&format!("{}/v1/tx/{}", node.url, tx.hash()));
        if r["status"] == "committed" {
            seen.push(tx.hash());
        }
    }
    let first = txs[0].hash();
    let r = get(&format!("{}/v1/tx/{first}?wait_ms=10000", node.url));
    assert_eq!(r["status"], "committed");
    seen.push(first);
    drop(node);
    let node = start(&e.data, port);
    for h in seen {
        let r = get(&format!("{}/v1/tx/{h}", node.url));
        assert_eq!(r["status"], "committed", "receipt of {h} was lost");
    }
    let batch_json = serde_json::to_vec(&txs[..2]).expect("json");
    let (s, v) = post(
        &format!("{}/v1/txs", node.url),
        "application/json",
        &batch_json,
    );
    assert_eq!(s, 200);
    assert_eq!(v["results"][0]["code"], "nonce_too_low");
}
