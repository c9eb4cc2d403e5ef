//! Reading request bodies: each route's size limit, the server's body timeout, and one
//! budget of bytes being read across all connections.

use crate::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::Extension;

/// The body limit a router enforces, as [`error_surface`] records it for the extractors.
#[derive(Clone, Copy)]
pub(crate) struct BodyLimit(pub(crate) usize);

/// Gives one route its own body limit (under the router's, which [`error_surface`] sets): a
/// route takes what its largest valid request needs, and no more.
pub fn body_limit<S>(
    route: axum::routing::MethodRouter<S>,
    limit: usize,
) -> axum::routing::MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    route
        .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(limit))
        .layer::<_, std::convert::Infallible>(Extension(BodyLimit(limit)))
}

/// Longest the body extractors wait for a request's whole body, as the server sets it per
/// request (without it, [`DEFAULT_BODY_TIMEOUT`]).
#[derive(Clone, Copy, Debug)]
pub struct BodyTimeout(pub std::time::Duration);

/// The body timeout of a router served without one.
pub const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Most bytes of request bodies being read at once, across every connection of the process.
/// A route's own limit bounds one body; this bounds them all together, so a thousand
/// connections each sending a batch cannot take the node's memory. Measured in KiB permits.
pub const MAX_INFLIGHT_BODY_BYTES: usize = 128 * 1024 * 1024;

static BODY_BUDGET: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(MAX_INFLIGHT_BODY_BYTES / 1024);

/// The KiB permits a body reserves: what its Content-Length says, else the route's limit.
fn body_permits(req: &Request, limit: Option<usize>) -> u32 {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let bytes = match (declared, limit) {
        (Some(d), Some(l)) => d.min(l),
        (Some(d), None) => d,
        (None, Some(l)) => l,
        (None, None) => MAX_INFLIGHT_BODY_BYTES,
    };
    let kib = bytes
        .div_ceil(1024)
        .clamp(1, MAX_INFLIGHT_BODY_BYTES / 1024);
    u32::try_from(kib).unwrap_or(u32::MAX)
}

/// The request body as bytes, within the route's limit and the server's body timeout: over
/// the limit a `payload_too_large` error that names it, too slow a `body_timeout`, and when
/// [`MAX_INFLIGHT_BODY_BYTES`] are already being read and do not drain within the timeout, a
/// `503 server_busy`.
pub struct ApiBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let limit = req.extensions().get::<BodyLimit>().map(|l| l.0);
        let wait = req
            .extensions()
            .get::<BodyTimeout>()
            .map_or(DEFAULT_BODY_TIMEOUT, |t| t.0);
        let started = std::time::Instant::now();
        let permits = body_permits(&req, limit);
        let Ok(Ok(_held)) = tokio::time::timeout(wait, BODY_BUDGET.acquire_many(permits)).await
        else {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_busy",
                format!(
                    "the node is already reading {} MiB of request bodies; retry in a moment",
                    MAX_INFLIGHT_BODY_BYTES >> 20
                ),
            ));
        };
        let rest = wait.saturating_sub(started.elapsed());
        match tokio::time::timeout(rest, Bytes::from_request(req, state)).await {
            Ok(read) => read.map(ApiBody).map_err(|e| body_error(e, limit)),
            Err(_) => Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the request body did not arrive within {} ms; send it whole, at once",
                    wait.as_millis()
                ),
            )),
        }
    }
}

fn body_error(e: BytesRejection, limit: Option<usize>) -> ApiError {
    match e {
        BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
            too_large(limit)
        }
        e => ApiError::malformed(format!("request body could not be read: {}", e.body_text())),
    }
}

fn too_large(limit: Option<usize>) -> ApiError {
    let message = match limit {
        Some(n) => format!("request body is larger than the limit of {n} bytes"),
        None => "request body is larger than the limit".to_owned(),
    };
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_reserves_what_it_declares_within_its_route_limit() {
        let req = |len: Option<&str>| {
            let mut b = axum::http::Request::builder();
            if let Some(l) = len {
                b = b.header(header::CONTENT_LENGTH, l);
            }
            b.body(axum::body::Body::empty()).expect("request")
        };
        assert_eq!(body_permits(&req(Some("10240")), Some(64 << 10)), 10);
        assert_eq!(body_permits(&req(Some("1")), Some(64 << 10)), 1);
        assert_eq!(body_permits(&req(None), Some(4 << 20)), 4096);
        // A lie about the length is capped by the route, and by the whole budget.
        assert_eq!(
            body_permits(&req(Some("999999999999")), Some(16 << 20)),
            16384
        );
        assert_eq!(
            body_permits(&req(Some("999999999999")), None) as usize,
            MAX_INFLIGHT_BODY_BYTES / 1024
        );
        assert_eq!(body_permits(&req(Some("junk")), Some(2048)), 2);
    }
}
