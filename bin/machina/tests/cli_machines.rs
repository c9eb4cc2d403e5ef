//! Machines and their wallets through the real `machina` CLI against a dev node: registration
//! with proof of possession, spend policies, sessions, multisig and fee sponsorship.

mod common;
use common::devcli::{cli, cli_json, env, get, start};
use common::free_port;

#[test]
fn machines_and_their_wallets_work_through_the_cli() {
    let e = env();
    let node = start(&e.data, free_port());
    let n = node.url.as_str();
    for k in ["owner", "dev1", "dev2", "sess"] {
        cli_json(&e.keys, &["keys", "new", k, "--json"]);
    }
    cli_json(
        &e.keys,
        &[
            "tx", "transfer", "--from", "alice", "--to", "owner", "--amount", "50000000", "--node",
            n, "--json",
        ],
    );
    // A machine's zone must exist: refused before anything is signed or paid.
    let register_in_zone = [
        "tx",
        "machine",
        "register",
        "--from",
        "owner",
        "--device",
        "dev1",
        "--kind",
        "solar",
        "--rated-power-w",
        "4200",
        "--zone",
        "zone-a",
        "--node",
        n,
    ];
    let out = cli(&e.keys, &register_in_zone);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist"), "{err}");
    let owner = cli_json(&e.keys, &["keys", "show", "owner", "--json"]);
    let owner_addr = owner["address"].as_str().expect("address");
    let acct = get(&format!("{n}/v1/account/{owner_addr}"));
    assert_eq!(acct["nonce"], 0, "the owner sent nothing: {acct}");
    cli_json(
        &e.keys,
        &[
            "tx",
            "energy",
            "create-zone",
            "--from",
            "alice",
            "--name",
            "zone-a",
            "--retail-price",
            "300000",
            "--feed-in-price",
            "80000",
            "--import-limit-w",
            "100000",
            "--export-limit-w",
            "100000",
            "--node",
            n,
            "--json",
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
            "dev1",
            "--kind",
            "solar",
            "--rated-power-w",
            "4200",
            "--zone",
            "zone-a",
            "--serial",
            "SN-1",
            "--node",
            n,
            "--json",
        ],
    );
    let id = reg["machine_id"].as_u64().expect("machine_id").to_string();
    let m = cli_json(&e.keys, &["query", "machine", &id, "--node", n, "--json"]);
    assert_eq!(m["kind"], "solar");
    assert_eq!(m["status"], "active");
    assert_eq!(m["zone"], "zone-a");
    assert_eq!(m["reputation"]["policy_breaches"], 0);
    let owner = cli_json(&e.keys, &["keys", "show", "owner", "--json"]);
    assert_eq!(m["owner"], owner["address"]);
    let addr = m["address"].as_str().expect("address").to_owned();

    cli_json(
        &e.keys,
        &[
            "tx", "transfer", "--from", "alice", "--to", &addr, "--amount", "100000", "--node", n,
            "--json",
        ],
    );
    cli_json(
        &e.keys,
        &[
            "tx",
            "wallet",
            "set-policy",
            "--from",
            "owner",
            "--machine",
            &id,
            "--max-per-tx",
            "5000",
            "--max-per-window",
            "20000",
            "--window-blocks",
            "100",
            "--allow",
            "bob",
            "--node",
            n,
            "--json",
        ],
    );
    let ok = cli_json(
        &e.keys,
        &[
            "tx",
            "transfer",
            "--from",
            "dev1",
            "--machine",
            &id,
            "--to",
            "bob",
            "--amount",
            "4000",
            "--node",
            n,
            "--json",
        ],
    );
    assert_eq!(ok["receipt"]["success"], true);
    let out = cli(
        &e.keys,
        &[
            "tx",
            "transfer",
            "--from",
            "dev1",
            "--machine",
            &id,
            "--to",
            "bob",
            "--amount",
            "6000",
            "--node",
            n,
            // Sent anyway, so that the breach is on chain and counted.
            "--no-preflight",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("per_tx_cap_exceeded"));
    let out = cli(
        &e.keys,
        &[
            "tx",
            "transfer",
            "--from",
            "dev1",
            "--machine",
            &id,
            "--to",
            "charlie",
            "--amount",
            "1",
            "--node",
            n,
            // Sent anyway, so that the breach is on chain and counted.
            "--no-preflight",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_allowlisted"));
    let w = cli_json(&e.keys, &["query", "wallet", &id, "--node", n, "--json"]);
    assert_eq!(w["policy"]["max_per_tx"], "5000");
    assert_eq!(w["policy_breaches"], 2);

    cli_json(
        &e.keys,
        &[
            "tx",
            "wallet",
            "freeze",
            "--from",
            "owner",
            "--machine",
            &id,
            "--node",
            n,
            "--json",
        ],
    );
    let out = cli(
        &e.keys,
        &[
            "tx",
            "transfer",
            "--from",
            "dev1",
            "--machine",
            &id,
            "--to",
            "bob",
            "--amount",
            "1",
            "--node",
            n,
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("wallet_frozen"));
    cli_json(
        &e.keys,
        &[
            "tx",
            "wallet",
            "unfreeze",
            "--from",
            "owner",
            "--machine",
            &id,
            "--node",
            n,
            "--json",
        ],
    );

    cli_json(
        &e.keys,
        &[
            "tx",
            "machine",
            "rotate-key",
            "--from",
            "owner",
            "--machine",
            &id,
            "--new-device",
            "dev2",
            "--node",
            n,
            "--json",
        ],
    );
    let out = cli(
        &e.keys,
        &[
            "tx",
            "transfer",
            "--from",
            "dev1",
            "--machine",
            &id,
            "--to",
            "bob",
            "--amount",
            "1",
            "--node",
            n,
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("unauthorized"));
    cli_json(
        &e.keys,
        &[
            "tx",
            "transfer",
            "--from",
            "dev2",
            "--machine",
            &id,
            "--to",
            "bob",
            "--amount",
            "1",
            "--node",
            n,
            "--json",
        ],
    );

    cli_json(
        &e.keys,
        &[
            "tx",
            "wallet",
            "sweep",
            "--from",
            "owner",
            "--machine",
            &id,
            "--node",
            n,
            "--json",
        ],
    );
    let acct = cli_json(&e.keys, &["query", "account", &addr, "--node", n, "--json"]);
    assert_eq!(acct["balance"], "0");
    cli_json(
        &e.keys,
        &[
            "tx",
            "sponsor",
            "grant",
            "--from",
            "charlie",
            "--grantee",
            &addr,
            "--cap",
            "10000",
            "--expiry-height",
            "100000",
            "--node",
            n,
            "--json",
        ],
    );
    cli_json(
        &e.keys,
        &[
            "tx", "transfer", "--from", "alice", "--to", &addr, "--amount", "10", "--node", n,
            "--json",
        ],
    );
    let sponsored = cli_json(
        &e.keys,
        &[
            "tx",
            "transfer",
            "--from",
            "dev2",
            "--machine",
            &id,
            "--to",
            "bob",
            "--amount",
            "10",
            "--fee-payer",
            "charlie",
            "--node",
            n,
            "--json",
        ],
    );
    assert_eq!(sponsored["receipt"]["success"], true);

    cli_json(
        &e.keys,
        &[
            "tx",
            "machine",
            "transfer-owner",
            "--from",
            "owner",
            "--machine",
            &id,
            "--to",
            "dave",
            "--node",
            n,
            "--json",
        ],
    );
    let list = cli_json(
        &e.keys,
        &[
            "query", "machines", "--owner", "dave", "--node", n, "--json",
        ],
    );
    assert_eq!(list["total"], 1);
    let out = cli(
        &e.keys,
        &[
            "tx",
            "machine",
            "revoke",
            "--from",
            "owner",
            "--machine",
            &id,
            "--node",
            n,
        ],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_owner"));
    cli_json(
        &e.keys,
        &[
            "tx",
            "machine",
            "revoke",
            "--from",
            "dave",
            "--machine",
            &id,
            "--node",
            n,
            "--json",
        ],
    );
    let m = cli_json(&e.keys, &["query", "machine", &id, "--node", n, "--json"]);
    assert_eq!(m["status"], "revoked");
    // The frozen attempt was refused before inclusion (a frozen wallet cannot even pay a fee),
    // so only the two included breaches count.
    assert_eq!(m["reputation"]["policy_breaches"], 2);
}
