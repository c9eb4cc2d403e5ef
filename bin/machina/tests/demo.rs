//! A small demo on the real binary: its integrity figures hold, one seed gives one state root,
//! and the report files are written.

use serde_json::Value;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_machina");

fn demo(extra: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args([
            "demo",
            "--households",
            "6",
            "--hours",
            "12",
            "--seed",
            "7",
            "--json",
        ])
        .args(extra)
        .output()
        .expect("run machina demo");
    assert!(
        out.status.success(),
        "demo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}

#[test]
fn a_small_demo_keeps_its_books_and_one_seed_gives_one_state_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let a = demo(&["--out", out.to_str().expect("utf-8 path")]);
    assert_eq!(a["integrity_ok"], true, "{a}");
    assert_eq!(a["supply_conserved"], true);
    assert_eq!(a["money"]["escrow_ok"], true);
    assert_eq!(
        a["money"]["settlements_checked"],
        a["money"]["settlements_matching_readings"]
    );
    // The GPU servers: three jobs on four servers, the seeded silent one slashed once to its
    // tenant and its job finished on the spare; revenue is what the leases paid.
    let c = &a["compute"];
    assert_eq!(c["gpu_servers"], 4);
    assert_eq!(c["jobs"], 3);
    assert_eq!(c["breaches"], 1, "{c}");
    assert_eq!(c["leases"], 4, "the breached job moved to the spare");
    assert_eq!(c["escrow_ok"], true);
    let micro = |v: &Value| {
        v.as_str()
            .and_then(|s| s.parse::<u128>().ok())
            .expect("amount")
    };
    assert!(micro(&c["slashed_micro"]) > 0);
    let servers = c["servers"].as_array().expect("servers");
    let revenue: u128 = servers.iter().map(|s| micro(&s["revenue_micro"])).sum();
    assert_eq!(revenue, micro(&c["paid_micro"]));
    for s in servers {
        assert_eq!(
            s["revenue_micro"], s["balance_micro"],
            "revenue lands in the machine"
        );
        let slashed = micro(&s["slashed_micro"]) > 0;
        assert_eq!(slashed, s["machine_id"] == c["faulty_machine"]);
    }
    assert_eq!(a["households"], 6);
    assert_eq!(a["intervals"], 48);
    // Investors own parts of PV systems and batteries: what went to holders is claimed or in
    // the pool, to the micro-unit, and one payout is traced to its order and readings.
    let sh = &a["shares"];
    assert!(sh["machines_with_shares"].as_u64().unwrap_or(0) > 0, "{sh}");
    assert!(
        micro(&sh["revenue_micro"]) > 0,
        "the machines with shares earned"
    );
    assert_eq!(
        micro(&sh["claimed_micro"]) + micro(&sh["pool_micro"]),
        micro(&sh["to_holders_micro"])
    );
    assert_eq!(
        micro(&sh["operator_fees_micro"]) + micro(&sh["to_holders_micro"]),
        micro(&sh["revenue_micro"])
    );
    let paid: u128 = sh["investors"]
        .as_array()
        .expect("investors")
        .iter()
        .map(|i| micro(&i["payout_micro"]))
        .sum();
    assert!(paid > 0 && paid <= micro(&sh["claimed_micro"]));
    let trail = &sh["audit_trail"];
    assert_eq!(trail["traced"], true, "{trail}");
    assert_eq!(trail["revenue_event"]["source"]["kind"], "energy");
    assert!(a["transactions"].as_u64().unwrap_or(0) > 0);
    let b = demo(&[]);
    assert_eq!(a["state_root"], b["state_root"]);
    let other = Command::new(BIN)
        .args([
            "demo",
            "--households",
            "6",
            "--hours",
            "12",
            "--seed",
            "8",
            "--json",
        ])
        .output()
        .expect("run machina demo");
    let other: Value = serde_json::from_slice(&other.stdout).expect("a JSON report");
    assert_ne!(a["state_root"], other["state_root"]);
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report.json"))
            .expect("json");
    for k in [
        "households",
        "intervals",
        "p2p_energy_wh",
        "grid_import_wh",
        "grid_export_wh",
        "savings_micro",
        "transactions",
        "state_root",
        "integrity_ok",
    ] {
        assert!(!report[k].is_null(), "report.json lacks {k}");
    }
    for f in ["intervals.csv", "prices.png", "community.png"] {
        assert!(out.join(f).metadata().expect(f).len() > 0, "{f} is empty");
    }
}
