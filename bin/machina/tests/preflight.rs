//! Preflight on the real binary: `POST /v1/tx/simulate` gives the receipt the transaction then
//! gets in its block, for a success and for a failure, after the sender's pending transactions,
//! and leaves no trace; `machina tx` simulates first and sends nothing that would fail.

use machina_primitives::{Address, Encode, Keypair};
use serde_json::Value;
use std::process::Command;

mod common;
use common::{free_port, get_json, start_dev, transfer_tx, BIN};

fn post(url: &str, body: &[u8]) -> (u16, Value) {
    match ureq::post(url)
        .set("Content-Type", "application/octet-stream")
        .send_bytes(body)
    {
        Ok(r) => (r.status(), r.into_json().expect("JSON")),
        Err(ureq::Error::Status(s, r)) => (s, r.into_json().expect("JSON error")),
        Err(e) => panic!("POST {url}: {e}"),
    }
}

fn account(url: &str, a: &Address) -> (u128, u64) {
    let v = get_json(&format!("{url}/v1/account/{a}"));
    let balance = v["balance"]
        .as_str()
        .expect("balance")
        .parse()
        .expect("amount");
    (balance, v["nonce"].as_u64().expect("nonce"))
}

#[test]
fn simulate_gives_the_receipt_the_block_gives_and_keeps_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // A simulated clock: blocks only when the test advances it, so pending stays pending.
    let node = start_dev(&tmp.path().join("data"), free_port(), &["--sim-clock"]);
    let url = node.url.as_str();
    let (alice, bob) = (Keypair::dev("alice"), Keypair::dev("bob").address());
    let (alice0, nonce0) = account(url, &alice.address());
    let bob0 = account(url, &bob).0;

    let ok = transfer_tx(&alice, nonce0, bob, 777);
    let (s, sim_ok) = post(&format!("{url}/v1/tx/simulate"), &ok.encode());
    assert_eq!(s, 200, "{sim_ok}");
    assert_eq!(sim_ok["receipt"]["success"], true);
    assert_eq!(sim_ok["tx_hash"], ok.hash().to_string());
    // Nothing changed and nothing waits.
    assert_eq!(account(url, &alice.address()), (alice0, nonce0));
    assert_eq!(account(url, &bob).0, bob0);
    let (s, _) = match ureq::get(&format!("{url}/v1/tx/{}", ok.hash())).call() {
        Ok(r) => (r.status(), ()),
        Err(ureq::Error::Status(s, _)) => (s, ()),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(s, 404, "a simulated transaction is not pending");

    // The next nonce is simulated after the pending one: it fails (alice cannot pay so much)
    // with the code and message it will get in the block.
    assert_eq!(post(&format!("{url}/v1/tx"), &ok.encode()).0, 200);
    let bad = transfer_tx(&alice, nonce0 + 1, bob, alice0);
    let (s, sim_bad) = post(&format!("{url}/v1/tx/simulate"), &bad.encode());
    assert_eq!(s, 200, "{sim_bad}");
    assert_eq!(sim_bad["receipt"]["success"], false);
    assert_eq!(sim_bad["receipt"]["error"]["code"], "insufficient_funds");
    assert_eq!(post(&format!("{url}/v1/tx"), &bad.encode()).0, 200);
    let advanced = ureq::post(&format!("{url}/v1/dev/advance"))
        .send_json(serde_json::json!({"timestamp_ms": 1_000}))
        .expect("advance");
    assert_eq!(advanced.into_json::<Value>().expect("JSON")["tx_count"], 2);
    for (tx, sim) in [(&ok, &sim_ok), (&bad, &sim_bad)] {
        let rec = get_json(&format!("{url}/v1/tx/{}", tx.hash()));
        assert_eq!(
            rec["receipt"], sim["receipt"],
            "the block's receipt is the simulated one"
        );
    }

    // A transaction that cannot be included is refused with the submission's code.
    let stale = transfer_tx(&alice, nonce0, bob, 1);
    let (s, e) = post(&format!("{url}/v1/tx/simulate"), &stale.encode());
    assert_eq!((s, e["code"].as_str()), (409, Some("nonce_too_low")), "{e}");
}

#[test]
fn the_cli_sends_nothing_that_would_fail_unless_told_to() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ks = tmp.path().join("keys.json");
    let node = start_dev(&tmp.path().join("data"), free_port(), &[]);
    let cli = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .args(["--node", &node.url])
            .env("MACHINA_KEYSTORE", &ks)
            .output()
            .expect("run machina")
    };
    let alice = Keypair::dev("alice").address();
    let (_, nonce0) = account(&node.url, &alice);
    let out = cli(&[
        "tx",
        "transfer",
        "--from",
        "alice",
        "--to",
        "bob",
        "--amount",
        "999999999999999999",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("insufficient_funds") && stderr.contains("nothing was sent"),
        "{stderr}"
    );
    assert_eq!(
        account(&node.url, &alice).1,
        nonce0,
        "no transaction, no fee"
    );
    let out = cli(&[
        "tx",
        "transfer",
        "--from",
        "alice",
        "--to",
        "bob",
        "--amount",
        "999999999999999999",
        "--no-preflight",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("insufficient_funds") && !stderr.contains("nothing was sent"),
        "{stderr}"
    );
    assert_eq!(
        account(&node.url, &alice).1,
        nonce0 + 1,
        "sent anyway: on chain, fee paid"
    );
}
