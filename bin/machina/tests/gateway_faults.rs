//! `machina gateway` talking to its node through a faulty link (a proxy in the test): a lost
//! answer costs no second fee, and a node unreachable for a moment loses no reading to a
//! newer batch that overtook it.

use machina_primitives::Keypair;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::{free_port, get_json, post_json, register_meter, signed_reading, start_dev};
use common::{start_gateway, Proc};

/// What the proxy does with the first `POST /v1/tx` it sees; everything else is forwarded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Forwards it and closes the connection without the node's answer: the node has the
    /// transaction, the gateway does not know.
    LoseAnswer,
    /// Holds it until released, then closes the connection without forwarding it: the node
    /// was unreachable for it.
    HoldThenDrop,
}

#[derive(Default)]
struct State {
    fault: Option<Fault>,
    holding: bool,
    released: bool,
}

/// A proxy in front of a node, with one fault.
struct Proxy {
    url: String,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl Proxy {
    fn start(node: &str, fault: Fault) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new((Mutex::new(State::default()), Condvar::new()));
        state.0.lock().expect("lock").fault = Some(fault);
        let (node, shared) = (node.to_owned(), state.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (node, shared) = (node.clone(), shared.clone());
                std::thread::spawn(move || serve(conn, &node, &shared));
            }
        });
        Proxy { url, state }
    }

    /// Waits until the proxy holds a transaction.
    fn wait_holding(&self) {
        let (m, cv) = &*self.state;
        let (_guard, timeout) = cv
            .wait_timeout_while(m.lock().expect("lock"), Duration::from_secs(60), |s| {
                !s.holding
            })
            .expect("lock");
        assert!(!timeout.timed_out(), "the gateway sent no transaction");
    }

    /// Drops the transaction held, unforwarded.
    fn release(&self) {
        let (m, cv) = &*self.state;
        m.lock().expect("lock").released = true;
        cv.notify_all();
    }
}

/// A request's method, path, content type and body.
fn read_request(c: &TcpStream) -> Option<(String, String, String, Vec<u8>)> {
    let mut r = BufReader::new(c.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let (mut len, mut content_type) = (0, String::new());
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let Some((k, v)) = h.trim_end().split_once(':') else {
            break;
        };
        match k.to_ascii_lowercase().as_str() {
            "content-length" => len = v.trim().parse().ok()?,
            "content-type" => v.trim().clone_into(&mut content_type),
            _ => {}
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((method, path, content_type, body))
}

/// Forwards a request to the node; its status, content type and body.
fn forward(node: &str, method: &str, path: &str, ct: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let url = format!("{node}{path}");
    let r = match method {
        "POST" => ureq::post(&url).set("Content-Type", ct).send_bytes(body),
        _ => ureq::request(method, &url).call(),
    };
    let resp = match r {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("the node did not answer {method} {path}: {e}"),
    };
    let (status, ct) = (resp.status(), resp.content_type().to_owned());
    let mut out = Vec::new();
    resp.into_reader().read_to_end(&mut out).expect("body");
    (status, ct, out)
}

fn serve(mut c: TcpStream, node: &str, state: &(Mutex<State>, Condvar)) {
    let Some((method, path, ct, body)) = read_request(&c) else {
        return;
    };
    let fault = if method == "POST" && path == "/v1/tx" {
        state.0.lock().expect("lock").fault.take()
    } else {
        None
    };
    match fault {
        Some(Fault::LoseAnswer) => {
            forward(node, &method, &path, &ct, &body);
        }
        Some(Fault::HoldThenDrop) => {
            let (m, cv) = state;
            m.lock().expect("lock").holding = true;
            cv.notify_all();
            let _unused = cv
                .wait_while(m.lock().expect("lock"), |s| !s.released)
                .expect("lock");
        }
        None => {
            let (status, ct, out) = forward(node, &method, &path, &ct, &body);
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                out.len()
            );
            let _ = c
                .write_all(head.as_bytes())
                .and_then(|()| c.write_all(&out));
        }
    }
}

/// The gateway's account on the node: nonce and balance.
fn account(node: &str) -> (u64, u128) {
    let a = get_json(&format!(
        "{node}/v1/account/{}",
        Keypair::dev("bob").address()
    ));
    (
        a["nonce"].as_u64().expect("nonce"),
        common::micro(&a["balance"]),
    )
}

/// Each reading's outcome once the chain has decided it (accepted or refused).
fn final_outcomes(gw: &Proc, id: u64, seqs: std::ops::RangeInclusive<u64>) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(120);
    seqs.map(|seq| loop {
        let o = get_json(&format!("{}/v1/readings/{id}/{seq}", gw.url));
        if o["status"] == "accepted" || o["status"] == "refused" {
            break o;
        }
        assert!(Instant::now() < deadline, "no outcome: {o}");
        std::thread::sleep(Duration::from_millis(50));
    })
    .collect()
}

/// The fee of one transaction of the gateway.
fn fee() -> u128 {
    machina_stf::params::DEFAULT_MIN_FEE.0
}

#[test]
fn a_batch_whose_answer_was_lost_is_sent_again_as_the_same_transaction_and_pays_one_fee() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = start_dev(&tmp.path().join("data"), free_port(), &[]);
    let device = Keypair::from_seed([21; 32]);
    let id = register_meter(&node.url, &device);
    let proxy = Proxy::start(&node.url, Fault::LoseAnswer);
    let (nonce, balance) = account(&node.url);
    let gw = start_gateway(&proxy.url, &tmp.path().join("keys.json"), "bob", &[]);
    let rs: Vec<_> = (1..=3)
        .map(|seq| signed_reading(&device, id, seq, 60_000 - seq * 1_000, 100 + seq))
        .collect();
    let v = post_json(&format!("{}/v1/readings?wait=true", gw.url), json!(rs));
    // The first answer a device gets: the gateway does not know whether the node took it.
    assert_eq!(v["results"][0]["code"], "node_unreachable", "{v}");

    let outcomes = final_outcomes(&gw, id, 1..=3);
    for o in &outcomes {
        assert_eq!(
            (&o["status"], &o["code"]),
            (&json!("accepted"), &Value::Null),
            "{o}"
        );
        assert_eq!(o["tx_hash"], outcomes[0]["tx_hash"], "{o}");
    }
    let (nonce_after, balance_after) = account(&node.url);
    assert_eq!(nonce_after - nonce, 1, "one batch, one transaction");
    assert_eq!(balance - balance_after, fee(), "one batch, one fee");
}

#[test]
fn a_newer_batch_of_a_machine_waits_for_its_older_batch_and_every_reading_is_accepted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = start_dev(&tmp.path().join("data"), free_port(), &[]);
    let device = Keypair::from_seed([22; 32]);
    let id = register_meter(&node.url, &device);
    let proxy = Proxy::start(&node.url, Fault::HoldThenDrop);
    let (nonce, balance) = account(&node.url);
    let gw = start_gateway(
        &proxy.url,
        &tmp.path().join("keys.json"),
        "bob",
        &["--max-batch", "2"],
    );
    let rs: Vec<_> = (1..=4)
        .map(|seq| signed_reading(&device, id, seq, 60_000 - seq * 1_000, 100 + seq))
        .collect();
    let v = post_json(&format!("{}/v1/readings", gw.url), json!(rs));
    assert_eq!(v["queued"], 4, "{v}");

    // The first batch (readings 1 and 2) is in flight, its node unreachable; meanwhile a
    // flush is asked for, which would send readings 3 and 4 ahead of it.
    proxy.wait_holding();
    let flush_url = format!("{}/v1/flush", gw.url);
    let flush = std::thread::spawn(move || post_json(&flush_url, json!({})));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !flush.is_finished() && get_json(&format!("{}/v1/health", gw.url))["queued"] != 0 {
        assert!(
            Instant::now() < deadline,
            "the flush neither sent nor answered"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    proxy.release();

    let outcomes = final_outcomes(&gw, id, 1..=4);
    for o in &outcomes {
        assert_eq!(
            (&o["status"], &o["code"]),
            (&json!("accepted"), &Value::Null),
            "{o}"
        );
    }
    assert_eq!(outcomes[0]["tx_hash"], outcomes[1]["tx_hash"]);
    assert_eq!(outcomes[2]["tx_hash"], outcomes[3]["tx_hash"]);
    assert_ne!(outcomes[0]["tx_hash"], outcomes[2]["tx_hash"]);
    let m = get_json(&format!("{}/v1/meter/{id}", node.url));
    assert_eq!(m["seq"], 4, "{m}");
    let (nonce_after, balance_after) = account(&node.url);
    assert_eq!(nonce_after - nonce, 2, "two batches, two transactions");
    assert_eq!(balance - balance_after, 2 * fee(), "two batches, two fees");
    // The flush sent nothing: the machine's older batch was unresolved.
    assert_eq!(flush.join().expect("flush"), json!({"txs": []}));
}
