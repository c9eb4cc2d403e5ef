//! Meter readings, feeds, the gateway and the energy market through the real `machina` CLI
//! against a dev node: two zones clear and settle against readings by themselves.

use machina_oracle::MeterReading;
use machina_primitives::{Keypair, DEV_CHAIN_ID};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::devcli::{balance, cli, cli_json, env, get, post, start};
use common::{free_port, BIN};

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
