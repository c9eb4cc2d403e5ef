//! The HTTP server under every router Machina serves (a dev node, a validator, the gateway):
//! axum's router on hyper's HTTP/1.1 connections, with the limits a public port needs.
//!
//! - **Connections**: at most [`HttpLimits::max_connections`] at once. At the limit a new
//!   connection takes the place of the one idle the longest (no request in flight), so a
//!   flood of sockets that never send a request cannot lock real clients out; only when every
//!   connection is busy with a request is the new one answered
//!   `503 {"code": "too_many_connections", ...}` and closed.
//! - **Headers and idle time**: a connection must deliver a request's whole head within
//!   [`HttpLimits::header_timeout`]; the clock runs from when the server starts waiting for it,
//!   so an idle keep-alive connection, a socket that never speaks and a slow-loris client that
//!   trickles header lines are all closed after it.
//! - **Bodies**: a body must arrive within [`HttpLimits::body_timeout`] (the extractors answer
//!   `408 body_timeout`), and within its route's size limit (`413 payload_too_large`).
//!
//! A WebSocket (`/v1/ws`) leaves these limits once upgraded and keeps its own.

use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use machina_module_api::BodyTimeout;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tower_service::Service;

/// Most connections served at once, by default.
pub const MAX_CONNECTIONS: usize = 1024;

/// Longest wait for a request's head (and between requests on a kept-alive connection).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest wait for a request's whole body, by default.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections the kernel may hold for the server before it accepts them (the standard
/// library's 128 overflows under a burst of connects, and the kernel then drops handshakes).
pub const LISTEN_BACKLOG: u32 = 1024;

/// Longest a refused connection is given to take its 503 answer.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// The limits of one server.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Most connections at once; beyond, the longest-idle one is closed for the new one, or,
    /// when all are busy, the new one is refused with `too_many_connections`.
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

/// One open connection, as the accept loop sees it.
#[derive(Default)]
struct Slot {
    /// Requests in flight on it (0: idle).
    busy: AtomicUsize,
    /// When it last accepted or finished a request, in ms since the server started.
    active_ms: AtomicU64,
    /// Told to close the connection to make room.
    evict: Notify,
}

/// The open connections, by number.
#[derive(Default)]
struct Slots {
    open: Mutex<BTreeMap<u64, Arc<Slot>>>,
    started: Option<tokio::time::Instant>,
}

impl Slots {
    fn now_ms(&self) -> u64 {
        self.started.map_or(0, |s| {
            s.elapsed().as_millis().try_into().unwrap_or(u64::MAX)
        })
    }

    /// A slot for a new connection: free, or made free by evicting the connection idle the
    /// longest; `None` when all `max` are busy with requests.
    fn take(&self, id: u64, max: usize) -> Option<Arc<Slot>> {
        let mut open = self.open.lock().expect("slots lock");
        if open.len() >= max {
            let (victim, _) = open
                .iter()
                .filter(|(_, s)| s.busy.load(Relaxed) == 0)
                .min_by_key(|(_, s)| s.active_ms.load(Relaxed))
                .map(|(k, s)| (*k, s.clone()))?;
            if let Some(s) = open.remove(&victim) {
                s.evict.notify_one();
            }
        }
        let slot = Arc::new(Slot::default());
        slot.active_ms.store(self.now_ms(), Relaxed);
        open.insert(id, slot.clone());
        Some(slot)
    }

    fn release(&self, id: u64) {
        self.open.lock().expect("slots lock").remove(&id);
    }
}

fn refusal(max: usize) -> Vec<u8> {
    let body = serde_json::json!({
        "code": "too_many_connections",
        "message": format!(
            "all {max} connections of this server are busy with requests; retry in a moment"
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

/// Binds a listener for [`serve`] with a backlog of [`LISTEN_BACKLOG`].
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
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
    let slots = Arc::new(Slots {
        open: Mutex::default(),
        started: Some(tokio::time::Instant::now()),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let refused = Arc::new(refusal(limits.max_connections));
    tokio::pin!(shutdown);
    for id in 0u64.. {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                // Out of descriptors or a reset before accept: wait a little, go on.
                Err(_) => { tokio::time::sleep(Duration::from_millis(10)).await; continue; }
            },
            () = &mut shutdown => break,
        };
        match slots.take(id, limits.max_connections) {
            Some(slot) => {
                let conn = Connection {
                    stream,
                    app: app.clone(),
                    limits,
                    slot,
                    slots: slots.clone(),
                    id,
                };
                tokio::spawn(conn.run(stop_rx.clone()));
            }
            None => {
                let refused = refused.clone();
                tokio::spawn(async move {
                    let mut stream = stream;
                    let write = stream.write_all(&refused);
                    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, write).await;
                });
            }
        }
    }
    let _ = stop_tx.send(true);
}

/// One accepted connection and what it needs to serve itself.
struct Connection {
    stream: TcpStream,
    app: Router,
    limits: HttpLimits,
    slot: Arc<Slot>,
    slots: Arc<Slots>,
    id: u64,
}

impl Connection {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let Connection {
            stream,
            app,
            limits,
            slot,
            slots,
            id,
        } = self;
        let (tracked, clock) = (slot.clone(), slots.clone());
        // Each request marks the connection busy until its response is ready.
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let mut app = app.clone();
            let (slot, clock) = (tracked.clone(), clock.clone());
            slot.busy.fetch_add(1, Relaxed);
            async move {
                let res = app.call(req.map(axum::body::Body::new)).await;
                slot.active_ms.store(clock.now_ms(), Relaxed);
                slot.busy.fetch_sub(1, Relaxed);
                res
            }
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => {}
            () = slot.evict.notified() => {}
            // The guard `wait_for` returns must not live across the await below.
            () = async { let _ = stop.wait_for(|s| *s).await; } => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
        slots.release(id);
    }
}
