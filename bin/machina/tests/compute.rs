//! The compute market on the real binary: a bonded compute machine offers a slot, a tenant's
//! job is leased in the block it arrives in, paid while it runs, and closed with its unused
//! escrow back, through the CLI of a dev node.

use std::time::{Duration, Instant};

mod common;
use common::{cli_json, free_port, micro, start_dev};

#[test]
fn a_job_is_leased_in_one_block_paid_while_it_runs_and_closed_with_its_escrow_back() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let ks = tmp.path().join("keys.json");
    let node = start_dev(
        &tmp.path().join("data"),
        free_port(),
        &["--idle-block-ms", "20"],
    );
    let n = Some(node.url.as_str());
    cli_json(&ks, None, &["keys", "new", "gpu-box"]);
    let reg = cli_json(
        &ks,
        n,
        &[
            "tx",
            "machine",
            "register",
            "--from",
            "bob",
            "--device",
            "gpu-box",
            "--kind",
            "compute",
            "--rated-power-w",
            "700",
        ],
    );
    let id = reg["machine_id"].as_u64().expect("machine_id").to_string();
    cli_json(
        &ks,
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
            &id,
            "--amount",
            "10000000",
        ],
    );
    let offer = cli_json(
        &ks,
        n,
        &[
            "tx",
            "compute",
            "offer",
            "--from",
            "bob",
            "--machine",
            &id,
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
    assert_eq!(offer["receipt"]["success"], true);
    let posted = cli_json(
        &ks,
        n,
        &[
            "tx",
            "compute",
            "job",
            "--from",
            "charlie",
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
    let height = posted["height"].as_u64().expect("height");
    let job = posted["receipt"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "job_posted")
        .expect("job_posted")["attrs"]["job_id"]
        .as_u64()
        .expect("job id")
        .to_string();
    // Leased at the end of the block it arrived in: the lease starts in the next one.
    let j = cli_json(&ks, n, &["query", "compute", "job", &job]);
    assert_eq!(j["status"], "leased");
    assert_eq!(j["paid_until_height"], height + 1);
    assert_eq!(
        j["leases"][0]["machine_id"]
            .as_u64()
            .expect("id")
            .to_string(),
        id
    );
    assert_eq!(
        micro(&j["leases"][0]["price_per_block"]),
        2500,
        "the offer's price"
    );
    let leases = cli_json(&ks, n, &["query", "compute", "leases", "--machine", &id]);
    assert_eq!(
        leases["leases"][0]["job_id"]
            .as_u64()
            .expect("id")
            .to_string(),
        job
    );

    // Paid while it runs, a whole number of blocks at the offer's price.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = cli_json(&ks, n, &["query", "compute", "job", &job]);
        if micro(&j["leases"][0]["paid"]) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "never paid");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The provider acknowledges; its device signs a heartbeat, sent as the machine's account
    // (which pays the fee from what it earned).
    cli_json(
        &ks,
        n,
        &["tx", "compute", "ack", "--from", "bob", "--job", &job],
    );
    let hb = cli_json(
        &ks,
        n,
        &[
            "tx",
            "compute",
            "heartbeat",
            "--from",
            "gpu-box",
            "--machine",
            &id,
            "--job",
            &job,
            "--gpu-seconds",
            "60",
        ],
    );
    assert_eq!(hb["receipt"]["success"], true, "{hb}");
    let j = cli_json(&ks, n, &["query", "compute", "job", &job]);
    assert_eq!(j["leases"][0]["acked"], true);
    assert_eq!(j["leases"][0]["gpu_seconds"], 60);
    assert!(
        j["leases"][0]["last_heartbeat_height"]
            .as_u64()
            .expect("height")
            > height
    );
    let closed = cli_json(
        &ks,
        n,
        &["tx", "compute", "close", "--from", "charlie", "--job", &job],
    );
    assert_eq!(closed["receipt"]["success"], true);
    let j = cli_json(&ks, n, &["query", "compute", "job", &job]);
    assert_eq!(j["status"], "closed");
    assert_eq!(micro(&j["escrow"]), 0);
    let paid = micro(&j["leases"][0]["paid"]);
    assert_eq!(paid % 2500, 0);
    let machine = cli_json(&ks, n, &["query", "machine", &id]);
    let account = machine["address"].as_str().expect("address");
    let balance = cli_json(&ks, n, &["query", "account", account]);
    assert_eq!(
        micro(&balance["balance"]),
        paid - 1_000,
        "the machine earned what the lease paid, less its heartbeat's fee"
    );
}
