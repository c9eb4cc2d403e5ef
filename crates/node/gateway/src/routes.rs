//! The gateway's HTTP routes: readings in, their outcomes out, flush, health and metrics.

use crate::{Gateway, Queued, ReadingOutcome, Status, MAX_OUTCOMES, MAX_QUEUE, MAX_WAIT};
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use machina_api::{
    describe_json_error, error_surface, quote, ApiError, ApiJson, ApiPath, ApiQuery,
};
use machina_oracle::SignedReading;
use serde::Deserialize;
use serde_json::{json, Value};
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::sync::oneshot;

/// The gateway's router over `g`, with JSON errors and a body limit.
pub(crate) fn router(g: Arc<Gateway>, body_limit: usize) -> Router {
    let routes = Router::new()
        .route("/v1/readings", post(post_readings))
        .route("/v1/readings/{machine_id}/{seq}", get(get_reading))
        .route("/v1/flush", post(flush))
        .route("/v1/health", get(health))
        .route("/metrics", get(metrics))
        .fallback(unknown_route);
    error_surface(routes, body_limit).with_state(g)
}

async fn unknown_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no route {method} {}; the gateway serves POST /v1/readings, \
         GET /v1/readings/{{machine_id}}/{{seq}}, POST /v1/flush, GET /v1/health and GET /metrics",
        quote(uri.path())
    ))
}

/// The readings of a body: one signed reading, or an array of them. A reading that does not
/// parse is named by its position.
fn readings_of(body: Value) -> Result<Vec<SignedReading>, ApiError> {
    let one = |v: Value, what: &str| {
        serde_json::from_value::<SignedReading>(v)
            .map_err(|e| ApiError::malformed(format!("{what}: {}", describe_json_error(&e))))
    };
    match body {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| one(v, &format!("reading {i}")))
            .collect(),
        v => Ok(vec![one(v, "the reading")?]),
    }
}

/// `POST /v1/readings` options.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostQuery {
    /// Answer with each reading's outcome instead of at once.
    #[serde(default)]
    wait: bool,
}

/// The answer when `queued` readings and a request's leave no room.
fn queue_full(queued: usize) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "queue_full",
        format!("gateway holds {queued} readings, limit is {MAX_QUEUE}; retry later"),
    )
}

/// Queues the readings whose `verdict` is `None`, each with its outcome recorded as pending;
/// when `wait`, returns where each one's outcome will be sent (`None` for a reading not
/// queued), in order.
fn enqueue(
    g: &Gateway,
    readings: &[SignedReading],
    verdicts: &[Option<ReadingOutcome>],
    wait: bool,
) -> Result<Vec<Option<oneshot::Receiver<ReadingOutcome>>>, ApiError> {
    let mut p = g.pending.lock().expect("queue lock");
    let n = verdicts.iter().filter(|v| v.is_none()).count();
    if p.queue.len() + n > MAX_QUEUE {
        return Err(queue_full(p.queue.len()));
    }
    let mut receivers = Vec::with_capacity(if wait { readings.len() } else { 0 });
    for (r, verdict) in readings.iter().zip(verdicts) {
        if verdict.is_some() {
            if wait {
                receivers.push(None);
            }
            continue;
        }
        g.outcomes
            .record(r, ReadingOutcome::new(r, Status::Pending));
        let waiter = wait.then(|| {
            let (tx, rx) = oneshot::channel();
            receivers.push(Some(rx));
            tx
        });
        p.queue.push_back(Queued::new(*r, waiter));
    }
    Ok(receivers)
}

/// `POST /v1/readings`: checks each reading's signature and device key, queues the good ones
/// and answers `{"queued": n, "not_queued": [...]}` at once (the outcome of each reading not
/// queued), or with `?wait=true`, once every reading has an outcome (at most [`MAX_WAIT`]),
/// `{"results": [...]}` in the order posted.
async fn post_readings(
    State(g): State<Arc<Gateway>>,
    ApiQuery(query): ApiQuery<PostQuery>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let readings = Arc::new(readings_of(body)?);
    // A full gateway spends nothing on verifying what it cannot queue.
    if !readings.is_empty() {
        let p = g.pending.lock().expect("queue lock");
        if p.queue.len() >= MAX_QUEUE {
            return Err(queue_full(p.queue.len()));
        }
    }
    let verdicts = if readings.is_empty() {
        Vec::new()
    } else {
        let (g, readings) = (g.clone(), readings.clone());
        // Verifying signatures and asking the node block: off the async runtime.
        tokio::task::spawn_blocking(move || g.check_readings(&readings))
            .await
            .map_err(ApiError::internal)?
    };
    let receivers = enqueue(&g, &readings, &verdicts, query.wait)?;
    if !query.wait {
        let queued = verdicts.iter().filter(|v| v.is_none()).count();
        let not_queued: Vec<_> = verdicts.into_iter().flatten().collect();
        return Ok(Json(json!({"queued": queued, "not_queued": not_queued})));
    }
    let deadline = tokio::time::Instant::now() + MAX_WAIT;
    let mut results = Vec::with_capacity(readings.len());
    for ((r, verdict), rx) in readings.iter().zip(verdicts).zip(receivers) {
        results.push(match (verdict, rx) {
            (Some(o), _) => o,
            // An outcome that has arrived is taken even after the deadline.
            (None, Some(rx)) => match tokio::time::timeout_at(deadline, rx).await {
                Ok(Ok(o)) => o,
                _ => ReadingOutcome::still_pending(r, MAX_WAIT.as_secs()),
            },
            (None, None) => ReadingOutcome::still_pending(r, MAX_WAIT.as_secs()),
        });
    }
    Ok(Json(json!({ "results": results })))
}

/// `GET /v1/readings/{machine_id}/{seq}` options.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelQuery {
    /// The meter channel (0 when absent).
    #[serde(default)]
    channel: u16,
}

/// `GET /v1/readings/{machine_id}/{seq}`: the latest outcome of a reading posted here.
async fn get_reading(
    State(g): State<Arc<Gateway>>,
    ApiPath((machine_id, seq)): ApiPath<(u64, u64)>,
    ApiQuery(q): ApiQuery<ChannelQuery>,
) -> Result<Json<ReadingOutcome>, ApiError> {
    g.outcomes
        .get(machine_id, q.channel, seq)
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "the gateway knows no reading {seq} of machine {machine_id} on channel {}: it \
                 was not posted here, or is older than the {MAX_OUTCOMES} outcomes it keeps",
                q.channel
            ))
        })
}

async fn flush(State(g): State<Arc<Gateway>>) -> Result<Json<Value>, ApiError> {
    match tokio::task::spawn_blocking(move || g.flush()).await {
        Ok(Ok(txs)) => Ok(Json(json!({"txs": txs}))),
        Ok(Err(e)) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "node_refused",
            format!("{e:#}"),
        )),
        Err(e) => Err(ApiError::internal(e)),
    }
}

async fn health(State(g): State<Arc<Gateway>>) -> Json<Value> {
    let s = &g.stats;
    Json(json!({
        "payer": g.key.address(),
        "queued": g.pending.lock().expect("queue lock").queue.len(),
        "submitted": s.submitted.load(Relaxed),
        "accepted": s.accepted.load(Relaxed),
        "rejected": s.rejected.load(Relaxed),
        "retries": s.retries.load(Relaxed),
    }))
}

/// `GET /metrics`: the gateway's queue and what became of the readings it sent, as
/// Prometheus text.
async fn metrics(State(g): State<Arc<Gateway>>) -> impl axum::response::IntoResponse {
    let s = &g.stats;
    let queued = g.pending.lock().expect("queue lock").queue.len() as u64;
    let rows = [
        (
            "machina_gateway_queued_readings",
            "gauge",
            "Readings waiting to be sent.",
            queued,
        ),
        (
            "machina_gateway_submitted_readings_total",
            "counter",
            "Readings sent to the node in a batch.",
            s.submitted.load(Relaxed),
        ),
        (
            "machina_gateway_accepted_readings_total",
            "counter",
            "Readings the chain accepted.",
            s.accepted.load(Relaxed),
        ),
        (
            "machina_gateway_rejected_readings_total",
            "counter",
            "Readings the chain refused (bad signature, stale, out of order).",
            s.rejected.load(Relaxed),
        ),
        (
            "machina_gateway_retries_total",
            "counter",
            "Batches sent again after the node refused or did not answer.",
            s.retries.load(Relaxed),
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, v) in rows {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
        );
    }
    let name = "machina_gateway_refused_readings_total";
    let _ = writeln!(
        out,
        "# HELP {name} Readings the chain refused, by code (`unreported`: the receipt had no \
         room to name them).\n# TYPE {name} counter"
    );
    for (code, n) in s.refused.lock().expect("stats lock").iter() {
        let _ = writeln!(out, "{name}{{code=\"{}\"}} {n}", code.escape_default());
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        out,
    )
}
