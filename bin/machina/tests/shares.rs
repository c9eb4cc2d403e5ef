//! Machine shares on the real binary: a machine with three holders earns from an energy
//! settlement and from a compute lease; each holder's claimable revenue is its part of what
//! went to holders, every revenue event names its source, and a claim pays out of the pool.

use std::path::Path;
use std::time::{Duration, Instant};

mod common;
use common::{cli_json, free_port, get_json, micro, start_dev};

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_millis() as u64
}

/// `machina tx ... --from FROM` with the node, returning its JSON; expects success.
fn tx(ks: &Path, n: &str, args: &[&str]) -> serde_json::Value {
    let v = cli_json(ks, Some(n), args);
    // Some commands print their own summary (a registration its id); the rest a receipt.
    if let Some(r) = v.get("receipt") {
        assert_eq!(r["success"], true, "{args:?}: {v}");
    }
    v
}

fn register(ks: &Path, n: &str, owner: &str, device: &str, kind: &str) -> (String, String) {
    cli_json(ks, None, &["keys", "new", device]);
    let r = tx(
        ks,
        n,
        &[
            "tx",
            "machine",
            "register",
            "--from",
            owner,
            "--device",
            device,
            "--kind",
            kind,
            "--rated-power-w",
            "2000000",
            "--zone",
            "zone-s",
        ],
    );
    let id = r["machine_id"].as_u64().expect("id").to_string();
    let addr = r["address"].as_str().expect("address").to_owned();
    tx(
        ks,
        n,
        &[
            "tx", "transfer", "--from", "alice", "--to", &addr, "--amount", "1000000",
        ],
    );
    (id, addr)
}

/// A compute lease of the machine runs and is closed: returns what it paid.
fn lease(ks: &Path, n: &str, id: &str) -> u128 {
    tx(
        ks,
        n,
        &[
            "tx",
            "stake",
            "bond",
            "--from",
            "bob",
            "--role",
            "provider",
            "--subject",
            id,
            "--amount",
            "10000000",
        ],
    );
    tx(
        ks,
        n,
        &[
            "tx",
            "compute",
            "offer",
            "--from",
            "bob",
            "--machine",
            id,
            "--gpu-model",
            "h100",
            "--gpus",
            "1",
            "--region",
            "eu",
            "--price",
            "2500",
            "--max-lease-blocks",
            "100000",
        ],
    );
    let posted = tx(
        ks,
        n,
        &[
            "tx",
            "compute",
            "job",
            "--from",
            "eve",
            "--gpu-model",
            "h100",
            "--gpus",
            "1",
            "--max-price",
            "3000",
            "--blocks",
            "100000",
            "--deposit",
            "1000000",
            "--heartbeat-every-blocks",
            "1000",
            "--max-missed",
            "2",
            "--penalty-bps",
            "500",
        ],
    );
    let job = posted["receipt"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "job_posted")
        .expect("job_posted")["attrs"]["job_id"]
        .as_u64()
        .expect("job id")
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while micro(&cli_json(ks, Some(n), &["query", "compute", "job", &job])["leases"][0]["paid"])
        == 0
    {
        assert!(Instant::now() < deadline, "the lease was never paid");
        std::thread::sleep(Duration::from_millis(100));
    }
    tx(
        ks,
        n,
        &["tx", "compute", "close", "--from", "eve", "--job", &job],
    );
    micro(&cli_json(ks, Some(n), &["query", "compute", "job", &job])["leases"][0]["paid"])
}

/// The machine sells 1,000 Wh in one interval to another machine and delivers it; returns the
/// interval's start once it settled.
fn sell(ks: &Path, n: &str, seller: (&str, &str), buyer: (&str, &str)) -> u64 {
    let (interval, gate) = (4_000u64, 1_000u64);
    let start = (now_ms() + gate + 3_000).div_ceil(interval) * interval;
    for ((device, id), side, price, imp, exp) in [
        (seller, "ask", "100000", 0u64, 1_000u64),
        (buyer, "bid", "200000", 1_000, 0),
    ] {
        let s = start.to_string();
        tx(
            ks,
            n,
            &[
                "tx",
                "energy",
                side,
                "--from",
                "bob",
                "--machine",
                id,
                "--interval-start-ms",
                &s,
                "--price",
                price,
                "--qty-wh",
                "1000",
            ],
        );
        for (seq, t, i, x) in [
            (1, start, 1_000, 1_000),
            (2, start + interval, 1_000 + imp, 1_000 + exp),
        ] {
            tx(
                ks,
                n,
                &[
                    "tx",
                    "meter",
                    "reading",
                    "--from",
                    device,
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
                ],
            );
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let iv = cli_json(
            ks,
            Some(n),
            &[
                "query",
                "energy",
                "interval",
                "zone-s",
                "--start-ms",
                &start.to_string(),
            ],
        );
        if iv["interval"]["done"] == true {
            assert_eq!(iv["interval"]["price"], 150_000);
            return start;
        }
        assert!(
            Instant::now() < deadline,
            "the interval did not settle: {iv}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn an_energy_settlement_and_a_compute_lease_pay_a_machine_with_three_holders() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ks = tmp.path().join("keys.json");
    let node = start_dev(
        &tmp.path().join("data"),
        free_port(),
        &["--idle-block-ms", "20"],
    );
    let n = node.url.as_str();
    tx(
        &ks,
        n,
        &[
            "tx",
            "energy",
            "create-zone",
            "--from",
            "alice",
            "--name",
            "zone-s",
            "--interval-ms",
            "4000",
            "--gate-closure-ms",
            "1000",
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
        ],
    );
    let (id, _) = register(&ks, n, "bob", "rig", "compute");
    let (buyer, _) = register(&ks, n, "bob", "house", "solar");

    // bob issues 1,000 shares with a 10 % operator fee, gives charlie 300 and sells dave 200.
    tx(
        &ks,
        n,
        &[
            "tx",
            "shares",
            "issue",
            "--from",
            "bob",
            "--machine",
            &id,
            "--supply",
            "1000",
            "--operator-fee-bps",
            "1000",
        ],
    );
    tx(
        &ks,
        n,
        &[
            "tx",
            "shares",
            "transfer",
            "--from",
            "bob",
            "--machine",
            &id,
            "--to",
            "charlie",
            "--amount",
            "300",
        ],
    );
    tx(
        &ks,
        n,
        &[
            "tx",
            "shares",
            "offer",
            "--from",
            "bob",
            "--machine",
            &id,
            "--amount",
            "200",
            "--price",
            "500",
        ],
    );
    let bought = tx(
        &ks,
        n,
        &[
            "tx",
            "shares",
            "buy",
            "--from",
            "dave",
            "--machine",
            &id,
            "--amount",
            "200",
        ],
    );
    let ev = &bought["receipt"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "bought")
        .expect("bought")["attrs"];
    assert_eq!(micro(&ev["cost"]), 100_000, "200 shares at 500 micro");
    let class = cli_json(&ks, Some(n), &["query", "shares", "machine", &id]);
    assert_eq!(class["holders"], 3);
    assert_eq!(class["supply"], 1000);

    let leased = lease(&ks, n, &id);
    let start = sell(&ks, n, ("rig", &id), ("house", &buyer));

    let rev = cli_json(
        &ks,
        Some(n),
        &["query", "shares", "revenue", "--machine", &id],
    );
    let events = rev["events"].as_array().expect("events");
    let of = |kind: &'static str| events.iter().filter(move |e| e["source"]["kind"] == kind);
    let compute: u128 = of("compute").map(|e| micro(&e["amount"])).sum();
    assert_eq!(compute, leased, "every lease payment is a revenue event");
    let energy: Vec<_> = of("energy").collect();
    assert_eq!(energy.len(), 1);
    assert_eq!(energy[0]["source"]["zone"], "zone-s");
    assert_eq!(energy[0]["source"]["interval_start_ms"], start);
    assert_eq!(energy[0]["source"]["metered_wh"], 1000);
    assert_eq!(
        micro(&energy[0]["amount"]),
        148_500,
        "1 kWh at 150,000 less the 1 % fee"
    );
    let total: u128 = events.iter().map(|e| micro(&e["amount"])).sum();
    assert_eq!(micro(&rev["total"]), total);
    let fees: u128 = events.iter().map(|e| micro(&e["operator_fee"])).sum();
    let to_holders: u128 = events.iter().map(|e| micro(&e["to_holders"])).sum();
    assert_eq!(
        fees + to_holders,
        total,
        "every micro-unit is the fee's or the holders'"
    );
    assert_eq!(
        fees,
        events
            .iter()
            .map(|e| micro(&e["amount"]) / 10)
            .sum::<u128>()
    );

    // Each holder may claim its part of what went to holders, within a micro-unit per event.
    let n_events = events.len() as u128;
    let mut claimable = 0;
    for (who, part) in [("bob", 500u128), ("charlie", 300), ("dave", 200)] {
        let h = cli_json(&ks, Some(n), &["query", "shares", "holder", who]);
        let c = micro(&h["holdings"][0]["claimable"]);
        let exact = to_holders * part / 1000;
        assert!(c <= exact && exact - c <= n_events, "{who}: {c} of {exact}");
        claimable += c;
    }
    assert!(claimable <= to_holders);

    // charlie's accruals name the settlement that earned them; its claim comes from the pool.
    let acc = cli_json(
        &ks,
        Some(n),
        &["query", "shares", "holder", "charlie", "--machine", &id],
    );
    let from_energy = acc["accruals"]
        .as_array()
        .expect("accruals")
        .iter()
        .find(|a| a["source"]["kind"] == "energy")
        .expect("the energy event");
    assert_eq!(from_energy["balance"], 300);
    assert_eq!(micro(&from_energy["amount"]), 148_500 * 9 / 10 * 3 / 10);
    let want = micro(&acc["claimable"]);
    let claimed = tx(&ks, n, &["tx", "shares", "claim", "--from", "charlie"]);
    let ev = &claimed["receipt"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "claimed")
        .expect("claimed")["attrs"];
    assert_eq!(micro(&ev["amount"]), want);
    let after = cli_json(&ks, Some(n), &["query", "shares", "holder", "charlie"]);
    assert_eq!(micro(&after["claimable"]), 0);
    let class = cli_json(&ks, Some(n), &["query", "shares", "machine", &id]);
    assert_eq!(micro(&class["claimed_total"]), want);

    // The holders listing, two a page: the three holders in address order with their shares.
    let page_url = |after: Option<&str>| {
        let after = after.map(|a| format!("&after={a}")).unwrap_or_default();
        format!("{n}/v1/shares/machine/{id}/holders?limit=2{after}")
    };
    let (mut rows, mut url, mut pages) = (Vec::new(), page_url(None), 0);
    loop {
        let page = get_json(&url);
        assert_eq!(page["count"], 3);
        rows.extend(page["holders"].as_array().expect("holders").iter().cloned());
        pages += 1;
        match page["next"].as_str() {
            Some(a) => url = page_url(Some(a)),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    let mut want: Vec<(String, u64)> = [("bob", 500), ("charlie", 300), ("dave", 200)]
        .into_iter()
        .map(|(who, shares)| {
            let h = cli_json(&ks, Some(n), &["query", "shares", "holder", who]);
            (h["holder"].as_str().expect("address").to_owned(), shares)
        })
        .collect();
    want.sort();
    let got: Vec<(String, u64)> = rows
        .iter()
        .map(|r| {
            micro(&r["claimable"]);
            let holder = r["holder"].as_str().expect("address").to_owned();
            (holder, r["balance"].as_u64().expect("balance"))
        })
        .collect();
    assert_eq!(got, want);
}
