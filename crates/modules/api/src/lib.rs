//! What a Machina module's HTTP routes are written with: the JSON error type and extractors,
//! and the read access to the committed state ([`ReadHost`]).
//!
//! How the API fails: one error type rendered as `{"code", "message"}`, extractors that turn
//! axum's plain-text rejections into it, fallbacks for unknown routes and methods, and a last
//! layer that rewrites any error response that is still not JSON.
//!
//! Messages quote user input through [`quote`], and every message is cut to
//! [`MAX_MESSAGE_BYTES`] where it is rendered, so a 10 MB bad string never comes back as a
//! 10 MB error.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{
    DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, RawPathParams, Request,
};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use machina_state::StateRead;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// The committed state a read route answers from, and the block it is the state after.
pub struct View<S> {
    /// The state after the block.
    pub state: S,
    /// The block's height.
    pub height: u64,
    /// The block's chain time, ms.
    pub timestamp_ms: u64,
}

/// What a module's routes read: the node gives each request a snapshot of the committed
/// state (cheap to take; reads never see a half-committed block).
pub trait ReadHost: Clone + Send + Sync + 'static {
    /// The state snapshot.
    type State: StateRead + Send + Sync + 'static;
    /// The committed state now.
    fn view(&self) -> View<Self::State>;

    /// The committed state now and the keys of that same state that start with `prefix` and
    /// sort after `after`, in byte order, at most `limit`: what a listing route pages through
    /// (the state itself is keyed by hashes and cannot list a prefix). The host caps `limit`.
    fn view_with_keys(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Listed<Self::State>, ApiError>;
}

/// A committed state and keys of it under a prefix, in byte order
/// ([`ReadHost::view_with_keys`]).
pub struct Listed<S> {
    /// The state and its block.
    pub view: View<S>,
    /// The keys.
    pub keys: Vec<Vec<u8>>,
}

/// A module's routes: path, method (`get`, `post`) and handler, to be mounted by the API and
/// checked against its OpenAPI document.
pub type Routes<H> = Vec<(&'static str, &'static str, axum::routing::MethodRouter<H>)>;

/// Parses a 20-byte hex address; the error is a sentence for `bad_path` or `bad_query`.
pub fn parse_address(s: &str) -> Result<machina_primitives::Address, String> {
    machina_primitives::Address::from_hex(s)
        .ok_or_else(|| format!("not a 20-byte hex address: {}", quote(s)))
}

/// Parses a 32-byte hex public key from a path.
pub fn parse_key(s: &str) -> Result<machina_primitives::PublicKey, ApiError> {
    machina_primitives::PublicKey::from_hex(s)
        .ok_or_else(|| ApiError::bad_path(format!("not a 32-byte hex public key: {}", quote(s))))
}

/// Parses a machine id from a path.
pub fn parse_id(s: &str) -> Result<u64, ApiError> {
    s.parse()
        .map_err(|_| ApiError::bad_path(format!("not a machine id: {}", quote(s))))
}

/// A JSON response of a typed body.
pub type ApiResult<T> = Result<Json<T>, ApiError>;

/// Longest error message, in bytes: enough for a sentence and a short quote.
pub const MAX_MESSAGE_BYTES: usize = 512;

pub use machina_primitives::limits::{quote_prefix as quote, MAX_QUOTE_CHARS};

mod body;
use body::BodyLimit;
pub use body::{body_limit, ApiBody, BodyTimeout, DEFAULT_BODY_TIMEOUT, MAX_INFLIGHT_BODY_BYTES};

/// Most bytes of a non-JSON error body [`json_errors`] reads to reword it.
const MAX_REWORDED_BODY: usize = 4096;

/// An API error: HTTP status, stable code and a sentence.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    module: Option<&'static str>,
}

impl ApiError {
    /// An error with this status, stable code and sentence.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            module: None,
        }
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 400 `malformed`: a request body that does not parse.
    pub fn malformed(e: impl std::fmt::Display) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed", e.to_string())
    }

    /// 400 `bad_path`: a parameter in the path that does not parse.
    pub fn bad_path(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_path", message)
    }

    /// 400 `bad_query`: a query string that does not parse or lacks a parameter.
    pub fn bad_query(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_query", message)
    }

    /// 500 `internal`.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    }

    /// Its HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Its stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Its sentence, as rendered.
    pub fn message(&self) -> String {
        cap_message(&self.message)
    }
}

impl ApiError {
    /// The same error, marked as raised by `module` (rendered as `"module"`).
    pub fn from_module(mut self, module: Option<&'static str>) -> Self {
        self.module = module;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = error_json(self.code, &self.message);
        if let Some(m) = self.module {
            body["module"] = json!(m);
        }
        (self.status, Json(body)).into_response()
    }
}

/// The body of an error: `{"code", "message"}` with the message cut to [`MAX_MESSAGE_BYTES`].
/// Every error the API renders, per-transaction results of a batch included, goes through it.
pub fn error_json(code: &str, message: &str) -> Value {
    json!({"code": code, "message": cap_message(message)})
}

/// `s` cut to at most [`MAX_MESSAGE_BYTES`] bytes on a character boundary, marked with `…`.
fn cap_message(s: &str) -> String {
    if s.len() <= MAX_MESSAGE_BYTES {
        return s.to_owned();
    }
    let mut end = MAX_MESSAGE_BYTES - '…'.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Another library's error text with each `"…"` or `` `…` `` span in it passed through
/// [`quote`]: serde and axum quote the offending input whole.
pub fn shorten_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_MESSAGE_BYTES));
    let mut rest = text;
    while let Some(open) = rest.find(['"', '`']) {
        let delim = rest.as_bytes()[open] as char;
        out.push_str(&rest[..=open]);
        let inner = &rest[open + 1..];
        // The closing delimiter; inside double quotes a backslash escapes the next character.
        let mut close = None;
        let mut escaped = false;
        for (i, c) in inner.char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' && delim == '"' {
                escaped = true;
            } else if c == delim {
                close = Some(i);
                break;
            }
        }
        match close {
            Some(i) => {
                out.push_str(&quote(&inner[..i]));
                out.push(delim);
                rest = &inner[i + 1..];
            }
            None => {
                out.push_str(&quote(inner));
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// A `serde_json` error as a sentence, quoting at most a prefix of the input it names.
pub fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let at = format!(" at line {} column {}", e.line(), e.column());
    let what = text.strip_suffix(at.as_str()).unwrap_or(&text);
    let kind = match e.classify() {
        serde_json::error::Category::Data => "does not have the expected shape",
        _ => "is not valid JSON",
    };
    let at = if e.line() == 0 { "" } else { at.as_str() };
    format!("request body {kind}: {}{at}", shorten_quoted(what))
}

/// `Path<T>` whose rejection is a `bad_path` error.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(t)) => Ok(ApiPath(t)),
            Err(e) => {
                // A tuple's rejection names a parameter by position: name it by its key.
                let names: Vec<String> = RawPathParams::from_request_parts(parts, state)
                    .await
                    .map(|raw| raw.iter().map(|(k, _)| k.to_owned()).collect())
                    .unwrap_or_default();
                Err(path_error(e, &names))
            }
        }
    }
}

fn path_error(e: PathRejection, names: &[String]) -> ApiError {
    use axum::extract::path::ErrorKind;
    let PathRejection::FailedToDeserializePathParams(e) = e else {
        return ApiError::internal(e.body_text());
    };
    let message = match e.kind() {
        ErrorKind::ParseErrorAtKey {
            key,
            value,
            expected_type,
        } => format!(
            "{key} in the path must be a {expected_type}, got `{}`",
            quote(value)
        ),
        ErrorKind::ParseErrorAtIndex {
            index,
            value,
            expected_type,
        } => match names.get(*index) {
            Some(key) => format!(
                "{key} in the path must be a {expected_type}, got `{}`",
                quote(value)
            ),
            None => format!(
                "path parameter {} must be a {expected_type}, got `{}`",
                index + 1,
                quote(value)
            ),
        },
        ErrorKind::ParseError {
            value,
            expected_type,
        } => format!(
            "the path parameter must be a {expected_type}, got `{}`",
            quote(value)
        ),
        ErrorKind::InvalidUtf8InPathParam { key } => {
            format!("{key} in the path is not UTF-8 once percent-decoded")
        }
        _ if e.status().is_server_error() => return ApiError::internal(e.body_text()),
        _ => shorten_quoted(&e.body_text()),
    };
    ApiError::bad_path(message)
}

/// `Query<T>` whose rejection is a `bad_query` error naming the query string.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(t)) => Ok(ApiQuery(t)),
            Err(e) => Err(query_error(parts.uri.query().unwrap_or(""), e)),
        }
    }
}

fn query_error(query: &str, e: QueryRejection) -> ApiError {
    let text = e.body_text();
    let why = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&text);
    ApiError::bad_query(format!(
        "query string `{}` does not parse: {}",
        quote(query),
        shorten_quoted(why)
    ))
}

/// True if the request says its body is JSON (`application/json`, parameters allowed).
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// A JSON body: a wrong content type is `unsupported_media_type`, bad JSON or a wrong shape is
/// `malformed` with a short sentence, an oversized body `payload_too_large`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            let got = req
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|v| format!("`{}`", quote(&String::from_utf8_lossy(v.as_bytes()))))
                .unwrap_or_else(|| "none".to_owned());
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("expected Content-Type: application/json, got {got}"),
            ));
        }
        let ApiBody(body) = ApiBody::from_request(req, state).await?;
        serde_json::from_slice(&body)
            .map(ApiJson)
            .map_err(|e| ApiError::malformed(describe_json_error(&e)))
    }
}

/// The fallback for a path no route matches: `not_found`, pointing at the route list.
pub async fn unknown_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no route {method} {}; the routes are listed at /v1/openapi.json",
        quote(uri.path())
    ))
}

/// The fallback for a route asked with a method it does not take: `method_not_allowed` (axum
/// adds the `Allow` header).
pub async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{method} is not allowed on {}; the Allow header lists the methods it takes, \
             /v1/openapi.json describes them",
            quote(uri.path())
        ),
    )
}

/// The stable code of an error status whose response did not carry one.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "malformed",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

/// The last layer: an error response that is not JSON (one from axum or a layer, not from a
/// handler) is rewritten as `{"code", "message"}`, its headers kept.
pub async fn json_errors(res: Response) -> Response {
    let status = res.status();
    let is_json_body = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json_body {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, MAX_REWORDED_BODY)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        shorten_quoted(&text)
    };
    let mut out = ApiError::new(status, code_of(status), message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().append(name, value.clone());
        }
    }
    out
}

/// Gives a router the error surface: JSON 405s, a body limit the extractors name, and
/// [`json_errors`] over everything. A router that owns the unknown-route answer also sets
/// `.fallback(unknown_route)` before calling this.
pub fn error_surface<S>(router: Router<S>, body_limit: usize) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(Extension(BodyLimit(body_limit)))
        .layer(axum::middleware::map_response(json_errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::body::Body;

    async fn body_of(res: Response) -> (StatusCode, Value) {
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, serde_json::from_slice(&bytes).expect("JSON body"))
    }

    fn json_request(content_type: Option<&str>, body: Vec<u8>) -> Request {
        let mut b = Request::builder().method("POST").uri("/v1/x");
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(Body::from(body)).expect("request")
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Shape {
        timestamp_ms: u64,
    }

    #[test]
    fn a_short_input_is_quoted_whole_and_a_long_one_by_a_prefix_and_its_length() {
        assert_eq!(quote("0xabc"), "0xabc");
        let long = "é".repeat(100);
        let q = quote(&long);
        assert!(q.starts_with(&"é".repeat(MAX_QUOTE_CHARS)), "{q}");
        assert!(q.ends_with("…(200 bytes)"), "{q}");
        assert_eq!(
            quote(&"a".repeat(MAX_QUOTE_CHARS)),
            "a".repeat(MAX_QUOTE_CHARS)
        );
    }

    #[test]
    fn a_rendered_message_never_exceeds_the_cap_and_cuts_on_a_char_boundary() {
        let m = cap_message(&"ü".repeat(10_000));
        assert!(m.len() <= MAX_MESSAGE_BYTES, "{}", m.len());
        assert!(m.ends_with('…'));
        assert_eq!(cap_message("short"), "short");
        let e = ApiError::malformed("x".repeat(1 << 20));
        assert!(e.message().len() <= MAX_MESSAGE_BYTES);
    }

    #[test]
    fn quoted_spans_in_library_errors_are_shortened_and_the_rest_kept() {
        let long = "z".repeat(1000);
        let text = format!("invalid value: string \"{long}\", expected `a hash` at the end");
        let s = shorten_quoted(&text);
        assert!(s.len() < 150, "{s}");
        assert!(s.starts_with("invalid value: string \"zzzz"), "{s}");
        assert!(
            s.ends_with("…(1000 bytes)\", expected `a hash` at the end"),
            "{s}"
        );
        // An escaped quote does not end the span; an unterminated span is shortened too.
        let s = shorten_quoted(&format!("string \"a\\\"{long}\" ok"));
        assert!(s.ends_with("bytes)\" ok"), "{s}");
        assert!(shorten_quoted(&format!("open `{long}")).len() < 100);
    }

    #[tokio::test]
    async fn a_megabyte_bad_json_string_gets_a_small_malformed_error() {
        let body = format!("{{\"timestamp_ms\": \"{}\"}}", "f".repeat(1 << 20));
        let e = ApiJson::<Shape>::from_request(
            json_request(Some("application/json"), body.into_bytes()),
            &(),
        )
        .await
        .err()
        .expect("rejected");
        let (status, v) = body_of(e.into_response()).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("malformed"))
        );
        let m = v["message"].as_str().expect("message");
        assert!(m.len() < 300, "{m}");
        assert!(
            m.contains("expected shape") && m.contains("(1048576 bytes)"),
            "{m}"
        );
    }

    #[tokio::test]
    async fn bad_json_syntax_and_a_wrong_content_type_get_their_codes() {
        let e = ApiJson::<Shape>::from_request(
            json_request(Some("application/json"), b"{\"timestamp_ms\": ".to_vec()),
            &(),
        )
        .await
        .err()
        .expect("rejected");
        assert_eq!(e.code(), "malformed");
        assert!(e.message().contains("not valid JSON"), "{}", e.message());
        for ct in [None, Some("text/plain")] {
            let e = ApiJson::<Shape>::from_request(json_request(ct, b"{}".to_vec()), &())
                .await
                .err()
                .expect("rejected");
            assert_eq!(
                (e.status(), e.code()),
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            );
        }
    }

    #[tokio::test]
    async fn a_plain_text_error_from_a_layer_is_rewritten_as_json_with_its_headers() {
        let res = Response::builder()
            .status(StatusCode::PAYLOAD_TOO_LARGE)
            .header(header::CONTENT_TYPE, "text/plain")
            .header(header::RETRY_AFTER, "1")
            .body(Body::from("length limit exceeded"))
            .expect("response");
        let res = json_errors(res).await;
        assert_eq!(res.headers()[header::RETRY_AFTER], "1");
        let (status, v) = body_of(res).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(v["code"], "payload_too_large");
        assert_eq!(v["message"], "length limit exceeded");
        let empty = Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::empty())
            .expect("response");
        let (_, v) = body_of(json_errors(empty).await).await;
        assert_eq!(
            (v["code"].as_str(), v["message"].as_str()),
            (Some("not_found"), Some("Not Found"))
        );
    }

    #[tokio::test]
    async fn a_success_or_a_json_error_passes_through_untouched() {
        let ok = Response::builder()
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from("metrics"))
            .expect("response");
        let ok = json_errors(ok).await;
        assert_eq!(ok.headers()[header::CONTENT_TYPE], "text/plain");
        let e = json_errors(ApiError::bad_query("q").into_response()).await;
        let (status, v) = body_of(e).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_query"))
        );
    }
}
