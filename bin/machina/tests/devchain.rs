//! The dev chain's conveniences on the real binary: its chain id, extra funded dev accounts,
//! and the dev keys printed at start, usable by name from the CLI.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

mod common;
use common::{free_port, get_json, post_json, start_dev, submit, transfer_tx, wait_up, Proc, BIN};

#[test]
fn a_dev_chain_takes_a_chain_id_and_funds_extra_accounts_it_prints() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut child = Command::new(BIN)
        .args(["dev", "--json", "--data-dir"])
        .arg(tmp.path().join("data"))
        .args([
            "--http",
            &format!("127.0.0.1:{port}"),
            "--chain-id",
            "77",
            "--accounts",
            "3",
            "--balance",
            "5000000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start machina dev");
    let stdout = child.stdout.take().expect("stdout");
    let url = format!("http://127.0.0.1:{port}");
    let node = Proc {
        child,
        url: url.clone(),
    };
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the start line");
    let info: Value = serde_json::from_str(&line).expect("JSON");
    wait_up(&url, "dev node");
    assert_eq!(info["chain_id"], 77);
    let accounts = info["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), 9, "six prefunded and three more");
    let dev2 = &accounts[8];
    assert_eq!(dev2["name"], "dev-2");
    assert_eq!(dev2["balance"], "5000000");
    // The printed secret is the key of the printed address.
    let seed = hex::decode(
        dev2["secret_key"]
            .as_str()
            .expect("secret")
            .trim_start_matches("0x"),
    )
    .expect("hex");
    let k = machina_primitives::Keypair::from_seed(seed.try_into().expect("32 bytes"));
    assert_eq!(dev2["address"], k.address().to_string());
    let health: Value = ureq::get(&format!("{url}/v1/health"))
        .call()
        .expect("health")
        .into_json()
        .expect("JSON");
    assert_eq!(health["chain_id"], 77);
    // The CLI signs as dev-2 by name, for chain 77.
    let out = Command::new(BIN)
        .args([
            "tx", "transfer", "--from", "dev-2", "--to", "alice", "--amount", "1000", "--node",
            &node.url, "--json",
        ])
        .env("MACHINA_KEYSTORE", tmp.path().join("keys.json"))
        .output()
        .expect("run machina");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a: Value = ureq::get(&format!("{url}/v1/account/{}", k.address()))
        .call()
        .expect("GET")
        .into_json()
        .expect("JSON");
    assert_eq!(a["balance"], "4998000", "the transfer and its fee");
}

#[test]
fn sigterm_stops_the_dev_chain_with_status_0_and_it_reopens_where_it_was() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let port = free_port();
    let log = tmp.path().join("dev.log");
    let start = || {
        Command::new(BIN)
            .args(["dev", "--data-dir"])
            .arg(&data)
            .args([
                "--http",
                &format!("127.0.0.1:{port}"),
                "--block-time-ms",
                "20",
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start machina dev")
    };
    let url = format!("http://127.0.0.1:{port}");
    let mut child = start();
    wait_up(&url, "dev node");
    let out = Command::new(BIN)
        .args([
            "tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1", "--node", &url,
            "--json",
        ])
        .env("MACHINA_KEYSTORE", tmp.path().join("keys.json"))
        .output()
        .expect("run machina");
    assert!(out.status.success());
    let sent: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let health = |url: &str| -> Value {
        ureq::get(&format!("{url}/v1/health"))
            .call()
            .expect("health")
            .into_json()
            .expect("JSON")
    };
    let before = health(&url)["height"].as_u64().expect("height");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    assert_eq!(
        status.code(),
        Some(0),
        "a clean stop, not death by signal: {status:?}"
    );
    // One log line per transaction: its id, sender, actions, result and fee.
    let text = std::fs::read_to_string(&log).expect("the log");
    let line = text
        .lines()
        .find(|l| l.contains(sent["tx_hash"].as_str().expect("tx_hash")))
        .unwrap_or_else(|| panic!("no line for the transfer in {text}"));
    for part in ["sender=", "actions=transfer", "success", "fee=1000"] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    let node = Proc {
        child: start(),
        url: url.clone(),
    };
    wait_up(&node.url, "dev node again");
    assert!(health(&url)["height"].as_u64().expect("height") >= before);
}

#[test]
fn set_balance_and_increase_time_are_blocks_that_survive_a_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let port = free_port();
    let node = common::start_dev(&data, port, &[]);
    let url = node.url.clone();
    let someone = machina_primitives::Keypair::from_seed([5; 32]).address();
    let set = post_json(
        &format!("{url}/v1/dev/set-balance"),
        serde_json::json!({"address": someone.to_string(), "balance": "12345"}),
    );
    assert_eq!(set["balance"], "12345");
    let account = |url: &str| -> Value {
        ureq::get(&format!("{url}/v1/account/{someone}"))
            .call()
            .expect("GET")
            .into_json()
            .expect("JSON")
    };
    assert_eq!(account(&url)["balance"], "12345");
    let hour = 3_600_000u64;
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_millis() as u64;
    let moved = post_json(
        &format!("{url}/v1/dev/increase-time"),
        serde_json::json!({"ms": hour}),
    );
    let t = moved["timestamp_ms"].as_u64().expect("time");
    assert!(
        t >= wall + hour,
        "the block is an hour ahead: {t} vs {wall}"
    );
    // The offset stays: the next (idle) block is later still.
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    let latest: Value = ureq::get(&format!("{url}/v1/block/latest"))
        .call()
        .expect("GET")
        .into_json()
        .expect("JSON");
    assert!(latest["timestamp_ms"].as_u64().expect("time") > t);
    // Both were blocks whose roots cover the state: the data dir reopens.
    drop(node);
    let node = common::start_dev(&data, port, &[]);
    assert_eq!(account(&node.url)["balance"], "12345");
}

fn transfer_raw(url: &str, nonce: u64, amount: u128) -> String {
    let alice = machina_primitives::Keypair::dev("alice");
    let bob = machina_primitives::Keypair::dev("bob").address();
    let tx = transfer_tx(&alice, nonce, bob, amount);
    submit(url, &tx);
    tx.hash().to_string()
}

#[test]
fn snapshot_revert_dump_and_load_round_trip_to_the_same_state_root() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = common::start_dev(&tmp.path().join("a"), free_port(), &["--sim-clock"]);
    let url = node.url.clone();
    let advance = |t: u64| {
        post_json(
            &format!("{url}/v1/dev/advance"),
            serde_json::json!({"timestamp_ms": t}),
        )
    };
    transfer_raw(&url, 0, 10);
    advance(1_000);
    let before = get_json(&format!("{url}/v1/health"));
    let snap = post_json(&format!("{url}/v1/dev/snapshot"), serde_json::json!({}));
    assert_eq!(snap["id"], 0);
    let gone = transfer_raw(&url, 1, 20);
    advance(2_000);
    advance(3_000);
    assert_ne!(
        get_json(&format!("{url}/v1/health"))["state_root"],
        before["state_root"]
    );
    let r = post_json(
        &format!("{url}/v1/dev/revert"),
        serde_json::json!({"id": 0}),
    );
    assert_eq!(r["height"], before["height"]);
    let after = get_json(&format!("{url}/v1/health"));
    assert_eq!(
        (&after["height"], &after["state_root"]),
        (&before["height"], &before["state_root"])
    );
    let status = match ureq::get(&format!("{url}/v1/tx/{gone}")).call() {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(s, _)) => s,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(status, 404, "the reverted block's transaction is gone");
    let alice = machina_primitives::Keypair::dev("alice").address();
    let history = get_json(&format!("{url}/v1/account/{alice}/txs"));
    assert_eq!(
        history["txs"].as_array().map(Vec::len),
        Some(1),
        "{history}"
    );
    // The chain goes on from the snapshot; a used snapshot is gone.
    transfer_raw(&url, 1, 30);
    advance(4_000);
    let on = get_json(&format!("{url}/v1/health"));
    assert_eq!(
        on["height"].as_u64(),
        before["height"].as_u64().map(|h| h + 1)
    );
    let code =
        match ureq::post(&format!("{url}/v1/dev/revert")).send_json(serde_json::json!({"id": 0})) {
            Err(ureq::Error::Status(s, r)) => {
                (s, r.into_json::<Value>().expect("JSON")["code"].clone())
            }
            other => panic!("{other:?}"),
        };
    assert_eq!(code, (404, Value::from("unknown_snapshot")));
    drop(node);

    // Dump on a clean stop, load into a new data dir: the same root.
    let dump = tmp.path().join("state.json");
    let port = free_port();
    let mut child = Command::new(BIN)
        .args(["dev", "--data-dir"])
        .arg(tmp.path().join("a"))
        .args([
            "--sim-clock",
            "--http",
            &format!("127.0.0.1:{port}"),
            "--dump-state",
        ])
        .arg(&dump)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start machina dev");
    let url = format!("http://127.0.0.1:{port}");
    wait_up(&url, "dev node");
    let root = get_json(&format!("{url}/v1/health"))["state_root"].clone();
    let bob = machina_primitives::Keypair::dev("bob").address();
    let bob_balance = get_json(&format!("{url}/v1/account/{bob}"))["balance"].clone();
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill")
        .success());
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    let loaded = common::start_dev(
        &tmp.path().join("b"),
        free_port(),
        &["--load-state", dump.to_str().expect("path")],
    );
    let h = get_json(&format!("{}/v1/health", loaded.url));
    assert_eq!((h["height"].as_u64(), &h["state_root"]), (Some(0), &root));
    assert_eq!(
        get_json(&format!("{}/v1/account/{bob}", loaded.url))["balance"],
        bob_balance
    );
}

#[test]
fn a_dev_chain_starts_from_the_genesis_devnet_init_writes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let net = tmp.path().join("net");
    let out = Command::new(BIN)
        .args(["devnet", "init", "--validators", "1", "--out"])
        .arg(&net)
        .arg("--json")
        .output()
        .expect("devnet init");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let genesis: Value =
        serde_json::from_slice(&std::fs::read(net.join("genesis.json")).expect("genesis.json"))
            .expect("JSON");
    let file = net.join("genesis.json");
    let node = common::start_dev(
        &tmp.path().join("data"),
        free_port(),
        &["--genesis", file.to_str().expect("path")],
    );
    let block0 = get_json(&format!("{}/v1/block/0", node.url));
    assert_eq!(
        block0["timestamp_ms"], genesis["chain"]["genesis_time_ms"],
        "the file's genesis, not a new dev one"
    );
    assert_eq!(block0["chain_id"], genesis["chain"]["chain_id"]);
    let first = &genesis["chain"]["bank"]["allocations"][0];
    let account = get_json(&format!(
        "{}/v1/account/{}",
        node.url,
        first["address"].as_str().expect("address")
    ));
    assert_eq!(account["balance"], first["balance"]);
}

#[test]
fn a_dev_chain_says_it_has_one_producer_where_a_validator_lists_votes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = start_dev(&tmp.path().join("data"), free_port(), &[]);
    let v = get_json(&format!("{}/v1/consensus/validators", node.url));
    assert_eq!(v["consensus"], "dev", "{v}");
    assert_eq!(v["validators"].as_array().map(Vec::len), Some(0));
}
