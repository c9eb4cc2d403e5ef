//! `/metrics` on the real binary: refusals by code, HTTP requests by route, the process's
//! memory, each zone's market figures, and meter readings accepted and refused by code.

use machina_oracle::OracleAction;
use machina_primitives::Keypair;
use std::process::Command;

mod common;
use common::{
    dev_tx, free_port, metric, register_meter, signed_reading, start_dev, submit_and_wait,
    transfer_tx, wait_for_metric, BIN,
};

#[test]
fn metrics_count_refusals_by_code_requests_by_route_and_show_each_zone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = start_dev(&tmp.path().join("data"), free_port(), &[]);
    let url = node.url.as_str();
    for _ in 0..3 {
        ureq::get(&format!("{url}/v1/health"))
            .call()
            .expect("health");
    }
    // A key with nothing cannot pay its fee: refused at admission.
    let broke = Keypair::from_seed([9; 32]);
    let tx = transfer_tx(&broke, 0, Keypair::dev("bob").address(), 1);
    let body = machina_primitives::Encode::encode(&tx);
    let refused = ureq::post(&format!("{url}/v1/tx"))
        .set("Content-Type", "application/octet-stream")
        .send_bytes(&body);
    assert!(matches!(refused, Err(ureq::Error::Status(400, _))));
    let out = Command::new(BIN)
        .args([
            "tx",
            "energy",
            "create-zone",
            "--from",
            "alice",
            "--name",
            "zone-m",
            "--retail-price",
            "300000",
            "--feed-in-price",
            "80000",
            "--import-limit-w",
            "100000",
            "--export-limit-w",
            "100000",
            "--grid-float",
            "100000000",
            "--node",
            url,
        ])
        .env("MACHINA_KEYSTORE", tmp.path().join("keys.json"))
        .output()
        .expect("run machina");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = ureq::get(&format!("{url}/metrics"))
        .call()
        .expect("metrics")
        .into_string()
        .expect("text");
    assert_eq!(
        metric(
            &text,
            "machina_txs_refused_total{code=\"insufficient_funds\"}"
        ),
        Some(1.0),
        "{text}"
    );
    let health = metric(
        &text,
        "machina_http_requests_total{route=\"/v1/health\",method=\"GET\",status=\"200\"}",
    );
    assert!(health.is_some_and(|n| n >= 3.0), "{text}");
    assert!(metric(&text, "machina_process_resident_bytes").is_some_and(|b| b > 1e6));
    assert_eq!(
        metric(&text, "machina_energy_escrow_micro{zone=\"zone-m\"}"),
        Some(0.0)
    );
    assert!(metric(&text, "machina_energy_intervals_unsettled{zone=\"zone-m\"}").is_some());
}

#[test]
fn metrics_count_readings_of_committed_blocks_accepted_and_refused_by_code() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = start_dev(&tmp.path().join("data"), free_port(), &[]);
    let url = node.url.as_str();
    let device = Keypair::from_seed([7; 32]);
    let id = register_meter(url, &device);
    // One transaction: two good readings, then a replay of the first, refused on its own
    // while the transaction succeeds.
    let readings = vec![
        signed_reading(&device, id, 1, 60_000, 100),
        signed_reading(&device, id, 2, 50_000, 101),
        signed_reading(&device, id, 1, 60_000, 100),
    ];
    let alice = Keypair::dev("alice");
    let action = OracleAction::SubmitReadings { readings }.into();
    let rec = submit_and_wait(url, &dev_tx(url, &alice, vec![action]));
    assert_eq!(rec["receipt"]["success"], true, "{rec}");
    // The counters follow the commit (the receipt is readable a moment before).
    let text = wait_for_metric(url, "machina_readings_accepted_total", 2.0);
    assert_eq!(
        metric(
            &text,
            "machina_readings_refused_total{code=\"stale_reading\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(text.contains("# TYPE machina_readings_refused_total counter"));
}
