//! Extractors that answer from the error table instead of axum's plain-text rejections: a
//! JSON body ([`ApiJson`]), a query string ([`ApiQuery`]) and the `Idempotency-Key` header
//! ([`IdempotencyKey`]). Every refusal is in the client's language and in the same JSON shape
//! as any other error.
//!
//! A refusal may name the offending field in `detail`, but never echoes a value the client
//! sent: serde's messages do ("invalid type: string \"Aigerim\""), so only the field path is
//! taken from them, and only when every part of it looks like a field name.

use super::error::{self, ApiError, ErrorKind, Lang};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

/// Fields the service sets itself. A client that sends one is told so
/// ([`error::FIELD_NOT_SETTABLE`]) rather than that its request is malformed, because the
/// likely cause is a client that echoes back what it read.
pub const SERVICE_OWNED_FIELDS: &[&str] = &[
    "registered_at",
    "tier",
    "status",
    "number",
    "registration_number",
    "access_code",
    "id",
    "referral",
    "channel",
    "entered_by",
    "held_until",
    "position",
];

/// The longest field name or path a refusal will name; anything longer is not one of ours.
const DETAIL_LENGTH_MAX: usize = 128;

/// The longest `Idempotency-Key` accepted.
pub const IDEMPOTENCY_KEY_LENGTH_MAX: usize = 255;

/// A JSON request body. Like [`axum::Json`], but every rejection is a row of the error table.
/// The body limit is axum's `DefaultBodyLimit`; going over it answers `payload_too_large`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let lang = Lang::from_headers(request.headers());
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_refusal(&rejection, lang)),
        }
    }
}

/// The row, and the detail, for a rejected JSON body.
fn json_refusal(rejection: &JsonRejection, lang: Lang) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::new(error::UNSUPPORTED_MEDIA_TYPE, lang)
        }
        JsonRejection::BytesRejection(bytes) if bytes.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(error::PAYLOAD_TOO_LARGE, lang)
        }
        JsonRejection::JsonDataError(data) => {
            let (kind, detail) = match find_path_error::<serde_json::Error>(data) {
                Some(error) => data_refusal(error.path(), &error.inner().to_string()),
                None => (error::MALFORMED, None),
            };
            with_optional_detail(ApiError::new(kind, lang), detail)
        }
        // A syntax error, a body that could not be read, or a kind of rejection added by a
        // later axum: the request is malformed.
        _ => ApiError::new(error::MALFORMED, lang),
    }
}

/// Classifies a deserialization failure by serde's message, which is the only place serde
/// names an unknown or missing field. The message is read, never passed on.
fn data_refusal(path: &serde_path_to_error::Path, message: &str) -> (ErrorKind, Option<String>) {
    let prefix = safe_path(path);
    if let Some(field) = quoted_after(message, "unknown field `") {
        if SERVICE_OWNED_FIELDS.contains(&field) {
            return (error::FIELD_NOT_SETTABLE, Some(field.to_string()));
        }
        let detail = is_field_name(field).then(|| join_field(prefix.as_deref(), field));
        return (error::MALFORMED, detail.flatten());
    }
    if let Some(field) = quoted_after(message, "missing field `") {
        let detail = is_field_name(field).then(|| join_field(prefix.as_deref(), field));
        return (error::MALFORMED, detail.flatten());
    }
    (error::MALFORMED, prefix)
}

/// A query string. Like [`axum::extract::Query`], but a rejection answers `query_invalid`,
/// naming the parameter when it can.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let lang = Lang::from_headers(&parts.headers);
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_refusal(&rejection, lang)),
        }
    }
}

fn query_refusal(rejection: &QueryRejection, lang: Lang) -> ApiError {
    let detail = find_path_error::<serde::de::value::Error>(rejection).and_then(|error| {
        let prefix = safe_path(error.path());
        let message = error.inner().to_string();
        match quoted_after(&message, "missing field `") {
            Some(field) if is_field_name(field) => join_field(prefix.as_deref(), field),
            _ => prefix,
        }
    });
    with_optional_detail(ApiError::new(error::QUERY_INVALID, lang), detail)
}

/// The `Idempotency-Key` header: `None` when absent, the key when it is 1 to 255 visible
/// ASCII characters, and `idempotency_key_invalid` otherwise (also when it is sent twice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<String>);

pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

impl<S> FromRequestParts<S> for IdempotencyKey
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(IDEMPOTENCY_KEY_HEADER).iter();
        let (first, second) = (values.next(), values.next());
        let Some(value) = first else {
            return Ok(IdempotencyKey(None));
        };
        let bytes = value.as_bytes();
        let valid = second.is_none()
            && (1..=IDEMPOTENCY_KEY_LENGTH_MAX).contains(&bytes.len())
            && bytes.iter().all(|b| (0x21..=0x7E).contains(b));
        if !valid {
            let lang = Lang::from_headers(&parts.headers);
            return Err(ApiError::new(error::IDEMPOTENCY_KEY_INVALID, lang));
        }
        // Visible ASCII is valid UTF-8.
        let key = String::from_utf8(bytes.to_vec()).expect("visible ASCII is UTF-8");
        Ok(IdempotencyKey(Some(key)))
    }
}

fn with_optional_detail(error: ApiError, detail: Option<String>) -> ApiError {
    match detail {
        Some(detail) => error.with_detail(detail),
        None => error,
    }
}

/// The `serde_path_to_error` failure somewhere in a rejection's chain of sources: axum wraps
/// it twice (the rejection, then `axum::Error`).
fn find_path_error<'a, E>(
    rejection: &'a (dyn std::error::Error + 'static),
) -> Option<&'a serde_path_to_error::Error<E>>
where
    E: std::error::Error + 'static,
{
    let mut current: Option<&'a (dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<serde_path_to_error::Error<E>>() {
            return Some(found);
        }
        current = error.source();
    }
    None
}

/// The path as `child.birth_date` or `kindergartens[2]`; `None` at the root, or when a part
/// of it is not a field name (a map key the client chose, which could be anything).
fn safe_path(path: &serde_path_to_error::Path) -> Option<String> {
    let mut text = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => text.push_str(&format!("[{index}]")),
            Segment::Map { key } if is_field_name(key) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Segment::Enum { variant } if is_field_name(variant) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(variant);
            }
            _ => return None,
        }
    }
    (!text.is_empty() && text.len() <= DETAIL_LENGTH_MAX).then_some(text)
}

/// `prefix.field`, unless the prefix already ends in that field.
fn join_field(prefix: Option<&str>, field: &str) -> Option<String> {
    let joined = match prefix {
        None => field.to_string(),
        Some(prefix) if prefix == field || prefix.ends_with(&format!(".{field}")) => {
            prefix.to_string()
        }
        Some(prefix) => format!("{prefix}.{field}"),
    };
    (joined.len() <= DETAIL_LENGTH_MAX).then_some(joined)
}

/// The text between `opening` and the next backtick.
fn quoted_after<'m>(message: &'m str, opening: &str) -> Option<&'m str> {
    let rest = &message[message.find(opening)? + opening.len()..];
    Some(&rest[..rest.find('`')?])
}

/// Looks like one of our field names: short, ASCII letters, digits, `_` and `-`. Anything
/// else the client made up is not repeated back.
fn is_field_name(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::DefaultBodyLimit;
    use axum::http::{header, Request as HttpRequest};
    use axum::response::Response;
    use axum::routing::{get, post};
    use axum::Router;
    use serde::Deserialize;
    use tower::ServiceExt;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // the fields are read only through Debug, by the echo handler
    struct Registration {
        name: String,
        age: u8,
        child: Option<Child>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Child {
        birth_date: String,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Page {
        page: u32,
        district: String,
    }

    fn app() -> Router {
        Router::new()
            .route(
                "/json",
                post(|ApiJson(body): ApiJson<Registration>| async move { body.name }),
            )
            .route(
                "/query",
                get(|ApiQuery(page): ApiQuery<Page>| async move { format!("page {}", page.page) }),
            )
            .route(
                "/key",
                post(|IdempotencyKey(key): IdempotencyKey| async move {
                    key.unwrap_or_else(|| "none".to_string())
                }),
            )
            .layer(DefaultBodyLimit::max(256))
    }

    fn json_request(content_type: Option<&str>, body: &str) -> HttpRequest<Body> {
        let mut builder = HttpRequest::post("/json").header("accept-language", "en");
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        builder.body(Body::from(body.to_string())).unwrap()
    }

    async fn send(request: HttpRequest<Body>) -> (StatusCode, serde_json::Value) {
        let response: Response = app().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, body)
    }

    async fn send_json(body: &str) -> (StatusCode, serde_json::Value) {
        send(json_request(Some("application/json"), body)).await
    }

    #[tokio::test]
    async fn a_good_body_passes() {
        let (status, body) = send_json(r#"{"name": "Aigerim", "age": 4}"#).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "Aigerim");
    }

    #[tokio::test]
    async fn a_missing_or_wrong_content_type_is_unsupported_media() {
        for content_type in [None, Some("text/plain")] {
            let request = json_request(content_type, r#"{"name": "A", "age": 4}"#);
            let (status, body) = send(request).await;
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{content_type:?}"
            );
            assert_eq!(body["code"], "unsupported_media_type");
            assert_eq!(body["lang"], "en");
        }
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_too_large() {
        let long_name = "x".repeat(1000);
        let (status, body) = send_json(&format!(r#"{{"name": "{long_name}", "age": 4}}"#)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["code"], "payload_too_large");
    }

    #[tokio::test]
    async fn a_syntax_error_is_malformed_without_detail() {
        let (status, body) = send_json(r#"{"name": "Aigerim", "age": 4"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["code"], "malformed");
        assert!(body.get("detail").is_none(), "{body}");
    }

    #[tokio::test]
    async fn a_service_owned_field_is_not_settable() {
        for field in ["registered_at", "access_code", "position"] {
            let (status, body) =
                send_json(&format!(r#"{{"name": "A", "age": 4, "{field}": 1}}"#)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
            assert_eq!(body["code"], "field_not_settable");
            assert_eq!(body["detail"], field);
        }
    }

    #[tokio::test]
    async fn another_unknown_field_is_malformed_and_named() {
        let (status, body) = send_json(r#"{"name": "A", "age": 4, "nickname": "x"}"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["code"], "malformed");
        assert_eq!(body["detail"], "nickname");

        let (_, body) = send_json(r#"{"name": "A", "age": 4, "child": {"shoe": 1}}"#).await;
        assert_eq!(body["detail"], "child.shoe");
    }

    #[tokio::test]
    async fn an_unknown_field_that_is_not_a_name_is_not_echoed() {
        let (status, body) = send_json(r#"{"name": "A", "age": 4, "IIN 990101300123": 1}"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["code"], "malformed");
        assert!(body.get("detail").is_none(), "{body}");
        assert!(!body.to_string().contains("990101300123"));
    }

    #[tokio::test]
    async fn a_wrong_value_names_its_field_but_not_the_value() {
        let (status, body) = send_json(r#"{"name": "A", "age": "Aigerim Seitkali"}"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["code"], "malformed");
        assert_eq!(body["detail"], "age");
        assert!(!body.to_string().contains("Seitkali"), "{body}");

        let (_, body) = send_json(r#"{"name": "A", "age": 4, "child": {"birth_date": 7}}"#).await;
        assert_eq!(body["detail"], "child.birth_date");

        let (_, body) = send_json(r#"{"name": "A"}"#).await;
        assert_eq!(body["detail"], "age");
    }

    #[tokio::test]
    async fn a_bad_query_is_query_invalid() {
        let request = |uri: &str| HttpRequest::get(uri).body(Body::empty()).unwrap();
        let (status, body) = send(request("/query?page=2&district=almaty")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "page 2");

        let (status, body) = send(request("/query?page=two&district=almaty")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["code"], "query_invalid");
        assert_eq!(body["lang"], "ru");
        assert_eq!(body["detail"], "page");

        let (_, body) = send(request("/query?page=2")).await;
        assert_eq!(body["code"], "query_invalid");
        assert_eq!(body["detail"], "district");
    }

    #[tokio::test]
    async fn the_idempotency_key_is_optional_and_checked() {
        let request = |keys: &[&[u8]]| {
            let mut builder = HttpRequest::post("/key");
            for key in keys {
                builder = builder.header(IDEMPOTENCY_KEY_HEADER, *key);
            }
            builder.body(Body::empty()).unwrap()
        };
        assert_eq!(send(request(&[])).await.1, "none");
        assert_eq!(send(request(&[b"abc-123_X"])).await.1, "abc-123_X");
        let longest = "k".repeat(IDEMPOTENCY_KEY_LENGTH_MAX);
        assert_eq!(send(request(&[longest.as_bytes()])).await.1, longest);

        let too_long = "k".repeat(IDEMPOTENCY_KEY_LENGTH_MAX + 1);
        let refused: [&[&[u8]]; 5] = [
            &[b""],
            &[b"has space"],
            &[too_long.as_bytes()],
            &[b"\xd0\x9a\xd0\xb5"],
            &[b"one", b"two"],
        ];
        for keys in refused {
            let (status, body) = send(request(keys)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{keys:?}");
            assert_eq!(body["code"], "idempotency_key_invalid");
        }
    }
}
