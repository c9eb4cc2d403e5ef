//! Integration tests on the real `machina` binary: a dev node on a free port with a temporary
//! data dir, driven through the CLI and the HTTP API, killed with SIGKILL and restarted.

use machina_bank::BankAction;
use machina_oracle::MeterReading;
use machina_primitives::codec::put_vec;
use machina_primitives::{Address, Amount, Encode, Keypair, DEV_CHAIN_ID};
use machina_stf::TxBody;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{free_port, start_dev, Proc as Node, BIN};

fn cli(keystore: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("MACHINA_KEYSTORE", keystore)
        .output()
        .expect("run machina")
}

fn cli_json(keystore: &Path, args: &[&str]) -> Value {
    let out = cli(keystore, args);
    assert!(
        out.status.success(),
        "machina {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

fn get(url: &str) -> Value {
    ureq::get(url)
        .call()
        .expect("GET")
        .into_json()
        .expect("JSON")
}

/// POSTs bytes and returns the status and the JSON body, error or not.
fn post(url: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    match ureq::post(url)
        .set("Content-Type", content_type)
        .send_bytes(body)
    {
        Ok(r) => (r.status(), r.into_json().expect("JSON")),
        Err(ureq::Error::Status(s, r)) => (s, r.into_json().expect("JSON error")),
        Err(e) => panic!("POST {url}: {e}"),
    }
}

struct Env {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    keys: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().expect("tempdir");
    Env {
        data: tmp.path().join("data"),
        keys: tmp.path().join("keys.json"),
        _tmp: tmp,
    }
}

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

#[test]
fn machines_and_their_wallets_work_through_the_cli() {
    let e = env();
    let node = start(&e.data, free_port());
    let n = node.url.as_str();
    for k in ["owner", "dev1", "dev2", "sess"] {
        cli_json(&e.keys, &["keys", "new", k, "--json"]);
    }
    cli_json(
        &e.keys,
        &[
            "tx", "transfer", "--from", "alice", "--to", "owner", "--amount", "50000000", "--node",
            n, "--json",
        ],
    );
    // A machine's zone must exist: refused before anything is signed or paid.
    let register_in_zone = [
        "tx",
        "machine",
        "register",
        "--from",
        "owner",
        "--device",
        "dev1",
        "--kind",
        "solar",
        "--rated-power-w",
        "4200",
        "--zone",
        "zone-a",
        "--node",
        n,
    ];
    let out = cli(&e.keys, &register_in_zone);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist"), "{err}");
    let owner = cli_json(&e.keys, &["keys", "show", "owner", "--json"]);
    let owner_addr = owner["address"].as_str().expect("address");
    let acct = get(&format!("{n}/v1/account/{owner_addr}"));
    assert_eq!(acct["nonce"], 0, "the owner sent nothing: {acct}");
    cli_json(
        &e.keys,
        &[
            "tx",
            "energy",
            "create-zone",
            "--from",
            "alice",
            "--name",
            "zone-a",
            "--retail-price",
            "300000",
            "--feed-in-price",
            "80000",
            "--import-limit-w",
            "100000",
            "--export-limit-w",
            "100000",
            "--node",
            n,
            "--json",
        ],
    );
    let reg = cli_json(
        &e.keys,
        &[
            "tx",
            "machine",
            "register",
            "--from",
            "owner",
            "--device",
            "dev1",
            "--kind",
            "solar",
            "--rated-power-w",
            "4200",
            "--zone",
            "zone-a",
            "--serial",
            "SN-1",
            "--node",
            n,
            "--json",
        ],
    );
    let id = reg["machine_id"].as_u64().expect("machine_id").to_string();
    let m = cli_json(&e.keys, &["query", "machine", &id, "--node", n, "--json"]);
    assert_eq!(m["kind"], "solar");
    assert_eq!(m["status"], "active");
    assert_eq!(m["zone"], "zone-a");
    assert_eq!(m["reputation"]["policy_breaches"], 0);
    let owner = cli_json(&e.keys, &["keys", "show", "owner", "--json"]);
    assert_eq!(m["owner"], owner["address"]);
    let addr = m["address"].as_str().expect("address").to_owned();

    cli_json(
        &e.keys,
        &[
            "tx", "transfer", "--from", "alice", "--to", &addr, "--amount", "100000", "--node", n,
            "--json",
        ],
    );
    cli_json(
        &e.keys,
        &[
            "tx",
            "wallet",
            "set-policy",
            "--from",
            "owner",
            "--machine",
            &id,
            "--max-per-tx",
            "5000",
            "--max-per-window",
            "20000",
            "--window-blocks",
            "100",
            "--allow",
            "bob",
            "--node",
            n,
            "--json",
        ],
    );
    let ok = cli_json(
        &e.keys,
        &[
            "tx",
            "transfer",
            "--from",
            "dev1",
            "--machine",
            &id,
            "--to",
            "bob",
            "--amount",
            "4000",
            "--node",
            n,
            "--json",
        ],
    );
    assert_eq!(ok["receipt"]["success"], true);
    let out = cli(
        &e.keys,
        &[
            "tx",
            "transfer",
            "--from",
            "dev1",
            "--machine",
            &id,
            "--to",
            "bob",
            "--amount",
            "6000",
            "--node",
            n,
            // Sent anyway, so that the breach is on chain and counted.
            "--no-preflight",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("per_tx_cap_exceeded"));
    let out = cli(
        &e.keys,
        &[
            "tx",
            "transfer",
            "--from",
            "dev1",
            "--machine",
            &id,
            "--to",
            "charlie",
            "--amount",
            "1",
            "--node",
            n,
            // Sent anyway, so that the breach is on chain and counted.
            "--no-preflight",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_allowlisted"));
    let w = cli_json(&e.keys, &["query", "wallet", &id, "--node", n, "--json"]);
    assert_eq!(w["policy"]["max_per_tx"], "5000");
    assert_eq!(w["policy_breaches"], 2);

    cli_json(
        &e.keys,
        &[
            "tx",
            "wallet",
            "freeze",
            "--from",
            "owner",
            "--machine",
            &id,
            "--node",
            n,
            "--json",
        ],
    );
    let out = cli(
        &e.keys,
        &[
            "tx",
            "transfer",
            "--from",
            "dev1",
            "--machine",
            &id,
            "--to",
            "bob",
            "--amount",
            "1",
            "--node",
            n,
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("wallet_frozen"));
    cli_json(
        &e.keys,
        &[
            "tx",
            "wallet",
            "unfreeze",
            "--from",
            "owner",
            "--machine",
            &id,
            "--node",
            n,
            "--json",
        ],
    );

    cli_json(
        &e.keys,
        &[
            "tx",
            "machine",
            "rotate-key",
            "--from",
            "owner",
            "--machine",
            &id,
            "--new-device",
            "dev2",
            "--node",
            n,
            "--json",
        ],
    );
    let out = cli(
        &e.keys,
        &[
            "tx",
            "transfer",
            "--from",
            "dev1",
            "--machine",
            &id,
            "--to",
            "bob",
            "--amount",
            "1",
            "--node",
            n,
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("unauthorized"));
    cli_json(
        &e.keys,
        &[
            "tx",
            "transfer",
            "--from",
            "dev2",
            "--machine",
            &id,
            "--to",
            "bob",
            "--amount",
            "1",
            "--node",
            n,
            "--json",
        ],
    );

    cli_json(
        &e.keys,
        &[
            "tx",
            "wallet",
            "sweep",
            "--from",
            "owner",
            "--machine",
            &id,
            "--node",
            n,
            "--json",
        ],
    );
    let acct = cli_json(&e.keys, &["query", "account", &addr, "--node", n, "--json"]);
    assert_eq!(acct["balance"], "0");
    cli_json(
        &e.keys,
        &[
            "tx",
            "sponsor",
            "grant",
            "--from",
            "charlie",
            "--grantee",
            &addr,
            "--cap",
            "10000",
            "--expiry-height",
            "100000",
            "--node",
            n,
            "--json",
        ],
    );
    cli_json(
        &e.keys,
        &[
            "tx", "transfer", "--from", "alice", "--to", &addr, "--amount", "10", "--node", n,
            "--json",
        ],
    );
    let sponsored = cli_json(
        &e.keys,
        &[
            "tx",
            "transfer",
            "--from",
            "dev2",
            "--machine",
            &id,
            "--to",
            "bob",
            "--amount",
            "10",
            "--fee-payer",
            "charlie",
            "--node",
            n,
            "--json",
        ],
    );
    assert_eq!(sponsored["receipt"]["success"], true);

    cli_json(
        &e.keys,
        &[
            "tx",
            "machine",
            "transfer-owner",
            "--from",
            "owner",
            "--machine",
            &id,
            "--to",
            "dave",
            "--node",
            n,
            "--json",
        ],
    );
    let list = cli_json(
        &e.keys,
        &[
            "query", "machines", "--owner", "dave", "--node", n, "--json",
        ],
    );
    assert_eq!(list["total"], 1);
    let out = cli(
        &e.keys,
        &[
            "tx",
            "machine",
            "revoke",
            "--from",
            "owner",
            "--machine",
            &id,
            "--node",
            n,
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_owner"));
    cli_json(
        &e.keys,
        &[
            "tx",
            "machine",
            "revoke",
            "--from",
            "dave",
            "--machine",
            &id,
            "--node",
            n,
            "--json",
        ],
    );
    let m = cli_json(&e.keys, &["query", "machine", &id, "--node", n, "--json"]);
    assert_eq!(m["status"], "revoked");
    // The frozen attempt was refused before inclusion (a frozen wallet cannot even pay a fee),
    // so only the two included breaches count.
    assert_eq!(m["reputation"]["policy_breaches"], 2);
}

#[test]
fn meter_readings_feeds_and_the_gateway_work_through_the_cli() {
    let e = env();
    let node = start(&e.data, free_port());
    let n = node.url.as_str();
    for k in ["owner", "meter", "gw", "r1", "r2", "r3"] {
        cli_json(&e.keys, &["keys", "new", k, "--json"]);
    }
    cli_json(
        &e.keys,
        &[
            "tx", "transfer", "--from", "alice", "--to", "owner", "--amount", "50000000", "--node",
            n, "--json",
        ],
    );
    let reg = cli_json(
        &e.keys,
        &[
            "tx",
            "machine",
            "register",
            "--from",
            "owner",
            "--device",
            "meter",
            "--kind",
            "meter",
            "--rated-power-w",
            "10000",
            "--node",
            n,
            "--json",
        ],
    );
    let id = reg["machine_id"].as_u64().expect("id").to_string();
    let addr = reg["address"].as_str().expect("address").to_owned();
    cli_json(
        &e.keys,
        &[
            "tx", "transfer", "--from", "alice", "--to", &addr, "--amount", "1000000", "--node", n,
            "--json",
        ],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_millis() as u64;
    let t1 = (now - 120_000).to_string();
    let t2 = (now - 60_000).to_string();
    cli_json(
        &e.keys,
        &[
            "tx",
            "meter",
            "reading",
            "--from",
            "meter",
            "--machine",
            &id,
            "--seq",
            "1",
            "--import-wh",
            "1000",
            "--export-wh",
            "0",
            "--timestamp-ms",
            &t1,
            "--node",
            n,
            "--json",
        ],
    );
    cli_json(
        &e.keys,
        &[
            "tx",
            "meter",
            "reading",
            "--from",
            "meter",
            "--machine",
            &id,
            "--seq",
            "2",
            "--import-wh",
            "1100",
            "--export-wh",
            "0",
            "--timestamp-ms",
            &t2,
            "--node",
            n,
            "--json",
        ],
    );
    let m = cli_json(&e.keys, &["query", "meter", &id, "--node", n, "--json"]);
    assert_eq!(
        (
            m["seq"].as_u64(),
            m["import_wh"].as_u64(),
            m["export_wh"].as_u64()
        ),
        (Some(2), Some(1100), Some(0))
    );
    assert_eq!(m["timestamp_ms"].as_u64(), Some(now - 60_000));
    let mid = (now - 90_000).to_string();
    let span = cli_json(
        &e.keys,
        &[
            "query",
            "meter",
            &id,
            "--from-ms",
            &mid,
            "--to-ms",
            &t2,
            "--node",
            n,
            "--json",
        ],
    );
    assert_eq!(span["import_wh"], 50);
    // A regression is refused with its code and counted against the machine.
    let out = cli(
        &e.keys,
        &[
            "tx",
            "meter",
            "reading",
            "--from",
            "meter",
            "--machine",
            &id,
            "--seq",
            "3",
            "--import-wh",
            "900",
            "--export-wh",
            "0",
            "--node",
            n,
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("counter_regression"));
    let machine = cli_json(&e.keys, &["query", "machine", &id, "--node", n, "--json"]);
    assert_eq!(machine["reputation"]["readings_rejected"], 1);

    // A feed with three reporters.
    for r in ["r1", "r2", "r3"] {
        cli_json(
            &e.keys,
            &[
                "tx", "transfer", "--from", "alice", "--to", r, "--amount", "10000000", "--node",
                n, "--json",
            ],
        );
    }
    cli_json(
        &e.keys,
        &[
            "tx",
            "feed",
            "create",
            "--from",
            "alice",
            "--name",
            "grid.retail_price.zone-a",
            "--reporter",
            "r1",
            "--reporter",
            "r2",
            "--reporter",
            "r3",
            "--bond",
            "1000000",
            "--quorum",
            "2",
            "--node",
            n,
            "--json",
        ],
    );
    for (r, v) in [("r1", "300000"), ("r2", "310000")] {
        cli_json(
            &e.keys,
            &[
                "tx",
                "stake",
                "bond",
                "--from",
                r,
                "--role",
                "reporter",
                "--subject",
                "grid.retail_price.zone-a",
                "--amount",
                "1000000",
                "--node",
                n,
                "--json",
            ],
        );
        cli_json(
            &e.keys,
            &[
                "tx",
                "feed",
                "report",
                "--from",
                r,
                "--name",
                "grid.retail_price.zone-a",
                "--value",
                v,
                "--node",
                n,
                "--json",
            ],
        );
    }
    let f = cli_json(
        &e.keys,
        &[
            "query",
            "feed",
            "grid.retail_price.zone-a",
            "--node",
            n,
            "--json",
        ],
    );
    assert_eq!(f["value"], 300000);
    assert_eq!(f["stale"], false);

    // The gateway batches readings posted by devices.
    cli_json(
        &e.keys,
        &[
            "tx", "transfer", "--from", "alice", "--to", "gw", "--amount", "10000000", "--node", n,
            "--json",
        ],
    );
    let port = free_port();
    let mut gw = Command::new(BIN)
        .args([
            "gateway",
            "--node",
            n,
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--from",
            "gw",
            "--batch-ms",
            "50",
        ])
        .env("MACHINA_KEYSTORE", &e.keys)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gateway");
    let gw_url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("{gw_url}/v1/health")).call().is_err() {
        assert!(Instant::now() < deadline, "gateway did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ks =
        serde_json::from_slice::<Value>(&std::fs::read(&e.keys).expect("keystore")).expect("json");
    let seed_hex = ks["keys"]["meter"].as_str().expect("meter key");
    let mut seed = [0u8; 32];
    hex::decode_to_slice(seed_hex, &mut seed).expect("hex");
    let device = Keypair::from_seed(seed);
    let machine_id: u64 = id.parse().expect("id");
    let readings: Vec<_> = (0..3u64)
        .map(|i| {
            MeterReading {
                machine_id,
                channel: 0,
                seq: 10 + i,
                timestamp_ms: now - 30_000 + i * 10_000,
                import_wh: 1101 + i * 2,
                export_wh: 0,
            }
            .sign(DEV_CHAIN_ID, &device)
        })
        .collect();
    let body = serde_json::to_vec(&readings).expect("json");
    // Posted twice: the second copy is stale and changes nothing.
    for _ in 0..2 {
        let (s, v) = post(&format!("{gw_url}/v1/readings"), "application/json", &body);
        assert_eq!((s, v["queued"].as_u64()), (200, Some(3)));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let h = get(&format!("{gw_url}/v1/health"));
        if h["submitted"].as_u64() == Some(6) {
            assert_eq!(h["accepted"], 3);
            assert_eq!(h["rejected"], 3);
            break;
        }
        assert!(Instant::now() < deadline, "gateway did not submit: {h}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The same figures at the gateway's /metrics.
    let metrics = ureq::get(&format!("{gw_url}/metrics"))
        .call()
        .expect("gateway metrics")
        .into_string()
        .expect("text");
    for line in [
        "machina_gateway_accepted_readings_total 3",
        "machina_gateway_rejected_readings_total 3",
        "machina_gateway_submitted_readings_total 6",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing: {metrics}"
        );
    }
    let _ = gw.kill();
    let _ = gw.wait();
    let m = cli_json(&e.keys, &["query", "meter", &id, "--node", n, "--json"]);
    assert_eq!(
        (m["seq"].as_u64(), m["import_wh"].as_u64()),
        (Some(12), Some(1105))
    );
    let machine = cli_json(&e.keys, &["query", "machine", &id, "--node", n, "--json"]);
    assert_eq!(
        machine["reputation"]["readings_rejected"], 1,
        "replays are not held against the device"
    );
}

fn balance(keys: &Path, node: &str, who: &str) -> i128 {
    let v = cli_json(keys, &["query", "account", who, "--node", node, "--json"]);
    v["balance"]
        .as_str()
        .expect("balance")
        .parse()
        .expect("number")
}

#[test]
fn two_zones_clear_and_settle_against_readings_by_themselves() {
    let e = env();
    let node = start(&e.data, free_port());
    let n = node.url.as_str();
    let (interval, gate) = (4_000u64, 1_000u64);
    for zone in ["zone-a", "zone-b"] {
        cli_json(
            &e.keys,
            &[
                "tx",
                "energy",
                "create-zone",
                "--from",
                "alice",
                "--name",
                zone,
                "--interval-ms",
                &interval.to_string(),
                "--gate-closure-ms",
                &gate.to_string(),
                "--retail-price",
                "300000",
                "--feed-in-price",
                "80000",
                "--market-fee-bps",
                "100",
                "--import-limit-w",
                "100000000",
                "--export-limit-w",
                "100000000",
                "--settlement-deadline-ms",
                "3000",
                "--grid-float",
                "100000000",
                "--node",
                n,
                "--json",
            ],
        );
    }
    // (name, zone, side, price, metered import, metered export)
    let plan = [
        ("a-seller", "zone-a", "ask", 100_000u64, 0u64, 1_000u64),
        ("a-buyer", "zone-a", "bid", 200_000, 600, 0),
        ("b-seller", "zone-b", "ask", 100_000, 0, 500),
        ("b-buyer", "zone-b", "bid", 200_000, 1_000, 0),
    ];
    let mut machines = Vec::new();
    for (name, zone, ..) in plan {
        cli_json(&e.keys, &["keys", "new", name, "--json"]);
        let reg = cli_json(
            &e.keys,
            &[
                "tx",
                "machine",
                "register",
                "--from",
                "alice",
                "--device",
                name,
                "--kind",
                "solar",
                "--rated-power-w",
                "2000000",
                "--zone",
                zone,
                "--node",
                n,
                "--json",
            ],
        );
        let id = reg["machine_id"].as_u64().expect("id").to_string();
        let addr = reg["address"].as_str().expect("address").to_owned();
        cli_json(
            &e.keys,
            &[
                "tx", "transfer", "--from", "alice", "--to", &addr, "--amount", "1000000",
                "--node", n, "--json",
            ],
        );
        machines.push((id, addr));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_millis() as u64;
    let start = (now + gate + 3_000).div_ceil(interval) * interval;
    let before: Vec<i128> = machines
        .iter()
        .map(|(_, a)| balance(&e.keys, n, a))
        .collect();
    for ((name, _, side, price, imp, exp), (id, _)) in plan.iter().zip(&machines) {
        cli_json(
            &e.keys,
            &[
                "tx",
                "energy",
                side,
                "--from",
                "alice",
                "--machine",
                id,
                "--interval-start-ms",
                &start.to_string(),
                "--price",
                &price.to_string(),
                "--qty-wh",
                "1000",
                "--node",
                n,
                "--json",
            ],
        );
        for (seq, t, i, x) in [
            (1, start, 1_000, 1_000),
            (2, start + interval, 1_000 + imp, 1_000 + exp),
        ] {
            cli_json(
                &e.keys,
                &[
                    "tx",
                    "meter",
                    "reading",
                    "--from",
                    name,
                    "--machine",
                    id,
                    "--seq",
                    &seq.to_string(),
                    "--import-wh",
                    &i.to_string(),
                    "--export-wh",
                    &x.to_string(),
                    "--timestamp-ms",
                    &t.to_string(),
                    "--payer",
                    "bob",
                    "--node",
                    n,
                    "--json",
                ],
            );
        }
    }
    for zone in ["zone-a", "zone-b"] {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let iv = cli_json(
                &e.keys,
                &[
                    "query",
                    "energy",
                    "interval",
                    zone,
                    "--start-ms",
                    &start.to_string(),
                    "--node",
                    n,
                    "--json",
                ],
            );
            if iv["interval"]["done"] == true {
                assert_eq!(iv["interval"]["price"], 150_000);
                assert_eq!(iv["interval"]["volume_wh"], 1_000);
                break;
            }
            assert!(Instant::now() < deadline, "interval did not settle: {iv}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let after: Vec<i128> = machines
        .iter()
        .map(|(_, a)| balance(&e.keys, n, a))
        .collect();
    let change: Vec<i128> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    // 1000 Wh at 150,000 micro/kWh is 150,000 micro; the fee is 1%.
    // a-seller delivered all: 150,000 - 1,500. a-buyer used 600: pays 150,000, 400 Wh credited
    // at feed-in (32,000). b-seller delivered 500: the missing 500 Wh cost retail (150,000).
    // b-buyer used all: pays 150,000.
    assert_eq!(change, vec![148_500, -118_000, -1_500, -150_000]);
    let trades = cli_json(
        &e.keys,
        &[
            "query",
            "energy",
            "trades",
            &machines[0].0,
            "--from-ms",
            &start.to_string(),
            "--to-ms",
            &start.to_string(),
            "--node",
            n,
            "--json",
        ],
    );
    assert_eq!(trades["orders"][0]["status"], "settled");
    assert_eq!(trades["orders"][0]["metered_wh"], 1_000);
}

/// A dev node on `port` (a restart reuses it).
fn start(data_dir: &Path, port: u16) -> Node {
    start_dev(data_dir, port, &[])
}
