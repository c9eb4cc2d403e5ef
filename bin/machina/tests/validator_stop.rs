//! A single `machina validator`: it reports its validators' last votes, SIGTERM stops it
//! cleanly (status 0, not death by signal), and started again on the same data it goes on
//! from the height it had.

use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_machina");

/// Two free consecutive ports (p2p and HTTP of validator 0).
/// A base port whose three ports (p2p, HTTP, Ethereum JSON-RPC) are free now.
fn free_ports() -> u16 {
    for _ in 0..200 {
        let base = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        if base < u16::MAX - 3
            && (0..3).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        {
            return base;
        }
    }
    panic!("no three free ports");
}

fn height(url: &str) -> Option<u64> {
    let v: Value = ureq::get(&format!("{url}/v1/health"))
        .timeout(Duration::from_secs(2))
        .call()
        .ok()?
        .into_json()
        .ok()?;
    v["height"].as_u64()
}

fn wait_height(url: &str, at_least: u64, log: &std::path::Path) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(h) = height(url).filter(|h| *h >= at_least) {
            return h;
        }
        if Instant::now() > deadline {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            panic!("the validator never reached height {at_least}:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start(config: &std::path::Path, log: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log");
    Command::new(BIN)
        .args(["validator", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start machina validator")
}

#[test]
fn sigterm_stops_a_validator_with_status_0_and_it_goes_on_from_its_height() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("net");
    let base = free_ports();
    let init = Command::new(BIN)
        .args([
            "devnet",
            "init",
            "--validators",
            "1",
            "--json",
            "--base-port",
        ])
        .arg(base.to_string())
        .arg("--out")
        .arg(&out)
        .env("MACHINA_KEYSTORE", tmp.path().join("keys.json"))
        .output()
        .expect("devnet init");
    assert!(init.status.success(), "{init:?}");
    let (config, log) = (
        out.join("v0").join("config.json"),
        tmp.path().join("v0.log"),
    );
    let url = format!("http://127.0.0.1:{}", base + 1);

    let mut child = start(&config, &log);
    let before = wait_height(&url, 2, &log);
    // The validator says who voted last and when: here, itself.
    let v: Value = ureq::get(&format!("{url}/v1/consensus/validators"))
        .call()
        .expect("validators")
        .into_json()
        .expect("JSON");
    assert_eq!(v["consensus"], "simplex", "{v}");
    assert_eq!(v["validators"].as_array().map(Vec::len), Some(1), "{v}");
    let last = &v["validators"][0]["last_finalize"];
    assert!(last["view"].as_u64().unwrap_or(0) >= 1, "{v}");
    assert!(last["at_ms"].as_u64().unwrap_or(0) > 0, "{v}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "a clean stop: {status:?}");

    let mut again = start(&config, &log);
    let after = wait_height(&url, before, &log);
    assert!(after >= before);
    let _ = again.kill();
    let _ = again.wait();
}
