//! The surface users see, on the real `machina` binary: every HTTP error of the node and the
//! gateway is small JSON `{"code", "message"}` with a stable code, and the CLI's papercuts
//! (closed pipes, addresses without a scheme, typos in key names, decimal amounts, no node).

use serde_json::Value;
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

mod common;
use common::{free_port, start_dev, wait_up, Proc, BIN};

/// The node's body limit (`machina_api::MAX_BODY_BYTES`).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Longest error body any test accepts: a capped message and its code.
const SMALL: usize = 1024;

fn cli(keystore: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("MACHINA_KEYSTORE", keystore)
        .env_remove("MACHINA_NODE")
        .output()
        .expect("run machina")
}

/// An HTTP answer: status, headers that matter here, and the raw body.
struct Answer {
    status: u16,
    content_type: String,
    allow: String,
    body: Vec<u8>,
}

impl Answer {
    /// The body as JSON; panics unless it is a small `{"code", "message"}`.
    fn error(&self) -> Value {
        assert!(self.status >= 400, "status {}", self.status);
        assert!(
            self.content_type.starts_with("application/json"),
            "status {} with content type {:?}: {}",
            self.status,
            self.content_type,
            String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
        );
        assert!(
            self.body.len() <= SMALL,
            "error body is {} bytes",
            self.body.len()
        );
        let v: Value = serde_json::from_slice(&self.body).expect("JSON error body");
        assert!(v["code"].is_string() && v["message"].is_string(), "{v}");
        v
    }

    fn code(&self) -> (u16, String) {
        (
            self.status,
            self.error()["code"].as_str().unwrap_or("").to_owned(),
        )
    }

    fn message(&self) -> String {
        self.error()["message"].as_str().unwrap_or("").to_owned()
    }
}

fn answer(r: Result<ureq::Response, ureq::Error>) -> Answer {
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("no HTTP answer: {e}"),
    };
    let status = resp.status();
    let content_type = resp.header("content-type").unwrap_or("").to_owned();
    let allow = resp.header("allow").unwrap_or("").to_owned();
    let mut body = Vec::new();
    resp.into_reader()
        .take(1 << 26)
        .read_to_end(&mut body)
        .expect("body");
    Answer {
        status,
        content_type,
        allow,
        body,
    }
}

fn get(url: &str) -> Answer {
    answer(ureq::get(url).call())
}

fn post(url: &str, content_type: &str, body: &[u8]) -> Answer {
    answer(
        ureq::post(url)
            .set("Content-Type", content_type)
            .send_bytes(body),
    )
}

/// A POST whose body the server refuses unread: the server may answer and close while the body
/// is still being sent, so the body is written as far as the socket takes it and the answer is
/// read afterwards, as a browser or curl does (an HTTP client that stops at the failed write
/// never sees the answer).
fn post_refused_unread(url: &str, content_type: &str, body: &[u8]) -> Answer {
    use std::io::Write;
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_at(rest.find('/').expect("a path"));
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .expect("timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("request head");
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    Answer {
        status,
        content_type: header("content-type"),
        allow: header("allow"),
        body: body.as_bytes().to_vec(),
    }
}

fn method(m: &str, url: &str) -> Answer {
    answer(ureq::request(m, url).call())
}

#[test]
fn the_node_answers_unknown_routes_methods_and_parameters_with_json_codes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = start_node(&tmp.path().join("data"), &[]);
    let u = &node.url;

    let a = get(&format!("{u}/v1/nope"));
    assert_eq!(a.code(), (404, "not_found".into()));
    let m = a.message();
    assert!(
        m.contains("/v1/nope") && m.contains("/v1/openapi.json"),
        "{m}"
    );
    assert_eq!(get(&format!("{u}/")).code(), (404, "not_found".into()));

    let a = post(&format!("{u}/v1/health"), "application/json", b"{}");
    assert_eq!(a.code(), (405, "method_not_allowed".into()));
    assert!(a.allow.contains("GET"), "Allow: {:?}", a.allow);
    assert!(a.message().contains("POST"), "{}", a.message());
    let a = method("DELETE", &format!("{u}/v1/tx"));
    assert_eq!(a.code(), (405, "method_not_allowed".into()));
    assert!(a.allow.contains("POST"), "Allow: {:?}", a.allow);

    // Path parameters: axum's typed ones and the ones the handlers parse.
    let a = get(&format!("{u}/v1/energy/zone/a/order/xyz"));
    assert_eq!(a.code(), (400, "bad_path".into()));
    assert!(
        a.message()
            .contains("id in the path must be a u64, got `xyz`"),
        "{}",
        a.message()
    );
    assert_eq!(
        get(&format!("{u}/v1/tx/zz")).code(),
        (400, "bad_path".into())
    );
    assert_eq!(
        get(&format!("{u}/v1/account/0x12")).code(),
        (400, "bad_path".into())
    );
    assert_eq!(
        get(&format!("{u}/v1/block/abc")).code(),
        (400, "bad_path".into())
    );
    assert_eq!(
        get(&format!("{u}/v1/machine/-1")).code(),
        (400, "bad_path".into())
    );

    // Query strings.
    let hash = format!("0x{}", "00".repeat(32));
    let a = get(&format!("{u}/v1/tx/{hash}?wait_ms=soon"));
    assert_eq!(a.code(), (400, "bad_query".into()));
    assert!(a.message().contains("wait_ms=soon"), "{}", a.message());
    let a = get(&format!("{u}/v1/machines?kind=robot"));
    assert_eq!(a.code(), (400, "bad_query".into()));
    assert!(a.message().contains("kind"), "{}", a.message());
    let a = get(&format!("{u}/v1/machines?owner=bob"));
    assert_eq!(a.code(), (400, "bad_query".into()));
    assert_eq!(
        get(&format!("{u}/v1/meter/1/energy")).code(),
        (400, "bad_query".into())
    );

    // A body over the limit (one byte over, so the node reads it all before refusing).
    let a = post(
        &format!("{u}/v1/txs"),
        "application/octet-stream",
        &vec![0u8; MAX_BODY_BYTES + 1],
    );
    assert_eq!(a.code(), (413, "payload_too_large".into()));
    assert!(
        a.message().contains(&MAX_BODY_BYTES.to_string()),
        "{}",
        a.message()
    );

    // Successes are untouched: the metrics stay text, the document JSON.
    let m = get(&format!("{u}/metrics"));
    assert_eq!(m.status, 200);
    assert!(
        m.content_type.starts_with("text/plain"),
        "{}",
        m.content_type
    );
    let doc: Value =
        serde_json::from_slice(&get(&format!("{u}/v1/openapi.json")).body).expect("openapi JSON");
    assert!(doc["components"]["responses"]["MethodNotAllowed"].is_object());
}

#[test]
fn a_megabyte_of_bad_input_comes_back_as_a_small_json_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = start_node(&tmp.path().join("data"), &[]);
    let u = &node.url;
    let mb = 1 << 20;

    // A JSON string where a transaction belongs.
    let body = format!("\"{}\"", "z".repeat(mb));
    let a = post(&format!("{u}/v1/tx"), "application/json", body.as_bytes());
    assert_eq!(a.code(), (400, "malformed".into()));
    assert!(a.message().contains("bytes)"), "{}", a.message());

    // Bad hex inside a transaction, and a batch of it.
    let bad_hex = format!("0x{}", "g".repeat(mb));
    let tx = format!("{{\"body\": {{\"sender\": \"{bad_hex}\"}}, \"signatures\": []}}");
    let a = post(&format!("{u}/v1/tx"), "application/json", tx.as_bytes());
    assert_eq!(a.code(), (400, "malformed".into()));
    let a = post(
        &format!("{u}/v1/txs"),
        "application/json",
        format!("[{tx}]").as_bytes(),
    );
    assert_eq!(a.code(), (400, "malformed".into()));

    // JSON that breaks off in the middle of a long string.
    let a = post(
        &format!("{u}/v1/tx"),
        "application/json",
        format!("{{\"body\": \"{}", "q".repeat(mb)).as_bytes(),
    );
    assert_eq!(a.code(), (400, "malformed".into()));

    // A long bad path parameter is quoted by a prefix and its length. (Past 64 KiB of URI,
    // hyper answers a bare 414 before axum sees the request.)
    let long = "f".repeat(60_000);
    let a = get(&format!("{u}/v1/account/0x{long}"));
    assert_eq!(a.code(), (400, "bad_path".into()));
    assert!(a.message().contains("(60002 bytes)"), "{}", a.message());
    let a = get(&format!("{u}/v1/{long}"));
    assert_eq!(a.code(), (404, "not_found".into()));
}

#[test]
fn the_sim_clock_route_answers_bad_bodies_with_json_codes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = start_node(&tmp.path().join("data"), &["--sim-clock"]);
    let url = format!("{}/v1/dev/advance", node.url);

    let a = post(&url, "text/plain", b"{\"timestamp_ms\": 1000}");
    assert_eq!(a.code(), (415, "unsupported_media_type".into()));
    assert!(a.message().contains("application/json"), "{}", a.message());
    let a = post(&url, "application/json", b"{\"timestamp_ms\": ");
    assert_eq!(a.code(), (400, "malformed".into()));
    // A bad value is quoted short; a body over the route's 64 KiB is refused unread.
    let big = format!("{{\"timestamp_ms\": \"{}\"}}", "9".repeat(32 << 10));
    let a = post(&url, "application/json", big.as_bytes());
    assert_eq!(a.code(), (400, "malformed".into()));
    assert!(a.message().len() < 300, "{}", a.message());
    let big = format!("{{\"timestamp_ms\": \"{}\"}}", "9".repeat(1 << 20));
    let a = post_refused_unread(&url, "application/json", big.as_bytes());
    assert_eq!(a.code(), (413, "payload_too_large".into()));
    assert!(a.message().contains("65536"), "{}", a.message());
    assert_eq!(
        method("GET", &url).code(),
        (405, "method_not_allowed".into())
    );
    // The route still works.
    let ok = post(&url, "application/json", b"{\"timestamp_ms\": 1000}");
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
}

#[test]
fn the_gateway_answers_bad_bodies_and_unknown_routes_with_json_codes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("keys.json");
    let node = start_node(&tmp.path().join("data"), &[]);
    let port = free_port();
    // The node address without a scheme works here too.
    let child = Command::new(BIN)
        .args(["gateway", "--node", node.url.trim_start_matches("http://")])
        .args(["--listen", &format!("127.0.0.1:{port}"), "--batch-ms", "0"])
        .env("MACHINA_KEYSTORE", &keys)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gateway");
    let gw = Proc {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    wait_up(&gw.url, "gateway");
    let url = format!("{}/v1/readings", gw.url);

    let a = post(&url, "text/plain", b"[]");
    assert_eq!(a.code(), (415, "unsupported_media_type".into()));
    let a = post(&url, "application/json", b"[{\"reading\": ");
    assert_eq!(a.code(), (400, "malformed".into()));
    let a = post(&url, "application/json", b"[{\"reading\": {}}]");
    assert_eq!(a.code(), (400, "malformed".into()));
    assert!(a.message().starts_with("reading 0:"), "{}", a.message());
    let big = format!("{{\"signature\": \"0x{}\"}}", "g".repeat(1 << 20));
    let a = post(&url, "application/json", big.as_bytes());
    assert_eq!(a.code(), (400, "malformed".into()));

    let a = get(&format!("{}/v1/nope", gw.url));
    assert_eq!(a.code(), (404, "not_found".into()));
    assert!(a.message().contains("/v1/readings"), "{}", a.message());
    let a = method("GET", &url);
    assert_eq!(a.code(), (405, "method_not_allowed".into()));
    assert!(a.allow.contains("POST"), "Allow: {:?}", a.allow);
    // An empty batch is still fine.
    assert_eq!(post(&url, "application/json", b"[]").status, 200);
}

#[test]
fn keys_list_into_a_closed_pipe_ends_quietly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("keys.json");
    for json in [false, true] {
        // The reading end is closed before machina writes a byte: every write is EPIPE.
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let mut cmd = Command::new(BIN);
        cmd.args(["keys", "list"]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd
            .env("MACHINA_KEYSTORE", &keys)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("run machina");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(out.status.success(), "{:?}: {stderr}", out.status);
    }
}

#[test]
fn an_unknown_key_name_suggests_a_close_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("keys.json");
    let out = cli(&keys, &["keys", "show", "alcie"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did you mean alice?"), "{err}");
    assert!(cli(&keys, &["keys", "new", "meter-7"]).status.success());
    let err = String::from_utf8_lossy(&cli(&keys, &["keys", "show", "meter7"]).stderr).into_owned();
    assert!(err.contains("did you mean meter-7?"), "{err}");
    let err =
        String::from_utf8_lossy(&cli(&keys, &["keys", "show", "zzzzzzzz"]).stderr).into_owned();
    assert!(
        !err.contains("did you mean") && err.contains("machina keys new zzzzzzzz"),
        "{err}"
    );
}

#[test]
fn a_decimal_amount_says_the_unit_and_the_integer_to_write() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("keys.json");
    let out = cli(
        &keys,
        &[
            "tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1.5",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("integer micro-units"), "{err}");
    assert!(err.contains("1500000"), "{err}");
    assert!(
        !err.contains("cannot reach"),
        "refused before any request: {err}"
    );
}

#[test]
fn the_node_address_works_without_a_scheme_and_a_missing_node_says_how_to_start_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let keys = tmp.path().join("keys.json");
    let node = start_node(&tmp.path().join("data"), &[]);
    let bare = node.url.trim_start_matches("http://");
    let out = cli(
        &keys,
        &["query", "account", "alice", "--node", bare, "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(v["balance"].is_string(), "{v}");

    let nobody = format!("127.0.0.1:{}", free_port());
    let out = cli(&keys, &["query", "account", "alice", "--node", &nobody]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot reach the node at http://{nobody}/v1/account/"
        )),
        "{err}"
    );
    assert!(
        err.contains("machina dev") && err.contains("cargo run --release -- dev"),
        "{err}"
    );
}

/// A dev node on a free port.
fn start_node(data_dir: &std::path::Path, extra: &[&str]) -> Proc {
    start_dev(data_dir, free_port(), extra)
}
