//! The HTTP server's limits on the real binary, attacked over raw sockets: idle, silent and
//! slow-loris connections are closed after the header timeout, a trickled body is refused with
//! `body_timeout`, at the connection limit an idle connection makes room and a busy server
//! refuses with `too_many_connections`, each route takes no more body than it needs, and
//! health answers throughout.

mod common;

use common::{free_port, start_dev};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Generous: a connection the server should close must be closed well before this.
const READ_GIVE_UP: Duration = Duration::from_secs(30);

fn connect(url: &str) -> TcpStream {
    let addr = url.trim_start_matches("http://");
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(READ_GIVE_UP)).expect("timeout");
    s
}

/// Reads until the server closes the connection; panics if it never does.
fn read_until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return out,
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
}

/// The status and JSON body of a whole response.
fn response(raw: &[u8]) -> (u16, serde_json::Value) {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or_default())
}

fn healthy(url: &str) {
    let h: serde_json::Value = ureq::get(&format!("{url}/v1/health"))
        .call()
        .expect("health answers")
        .into_json()
        .expect("JSON");
    assert_eq!(h["status"], "ok");
}

fn post_raw(url: &str, path: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let mut s = connect(url);
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("head");
    let _ = s.write_all(body); // the server may answer 413 before reading it all
    response(&read_until_closed(&mut s))
}

#[test]
fn idle_silent_and_slow_loris_connections_are_closed_and_health_stays_up() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let flags = ["--http-header-timeout-ms", "300"];
    let node = start_dev(&tmp.path().join("data"), free_port(), &flags);

    // A socket that never speaks.
    let mut silent = connect(&node.url);
    // A kept-alive connection after one answered request.
    let mut idle = connect(&node.url);
    idle.write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    let mut first = [0u8; 1024];
    assert!(idle.read(&mut first).expect("answer") > 0);
    // A slow loris: a header line every 100 ms, never the end of the head.
    let mut loris = connect(&node.url);
    loris
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        .expect("start");
    let mut cut = false;
    for i in 0..300 {
        std::thread::sleep(Duration::from_millis(100));
        healthy(&node.url);
        if loris.write_all(format!("X-{i}: y\r\n").as_bytes()).is_err() {
            cut = true;
            break;
        }
        loris.set_nonblocking(true).expect("nonblocking");
        let mut b = [0u8; 64];
        let closed = matches!(loris.read(&mut b), Ok(0))
            || matches!(loris.read(&mut b), Err(e) if e.kind() == ErrorKind::ConnectionReset);
        loris.set_nonblocking(false).expect("blocking");
        if closed {
            cut = true;
            break;
        }
    }
    assert!(cut, "a slow loris was never cut off");
    assert!(read_until_closed(&mut silent).is_empty());
    let _ = read_until_closed(&mut idle);
    healthy(&node.url);
}

#[test]
fn a_trickled_body_is_refused_with_body_timeout() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let flags = ["--http-body-timeout-ms", "300"];
    let node = start_dev(&tmp.path().join("data"), free_port(), &flags);
    let mut s = connect(&node.url);
    s.write_all(
        b"POST /v1/tx HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n\
          Content-Length: 1000\r\nConnection: close\r\n\r\n0123456789",
    )
    .expect("head and a little body");
    let (status, body) = response(&read_until_closed(&mut s));
    assert_eq!(status, 408, "{body}");
    assert_eq!(body["code"], "body_timeout");
    assert!(body["message"].as_str().unwrap_or("").contains("300 ms"));
    healthy(&node.url);
}

/// A POST whose head has arrived and whose body never completes: busy until the body timeout.
fn busy_connection(url: &str) -> TcpStream {
    let mut s = connect(url);
    s.write_all(
        b"POST /v1/tx HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n\
          Content-Length: 1000\r\n\r\n0123456789",
    )
    .expect("head and a little body");
    s
}

#[test]
fn at_the_limit_idle_connections_make_room_and_busy_ones_refuse_the_next() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let flags = ["--http-max-connections", "4"];
    let node = start_dev(&tmp.path().join("data"), free_port(), &flags);

    // Four sockets that never send a request hold every slot; a real client still gets in,
    // and the longest-idle socket is closed for it.
    let mut idle: Vec<TcpStream> = (0..4).map(|_| connect(&node.url)).collect();
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..3 {
        healthy(&node.url);
    }
    assert!(
        read_until_closed(&mut idle[0]).is_empty(),
        "the oldest idle one was closed"
    );
    drop(idle);

    // Four requests in flight (bodies still arriving) are not evicted: the next is refused.
    let busy: Vec<TcpStream> = (0..4).map(|_| busy_connection(&node.url)).collect();
    let mut refused = None;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(50));
        let mut s = connect(&node.url);
        s.write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("request");
        let (status, body) = response(&read_until_closed(&mut s));
        if status == 503 {
            refused = Some(body);
            break;
        }
    }
    let body = refused.expect("a connection beyond four busy ones is refused");
    assert_eq!(body["code"], "too_many_connections");
    assert!(body["message"]
        .as_str()
        .unwrap_or("")
        .contains("all 4 connections"));
    drop(busy);
    // The freed slots are taken again.
    let mut ok = false;
    for _ in 0..100 {
        if ureq::get(&format!("{}/v1/health", node.url)).call().is_ok() {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        ok,
        "health never answered after the busy connections closed"
    );
}

#[test]
fn each_route_takes_only_the_body_it_needs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = start_dev(&tmp.path().join("data"), free_port(), &[]);
    let big = vec![b' '; 100 * 1024];
    let (status, body) = post_raw(&node.url, "/v1/dev/set-balance", &big);
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    assert!(
        body["message"].as_str().unwrap_or("").contains("65536"),
        "{body}"
    );
    // The same size is fine for a transaction, which may be that large.
    let (status, body) = post_raw(&node.url, "/v1/tx", &big);
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("malformed")),
        "{body}"
    );
    let huge = vec![b' '; 5 * 1024 * 1024];
    let (status, body) = post_raw(&node.url, "/v1/tx", &huge);
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    assert!(
        body["message"].as_str().unwrap_or("").contains("4194304"),
        "{body}"
    );
    healthy(&node.url);
}
