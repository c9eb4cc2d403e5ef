//! The dev chain's conveniences on the real binary: its chain id, extra funded dev accounts,
//! and the dev keys printed at start, usable by name from the CLI.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

mod common;
use common::{free_port, wait_up, Proc, BIN};

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
