//! Signing in through a real OpenID Connect provider (issue 14): the certified
//! `oidc-provider` from npm, started by tests/oidc/provider.mjs on a free port for each test
//! (installed by scripts/install-test-deps). Tokens are the provider's own, got through its
//! sign-in form and token endpoint as any client gets them; the bad ones are those tokens
//! tampered with, issued to another client, or read after they expired.
//!
//! The service runs on the manual clock at 2026-11-20; the provider's tokens are issued at
//! the real time, so "expired" is the manual clock moved past a token's `exp`.

mod common;
#[path = "common/http.rs"]
mod http;

use base64::Engine;
use common::valid_form;
use http::{Go, Server};
use kezek::http::oidc::OidcConfig;
use kezek::http::HttpConfig;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const AIGUL: &str = "parent-aigul";
const AIGUL_IIN: &str = "850303400109";
const BOLAT: &str = "parent-bolat";

/// The provider, stopped when dropped.
struct Provider {
    child: Child,
    issuer: String,
}

impl Provider {
    fn start(redirect: &str, port: u16) -> Provider {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc");
        assert!(
            std::path::Path::new(dir).join("node_modules/oidc-provider").exists(),
            "oidc-provider is not installed: run scripts/install-test-deps"
        );
        let mut child = Command::new("node")
            .arg(format!("{dir}/provider.mjs"))
            .args(["--port", &port.to_string(), "--redirect", redirect])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        // Drained while it runs: a closed pipe would end the provider at its next line.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let issuer = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the provider did not start: {line:?}"))
            .to_string();
        Provider { child, issuer }
    }

    fn port(&self) -> u16 {
        self.issuer.rsplit(':').next().unwrap().parse().unwrap()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Kezek with the provider configured, and the provider.
async fn start() -> (Server, Provider) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let provider = Provider::start(&format!("{base}/signin/callback"), 0);
    let server = Server::on(listener, config(&provider.issuer, &base), true).await;
    (server, provider)
}

fn config(issuer: &str, base: &str) -> HttpConfig {
    let mut settings = kezek::config::OidcSettings::default();
    settings.issuer = Some(issuer.to_string());
    settings.client_secret = Some("kezek-test-secret".into());
    settings.timeout_secs = 3;
    HttpConfig {
        oidc: OidcConfig::from_settings(&settings, base).unwrap(),
        ..HttpConfig::default()
    }
}

/// A browser's cookies, per name, for the provider's host.
#[derive(Default)]
struct Jar(HashMap<String, String>);

impl Jar {
    fn take(&mut self, answer: &http::Answer) {
        for value in answer.headers.get_all("set-cookie") {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.0.insert(name.to_string(), value.to_string());
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(answer: &http::Answer, base: &str) -> String {
    let location = answer
        .header("location")
        .unwrap_or_else(|| panic!("no redirect ({}): {}", answer.status, answer.text));
    if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        location.to_string()
    }
}

/// Signs `login` in at the provider from `authorize` (the provider's authorization URL);
/// answers where the provider sends the browser back (the redirect URI with code and state).
async fn at_provider(issuer: &str, authorize: &str, login: &str) -> String {
    let http = no_redirects();
    let mut jar = Jar::default();
    let answer = http.get(authorize).go().await;
    jar.take(&answer);
    let interaction = location(&answer, issuer);
    let page = http
        .get(&interaction)
        .header("cookie", jar.header())
        .go()
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    let answer = http
        .post(format!("{interaction}/login"))
        .header("cookie", jar.header())
        .form(&[("login", login)])
        .go()
        .await;
    jar.take(&answer);
    let resume = location(&answer, issuer);
    let answer = http.get(&resume).header("cookie", jar.header()).go().await;
    location(&answer, issuer)
}

fn query(url: &str) -> HashMap<String, String> {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs().into_owned().collect()
}

/// An ID token for `login`, issued to `client`, as an API client gets one: the code flow
/// with PKCE and a nonce of its own, then the token endpoint.
async fn id_token(provider: &Provider, base: &str, client: &str, login: &str) -> String {
    let secret = match client {
        "kezek" => "kezek-test-secret",
        _ => "other-test-secret",
    };
    let verifier = "a-test-verifier-that-is-long-enough-for-pkce-0123456789";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let redirect = format!("{base}/signin/callback");
    let mut authorize = reqwest::Url::parse(&format!("{}/auth", provider.issuer)).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("client_id", client)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile")
        .append_pair("redirect_uri", &redirect)
        .append_pair("state", "api-client-state")
        .append_pair("nonce", "api-client-nonce")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let back = at_provider(&provider.issuer, authorize.as_str(), login).await;
    let code = query(&back)["code"].clone();
    let answer = no_redirects()
        .post(format!("{}/token", provider.issuer))
        .basic_auth(client, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", verifier),
        ])
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()["id_token"].as_str().unwrap().to_string()
}

/// A portal registration whose applicant fields name someone else: the token must win.
fn form(serial: u16) -> Value {
    let mut form = serde_json::to_value(valid_form(serial)).unwrap();
    form["applicant_iin"] = json!("791028302728");
    form["applicant_full_name"] = json!("Бөтен Адам");
    form
}

fn applicant_of(server: &Server, number: &str) -> (String, String) {
    let conn = rusqlite::Connection::open(&server.app.path).unwrap();
    let number: u32 = number.trim_start_matches("ESL-").parse().unwrap();
    conn.query_row(
        "SELECT applicant_iin, applicant_full_name FROM applications WHERE registration_number = ?1",
        [number],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

fn applications_stored(server: &Server) -> i64 {
    let conn = rusqlite::Connection::open(&server.app.path).unwrap();
    conn.query_row("SELECT count(*) FROM applications", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_signed_in_parent_registers_as_themselves_and_another_person_cannot_see_it() {
    let (server, provider) = start().await;
    let aigul = id_token(&provider, &server.base, "kezek", AIGUL).await;
    let bolat = id_token(&provider, &server.base, "kezek", BOLAT).await;

    // Without signing in, the portal registers no one.
    server
        .post("/api/v1/applications")
        .json(&form(1))
        .go()
        .await
        .assert_error(401, "signin_required");
    assert_eq!(applications_stored(&server), 0);

    let answer = server
        .post("/api/v1/applications")
        .bearer_auth(&aigul)
        .json(&form(1))
        .go()
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let number = answer.json()["number"].as_str().unwrap().to_string();
    // The applicant is the signed-in person, IIN and name from the token, not the form.
    assert_eq!(
        applicant_of(&server, &number),
        (AIGUL_IIN.to_string(), "Сейітова Айгүл Маратқызы".to_string())
    );

    // She finds it without a code, and opens it with her token.
    let mine = server
        .get("/api/v1/me/applications")
        .bearer_auth(&aigul)
        .go()
        .await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert_eq!(mine.json()["items"][0]["number"], json!(number));
    let path = format!("/api/v1/applications/{number}");
    let opened = server.get(&path).bearer_auth(&aigul).go().await;
    assert_eq!(opened.status, 200, "{}", opened.text);

    // Bolat sees nothing of it: not in his list, and the application is "not found".
    let his = server
        .get("/api/v1/me/applications")
        .bearer_auth(&bolat)
        .go()
        .await;
    assert_eq!(his.json()["items"], json!([]));
    server
        .get(&path)
        .bearer_auth(&bolat)
        .go()
        .await
        .assert_error(404, "not_found");
    server
        .post(&format!("{path}/withdraw"))
        .bearer_auth(&bolat)
        .go()
        .await
        .assert_error(404, "not_found");

    // His attempts to register her child are refused, then limited, and all recorded.
    for _ in 0..3 {
        server
            .post("/api/v1/applications")
            .bearer_auth(&bolat)
            .json(&form(1))
            .go()
            .await
            .assert_error(409, "already_queued");
    }
    let limited = server
        .post("/api/v1/applications")
        .bearer_auth(&bolat)
        .json(&form(2))
        .go()
        .await;
    limited.assert_error(429, "registration_attempts_limited");
    assert!(limited.header("retry-after").is_some());
    assert_eq!(applications_stored(&server), 1, "nothing stored by a refusal");

    let child = valid_form(1).child_iin;
    let conn = rusqlite::Connection::open(&server.app.path).unwrap();
    let attempts = kezek::store::identity::attempts_for_child(&conn, &child).unwrap();
    assert_eq!(attempts.len(), 3);
    assert!(attempts
        .iter()
        .all(|a| a.subject == BOLAT && a.applicant_iin == "880715300306"));
    assert!(attempts.iter().all(|a| a.outcome == "already_queued"));
    let other = kezek::store::identity::attempts_for_child(&conn, &valid_form(2).child_iin).unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].outcome, "limited");
}

/// A token from the provider with its payload changed (another person's IIN), its
/// signature kept.
fn tampered(token: &str) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap();
    claims["iin"] = json!("791028302728");
    let payload = engine.encode(serde_json::to_vec(&claims).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

#[tokio::test]
async fn every_bad_token_is_refused_with_its_code_and_nothing_is_stored() {
    let (server, provider) = start().await;
    let good = id_token(&provider, &server.base, "kezek", AIGUL).await;
    let register = |token: String| {
        server
            .post("/api/v1/applications")
            .bearer_auth(token)
            .json(&form(1))
            .go()
    };
    register(tampered(&good))
        .await
        .assert_error(401, "token_signature_invalid");
    let other = id_token(&provider, &server.base, "other-app", AIGUL).await;
    register(other)
        .await
        .assert_error(401, "token_audience_invalid");
    register("eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln".into())
        .await
        .assert_error(401, "token_invalid");
    let missing = id_token(&provider, &server.base, "kezek", "no-iin").await;
    register(missing)
        .await
        .assert_error(422, "iin_claim_missing");
    let malformed = id_token(&provider, &server.base, "kezek", "bad-iin").await;
    register(malformed)
        .await
        .assert_error(422, "iin_claim_invalid");
    assert_eq!(applications_stored(&server), 0);

    // The good token works until it expires; then it is refused, and a new sign-in works.
    let answer = server
        .get("/api/v1/me/applications")
        .bearer_auth(&good)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    server
        .app
        .clock
        .set(chrono::Utc::now() + chrono::Duration::hours(2));
    register(good.clone())
        .await
        .assert_error(401, "token_expired");
    assert_eq!(applications_stored(&server), 0);
}

#[tokio::test]
async fn a_provider_that_is_down_is_a_clear_refusal_and_a_rotated_key_is_fetched() {
    let (server, mut provider) = start().await;
    let port = provider.port();
    let token = id_token(&provider, &server.base, "kezek", AIGUL).await;
    provider.stop();
    // Never fetched before: the keys cannot be had.
    let answer = server
        .get("/api/v1/me/applications")
        .bearer_auth(&token)
        .go()
        .await;
    answer.assert_error(503, "provider_unavailable");

    // The provider back on the same address with a new signing key (a rotation): its
    // tokens verify, the keys fetched anew for the unknown key id.
    let provider = Provider::start(&format!("{}/signin/callback", server.base), port);
    let fresh = id_token(&provider, &server.base, "kezek", AIGUL).await;
    let answer = server
        .get("/api/v1/me/applications")
        .bearer_auth(&fresh)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // The old key is gone from the provider: a token it signed no longer verifies.
    tokio::time::sleep(Duration::from_millis(10)).await;
    server
        .get("/api/v1/me/applications")
        .bearer_auth(&token)
        .go()
        .await
        .assert_error(401, "token_signature_invalid");
}
