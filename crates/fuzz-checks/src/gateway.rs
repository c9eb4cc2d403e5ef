//! The reading gateway's body: `POST /v1/readings` takes one signed reading or an array of
//! them as JSON. Its parser is private to the gateway's routes, so the body goes through the
//! gateway's public router, the way a device's request does (a fresh gateway per input, not
//! connected to any node: posting only queues).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use machina_gateway::Gateway;
use machina_oracle::SignedReading;
use machina_primitives::{Decode, Encode, Keypair};
use serde_json::Value;
use std::sync::{Arc, OnceLock};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime")
    })
}

/// What the gateway is expected to make of `data`: the readings in it, or `None` when it is
/// not one reading nor an array of them.
fn expected(data: &[u8]) -> Option<Vec<SignedReading>> {
    match serde_json::from_slice::<Value>(data).ok()? {
        Value::Array(items) => items
            .into_iter()
            .map(|v| serde_json::from_value(v).ok())
            .collect(),
        v => Some(vec![serde_json::from_value(v).ok()?]),
    }
}

async fn call(router: &mut axum::Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = tower_service::Service::call(router, req)
        .await
        .expect("the router is infallible");
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 16 << 20)
        .await
        .expect("a response body");
    let v = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "status {status}: the answer is not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    (status, v)
}

/// Posts `data` as a readings body: the gateway answers 200 `{"queued": n}` (and the readings
/// it could not queue in `not_queued`, each with its code) accounting for every reading
/// in it, or a 4xx `{"code", "message"}`; never a 5xx, never a panic. Each
/// reading it accepted survives the JSON and binary round trips, and its outcome can be
/// looked up (pending).
pub fn readings_body(data: &[u8]) {
    let g = Arc::new(Gateway::new(
        "http://127.0.0.1:9",
        Keypair::dev("gateway"),
        None,
        64,
    ));
    let mut router = g.router();
    let (status, answer) = runtime().block_on(call(
        &mut router,
        Request::post("/v1/readings")
            .header("content-type", "application/json")
            .body(Body::from(data.to_vec()))
            .expect("a request"),
    ));
    let want = expected(data);
    if status != StatusCode::OK {
        assert!(
            status.is_client_error(),
            "status {status} for a readings body: {answer}"
        );
        assert!(
            answer["code"].is_string() && answer["message"].is_string(),
            "an error without code and message: {answer}"
        );
        // Refusing what parses is only allowed for the queue's limit.
        if want.is_some() {
            assert_eq!(
                answer["code"], "queue_full",
                "readings that parse were refused: {answer}"
            );
        }
        return;
    }
    let readings =
        want.unwrap_or_else(|| panic!("the gateway accepted what does not parse: {answer}"));
    // Readings the gateway could not check against its node (none runs here) come back in
    // `not_queued`, each with a code; every reading is accounted for.
    let queued = answer["queued"]
        .as_u64()
        .unwrap_or_else(|| panic!("no queued count: {answer}"));
    let not_queued = answer["not_queued"].as_array().map_or(0, |a| {
        assert!(
            a.iter().all(|r| r["code"].is_string()),
            "a reading not queued without a code: {answer}"
        );
        a.len() as u64
    });
    assert_eq!(
        queued + not_queued,
        readings.len() as u64,
        "readings accounted for: {answer}"
    );
    for r in &readings {
        let json = serde_json::to_vec(r).expect("a reading serialises");
        let back: SignedReading = serde_json::from_slice(&json).expect("a reading's JSON parses");
        assert_eq!(&back, r, "JSON round trip of a reading");
        let bin = r.encode();
        assert_eq!(
            SignedReading::decode_exact(&bin, bin.len()).as_ref(),
            Ok(r),
            "binary round trip of a reading"
        );
    }
    if queued == 0 || not_queued > 0 {
        return;
    }
    if let Some(r) = readings.first() {
        let uri = format!(
            "/v1/readings/{}/{}?channel={}",
            r.reading.machine_id, r.reading.seq, r.reading.channel
        );
        let (status, answer) = runtime().block_on(call(
            &mut router,
            Request::get(uri).body(Body::empty()).expect("a request"),
        ));
        assert_eq!(
            status,
            StatusCode::OK,
            "outcome of a queued reading: {answer}"
        );
    }
}
