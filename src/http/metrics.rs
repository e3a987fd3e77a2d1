//! Prometheus metrics in the text exposition format 0.0.4, written by hand: two families of
//! our own plus gauges the caller reads at scrape time do not justify a metrics crate.
//!
//! - `kezek_http_requests_total{method, route, status}`: a counter;
//! - `kezek_http_request_duration_seconds{route}`: a latency histogram, 0.5 ms to 5 s.
//!
//! **Invariant:** a label never holds a raw path. Raw paths carry application numbers, so the
//! route label is axum's matched template (`/api/v1/applications/{number}`), or `unmatched`.
//! With unknown methods folded into `OTHER`, the number of series is bounded by the routes.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The route label of a request that matched no route (404s, probes, scanners).
pub const UNMATCHED: &str = "unmatched";

/// Upper bounds of the latency buckets, in seconds: from a read served from memory (well
/// under a millisecond) to a request that waited on a slow disk.
pub const LATENCY_BUCKETS_SECONDS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

const REQUESTS: &str = "kezek_http_requests_total";
const DURATION: &str = "kezek_http_request_duration_seconds";

/// The registry. Shared as `Arc<Metrics>`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// A std mutex, not a tokio one: it is held for a few map operations and never across
    /// an `.await`.
    routes: Mutex<BTreeMap<String, RouteSeries>>,
}

/// Everything recorded under one route template. A `BTreeMap` keeps the rendering in a
/// stable order, which makes scrapes diffable and tests simple.
#[derive(Debug, Default)]
struct RouteSeries {
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: Histogram,
}

#[derive(Debug, Default)]
struct Histogram {
    /// Non-cumulative counts per bucket of [`LATENCY_BUCKETS_SECONDS`]; the `+Inf` bucket is
    /// `count`.
    buckets: [u64; LATENCY_BUCKETS_SECONDS.len()],
    sum_seconds: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = LATENCY_BUCKETS_SECONDS.iter().position(|&le| seconds <= le) {
            self.buckets[i] += 1;
        }
        self.sum_seconds += seconds;
        self.count += 1;
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Records one answered request. `route` must be a route template or [`UNMATCHED`].
    pub fn observe(&self, method: &Method, route: &str, status: StatusCode, latency: Duration) {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        if !routes.contains_key(route) {
            routes.insert(route.to_string(), RouteSeries::default());
        }
        let series = routes.get_mut(route).expect("inserted above");
        *series
            .requests
            .entry((method_label(method), status.as_u16()))
            .or_default() += 1;
        series.latency.observe(latency.as_secs_f64());
    }

    /// The whole exposition: our two families, then `gauges` as given, each a (name, help,
    /// type, value) read by the caller at scrape time. The type is `gauge` or `counter`.
    pub fn render(&self, gauges: &[(&str, &str, &str, f64)]) -> String {
        let mut text = String::new();
        {
            let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
            render_requests(&mut text, &routes);
            render_latency(&mut text, &routes);
        }
        for &(name, help, kind, value) in gauges {
            debug_assert!(is_metric_name(name), "{name:?} is not a metric name");
            debug_assert!(matches!(kind, "gauge" | "counter"), "{name}: type {kind:?}");
            header(&mut text, name, help, kind);
            let _ = writeln!(text, "{name} {}", number(value));
        }
        text
    }
}

fn render_requests(text: &mut String, routes: &BTreeMap<String, RouteSeries>) {
    header(
        text,
        REQUESTS,
        "HTTP requests answered, by method, route template and status.",
        "counter",
    );
    for (route, series) in routes {
        let route = escape_label(route);
        for ((method, status), count) in &series.requests {
            let _ = writeln!(
                text,
                "{REQUESTS}{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
    }
}

fn render_latency(text: &mut String, routes: &BTreeMap<String, RouteSeries>) {
    header(
        text,
        DURATION,
        "Time from receiving a request to answering it, by route template.",
        "histogram",
    );
    for (route, series) in routes {
        let route = escape_label(route);
        let histogram = &series.latency;
        let mut cumulative = 0;
        for (le, in_bucket) in LATENCY_BUCKETS_SECONDS.iter().zip(histogram.buckets) {
            cumulative += in_bucket;
            let _ = writeln!(
                text,
                "{DURATION}_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let count = histogram.count;
        let sum = number(histogram.sum_seconds);
        let _ = writeln!(
            text,
            "{DURATION}_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(text, "{DURATION}_sum{{route=\"{route}\"}} {sum}");
        let _ = writeln!(text, "{DURATION}_count{{route=\"{route}\"}} {count}");
    }
}

fn header(text: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(text, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(text, "# TYPE {name} {kind}");
}

/// Counts the request under its route template, never its raw path. Layer it with
/// `axum::middleware::from_fn_with_state(metrics, track)` through `Router::layer`, so that it
/// runs after routing and sees the `MatchedPath`.
pub async fn track(
    State(metrics): State<Arc<Metrics>>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let route = matched.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    metrics.observe(&method, route, response.status(), started.elapsed());
    response
}

/// The method as a label; methods outside the standard set fold into `OTHER`, so a client
/// cannot create series at will.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// A label value: backslash, double quote and line feed escaped, as the format requires.
fn escape_label(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A HELP text: backslash and line feed escaped (quotes are allowed there).
fn escape_help(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value as Prometheus spells it (`+Inf`, `-Inf`, `NaN`).
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        value.to_string()
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::middleware::from_fn_with_state;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    async fn request(app: &Router, method: Method, uri: &str) -> StatusCode {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        app.clone().oneshot(request).await.unwrap().status()
    }

    #[tokio::test]
    async fn requests_are_counted_by_route_template_not_raw_path() {
        let metrics = Arc::new(Metrics::new());
        let app = Router::new()
            .route("/applications/{number}", get(|| async { "found" }))
            .route(
                "/broken",
                get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
            )
            .layer(from_fn_with_state(metrics.clone(), track));

        assert_eq!(
            request(&app, Method::GET, "/applications/A-000123").await,
            StatusCode::OK
        );
        assert_eq!(
            request(&app, Method::GET, "/applications/A-000456").await,
            StatusCode::OK
        );
        request(&app, Method::GET, "/broken").await;
        request(&app, Method::GET, "/secret/A-000789").await;
        let custom = Method::from_bytes(b"BREW").unwrap();
        request(&app, custom, "/applications/A-000123").await;

        let text = metrics.render(&[
            (
                "kezek_applications_waiting",
                "Applications in the queue.",
                "gauge",
                42.0,
            ),
            (
                "kezek_writer_commits_total",
                "Commits by the writer.",
                "counter",
                7.0,
            ),
        ]);
        let expected = [
            r#"kezek_http_requests_total{method="GET",route="/applications/{number}",status="200"} 2"#,
            r#"kezek_http_requests_total{method="GET",route="/broken",status="500"} 1"#,
            r#"kezek_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
            r#"kezek_http_requests_total{method="OTHER",route="/applications/{number}",status="405"} 1"#,
            r#"kezek_http_request_duration_seconds_bucket{route="/applications/{number}",le="+Inf"} 3"#,
            r#"kezek_http_request_duration_seconds_count{route="/broken"} 1"#,
            "# TYPE kezek_http_requests_total counter",
            "# TYPE kezek_http_request_duration_seconds histogram",
            "# HELP kezek_applications_waiting Applications in the queue.",
            "# TYPE kezek_applications_waiting gauge",
            "kezek_applications_waiting 42",
            "# TYPE kezek_writer_commits_total counter",
            "kezek_writer_commits_total 7",
        ];
        for line in expected {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        assert!(!text.contains("A-000"), "a raw path leaked:\n{text}");
        assert_well_formed(&text);
    }

    /// Every family has HELP then TYPE before its samples, and every sample line is a
    /// known family (with a histogram's suffixes) followed by a number.
    fn assert_well_formed(text: &str) {
        let mut families: Vec<(String, String)> = Vec::new();
        let mut last_help: Option<String> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap();
                assert!(is_metric_name(name), "{line}");
                last_help = Some(name.to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert_eq!(
                    last_help.as_deref(),
                    Some(name),
                    "TYPE without HELP: {line}"
                );
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                families.push((name.to_string(), kind.to_string()));
            } else {
                let (series, value) = line.rsplit_once(' ').unwrap();
                assert!(value.parse::<f64>().is_ok() || value == "+Inf", "{line}");
                let name = series.split('{').next().unwrap();
                let (family, kind) = families.last().expect("a sample before any TYPE");
                let allowed = if kind == "histogram" {
                    ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|suffix| name == format!("{family}{suffix}"))
                } else {
                    name == family
                };
                assert!(allowed, "{line} under {family}");
            }
        }
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("line\nbreak"), "line\\nbreak");
        assert_eq!(
            escape_help("one\\two\nthree \"q\""),
            "one\\\\two\\nthree \"q\""
        );

        let metrics = Metrics::new();
        metrics.observe(&Method::GET, "/odd\"route", StatusCode::OK, Duration::ZERO);
        let text = metrics.render(&[]);
        assert!(
            text.contains(r#"route="/odd\"route",status="200"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn the_histogram_is_cumulative() {
        let metrics = Metrics::new();
        for millis in [0, 3, 3, 700, 10_000] {
            metrics.observe(
                &Method::POST,
                "/r",
                StatusCode::OK,
                Duration::from_millis(millis),
            );
        }
        let text = metrics.render(&[]);
        for (le, count) in [
            ("0.0005", 1),
            ("0.0025", 1),
            ("0.005", 3),
            ("1", 4),
            ("5", 4),
            ("+Inf", 5),
        ] {
            let line = format!(
                r#"kezek_http_request_duration_seconds_bucket{{route="/r",le="{le}"}} {count}"#
            );
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        let sum_line = text
            .lines()
            .find_map(|l| l.strip_prefix(r#"kezek_http_request_duration_seconds_sum{route="/r"} "#))
            .expect("a sum line");
        assert!(
            (sum_line.parse::<f64>().unwrap() - 10.706).abs() < 1e-9,
            "{sum_line}"
        );
    }

    #[test]
    fn special_values_are_spelled_as_prometheus_spells_them() {
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
    }
}
