//! What the binary's integration tests share: a free port, and a `machina` process (a dev
//! node, a gateway) that is killed when dropped.

#![allow(dead_code)] // Each test file uses a part of it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_machina");

/// A running `machina` process and the URL it serves.
pub struct Proc {
    pub child: Child,
    pub url: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Waits until `url` answers `/v1/health`.
pub fn wait_up(url: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while ureq::get(&format!("{url}/v1/health")).call().is_err() {
        assert!(Instant::now() < deadline, "{what} did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `machina dev` on `port` with 20 ms blocks and `extra` flags, once it answers.
pub fn start_dev(data_dir: &Path, port: u16, extra: &[&str]) -> Proc {
    let child = Command::new(BIN)
        .args(["dev", "--data-dir"])
        .arg(data_dir)
        .args([
            "--http",
            &format!("127.0.0.1:{port}"),
            "--block-time-ms",
            "20",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start machina dev");
    let url = format!("http://127.0.0.1:{port}");
    wait_up(&url, "dev node");
    Proc { child, url }
}

/// Runs `machina ARGS --json` with `keystore` (and `--node` when given), expects success and
/// returns the JSON it printed.
pub fn cli_json(keystore: &Path, node: Option<&str>, args: &[&str]) -> serde_json::Value {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--json")
        .env("MACHINA_KEYSTORE", keystore);
    if let Some(n) = node {
        cmd.args(["--node", n]);
    }
    let out = cmd.output().expect("run machina");
    assert!(
        out.status.success(),
        "machina {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// An amount in the API's JSON: a decimal string of micro-units.
pub fn micro(v: &serde_json::Value) -> u128 {
    v.as_str()
        .expect("amounts are decimal strings")
        .parse()
        .expect("an amount")
}

/// `GET`s JSON; expects success.
pub fn get_json(url: &str) -> serde_json::Value {
    ureq::get(url)
        .call()
        .expect("GET")
        .into_json()
        .expect("JSON")
}

/// `POST`s JSON and returns the JSON answer; expects success.
pub fn post_json(url: &str, body: serde_json::Value) -> serde_json::Value {
    ureq::post(url)
        .send_json(body)
        .expect("POST")
        .into_json()
        .expect("JSON")
}

/// One block at chain time `t` on a node with a simulated clock.
pub fn advance(node: &str, t: u64) -> serde_json::Value {
    post_json(
        &format!("{node}/v1/dev/advance"),
        serde_json::json!({"timestamp_ms": t}),
    )
}

/// A signed transfer of `amount` from `from` to `to` on the dev chain.
pub fn transfer_tx(
    from: &machina_primitives::Keypair,
    nonce: u64,
    to: machina_primitives::Address,
    amount: u128,
) -> machina_stf::Transaction {
    machina_stf::TxBody {
        chain_id: machina_primitives::DEV_CHAIN_ID,
        sender: from.address(),
        nonce,
        fee: machina_stf::params::DEFAULT_MIN_FEE,
        expiry_height: 10_000,
        fee_payer: None,
        actions: vec![machina_bank::BankAction::Transfer {
            to,
            amount: machina_primitives::Amount(amount),
        }
        .into()],
    }
    .sign(&[from])
}

/// Submits a transaction in its canonical bytes; expects it admitted.
pub fn submit(node: &str, tx: &machina_stf::Transaction) {
    use machina_primitives::Encode;
    ureq::post(&format!("{node}/v1/tx"))
        .set("Content-Type", "application/octet-stream")
        .send_bytes(&tx.encode())
        .expect("admitted");
}
