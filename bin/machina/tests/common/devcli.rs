//! The CLI-driven dev-node tests' helpers: run `machina` with a keystore, GET and POST JSON,
//! a temporary data dir and keystore, a node on a port, an account's balance.

use super::{start_dev, Proc as Node, BIN};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `machina ARGS` with `keystore`.
pub fn cli(keystore: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("MACHINA_KEYSTORE", keystore)
        .output()
        .expect("run machina")
}

/// Runs `machina ARGS`, expects success and returns the JSON it printed.
pub fn cli_json(keystore: &Path, args: &[&str]) -> Value {
    let out = cli(keystore, args);
    assert!(
        out.status.success(),
        "machina {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// GETs JSON.
pub fn get(url: &str) -> Value {
    ureq::get(url)
        .call()
        .expect("GET")
        .into_json()
        .expect("JSON")
}

/// POSTs bytes and returns the status and the JSON body, error or not.
pub fn post(url: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    match ureq::post(url)
        .set("Content-Type", content_type)
        .send_bytes(body)
    {
        Ok(r) => (r.status(), r.into_json().expect("JSON")),
        Err(ureq::Error::Status(s, r)) => (s, r.into_json().expect("JSON error")),
        Err(e) => panic!("POST {url}: {e}"),
    }
}

/// A temporary data dir and keystore, removed when dropped.
pub struct Env {
    pub _tmp: tempfile::TempDir,
    pub data: PathBuf,
    pub keys: PathBuf,
}

/// A fresh [`Env`].
pub fn env() -> Env {
    let tmp = tempfile::tempdir().expect("tempdir");
    Env {
        data: tmp.path().join("data"),
        keys: tmp.path().join("keys.json"),
        _tmp: tmp,
    }
}

/// A dev node on `port` (a restart reuses it).
pub fn start(data_dir: &Path, port: u16) -> Node {
    start_dev(data_dir, port, &[])
}

/// `who`'s balance as `machina query account` prints it.
pub fn balance(keys: &Path, node: &str, who: &str) -> i128 {
    let v = cli_json(keys, &["query", "account", who, "--node", node, "--json"]);
    v["balance"]
        .as_str()
        .expect("balance")
        .parse()
        .expect("number")
}
