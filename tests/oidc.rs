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
#[path = "common/oidc_provider.rs"]
mod oidc_provider;

use base64::Engine;
use common::valid_form;
use http::{Go, Server};
use kezek::http::HttpConfig;
use oidc_provider::Provider;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;

const AIGUL: &str = "parent-aigul";
const AIGUL_IIN: &str = "850303400109";
const BOLAT: &str = "parent-bolat";

/// Kezek with the provider configured, and the provider.
async fn start() -> (Server, Provider) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let provider = Provider::start(&format!("{base}/signin/callback"), 0);
    let server = Server::on(listener, config(&provider.issuer, &base), true).await;
    (server, provider)
}

fn config(issuer: &str, base: &str) -> HttpConfig {
    HttpConfig {
        oidc: oidc_provider::config(issuer, base),
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
    let (secret, callback) = match client {
        "kezek" => ("kezek-test-secret", "/signin/callback"),
        "kezek-staff" => ("kezek-staff-test-secret", "/signin/staff/callback"),
        _ => ("other-test-secret", "/signin/callback"),
    };
    let verifier = "a-test-verifier-that-is-long-enough-for-pkce-0123456789";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let redirect = format!("{base}{callback}");
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
        (
            AIGUL_IIN.to_string(),
            "Сейітова Айгүл Маратқызы".to_string()
        )
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
    sees_nothing_of(&server, &path, &bolat).await;

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
    assert_eq!(
        applications_stored(&server),
        1,
        "nothing stored by a refusal"
    );

    let child = valid_form(1).child_iin;
    let conn = rusqlite::Connection::open(&server.app.path).unwrap();
    let attempts = kezek::store::identity::attempts_for_child(&conn, &child).unwrap();
    assert_eq!(attempts.len(), 3);
    assert!(attempts
        .iter()
        .all(|a| a.subject == BOLAT && a.applicant_iin == "880715300306"));
    assert!(attempts.iter().all(|a| a.outcome == "already_queued"));
    // The district's officer reads who tried, for a complaint of squatting.
    let officer = server.officer();
    let read = server
        .get(&format!("/api/v1/registration-attempts?child_iin={child}"))
        .bearer_auth(&officer)
        .go()
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    let items = read.json()["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 3);
    assert_eq!(items[0]["subject"], BOLAT);
    // The person's IIN masked, as staff lists show a person's; the subject names them.
    assert_eq!(items[0]["applicant_iin"], "********0306");
    assert!(!read.text.contains("880715300306"), "{}", read.text);
    // The read is a view of the child's application, in the staff access log.
    let log = server
        .get(&format!(
            "/api/v1/access-log?account=officer-esl&application={number}"
        ))
        .bearer_auth(server.admin())
        .go()
        .await;
    assert_eq!(log.status, 200, "{}", log.text);
    let entries = log.json()["entries"].clone();
    let kinds: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["application"], "{}", log.text);
    // A child with no application in the officer's district is not theirs to ask about.
    server
        .get(&format!(
            "/api/v1/registration-attempts?child_iin={}",
            valid_form(2).child_iin
        ))
        .bearer_auth(&officer)
        .go()
        .await
        .assert_error(404, "not_found");
    let other =
        kezek::store::identity::attempts_for_child(&conn, &valid_form(2).child_iin).unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].outcome, "limited");
}

/// A token from the provider with its payload changed (another person's IIN), its
/// signature kept.
/// The person whose ID token is `token` has the application at `path` neither in their
/// list nor to open or withdraw ("not found", as for any stranger).
async fn sees_nothing_of(server: &Server, path: &str, token: &str) {
    let list = server
        .get("/api/v1/me/applications")
        .bearer_auth(token)
        .go()
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json()["items"], json!([]));
    server
        .get(path)
        .bearer_auth(token)
        .go()
        .await
        .assert_error(404, "not_found");
    server
        .post(&format!("{path}/withdraw"))
        .bearer_auth(token)
        .go()
        .await
        .assert_error(404, "not_found");
}

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
    // The page says so too, and offers to try again.
    let page = no_redirects()
        .get(format!("{}/signin", server.base))
        .go()
        .await;
    assert_eq!(page.status, 503, "{}", page.text);
    assert_eq!(signin_error(&page), "provider_unavailable");
    assert!(page.text.contains("href=\"/signin\""));
    assert_eq!(
        cookie_set(&page, "kezek_signin"),
        None,
        "no sign-in started"
    );

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

/// The pages' sign-in from a browser without script: `/signin` at Kezek, the provider's
/// form, and back. Answers the callback's address and the sign-in cookie.
async fn page_sign_in(
    server: &Server,
    provider: &Provider,
    path: &str,
    login: &str,
) -> (String, String) {
    let answer = no_redirects()
        .get(format!("{}{path}", server.base))
        .go()
        .await;
    assert_eq!(answer.status, 303, "{}", answer.text);
    let cookie = answer
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("kezek_signin="), "{cookie}");
    let authorize = location(&answer, &server.base);
    assert!(authorize.starts_with(&provider.issuer), "{authorize}");
    let params = query(&authorize);
    assert_eq!(params["code_challenge_method"], "S256", "PKCE");
    assert!(params.contains_key("nonce"));
    let back = at_provider(&provider.issuer, &authorize, login).await;
    let callbacks = ["/signin/callback?", "/signin/staff/callback?"];
    assert!(
        callbacks
            .iter()
            .any(|path| back.starts_with(&format!("{}{path}", server.base))),
        "{back}"
    );
    (back, cookie)
}

fn cookie_set(answer: &http::Answer, name: &str) -> Option<String> {
    answer
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|pair| pair.starts_with(&format!("{name}=")) && pair.len() > name.len() + 1)
}

fn signin_error(answer: &http::Answer) -> String {
    let marker = "data-code=\"";
    let start = answer
        .text
        .find(marker)
        .unwrap_or_else(|| panic!("no sign-in error ({}): {}", answer.status, answer.text))
        + marker.len();
    answer.text[start..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn a_page_sign_in_is_taken_once_only_from_its_browser_and_registers_as_the_person() {
    let (server, provider) = start().await;
    let browser = no_redirects();
    let (back, cookie) = page_sign_in(&server, &provider, "/signin?next=/register", AIGUL).await;

    // The answer without the browser's cookie is refused (another browser, a forged link).
    let stray = browser.get(&back).go().await;
    assert_eq!(stray.status, 400);
    assert_eq!(signin_error(&stray), "signin_state_invalid");
    assert_eq!(cookie_set(&stray, "kezek_person"), None);

    let answer = browser.get(&back).header("cookie", &cookie).go().await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(
        answer.text.contains("href=\"/register\""),
        "continues where it started"
    );
    let person = cookie_set(&answer, "kezek_person").expect("the person's session");

    // The same answer again is a replay, refused, and sets nothing.
    let replay = browser.get(&back).header("cookie", &cookie).go().await;
    assert_eq!(replay.status, 400);
    assert_eq!(signin_error(&replay), "signin_replayed");
    assert_eq!(cookie_set(&replay, "kezek_person"), None);

    // The registration form shows the applicant from the provider, and asks no IIN.
    let form_page = browser
        .get(format!("{}/register", server.base))
        .header("cookie", &person)
        .go()
        .await;
    assert_eq!(form_page.status, 200);
    assert!(form_page.text.contains(AIGUL_IIN));
    assert!(!form_page.text.contains("name=\"applicant_iin\""));

    // A form that names another applicant registers her all the same.
    let mut fields: Vec<(String, String)> =
        serde_json::from_value::<HashMap<String, Value>>(form(1))
            .unwrap()
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                _ => None,
            })
            .collect();
    fields.push(("kindergartens".into(), "1".into()));
    let posted = browser
        .post(format!("{}/register", server.base))
        .header("cookie", &person)
        .form(&fields)
        .go()
        .await;
    assert_eq!(posted.status, 201, "{}", posted.text);
    assert_eq!(
        applicant_of(&server, "ESL-1"),
        (
            AIGUL_IIN.to_string(),
            "Сейітова Айгүл Маратқызы".to_string()
        )
    );

    // Her list shows it; opening it from there needs no code.
    let me = browser
        .get(format!("{}/me", server.base))
        .header("cookie", &person)
        .go()
        .await;
    assert!(me.text.contains("/me/open/ESL-1"), "{}", me.text);
    let open = browser
        .get(format!("{}/me/open/ESL-1", server.base))
        .header("cookie", &person)
        .go()
        .await;
    assert_eq!(open.status, 303);
    assert!(cookie_set(&open, "kezek_parent").is_some());

    // Another person signs in: the application is not found for them.
    let (back, cookie) = page_sign_in(&server, &provider, "/signin", BOLAT).await;
    let answer = browser.get(&back).header("cookie", &cookie).go().await;
    let bolat = cookie_set(&answer, "kezek_person").unwrap();
    let open = browser
        .get(format!("{}/me/open/ESL-1", server.base))
        .header("cookie", &bolat)
        .go()
        .await;
    assert_eq!(open.status, 404);
    assert_eq!(cookie_set(&open, "kezek_parent"), None);
}

#[tokio::test]
async fn a_page_sign_in_without_a_usable_iin_is_refused_and_can_be_retried() {
    let (server, provider) = start().await;
    let browser = no_redirects();
    for (login, code) in [
        ("no-iin", "iin_claim_missing"),
        ("bad-iin", "iin_claim_invalid"),
    ] {
        let (back, cookie) = page_sign_in(&server, &provider, "/signin", login).await;
        let answer = browser.get(&back).header("cookie", &cookie).go().await;
        assert_eq!(answer.status, 422, "{}", answer.text);
        assert_eq!(signin_error(&answer), code);
        assert_eq!(cookie_set(&answer, "kezek_person"), None);
        assert!(
            answer.text.contains("href=\"/signin\""),
            "a way to start again"
        );
    }
    // Without signing in, the registration page asks to sign in and registers nothing.
    let page = browser.get(format!("{}/register", server.base)).go().await;
    assert!(page.text.contains("/signin?next=/register"));
    let posted = browser
        .post(format!("{}/register", server.base))
        .form(&[("district", "ESL")])
        .go()
        .await;
    assert_eq!(posted.status, 401);
    assert_eq!(applications_stored(&server), 0);
}

#[tokio::test]
async fn a_staff_member_bound_to_the_provider_signs_in_and_is_out_once_revoked() {
    let (server, provider) = start().await;
    let browser = no_redirects();
    server.officer();
    let conn = rusqlite::Connection::open(&server.app.path).unwrap();
    // Not bound yet: the provider's word alone opens no account.
    let (back, cookie) = page_sign_in(&server, &provider, "/signin?for=staff", "officer-esl").await;
    let answer = browser.get(&back).header("cookie", &cookie).go().await;
    assert_eq!(answer.status, 403, "{}", answer.text);
    assert_eq!(cookie_set(&answer, "kezek_staff"), None);

    let name: String = conn
        .query_row(
            "SELECT name FROM staff_accounts WHERE role = 'officer'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(kezek::store::identity::bind_subject(&conn, &name, "officer-esl").unwrap());
    let (back, cookie) = page_sign_in(&server, &provider, "/signin?for=staff", "officer-esl").await;
    let answer = browser.get(&back).header("cookie", &cookie).go().await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let staff = cookie_set(&answer, "kezek_staff").expect("the staff session");
    let desk = browser
        .get(format!("{}/staff", server.base))
        .header("cookie", &staff)
        .go()
        .await;
    assert!(desk.text.contains(&name), "{}", desk.text);

    kezek::store::staff::revoke(&conn, &name, chrono::Utc::now()).unwrap();
    let desk = browser
        .get(format!("{}/staff", server.base))
        .header("cookie", &staff)
        .go()
        .await;
    assert!(!desk.text.contains(&name), "revoked: out at once");
}

/// The remedy for squatting (issues 14 and 15): Bolat registered Aigul's child as his own;
/// at the desk, after checking her identity document, the operator rebinds the application
/// to her. His code and his signed-in pages lose it, hers gain it, a new code alone opens
/// it, a bad field is refused with its code and changes nothing, and the journal replays.
#[tokio::test]
async fn the_desk_rebinds_a_squatted_application_to_the_real_applicant() {
    let (mut server, provider) = start().await;
    let aigul = id_token(&provider, &server.base, "kezek", AIGUL).await;
    let bolat = id_token(&provider, &server.base, "kezek", BOLAT).await;
    let answer = server
        .post("/api/v1/applications")
        .bearer_auth(&bolat)
        .json(&form(1))
        .go()
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let number = answer.json()["number"].as_str().unwrap().to_string();
    let old_code = answer.json()["access_code"].as_str().unwrap().to_string();
    let squatter = applicant_of(&server, &number);
    assert_eq!(squatter.0, "880715300306");
    let path = format!("/api/v1/applications/{number}");
    let rebind = format!("{path}/access-code");
    let operator = server.operator();
    let real = json!({
        "applicant_iin": AIGUL_IIN,
        "applicant_full_name": "Сейітова Айгүл Маратқызы",
        "applicant_relation": "mother",
        "applicant_phone": "+7 701 222 33 44",
        "applicant_address": "Астана, Сарыарқа 5, 6",
    });

    // Bad fields: each refused with its code, and nothing changed (applicant nor code).
    let mut bad = real.clone();
    bad["applicant_iin"] = json!("850303400100");
    server
        .post(&rebind)
        .bearer_auth(&operator)
        .json(&bad)
        .go()
        .await
        .assert_error(422, "applicant_iin_invalid");
    let mut bad = real.clone();
    bad["applicant_iin"] = json!(valid_form(1).child_iin);
    server
        .post(&rebind)
        .bearer_auth(&operator)
        .json(&bad)
        .go()
        .await
        .assert_error(422, "applicant_is_child");
    let mut bad = real.clone();
    bad["applicant_relation"] = json!("neighbour");
    server
        .post(&rebind)
        .bearer_auth(&operator)
        .json(&bad)
        .go()
        .await
        .assert_error(422, "relation_invalid");
    let mut bad = real.clone();
    bad.as_object_mut().unwrap().remove("applicant_phone");
    server
        .post(&rebind)
        .bearer_auth(&operator)
        .json(&bad)
        .go()
        .await
        .assert_error(422, "phone_invalid");
    assert_eq!(applicant_of(&server, &number), squatter);
    server.read(&number, &old_code).await;
    // Not a parent's to do, even the application's own: the desk's alone.
    server
        .post(&rebind)
        .bearer_auth(&bolat)
        .json(&real)
        .go()
        .await
        .assert_error(401, "unauthorized");

    let answer = server
        .post(&rebind)
        .bearer_auth(&operator)
        .json(&real)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let new_code = answer.json()["access_code"].as_str().unwrap().to_string();
    assert_ne!(new_code, old_code);
    assert_eq!(
        applicant_of(&server, &number),
        (
            AIGUL_IIN.to_string(),
            "Сейітова Айгүл Маратқызы".to_string()
        )
    );

    // The old code and the old person lose it.
    server
        .get(&path)
        .header("X-Access-Code", &old_code)
        .go()
        .await
        .assert_error(404, "not_found");
    sees_nothing_of(&server, &path, &bolat).await;

    // The real applicant gains it: in her list, opened with her token, and with the code.
    let mine = server
        .get("/api/v1/me/applications")
        .bearer_auth(&aigul)
        .go()
        .await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert_eq!(mine.json()["items"][0]["number"], json!(number));
    let opened = server.get(&path).bearer_auth(&aigul).go().await;
    assert_eq!(opened.status, 200, "{}", opened.text);
    let view = server.read(&number, &new_code).await;
    let kinds: Vec<&str> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["change"].as_str())
        .collect();
    assert!(kinds.contains(&"applicant_rebound"), "{kinds:?}");

    // The journal replays to the same tables.
    let path = server.app.path.clone();
    tokio::task::spawn_blocking(move || {
        server.app.stop();
        kezek::verify::verify(&path).expect("the replay matches");
    })
    .await
    .unwrap();
}

// Staff signing in through a provider of their own (`[oidc.staff]`, issue 14 item 4): a
// second instance of the test provider as a staff directory (`--directory staff`: its own
// issuer, client `kezek-staff`, its own people, one of them with a portal parent's subject
// and IIN).

/// Kezek with the parents' provider (when `parents`) and a staff directory, and both.
async fn start_with_staff_directory(
    parents: bool,
    subject_claim: &str,
) -> (Server, Option<Provider>, Provider) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let portal = parents.then(|| Provider::start(&format!("{base}/signin/callback"), 0));
    // Its other client ("other-app", another audience) sends its answers to the usual path.
    let directory = Provider::start_staff(
        &format!("{base}/signin/staff/callback,{base}/signin/callback"),
        0,
    );
    let parents_issuer = portal.as_ref().map(|p| p.issuer.clone());
    let config = HttpConfig {
        oidc: parents_issuer
            .as_deref()
            .and_then(|issuer| oidc_provider::config(issuer, &base)),
        staff_oidc: oidc_provider::staff_config(
            parents_issuer.as_deref(),
            &directory.issuer,
            &base,
            subject_claim,
        ),
        ..HttpConfig::default()
    };
    let server = Server::on(listener, config, true).await;
    (server, portal, directory)
}

/// Binds the test server's officer account to `subject`; answers the account's name.
fn bind_officer(server: &Server, subject: &str) -> String {
    server.officer();
    let conn = rusqlite::Connection::open(&server.app.path).unwrap();
    assert!(kezek::store::identity::bind_subject(&conn, "officer-esl", subject).unwrap());
    "officer-esl".to_string()
}

/// Whether the staff session `cookie` opens the account's desk at /staff.
async fn at_the_desk(server: &Server, cookie: &str, name: &str) -> bool {
    let desk = no_redirects()
        .get(format!("{}/staff", server.base))
        .header("cookie", cookie)
        .go()
        .await;
    assert_eq!(desk.status, 200, "{}", desk.text);
    desk.text.contains(name) && !desk.text.contains("action=\"/staff/sign-in\"")
}

#[tokio::test]
async fn staff_sign_in_at_their_own_provider_and_the_parents_provider_signs_no_staff_in() {
    let (server, portal, directory) = start_with_staff_directory(true, "sub").await;
    let portal = portal.unwrap();
    let browser = no_redirects();
    let name = bind_officer(&server, "officer-esl");
    let entrance = browser.get(format!("{}/staff", server.base)).go().await;
    assert!(
        entrance.text.contains("href=\"/signin?for=staff\""),
        "the way to the directory: {}",
        entrance.text
    );

    // The staff sign-in goes to the staff directory, and comes back to its own callback.
    let (back, cookie) =
        page_sign_in(&server, &directory, "/signin?for=staff", "officer-esl").await;
    assert!(
        back.starts_with(&format!("{}/signin/staff/callback?", server.base)),
        "{back}"
    );
    // The directory's answer brought to the parents' callback is not one of its sign-ins.
    let elsewhere = back.replace("/signin/staff/callback", "/signin/callback");
    let answer = browser.get(&elsewhere).header("cookie", &cookie).go().await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert_eq!(signin_error(&answer), "signin_state_invalid");
    assert_eq!(cookie_set(&answer, "kezek_staff"), None);
    assert_eq!(cookie_set(&answer, "kezek_person"), None);

    let answer = browser.get(&back).header("cookie", &cookie).go().await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(answer.text.contains("href=\"/staff\""), "{}", answer.text);
    let staff = cookie_set(&answer, "kezek_staff").expect("the staff session");
    assert!(at_the_desk(&server, &staff, &name).await);

    // The parents' provider's person with the same subject signs in there as a parent, and
    // that opens no desk; their ID token is no staff member's either.
    let (back, cookie) = page_sign_in(&server, &portal, "/signin", "officer-esl").await;
    let answer = browser.get(&back).header("cookie", &cookie).go().await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(cookie_set(&answer, "kezek_staff"), None);
    let person = cookie_set(&answer, "kezek_person").expect("a parent's session");
    assert!(!at_the_desk(&server, &person, &name).await);
    let token = id_token(&portal, &server.base, "kezek", "officer-esl").await;
    server
        .get(&format!(
            "/api/v1/registration-attempts?child_iin={}",
            valid_form(1).child_iin
        ))
        .bearer_auth(&token)
        .go()
        .await
        .assert_error(401, "unauthorized");

    // A staff session names the issuer that vouched: one the portal vouched for (as staff
    // had before the directory) is no session now, though the account is bound to the
    // same subject and the cookie is genuinely signed.
    let keys = {
        let dir = server.app.path.parent().unwrap();
        let signer = kezek::documents::DocumentSigner::load_or_create(dir).unwrap();
        kezek::http::pages::session::SessionKeys::new(
            signer.derive_secret("web page sessions"),
            false,
        )
    };
    let session = |issuer: &str| {
        let value = keys.staff_subject_cookie(&kezek::http::pages::session::StaffSubjectSession {
            name: name.clone(),
            subject: "officer-esl".into(),
            issuer: issuer.to_string(),
            expires: chrono::Utc::now() + chrono::Duration::hours(1),
        });
        format!("kezek_staff={value}")
    };
    assert!(at_the_desk(&server, &session(&directory.issuer), &name).await);
    assert!(!at_the_desk(&server, &session(&portal.issuer), &name).await);

    // Revoking the account ends the directory's session at once.
    let conn = rusqlite::Connection::open(&server.app.path).unwrap();
    kezek::store::staff::revoke(&conn, &name, chrono::Utc::now()).unwrap();
    assert!(!at_the_desk(&server, &staff, &name).await, "revoked: out");
}

#[tokio::test]
async fn a_person_of_the_staff_directory_cannot_register_as_a_parent() {
    let (server, portal, directory) = start_with_staff_directory(true, "sub").await;
    let portal = portal.unwrap();
    let browser = no_redirects();

    // Parents still sign in at the portal, never at the directory.
    let answer = browser.get(format!("{}/signin", server.base)).go().await;
    assert!(location(&answer, &server.base).starts_with(&portal.issuer));

    // The directory's "parent-aigul" (the portal parent's subject and IIN, another issuer):
    // her directory token registers no one, and stores nothing.
    let token = id_token(&directory, &server.base, "kezek-staff", AIGUL).await;
    let refused = server
        .post("/api/v1/applications")
        .bearer_auth(&token)
        .json(&form(1))
        .go()
        .await;
    // Another issuer's token: not the parents' provider's word.
    refused.assert_error(401, "token_invalid");
    server
        .get("/api/v1/me/applications")
        .bearer_auth(&token)
        .go()
        .await
        .assert_error(401, "token_invalid");
    assert_eq!(applications_stored(&server), 0);

    // Signing in at the directory makes her no parent either (and, unbound, no staff).
    let (back, cookie) = page_sign_in(&server, &directory, "/signin?for=staff", AIGUL).await;
    let answer = browser.get(&back).header("cookie", &cookie).go().await;
    assert_eq!(answer.status, 403, "{}", answer.text);
    assert_eq!(signin_error(&answer), "staff_not_bound");
    assert_eq!(cookie_set(&answer, "kezek_person"), None);
    assert_eq!(cookie_set(&answer, "kezek_staff"), None);
    let registration = browser.get(format!("{}/register", server.base)).go().await;
    assert!(registration.text.contains("/signin?next=/register"));

    // The portal's Aigul registers as before.
    let parent = id_token(&portal, &server.base, "kezek", AIGUL).await;
    let answer = server
        .post("/api/v1/applications")
        .bearer_auth(&parent)
        .json(&form(1))
        .go()
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
}

#[tokio::test]
async fn a_staff_directory_without_a_parents_provider_names_staff_by_its_claim() {
    // A small municipality: parents with access codes, staff through the directory, known
    // by `oid` (as Entra ID names a person in its tenant).
    let (server, portal, directory) = start_with_staff_directory(false, "oid").await;
    assert!(portal.is_none());
    let browser = no_redirects();
    let name = bind_officer(&server, "oid-officer-esl");

    let answer = browser.get(format!("{}/signin", server.base)).go().await;
    assert_eq!(answer.status, 404, "parents have no provider");
    let (back, cookie) =
        page_sign_in(&server, &directory, "/signin?for=staff", "officer-esl").await;
    let answer = browser.get(&back).header("cookie", &cookie).go().await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let staff = cookie_set(&answer, "kezek_staff").expect("the staff session");
    assert!(at_the_desk(&server, &staff, &name).await);

    // Signing out ends the session here and offers the directory's end-session page.
    let desk = browser
        .get(format!("{}/staff", server.base))
        .header("cookie", &staff)
        .go()
        .await;
    let marker = "name=\"csrf\" value=\"";
    let start = desk.text.find(marker).expect("a sign-out form") + marker.len();
    let csrf = desk.text[start..].split('"').next().unwrap().to_string();
    let out = browser
        .post(format!("{}/sign-out", server.base))
        .header("cookie", &staff)
        .form(&[("who", "staff"), ("csrf", csrf.as_str())])
        .go()
        .await;
    assert_eq!(out.status, 200, "{}", out.text);
    assert!(out
        .headers
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().unwrap().starts_with("kezek_staff=;")));
    let marker = "data-testid=\"provider-signout\"";
    assert!(out.text.contains(marker), "{}", out.text);
    let end = out.text[..out.text.find(marker).unwrap()]
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert!(end.starts_with(&directory.issuer), "{end}");
    assert_eq!(query(&end)["client_id"], "kezek-staff");

    // A directory token as bearer is no parent's: the API has no parents' provider.
    let token = id_token(&directory, &server.base, "kezek-staff", AIGUL).await;
    server
        .post("/api/v1/applications")
        .bearer_auth(&token)
        .json(&form(1))
        .go()
        .await
        .assert_error(401, "unauthorized");
    assert_eq!(applications_stored(&server), 0);
}

#[tokio::test]
async fn bad_staff_answers_and_tokens_are_clear_errors_and_can_be_retried() {
    let (server, portal, mut directory) = start_with_staff_directory(true, "sub").await;
    let browser = no_redirects();
    let name = bind_officer(&server, "officer-esl");

    // An answer without the browser's cookie, then the same answer twice.
    let (back, cookie) =
        page_sign_in(&server, &directory, "/signin?for=staff", "officer-esl").await;
    let stray = browser.get(&back).go().await;
    assert_eq!(stray.status, 400);
    assert_eq!(signin_error(&stray), "signin_state_invalid");
    assert!(stray.text.contains("href=\"/signin?for=staff\""), "retry");
    let answer = browser.get(&back).header("cookie", &cookie).go().await;
    assert!(
        cookie_set(&answer, "kezek_staff").is_some(),
        "{}",
        answer.text
    );
    let replay = browser.get(&back).header("cookie", &cookie).go().await;
    assert_eq!(replay.status, 400);
    assert_eq!(signin_error(&replay), "signin_replayed");
    assert_eq!(cookie_set(&replay, "kezek_staff"), None);

    // The directory refuses (the person cancelled there).
    let started = browser
        .get(format!("{}/signin?for=staff", server.base))
        .go()
        .await;
    let cookie = cookie_set(&started, "kezek_signin").unwrap();
    let state = query(&location(&started, &server.base))["state"].clone();
    let denied = browser
        .get(format!(
            "{}/signin/staff/callback?error=access_denied&state={state}",
            server.base
        ))
        .header("cookie", &cookie)
        .go()
        .await;
    assert_eq!(denied.status, 401, "{}", denied.text);
    assert_eq!(signin_error(&denied), "signin_denied");

    // The directory's own tokens, checked as a staff sign-in checks them: tampered, for its
    // other client, expired, the portal's, without the subject claim.
    let staff_provider = |subject_claim: &str| {
        kezek::http::oidc::Provider::new(
            oidc_provider::staff_config(None, &directory.issuer, &server.base, subject_claim)
                .unwrap(),
        )
    };
    let checker = staff_provider("sub");
    let now = chrono::Utc::now();
    let good = id_token(&directory, &server.base, "kezek-staff", "operator-esl").await;
    assert_eq!(
        checker.verify_staff(&good, None, now).await,
        Ok("operator-esl".to_string())
    );
    let forged = {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = good.split('.').collect();
        let mut claims: Value = serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap();
        claims["sub"] = json!("officer-esl");
        let payload = engine.encode(serde_json::to_vec(&claims).unwrap());
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    use kezek::http::oidc::SignInError;
    assert_eq!(
        checker.verify_staff(&forged, None, now).await,
        Err(SignInError::Signature)
    );
    let other = id_token(&directory, &server.base, "other-app", "officer-esl").await;
    assert_eq!(
        checker.verify_staff(&other, None, now).await,
        Err(SignInError::Audience)
    );
    let later = now + chrono::Duration::hours(2);
    assert_eq!(
        checker.verify_staff(&good, None, later).await,
        Err(SignInError::Expired)
    );
    let portal_token = id_token(
        portal.as_ref().unwrap(),
        &server.base,
        "kezek",
        "officer-esl",
    )
    .await;
    assert_eq!(
        checker.verify_staff(&portal_token, None, now).await,
        Err(SignInError::Invalid),
        "another issuer's"
    );
    assert_eq!(
        staff_provider("employee_id")
            .verify_staff(&good, None, now)
            .await,
        Err(SignInError::SubjectMissing)
    );
    assert_eq!(
        SignInError::SubjectMissing.kind().code,
        "subject_claim_missing"
    );

    // The directory down between its sign-in form and the code's exchange: a clear page
    // that offers to try again; the desk's session made before stays (it is Kezek's own,
    // checked against the account).
    let staff = cookie_set(&answer, "kezek_staff").unwrap();
    let (back, cookie) =
        page_sign_in(&server, &directory, "/signin?for=staff", "officer-esl").await;
    directory.stop();
    let down = browser.get(&back).header("cookie", &cookie).go().await;
    assert_eq!(down.status, 503, "{}", down.text);
    assert_eq!(signin_error(&down), "provider_unavailable");
    assert!(down.text.contains("href=\"/signin?for=staff\""));
    assert!(at_the_desk(&server, &staff, &name).await);
}
