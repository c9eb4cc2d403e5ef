//! The HTTP server under every router Machina serves (a dev node, a validator, the gateway):
//! axum's router on hyper's HTTP/1.1 connections, with the limits a public port needs.
//!
//! - **Connections**: at most [`HttpLimits::max_connections`] at once. One more is answered
//!   `503 {"code": "too_many_connections", ...}` and closed, so a flood of sockets cannot take
//!   every file descriptor.
//! - **Headers and idle time**: a connection must deliver a request's whole head within
//!   [`HttpLimits::header_timeout`]; the clock runs from when the server starts waiting for it,
//!   so an idle keep-alive connection, a socket that never speaks and a slow-loris client that
//!   trickles header lines are all closed after it.
//! - **Bodies**: a body must arrive within [`HttpLimits::body_timeout`] (the extractors answer
//!   `408 body_timeout`), and within its route's size limit (`413 payload_too_large`).
//!
//! A WebSocket (`/v1/ws`) leaves these limits once upgraded and keeps its own.

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use machina_module_api::BodyTimeout;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// Most connections served at once, by default.
pub const MAX_CONNECTIONS: usize = 1024;

/// Longest wait for a request's head (and between requests on a kept-alive connection).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest wait for a request's whole body, by default.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest a refused connection is given to take its 503 answer.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// The limits of one server.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Most connections at once; more are refused with `too_many_connections`.
    pub max_connections: usize,
    /// Longest wait for a request's head, including idle time between requests.
    pub header_timeout: Duration,
    /// Longest wait for a request's body.
    pub body_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: MAX_CONNECTIONS,
            header_timeout: HEADER_TIMEOUT,
            body_timeout: BODY_TIMEOUT,
        }
    }
}

fn refusal(max: usize) -> Vec<u8> {
    let body = serde_json::json!({
        "code": "too_many_connections",
        "message": format!(
            "the server holds its limit of {max} connections; close idle ones or retry later"
        ),
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `app` on `listener` under `limits` until `shutdown` completes; then stops accepting,
/// lets each connection finish the request it is on, and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    let app = app.layer(axum::Extension(BodyTimeout(limits.body_timeout)));
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let refused = Arc::new(refusal(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                // Out of descriptors or a reset before accept: wait a little, go on.
                Err(_) => { tokio::time::sleep(Duration::from_millis(10)).await; continue; }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            let refused = refused.clone();
            tokio::spawn(async move {
                let mut stream = stream;
                let write = stream.write_all(&refused);
                let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, write).await;
            });
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                // The guard `wait_for` returns must not live across the await below.
                () = async { let _ = stop.wait_for(|s| *s).await; } => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    let _ = stop_tx.send(true);
}
