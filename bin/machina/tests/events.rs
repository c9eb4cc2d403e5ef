//! The event stream on the real binary: a blocks subscription from a past height continues
//! live, and across a restart of the node a resubscription from the next height gets every
//! block exactly once; an events subscription filters by module, kind and account; a bad
//! subscription is answered with its code.

use machina_primitives::Keypair;
use serde_json::Value;
use std::net::TcpStream;
use std::time::Duration;
use tungstenite::{Message, WebSocket};

mod common;
use common::{advance, free_port, start_dev, submit, transfer_tx};

type Ws = WebSocket<TcpStream>;

fn connect(port: u16) -> Ws {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let (ws, _) = tungstenite::client(format!("ws://127.0.0.1:{port}/v1/ws"), s).expect("upgrade");
    ws
}

fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).expect("send");
}

fn recv(ws: &mut Ws) -> Value {
    loop {
        match ws.read().expect("a message") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).expect("one JSON object"),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn transfer(url: &str, nonce: u64, amount: u128) {
    let (alice, bob) = (Keypair::dev("alice"), Keypair::dev("bob").address());
    submit(url, &transfer_tx(&alice, nonce, bob, amount));
}

/// Reads block messages of subscription `sub` until height `last`; returns their heights.
fn blocks_until(ws: &mut Ws, last: u64) -> Vec<u64> {
    let mut got = Vec::new();
    while got.last() != Some(&last) {
        let m = recv(ws);
        assert_eq!(m["type"], "block", "{m}");
        assert_eq!(m["height"], m["block"]["height"]);
        assert_eq!(
            m["block"]["receipts"].as_array().map(Vec::len),
            m["block"]["tx_count"].as_u64().map(|n| n as usize)
        );
        got.push(m["height"].as_u64().expect("height"));
    }
    got
}

#[test]
fn a_subscription_from_a_past_height_survives_a_restart_with_no_gap_and_no_duplicate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let port = free_port();
    let node = start_dev(&data, port, &["--sim-clock"]);
    let url = node.url.clone();
    for (h, nonce) in (1..=5u64).zip(0..) {
        transfer(&url, nonce, 1_000 + u128::from(h));
        advance(&url, h * 1_000);
    }
    let mut ws = connect(port);
    send(
        &mut ws,
        serde_json::json!({"subscribe": "blocks", "from_height": 2}),
    );
    let ack = recv(&mut ws);
    assert_eq!(
        (ack["type"].as_str(), ack["from_height"].as_u64()),
        (Some("subscribed"), Some(2))
    );
    let mut heights = blocks_until(&mut ws, 5);
    for h in 6..=8u64 {
        advance(&url, h * 1_000);
    }
    heights.extend(blocks_until(&mut ws, 8));

    // Events: bob's incoming transfers from height 1, each height closed by a marker.
    let mut ev = connect(port);
    send(
        &mut ev,
        serde_json::json!({"subscribe": "events", "module": "bank", "kind": "transfer", "account": Keypair::dev("bob").address().to_string(), "from_height": 1}),
    );
    assert_eq!(recv(&mut ev)["type"], "subscribed");
    let mut transfers = 0;
    loop {
        let m = recv(&mut ev);
        match m["type"].as_str() {
            Some("event") => {
                assert_eq!(m["event"]["kind"], "transfer");
                transfers += 1;
            }
            Some("height") if m["height"] == 8 => break,
            Some("height") => {}
            other => panic!("unexpected {other:?}: {m}"),
        }
    }
    assert_eq!(transfers, 5, "the five transfers to bob, each once");
    send(
        &mut ev,
        serde_json::json!({"subscribe": "blocks", "module": "bank"}),
    );
    let err = recv(&mut ev);
    assert_eq!(
        (err["type"].as_str(), err["code"].as_str()),
        (Some("error"), Some("bad_subscription")),
        "{err}"
    );
    drop((ws, ev));

    // The node restarts; the client resubscribes from the height after its last.
    drop(node);
    let node = start_dev(&data, port, &["--sim-clock"]);
    let mut ws = connect(port);
    let next = heights.last().expect("some") + 1;
    send(
        &mut ws,
        serde_json::json!({"subscribe": "blocks", "from_height": next}),
    );
    assert_eq!(recv(&mut ws)["type"], "subscribed");
    for h in 9..=10u64 {
        advance(&node.url, h * 1_000);
    }
    heights.extend(blocks_until(&mut ws, 10));
    assert_eq!(
        heights,
        (2..=10).collect::<Vec<u64>>(),
        "every block once, in order"
    );
}

#[test]
fn catching_up_on_more_heights_than_the_queue_holds_waits_for_the_consumer() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let node = start_dev(&tmp.path().join("data"), port, &["--sim-clock"]);
    // More past heights than a connection may queue (1,024 messages).
    let last = 1_300;
    for h in 1..=last {
        advance(&node.url, h * 1_000);
    }
    let mut ws = connect(port);
    send(
        &mut ws,
        serde_json::json!({"subscribe": "blocks", "from_height": 1}),
    );
    assert_eq!(recv(&mut ws)["type"], "subscribed");
    // A consumer that reads nothing for a while is not dropped while it catches up: the
    // store is read at its pace.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(blocks_until(&mut ws, last), (1..=last).collect::<Vec<_>>());
}
