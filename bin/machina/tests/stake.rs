//! Staking on the real binary: bond, unbond, and the release after the role's delay, through
//! the CLI and the HTTP API of a dev node.

use std::time::{Duration, Instant};

mod common;
use common::{cli_json, free_port, micro, start_dev};

#[test]
fn bond_unbond_and_release_after_the_delay() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("keys.json");
    let node = start_dev(
        &tmp.path().join("data"),
        free_port(),
        &["--idle-block-ms", "20"],
    );
    let url = node.url.as_str();
    let subject = ["--role", "reporter", "--subject", "price"];
    let balance =
        |who: &str| micro(&cli_json(&keys, Some(url), &["query", "account", who])["balance"]);
    let start = balance("bob");

    let rec = cli_json(
        &keys,
        Some(url),
        &[
            &[
                "tx", "stake", "bond", "--from", "bob", "--amount", "3000000",
            ][..],
            &subject,
        ]
        .concat(),
    );
    assert_eq!(rec["receipt"]["success"], true);
    let rec = cli_json(
        &keys,
        Some(url),
        &[
            &[
                "tx", "stake", "unbond", "--from", "bob", "--amount", "2000000",
            ][..],
            &subject,
        ]
        .concat(),
    );
    let started = rec["receipt"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "unbonding_started")
        .expect("unbonding_started")
        .clone();
    let release = started["attrs"]["release_height"]
        .as_u64()
        .expect("release height");
    let height = rec["height"].as_u64().expect("committed at a height");
    let bob_addr = machina_primitives::Keypair::dev("bob")
        .address()
        .to_string();
    let view = cli_json(
        &keys,
        Some(url),
        &[
            "query",
            "stake",
            &format!("price:{bob_addr}"),
            "--role",
            "reporter",
        ],
    );
    assert_eq!(micro(&view["bonded"]), 1_000_000);
    assert_eq!(view["unbonding"][0]["release_height"], release);
    assert_eq!(micro(&view["unbonding"][0]["amount"]), 2_000_000);
    assert_eq!(view["jailed_until"], 0);
    assert_eq!(micro(&view["slashed_total"]), 0);
    assert_eq!(release, height + 100, "the reporter delay is 100 blocks");
    let owner = cli_json(&keys, Some(url), &["query", "stake", "--owner", "bob"]);
    assert_eq!(owner["bonds"][0]["subject"], format!("price:{bob_addr}"));
    assert_eq!(owner["unbonding"][0]["release_height"], release);

    // Not back before the release height; back by itself after it.
    let fees = 2 * 1_000;
    assert_eq!(balance("bob"), start - 3_000_000 - fees);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // The stake first, the height after it: a block committed in between can only make the
        // height larger, so a release seen before `release` would really be early.
        let owner = cli_json(&keys, Some(url), &["query", "stake", "--owner", "bob"]);
        let pending = owner["unbonding"].as_array().expect("list").len();
        let head = cli_json(&keys, Some(url), &["query", "block", "latest"])["height"]
            .as_u64()
            .expect("height");
        if pending == 0 {
            assert!(
                head >= release,
                "released before height {release} (at {head})"
            );
            break;
        }
        assert!(Instant::now() < deadline, "not released by height {head}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(balance("bob"), start - 1_000_000 - fees);
}
