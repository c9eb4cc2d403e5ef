//! What the binary's integration tests share: a free port, and a `machina` process (a dev
//! node, a gateway) that is killed when dropped.

#![allow(dead_code)] // Each test file uses a part of it.

pub mod devcli;

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

/// Submits a transaction and waits until it is committed; returns the node's record of it.
pub fn submit_and_wait(node: &str, tx: &machina_stf::Transaction) -> serde_json::Value {
    use machina_primitives::Encode;
    let admitted: serde_json::Value = ureq::post(&format!("{node}/v1/tx"))
        .set("Content-Type", "application/octet-stream")
        .send_bytes(&tx.encode())
        .expect("admitted")
        .into_json()
        .expect("JSON");
    let hash = admitted["tx_hash"].as_str().expect("tx_hash").to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = get_json(&format!("{node}/v1/tx/{hash}?wait_ms=5000"));
        if v["status"] == "committed" {
            return v;
        }
        assert!(Instant::now() < deadline, "{hash} was not committed: {v}");
    }
}

/// A signed transaction of `actions` from a dev key, at its current nonce.
pub fn dev_tx(
    node: &str,
    from: &machina_primitives::Keypair,
    actions: Vec<machina_stf::Action>,
) -> machina_stf::Transaction {
    let account = get_json(&format!("{node}/v1/account/{}", from.address()));
    machina_stf::TxBody {
        chain_id: machina_primitives::DEV_CHAIN_ID,
        sender: from.address(),
        nonce: account["nonce"].as_u64().expect("nonce"),
        fee: machina_stf::params::DEFAULT_MIN_FEE,
        expiry_height: 10_000,
        fee_payer: None,
        actions,
    }
    .sign(&[from])
}

/// Registers a 10 kW meter owned by alice with `device` as its key; returns its id.
pub fn register_meter(node: &str, device: &machina_primitives::Keypair) -> u64 {
    use machina_identity::{device_pop_message, IdentityAction, MachineKind, MachineRegistration};
    let alice = machina_primitives::Keypair::dev("alice");
    let reg = MachineRegistration {
        device_key: device.public(),
        device_signature: device.sign(&device_pop_message(
            machina_primitives::DEV_CHAIN_ID,
            &alice.address(),
        )),
        kind: MachineKind::Meter,
        rated_power_w: 10_000,
        capacity_wh: None,
        zone: None,
        metadata: Default::default(),
        attestation: None,
    };
    let action = IdentityAction::RegisterMachine(Box::new(reg)).into();
    let rec = submit_and_wait(node, &dev_tx(node, &alice, vec![action]));
    assert_eq!(rec["receipt"]["success"], true, "{rec}");
    rec["receipt"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .find_map(|e| (e["module"] == "identity").then(|| e["attrs"]["machine_id"].as_u64())?)
        .expect("a machine id")
}

/// A reading of `machine_id` measured `ago_ms` before now (wall clock, as the dev chain's
/// blocks are), signed by `device`.
pub fn signed_reading(
    device: &machina_primitives::Keypair,
    machine_id: u64,
    seq: u64,
    ago_ms: u64,
    import_wh: u64,
) -> machina_oracle::SignedReading {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_millis() as u64;
    machina_oracle::MeterReading {
        machine_id,
        channel: 0,
        seq,
        timestamp_ms: now - ago_ms,
        import_wh,
        export_wh: 0,
    }
    .sign(machina_primitives::DEV_CHAIN_ID, device)
}

/// `machina gateway` for `node` paying with the key `from`, sending every 50 ms, with `extra`
/// flags.
pub fn start_gateway(node: &str, keystore: &Path, from: &str, extra: &[&str]) -> Proc {
    let port = free_port();
    let child = Command::new(BIN)
        .args([
            "gateway",
            "--node",
            node,
            "--from",
            from,
            "--batch-ms",
            "50",
        ])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env("MACHINA_KEYSTORE", keystore)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gateway");
    let gw = Proc {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    wait_up(&gw.url, "gateway");
    gw
}

/// The value of one series in Prometheus text, e.g. `name{code="x"}`.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)
            .filter(|v| v.starts_with(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// `GET {url}/metrics` until `series` reads `want` (or a minute passes); returns the text.
pub fn wait_for_metric(url: &str, series: &str, want: f64) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = ureq::get(&format!("{url}/metrics"))
            .call()
            .expect("metrics")
            .into_string()
            .expect("text");
        if metric(&text, series) == Some(want) {
            return text;
        }
        assert!(Instant::now() < deadline, "{series} is not {want}: {text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
