//! Middleware shared by the audience routers: a deadline per request ([`timeout`]), no caching
//! of personal data ([`no_store`]), and a request id, span and log line per request
//! ([`trace`]; the line is debug unless the answer is an error or slow).
//!
//! Layer them through `Router::layer`, which runs them after routing, so that [`trace`] sees
//! the route template. Put [`trace`] outermost, so the 503 of [`timeout`] is logged too:
//!
//! ```ignore
//! router
//!     .layer(from_fn_with_state(Duration::from_secs(10), middleware::timeout))
//!     .layer(from_fn(middleware::trace))
//! ```

use super::error::{self, ApiError, Lang};
use super::metrics::UNMATCHED;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{CACHE_CONTROL, PRAGMA};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;
use tracing::Instrument;
use uuid::Uuid;

/// The response header that carries the request's id, for a client to quote to support.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id [`trace`] gave a request, in the request's extensions for handlers that log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestId(pub Uuid);

/// Answers `timeout` (503) in the client's language when the rest of the stack takes longer
/// than the state's duration. Build it with `from_fn_with_state(duration, timeout)`.
///
/// The handler is dropped at the deadline, but a command it already handed to the writer may
/// still commit: a 503 here does not say that nothing was stored. Clients retry with the
/// same `Idempotency-Key`.
pub async fn timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let lang = Lang::from_headers(request.headers());
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_elapsed) => {
            tracing::warn!(limit_ms = limit.as_millis() as u64, "request timed out");
            ApiError::new(error::TIMEOUT, lang).into_response()
        }
    }
}

/// Answers `internal` (500) when a handler panics, instead of dropping the connection with
/// no answer at all; the panic's message goes to the log (the default hook prints it), the
/// client gets the table's opaque row. A panic is a bug: this only keeps the answer honest.
pub async fn catch_panics(request: Request, next: Next) -> Response {
    use futures_util::FutureExt as _;
    let lang = Lang::from_headers(request.headers());
    match std::panic::AssertUnwindSafe(next.run(request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(_panic) => {
            tracing::error!("a request handler panicked");
            ApiError::new(error::INTERNAL, lang).into_response()
        }
    }
}

/// Forbids any cache, shared or private, from keeping the answer (`Cache-Control: no-store`,
/// and `Pragma: no-cache` for HTTP/1.0 proxies). For every router that serves personal data.
pub async fn no_store(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A request that takes this long is logged at info however it ended.
pub const SLOW_REQUEST: Duration = Duration::from_secs(1);

/// One span per request, with a fresh random id (also in the `X-Request-Id` response header
/// and in the request's extensions as [`RequestId`]), the method and the route template, and
/// one event when it is answered, with the status and the latency in milliseconds.
///
/// The event is at info for an error status or a request slower than [`SLOW_REQUEST`], and
/// at debug otherwise (`RUST_LOG=kezek=debug` shows every request). Counts and latencies of
/// every request are in `/metrics`; a line per successful look-up cost a fifth of the
/// server's CPU per request and told an operator nothing the metrics do not.
///
/// **Invariant:** never the raw path, the query string, a header or a body: those carry
/// application numbers, access codes and IINs.
pub async fn trace(matched: Option<MatchedPath>, mut request: Request, next: Next) -> Response {
    // Random like `Uuid::new_v4`, from the thread's generator instead of a getrandom system
    // call per request.
    let request_id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    request.extensions_mut().insert(RequestId(request_id));
    let route = matched.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        route = %route,
    );
    // Tokio's clock, which tests can pause; it is the monotonic clock otherwise.
    let started = tokio::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let latency = started.elapsed();
    let latency_ms = latency.as_secs_f64() * 1000.0;
    let status = response.status();
    span.in_scope(|| {
        if status.is_client_error() || status.is_server_error() || latency >= SLOW_REQUEST {
            tracing::info!(status = status.as_u16(), latency_ms, "answered");
        } else {
            tracing::debug!(status = status.as_u16(), latency_ms, "answered");
        }
    });
    let header =
        HeaderValue::from_str(&request_id.to_string()).expect("a UUID is a valid header value");
    response.headers_mut().insert(REQUEST_ID_HEADER, header);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::middleware::{from_fn, from_fn_with_state};
    use axum::routing::get;
    use axum::{Extension, Router};
    use std::sync::{Arc, Mutex};
    use tower::ServiceExt;

    fn get_request(uri: &str) -> axum::http::Request<Body> {
        axum::http::Request::get(uri)
            .header("accept-language", "kk")
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn a_handler_past_the_deadline_answers_timeout() {
        // The handler never finishes, so the outcome does not depend on the machine's speed.
        let app = Router::new()
            .route("/slow", get(std::future::pending::<&'static str>))
            .route("/fast", get(|| async { "done" }))
            .layer(from_fn_with_state(Duration::from_millis(50), timeout));

        let response = app.clone().oneshot(get_request("/slow")).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let bytes = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["code"], "timeout");
        assert_eq!(body["message"], error::TIMEOUT.kk);

        let response = app.oneshot(get_request("/fast")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_internal_and_the_next_request_is_served() {
        let app = Router::new()
            .route(
                "/boom",
                get(|| async {
                    if true {
                        panic!("a bug");
                    }
                    "never"
                }),
            )
            .route("/fine", get(|| async { "fine" }))
            .layer(from_fn(catch_panics));
        let response = app.clone().oneshot(get_request("/boom")).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["code"], "internal");
        let response = app.oneshot(get_request("/fine")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn no_store_forbids_caching() {
        let app = Router::new()
            .route("/mine", get(|| async { "personal" }))
            .layer(from_fn(no_store));
        let response = app.oneshot(get_request("/mine")).await.unwrap();
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(response.headers()[PRAGMA], "no-cache");
    }

    #[tokio::test]
    async fn trace_gives_each_request_a_fresh_id() {
        let app = Router::new()
            .route(
                "/id",
                get(|Extension(RequestId(id)): Extension<RequestId>| async move { id.to_string() }),
            )
            .layer(from_fn(trace));
        let mut ids = Vec::new();
        for _ in 0..2 {
            let response = app.clone().oneshot(get_request("/id")).await.unwrap();
            let header = response.headers()[&REQUEST_ID_HEADER]
                .to_str()
                .unwrap()
                .to_string();
            let id = Uuid::parse_str(&header).unwrap();
            assert_eq!(id.get_version_num(), 4);
            let bytes = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .unwrap();
            assert_eq!(bytes, header.as_bytes(), "the handler sees the same id");
            ids.push(id);
        }
        assert_ne!(ids[0], ids[1]);
    }

    #[tokio::test]
    async fn trace_logs_the_route_template_and_nothing_the_client_sent() {
        let (log, _guard) = capture_log(tracing::Level::DEBUG);

        let app = Router::new()
            .route("/applications/{number}", get(|| async { "found" }))
            .layer(from_fn(trace));
        let request = axum::http::Request::get("/applications/A-000123?access_code=QWERTY")
            .header("x-access-code", "ZXCVBN")
            .body(Body::from("960101300123"))
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        let id = response.headers()[&REQUEST_ID_HEADER]
            .to_str()
            .unwrap()
            .to_string();

        let text = log.text();
        assert!(text.contains("route=/applications/{number}"), "{text}");
        assert!(text.contains("method=GET"), "{text}");
        assert!(text.contains("status=200"), "{text}");
        assert!(text.contains("latency_ms="), "{text}");
        assert!(text.contains(&id), "{text}");
        for secret in ["A-000123", "QWERTY", "ZXCVBN", "960101300123"] {
            assert!(!text.contains(secret), "{secret} in the log: {text}");
        }
    }

    #[tokio::test]
    async fn at_info_only_errors_and_slow_requests_are_logged() {
        let (log, _guard) = capture_log(tracing::Level::INFO);
        let app = Router::new()
            .route("/fine", get(|| async { "fine" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(SLOW_REQUEST).await;
                    "slow"
                }),
            )
            .layer(from_fn(trace));

        app.clone().oneshot(get_request("/fine")).await.unwrap();
        assert!(log.text().is_empty(), "a quick 200 is debug");
        app.clone().oneshot(get_request("/missing")).await.unwrap();
        tokio::time::pause();
        app.oneshot(get_request("/slow")).await.unwrap();

        let text = log.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("status=404"), "{text}");
        assert!(lines[1].contains("route=/slow"), "{text}");
        assert!(lines[1].contains("status=200"), "{text}");
    }

    /// What the log received, shared with the subscriber's writer.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// Sends this thread's log, up to `level`, as plain text to the returned buffer, until the
    /// guard is dropped. The test runtime runs on this thread, so the subscriber sees all.
    fn capture_log(level: tracing::Level) -> (Captured, tracing::subscriber::DefaultGuard) {
        let log = Captured::default();
        let writer = {
            let log = log.clone();
            move || SharedWriter(log.0.clone())
        };
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(false)
            .with_max_level(level)
            .finish();
        (log, tracing::subscriber::set_default(subscriber))
    }

    struct SharedWriter(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for SharedWriter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
