//! The HTTP harness of the API tests: the real router over a `TestApp`, on 127.0.0.1 and a
//! port of its own, and reqwest to talk to it. Included by the test files that need it
//! (`#[path = "common/http.rs"] mod http;`), so the others do not compile it.
#![allow(dead_code)]

use crate::common::{self, TestApp};
use kezek::domain::staff::{Role, Scope};
use kezek::http::HttpConfig;
use reqwest::header::HeaderMap;
use reqwest::RequestBuilder;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// A running service and its HTTP front.
pub struct Server {
    pub app: TestApp,
    pub base: String,
    pub http: reqwest::Client,
}

impl Server {
    pub async fn start() -> Server {
        Server::with(HttpConfig::default(), true).await
    }

    /// `manual_clock`: whether the router may move the clock (`--clock manual`).
    pub async fn with(config: HttpConfig, manual_clock: bool) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Server::on(listener, config, manual_clock).await
    }

    /// As `with`, on a listener bound already (a test that must know the address first,
    /// e.g. to register it at an identity provider).
    pub async fn on(
        listener: tokio::net::TcpListener,
        mut config: HttpConfig,
        manual_clock: bool,
    ) -> Server {
        // TestApp submits its catalog with blocking sends: not on a runtime thread.
        let app = tokio::task::spawn_blocking(TestApp::spawn).await.unwrap();
        let clock = manual_clock.then(|| app.clock.clone());
        let address = listener.local_addr().unwrap();
        // As `kezek serve` does: the configured public address, or the bound one.
        let public_url = kezek::http::public_url_for(config.public_url.as_deref(), address);
        config.public_url = Some(public_url.unwrap());
        let router = kezek::http::router(app.service().clone(), app.path.clone(), clock, config);
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Server {
            app,
            base: format!("http://{address}"),
            http: reqwest::Client::new(),
        }
    }

    /// Makes the client stop at redirects: a page's 303 carries the session's cookie, which
    /// the test reads before following.
    pub fn stop_at_redirects(&mut self) {
        self.http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
    }

    /// A staff account written into the database; answers its bearer token.
    pub fn staff(&self, name: &str, role: Role, scope: Scope) -> String {
        common::add_staff(&self.app.path, name, role, scope)
    }

    pub fn admin(&self) -> String {
        self.staff("admin", Role::Admin, Scope::Everywhere)
    }

    pub fn officer(&self) -> String {
        self.staff(
            "officer-esl",
            Role::Officer,
            Scope::District(self.app.district),
        )
    }

    pub fn operator(&self) -> String {
        self.staff(
            "operator-esl",
            Role::Operator,
            Scope::District(self.app.district),
        )
    }

    /// The account of kindergarten `index` (0 and 1 in ESL, 2 in SAR).
    pub fn kindergarten(&self, index: usize) -> String {
        self.staff(
            &format!("kg-{index}"),
            Role::Kindergarten,
            Scope::Kindergarten(self.app.kindergartens[index]),
        )
    }

    pub fn kindergarten_id(&self, index: usize) -> u32 {
        self.app.kindergartens[index].0
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(format!("{}{path}", self.base))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.http.post(format!("{}{path}", self.base))
    }

    pub fn put(&self, path: &str) -> RequestBuilder {
        self.http.put(format!("{}{path}", self.base))
    }

    /// Registers through the portal; answers the 201 body.
    pub async fn register(&self, form: Value) -> Value {
        let answer = self.post("/api/v1/applications").json(&form).go().await;
        assert_eq!(answer.status, 201, "{}", answer.text);
        answer.json()
    }

    /// The application as its parent reads it.
    pub async fn read(&self, number: &str, code: &str) -> Value {
        let answer = self
            .get(&format!("/api/v1/applications/{number}"))
            .header("X-Access-Code", code)
            .go()
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()
    }

    /// Free places at kindergarten `index` for children born in 2022, Kazakh groups, today.
    pub async fn report_places(&self, token: &str, index: usize, count: u32) -> Answer {
        self.post(&format!(
            "/api/v1/kindergartens/{}/vacancies",
            self.kindergarten_id(index)
        ))
        .bearer_auth(token)
        .json(&json!({
            "born_from": "2022-01-01",
            "born_to": "2022-12-31",
            "language": "kk",
            "count": count,
            "available_from": "2026-11-20",
        }))
        .go()
        .await
    }
}

/// An answer, read whole: the bytes, and the same as (lossy) text for messages and JSON.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// An error answer: this status, this code, in the error table's JSON shape.
    pub fn assert_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "expected {code}: {}", self.text);
        let body = self.json();
        assert_eq!(body["code"], code, "{body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        body
    }

    /// A 200 page of this content type that no cache may keep.
    pub fn assert_page(&self, content_type: &str) {
        assert_eq!(self.status, 200, "{}", self.text);
        assert_eq!(self.header("content-type"), Some(content_type));
        assert_eq!(self.header("cache-control"), Some("no-store"));
    }
}

pub trait Go {
    async fn go(self) -> Answer;
}

impl Go for RequestBuilder {
    async fn go(self) -> Answer {
        let response = self.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap().to_vec();
        let text = String::from_utf8_lossy(&body).into_owned();
        Answer {
            status,
            headers,
            body,
            text,
        }
    }
}

/// The cookies an answer sets, added to `jar`, as one `Cookie` header.
pub fn cookies(answer: &Answer, jar: &mut std::collections::BTreeMap<String, String>) -> String {
    for value in answer.headers.get_all("set-cookie") {
        let pair = value.to_str().unwrap().split(';').next().unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        jar.insert(name.to_string(), value.to_string());
    }
    jar.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A hidden input's value in a page (a form's `csrf` or `idempotency_key`).
pub fn hidden(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string()
}

impl Server {
    /// Signs in on the staff pages with `token`; answers the session's `Cookie` header.
    /// Needs `stop_at_redirects` (the sign-in's 303 carries the cookie).
    pub async fn staff_page_session(&self, token: &str) -> String {
        let mut jar = std::collections::BTreeMap::new();
        let entrance = self.get("/staff").go().await;
        let cookie = cookies(&entrance, &mut jar);
        let signed_in = self
            .post("/staff/sign-in")
            .header("cookie", cookie)
            .form(&[
                ("token", token),
                ("csrf", hidden(&entrance.text, "csrf").as_str()),
            ])
            .go()
            .await;
        assert_eq!(signed_in.status, 303, "{}", signed_in.text);
        cookies(&signed_in, &mut jar)
    }
}
