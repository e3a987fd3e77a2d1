//! A public service under pressure, through the real router: readiness says when no write
//! can commit; the wrong-code lockout and the registration quotas key on the real client
//! (behind a trusted proxy, the forwarded address) and the application, so that one
//! client's flood or guessing never stops another's request.

mod common;
#[path = "common/http.rs"]
mod http;

use http::{Go, Server};
use kezek::http::admission::AdmissionConfig;
use kezek::http::proxy::{ForwardedHeader, TrustedProxies};
use kezek::http::HttpConfig;
use std::time::Duration;

#[tokio::test]
async fn readiness_fails_while_another_writer_holds_the_database() {
    let server = Server::start().await;
    let ready = server.get("/api/v1/ready").go().await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.json()["status"], "ready");

    // Another process's writer: it holds SQLite's write lock, so no batch can begin.
    let other = rusqlite::Connection::open(&server.app.path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let blocked = server.get("/api/v1/ready").go().await;
    let body = blocked.assert_error(503, "not_ready");
    assert_eq!(body["detail"], "writer");
    let health = server.get("/api/v1/health").go().await;
    assert_eq!(health.status, 200, "health stays: the process is alive");

    other.execute_batch("ROLLBACK").unwrap();
    // The writer's own probe may still be waiting on the lock; the next answer is fresh.
    let mut status = 0;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        status = server.get("/api/v1/ready").go().await.status;
        if status == 200 {
            break;
        }
    }
    assert_eq!(status, 200, "ready again once the lock is released");
}

/// Registers form `serial` through the portal; answers its number and access code.
async fn register(server: &Server, serial: u16) -> (String, String) {
    let form = serde_json::to_value(common::valid_form(serial)).unwrap();
    let registered = server.register(form).await;
    (
        registered["number"].as_str().unwrap().to_string(),
        registered["access_code"].as_str().unwrap().to_string(),
    )
}

/// A parent's look-up of `number` with `code`, as the client `from` behind the proxy (or
/// claiming to be, when the proxy is not trusted).
async fn look_up(server: &Server, number: &str, code: &str, from: &str) -> u16 {
    server
        .get(&format!("/api/v1/applications/{number}"))
        .header("X-Access-Code", code)
        .header("X-Forwarded-For", from)
        .go()
        .await
        .status
}

fn behind_proxy() -> HttpConfig {
    HttpConfig {
        proxies: TrustedProxies {
            networks: vec!["127.0.0.1/32".parse().unwrap()],
            header: ForwardedHeader::XForwardedFor,
        },
        ..HttpConfig::default()
    }
}

#[tokio::test]
async fn a_parents_right_code_is_accepted_after_another_clients_ten_wrong_ones() {
    let server = Server::with(behind_proxy(), true).await;
    let (number, code) = register(&server, 1).await;
    let guesser = "198.51.100.66";
    for n in 0..10 {
        let status = look_up(&server, &number, &format!("WRONG{n:04}"), guesser).await;
        assert_eq!(status, 404, "wrong code {n}");
    }
    assert_eq!(
        look_up(&server, &number, &code, guesser).await,
        429,
        "the guesser is stopped, even with the right code"
    );
    assert_eq!(look_up(&server, &number, &code, "203.0.113.5").await, 200);
}

#[tokio::test]
async fn wrong_codes_on_one_application_do_not_lock_a_neighbour_out_of_another() {
    // No proxy configured: everyone here is 127.0.0.1, as every parent behind one NAT or
    // an unconfigured proxy would be.
    let server = Server::start().await;
    let (guessed, _) = register(&server, 1).await;
    let (number, code) = register(&server, 2).await;
    for n in 0..10 {
        // The forged header changes nothing: the peer is not a trusted proxy.
        let forged = format!("192.0.2.{n}");
        assert_eq!(look_up(&server, &guessed, "WRONG0000", &forged).await, 404);
    }
    assert_eq!(
        look_up(&server, &guessed, "WRONG0000", "192.0.2.200").await,
        429,
        "a forged X-Forwarded-For buys no new quota"
    );
    assert_eq!(look_up(&server, &number, &code, "192.0.2.201").await, 200);
}

fn quotas(per_client: u32, per_applicant: u32) -> HttpConfig {
    HttpConfig {
        admission: AdmissionConfig {
            registrations_per_client_per_hour: per_client,
            registrations_per_applicant_per_hour: per_applicant,
            pending_writes: 1024,
        },
        ..behind_proxy()
    }
}

/// A portal registration of form `serial` as client `from`, optionally for `applicant`.
async fn register_as(
    server: &Server,
    serial: u16,
    from: &str,
    applicant: Option<&str>,
) -> http::Answer {
    let mut form = serde_json::to_value(common::valid_form(serial)).unwrap();
    if let Some(applicant) = applicant {
        form["applicant_iin"] = applicant.into();
    }
    server
        .post("/api/v1/applications")
        .header("X-Forwarded-For", from)
        .json(&form)
        .go()
        .await
}

#[tokio::test]
async fn a_one_address_flood_is_throttled_while_another_clients_registration_goes_through() {
    let server = Server::with(quotas(10, 0), true).await;
    let flooder = "198.51.100.66";
    let mut created = 0;
    let mut throttled = 0;
    for serial in 1..=40 {
        let answer = register_as(&server, serial, flooder, None).await;
        match answer.status {
            201 => created += 1,
            429 => {
                let body = answer.assert_error(429, "registrations_limited");
                assert!(body["message"].is_string());
                let wait: u64 = answer.header("retry-after").unwrap().parse().unwrap();
                // Ten an hour: the next one in six minutes.
                assert!((1..=360).contains(&wait), "{wait}");
                throttled += 1;
            }
            other => panic!("{other}: {}", answer.text),
        }
    }
    assert_eq!((created, throttled), (10, 30));
    let parent = register_as(&server, 100, "203.0.113.5", None).await;
    assert_eq!(parent.status, 201, "{}", parent.text);
    // Staff register for many parents from one office: not counted.
    let operator = server.operator();
    let form = serde_json::to_value(common::valid_form(101)).unwrap();
    let office = server
        .post("/api/v1/applications")
        .header("X-Forwarded-For", flooder)
        .bearer_auth(&operator)
        .json(&form)
        .go()
        .await;
    assert_eq!(office.status, 201, "{}", office.text);
    let health = server.get("/api/v1/health").go().await.json();
    assert_eq!(health["applications_waiting"], 12);
    let metrics = server.get("/metrics").go().await.text;
    assert!(
        metrics.contains("kezek_registrations_throttled_total 30"),
        "{metrics}"
    );
}

#[tokio::test]
async fn one_applicant_is_not_registered_over_and_over_from_many_addresses() {
    let server = Server::with(quotas(0, 2), true).await;
    let applicant = "791028302728";
    for (serial, from) in [(1, "198.51.100.1"), (2, "198.51.100.2")] {
        let answer = register_as(&server, serial, from, Some(applicant)).await;
        assert_eq!(answer.status, 201, "{}", answer.text);
    }
    register_as(&server, 3, "198.51.100.3", Some(applicant))
        .await
        .assert_error(429, "registrations_limited");
    let other = common::child_iin(common::date(1985, 5, 5), 7);
    let answer = register_as(&server, 4, "198.51.100.3", Some(&other)).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
}

/// A family of two children, `serial` and `serial + 1`, of the usual applicant.
fn twins(serial: u16) -> serde_json::Value {
    let base = serde_json::to_value(common::valid_form(serial)).unwrap();
    common::twins_of(&base, serial, false)
}

#[tokio::test]
async fn a_family_spends_one_registration_per_child() {
    let server = Server::with(quotas(3, 0), true).await;
    let family = |serial| {
        server
            .post("/api/v1/families")
            .header("X-Forwarded-For", "198.51.100.66")
            .json(&twins(serial))
            .go()
    };
    let first = family(10).await;
    assert_eq!(first.status, 201, "{}", first.text);
    family(20).await.assert_error(429, "registrations_limited");
    let single = register_as(&server, 1, "198.51.100.66", None).await;
    assert_eq!(
        single.status, 201,
        "the third unit is left: {}",
        single.text
    );
}
