//! `machina demo --serve`: after the day the embedded chain keeps serving its API and the
//! dashboard at the URL it prints, until it is stopped.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_machina");

#[test]
fn demo_serve_prints_the_dashboard_url_and_keeps_serving() {
    let keystore = tempfile::tempdir().expect("a temp dir");
    let mut child = Command::new(BIN)
        .args([
            "demo",
            "--households",
            "3",
            "--hours",
            "2",
            "--gpu-servers",
            "0",
            "--serve",
        ])
        .env("MACHINA_KEYSTORE", keystore.path().join("keystore.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start machina demo --serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("dashboard: ") {
                let _ = tx.send(url.to_owned());
            }
        }
    });
    let ui = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("a `dashboard: URL` line");
    assert!(ui.ends_with("/ui"), "{ui}");
    let page = ureq::get(&ui).call().expect("GET /ui");
    assert!(page
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));
    assert!(page.into_string().expect("HTML").contains("/ui/app.js"));
    let base = ui.trim_end_matches("/ui");
    let script = ureq::get(&format!("{base}/ui/app.js"))
        .call()
        .expect("GET app.js");
    assert!(script
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/javascript")));
    let health: serde_json::Value = ureq::get(&format!("{base}/v1/health"))
        .call()
        .expect("GET /v1/health")
        .into_json()
        .expect("JSON");
    assert!(health["height"].as_u64().expect("a height") > 0);
    // Still serving a moment later: the demo did not end on its own.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "demo --serve exited"
    );
    ureq::get(&format!("{base}/v1/health"))
        .call()
        .expect("still serving");
    child.kill().expect("stop the demo");
    let _ = child.wait();
}
