//! `machina gateway` on the real binary: a device posts readings and learns each one's
//! outcome, at once with `?wait=true` or later from `GET /v1/readings/{machine_id}/{seq}`.

use machina_primitives::Keypair;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

mod common;
use common::{
    advance, dev_tx, free_port, get_json, register_meter, signed_reading, start_dev, start_gateway,
    submit_and_wait, wait_for_metric,
};

/// POSTs JSON and returns the status and the JSON answer, error or not.
fn post(url: &str, body: &Value) -> (u16, Value) {
    match ureq::post(url).send_json(body) {
        Ok(r) => (r.status(), r.into_json().expect("JSON")),
        Err(ureq::Error::Status(s, r)) => (s, r.into_json().expect("JSON error")),
        Err(e) => panic!("POST {url}: {e}"),
    }
}

/// GETs and returns the status and the JSON answer, error or not.
fn get(url: &str) -> (u16, Value) {
    match ureq::get(url).call() {
        Ok(r) => (r.status(), r.into_json().expect("JSON")),
        Err(ureq::Error::Status(s, r)) => (s, r.into_json().expect("JSON error")),
        Err(e) => panic!("GET {url}: {e}"),
    }
}

#[test]
fn a_device_learns_each_readings_outcome_from_the_gateway() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = start_dev(&tmp.path().join("data"), free_port(), &[]);
    let device = Keypair::from_seed([5; 32]);
    let id = register_meter(&node.url, &device);
    let gw = start_gateway(&node.url, &tmp.path().join("keys.json"), "bob", &[]);
    let readings = format!("{}/v1/readings", gw.url);

    // A good reading, then one behind it: one batch, one accepted and one refused.
    let good = signed_reading(&device, id, 5, 60_000, 100);
    let stale = signed_reading(&device, id, 3, 70_000, 90);
    let (status, v) = post(&format!("{readings}?wait=true"), &json!([good, stale]));
    assert_eq!(status, 200, "{v}");
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 2, "{v}");
    let (accepted, refused) = (&results[0], &results[1]);
    assert_eq!(
        (
            &accepted["machine_id"],
            &accepted["seq"],
            &accepted["status"]
        ),
        (&json!(id), &json!(5), &json!("accepted")),
        "{v}"
    );
    assert_eq!(
        (&accepted["code"], &accepted["message"]),
        (&Value::Null, &Value::Null)
    );
    assert!(accepted["tx_hash"].as_str().is_some_and(|h| h.len() == 66));
    assert!(accepted["height"].as_u64().is_some_and(|h| h > 0));
    assert_eq!(
        (&refused["seq"], &refused["status"], &refused["code"]),
        (&json!(3), &json!("refused"), &json!("stale_reading")),
        "{v}"
    );
    assert!(refused["message"].as_str().is_some_and(|m| m.contains('5')));
    assert_eq!(refused["tx_hash"], accepted["tx_hash"]);

    // The same outcomes later, by machine and sequence number.
    assert_eq!(get_json(&format!("{readings}/{id}/5")), *accepted);
    assert_eq!(get_json(&format!("{readings}/{id}/3?channel=0")), *refused);
    let (status, e) = get(&format!("{readings}/{id}/99"));
    assert_eq!((status, &e["code"]), (404, &json!("not_found")), "{e}");
    assert!(e["message"].as_str().is_some_and(|m| m.contains("99")));
    let (status, e) = get(&format!("{readings}/{id}/5?channel=1"));
    assert_eq!(status, 404, "{e}");
    let (status, e) = post(&format!("{readings}?wait=maybe"), &json!([]));
    assert_eq!((status, &e["code"]), (400, &json!("bad_query")), "{e}");

    // A device that posts the accepted reading again (its first answer lost) still learns it
    // was accepted, in the first batch; the chain refused the copy and changed nothing.
    let (_, again) = post(&format!("{readings}?wait=true"), &json!(good));
    assert_eq!(again["results"][0], *accepted, "{again}");

    // Without `wait` the answer comes at once, as before; the outcome follows.
    let next = signed_reading(&device, id, 6, 50_000, 101);
    let (status, v) = post(&readings, &json!([next]));
    assert_eq!((status, v), (200, json!({"queued": 1, "not_queued": []})));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let o = get_json(&format!("{readings}/{id}/6"));
        if o["status"] == "accepted" {
            break;
        }
        assert_eq!(o["status"], "pending", "{o}");
        assert!(Instant::now() < deadline, "no outcome: {o}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Both /metrics count the refusals by code: the stale reading and the copy.
    let text = wait_for_metric(
        &gw.url,
        "machina_gateway_refused_readings_total{code=\"stale_reading\"}",
        2.0,
    );
    assert!(
        text.lines()
            .any(|l| l == "machina_gateway_accepted_readings_total 2"),
        "{text}"
    );
    wait_for_metric(
        &node.url,
        "machina_readings_refused_total{code=\"stale_reading\"}",
        2.0,
    );
    wait_for_metric(&node.url, "machina_readings_accepted_total", 2.0);
}

#[test]
fn a_reading_the_gateway_cannot_get_into_a_block_fails_with_the_gateways_code() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = start_dev(&tmp.path().join("data"), free_port(), &[]);
    let device = Keypair::from_seed([6; 32]);
    let id = register_meter(&node.url, &device);
    // The key `gateway` is created empty: it cannot pay for its batches.
    let gw = start_gateway(&node.url, &tmp.path().join("keys.json"), "gateway", &[]);
    let readings = format!("{}/v1/readings", gw.url);
    let r = signed_reading(&device, id, 1, 60_000, 100);
    let (status, v) = post(&format!("{readings}?wait=true"), &json!([r]));
    assert_eq!(status, 200, "{v}");
    let o = &v["results"][0];
    assert_eq!(
        (&o["status"], &o["code"], &o["tx_hash"]),
        (&json!("failed"), &json!("node_refused"), &Value::Null),
        "{v}"
    );
    let message = o["message"].as_str().expect("message");
    assert!(message.contains("insufficient_funds"), "{message}");
    assert!(message.contains("sends it again"), "{message}");
    // Retried with backoff, it stays failed until someone funds the gateway.
    assert_eq!(get_json(&format!("{readings}/{id}/1"))["status"], "failed");
}

/// Wall-clock milliseconds: the readings' and the simulated chain's time.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_millis() as u64
}

#[test]
fn a_reading_whose_first_batch_committed_unseen_is_still_reported_accepted_by_that_batch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Blocks only when the test advances the clock: the gateway's first batch waits in the
    // mempool longer than the gateway waits for its receipt.
    let node = start_dev(&tmp.path().join("data"), free_port(), &["--sim-clock"]);
    let url = node.url.as_str();
    let mut t = now_ms();
    let device = Keypair::from_seed([8; 32]);
    let reg = std::thread::scope(|s| {
        let registering = s.spawn(|| register_meter(url, &device));
        // Until the registration is in a block.
        while !registering.is_finished() {
            t += 100;
            advance(url, t);
            std::thread::sleep(Duration::from_millis(20));
        }
        registering.join().expect("registered")
    });
    let gw = start_gateway(
        url,
        &tmp.path().join("keys.json"),
        "bob",
        &["--receipt-wait-ms", "300"],
    );
    let readings = format!("{}/v1/readings", gw.url);
    let r = signed_reading(&device, reg, 1, 60_000, 100);
    let (_, v) = post(&format!("{readings}?wait=true"), &json!([r]));
    let first = &v["results"][0];
    assert_eq!(
        (&first["status"], &first["code"]),
        (&json!("failed"), &json!("not_committed")),
        "{v}"
    );
    let first_tx = first["tx_hash"].clone();
    assert!(first_tx.is_string(), "{v}");
    // Blocks again: the first batch commits, and the gateway's retry is refused as stale.
    let deadline = Instant::now() + Duration::from_secs(120);
    let o = loop {
        t += 100;
        advance(url, t);
        let o = get_json(&format!("{readings}/{reg}/1"));
        if o["status"] == "accepted" || o["status"] == "refused" {
            break o;
        }
        assert!(Instant::now() < deadline, "no outcome: {o}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        (&o["status"], &o["tx_hash"]),
        (&json!("accepted"), &first_tx),
        "{o}"
    );
    let m = get_json(&format!("{url}/v1/meter/{reg}"));
    assert_eq!(m["seq"], 1, "{m}");
}

/// The code and tx hash of each outcome in `list`, with its status.
fn codes(list: &Value) -> Vec<(Value, Value, Value)> {
    list.as_array()
        .expect("a list of outcomes")
        .iter()
        .map(|o| (o["status"].clone(), o["code"].clone(), o["tx_hash"].clone()))
        .collect()
}

/// Refused at the door with `code`: no transaction.
fn refused(code: &str) -> (Value, Value, Value) {
    (json!("refused"), json!(code), Value::Null)
}

#[test]
fn the_gateway_refuses_unauthenticated_readings_at_once_and_pays_for_none_of_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = start_dev(&tmp.path().join("data"), free_port(), &[]);
    let device = Keypair::from_seed([12; 32]);
    let id = register_meter(&node.url, &device);
    let gw = start_gateway(&node.url, &tmp.path().join("keys.json"), "bob", &[]);
    let readings = format!("{}/v1/readings", gw.url);
    let bob = format!("{}/v1/account/{}", node.url, Keypair::dev("bob").address());
    let nonce_before = get_json(&bob)["nonce"].as_u64().expect("nonce");

    let stranger = Keypair::from_seed([13; 32]);
    let good = signed_reading(&device, id, 7, 60_000, 100);
    let mut forged = good;
    forged.reading.import_wh = 5_000;
    let unknown = signed_reading(&stranger, 999_999, 1, 60_000, 1);
    let wrong_key = signed_reading(&stranger, id, 8, 50_000, 101);
    let (status, v) = post(&readings, &json!([forged, unknown, wrong_key]));
    assert_eq!((status, &v["queued"]), (200, &json!(0)), "{v}");
    assert_eq!(
        codes(&v["not_queued"]),
        [
            refused("bad_reading_signature"),
            refused("unknown_machine"),
            refused("wrong_device_key")
        ],
        "{v}"
    );
    assert_eq!(v["not_queued"][1]["machine_id"], 999_999, "{v}");
    assert!(v["not_queued"][2]["message"]
        .as_str()
        .is_some_and(|m| m.contains("current device key")));
    assert_eq!(get_json(&format!("{}/v1/health", gw.url))["queued"], 0);
    // A forged reading is not remembered either: it cannot stand for the real reading 7.
    assert_eq!(get(&format!("{readings}/{id}/7")).0, 404);

    // Mixed with a good reading: the good one alone goes into a batch.
    let (_, v) = post(
        &format!("{readings}?wait=true"),
        &json!([forged, good, wrong_key]),
    );
    let results = codes(&v["results"]);
    assert_eq!(results[0], refused("bad_reading_signature"), "{v}");
    assert_eq!(
        (&results[1].0, &results[1].1),
        (&json!("accepted"), &Value::Null),
        "{v}"
    );
    assert_eq!(results[2], refused("wrong_device_key"), "{v}");
    assert_eq!(
        get_json(&format!("{readings}/{id}/7"))["status"],
        "accepted"
    );
    let health = get_json(&format!("{}/v1/health", gw.url));
    assert_eq!(health["submitted"], 1, "{health}");
    let nonce = get_json(&bob)["nonce"].as_u64().expect("nonce");
    assert_eq!(
        nonce - nonce_before,
        1,
        "one transaction for one good reading"
    );

    // The owner rotates the device key: the gateway follows at once, and the old key is
    // refused at the door from then on.
    use machina_identity::{device_pop_message, IdentityAction};
    let alice = Keypair::dev("alice");
    let new_device = Keypair::from_seed([14; 32]);
    let rotate = IdentityAction::RotateDeviceKey {
        machine_id: id,
        new_key: new_device.public(),
        signature: new_device.sign(&device_pop_message(
            machina_primitives::DEV_CHAIN_ID,
            &alice.address(),
        )),
    };
    let rec = submit_and_wait(&node.url, &dev_tx(&node.url, &alice, vec![rotate.into()]));
    assert_eq!(rec["receipt"]["success"], true, "{rec}");
    let after = signed_reading(&new_device, id, 9, 40_000, 102);
    let (_, v) = post(&format!("{readings}?wait=true"), &json!([after]));
    assert_eq!(v["results"][0]["status"], "accepted", "{v}");
    let old_key = signed_reading(&device, id, 10, 30_000, 103);
    let (_, v) = post(&format!("{readings}?wait=true"), &json!([old_key]));
    assert_eq!(codes(&v["results"]), [refused("wrong_device_key")], "{v}");
}
