//! Documents attached to an application (issue 19) through the API: what is stored is the
//! file recognised from its bytes and cleaned of its metadata; every bad input has its own
//! code and stores nothing; a file reaches its parent and its district's staff only (each
//! staff view in the access log), is served as an inert download, and `kezek verify` proves
//! each stored file is the one the journal fingerprinted.

mod common;
#[path = "common/http.rs"]
mod http;

use common::valid_form;
use http::{cookies, hidden, Answer, Go, Server};
use kezek::domain::attachment::AttachmentLimits;
use kezek::domain::staff::{Role, Scope};
use kezek::http::HttpConfig;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const JPEG_GPS: &[u8] = include_bytes!("fixtures/attachments/gps.jpg");
const PNG: &[u8] = include_bytes!("fixtures/attachments/certificate.png");
const PDF: &[u8] = include_bytes!("fixtures/attachments/certificate.pdf");

fn form(serial: u16) -> Value {
    serde_json::to_value(valid_form(serial)).unwrap()
}

struct Parent {
    number: String,
    code: String,
}

async fn parent(server: &Server, serial: u16) -> Parent {
    let registered = server.register(form(serial)).await;
    Parent {
        number: registered["number"].as_str().unwrap().into(),
        code: registered["access_code"].as_str().unwrap().into(),
    }
}

async fn upload(server: &Server, parent: &Parent, kind: &str, bytes: &[u8]) -> Answer {
    server
        .post(&format!(
            "/api/v1/applications/{}/attachments?kind={kind}",
            parent.number
        ))
        .header("X-Access-Code", &parent.code)
        .header("Content-Type", "application/pdf")
        .body(bytes.to_vec())
        .go()
        .await
}

async fn list(server: &Server, parent: &Parent) -> Vec<Value> {
    let listed = server
        .get(&format!(
            "/api/v1/applications/{}/attachments",
            parent.number
        ))
        .header("X-Access-Code", &parent.code)
        .go()
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    listed.json().as_array().unwrap().clone()
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_photo_comes_back_without_its_gps_as_an_inert_download() {
    let server = Server::start().await;
    let parent = parent(&server, 1).await;
    assert!(find(JPEG_GPS, b"Exif") && find(JPEG_GPS, b"KezekPhone"));

    let added = upload(&server, &parent, "birth_certificate", JPEG_GPS).await;
    assert_eq!(added.status, 201, "{}", added.text);
    let added = added.json();
    assert_eq!(
        added["media_type"], "image/jpeg",
        "from the bytes, not the header"
    );
    assert_eq!(added["ordinal"], 1);

    let listed = list(&server, &parent).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["kind"], "birth_certificate");
    assert_eq!(listed[0]["attached_by"], "portal");
    let file = server
        .get(&format!(
            "/api/v1/applications/{}/attachments/1",
            parent.number
        ))
        .header("X-Access-Code", &parent.code)
        .go()
        .await;
    assert_eq!(file.status, 200);
    assert!(file.body.starts_with(&[0xFF, 0xD8]));
    assert!(!find(&file.body, b"Exif"), "the EXIF segment is gone");
    assert!(!find(&file.body, b"KezekPhone") && !find(&file.body, b"GPS"));
    assert!(file.body.len() < JPEG_GPS.len());
    assert_eq!(listed[0]["sha256"], hex::encode(Sha256::digest(&file.body)));
    assert_eq!(listed[0]["size"], file.body.len());
    assert_eq!(file.header("content-type"), Some("image/jpeg"));
    assert_eq!(
        file.header("content-disposition"),
        Some(format!("attachment; filename=\"{}-1.jpg\"", parent.number).as_str())
    );
    assert_eq!(file.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        file.header("content-security-policy"),
        Some("default-src 'none'; sandbox")
    );
    assert_eq!(file.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn a_file_larger_than_a_request_body_streams_in() {
    // Past the 64 KB every other body is held to, within the file limit.
    let server = Server::start().await;
    let parent = parent(&server, 1).await;
    let trailer = PDF.windows(7).position(|w| w == b"trailer").unwrap();
    let mut large = PDF[..trailer].to_vec();
    for _ in 0..20_000 {
        large.extend_from_slice(b"% padding of a scanned page\n");
    }
    large.extend_from_slice(&PDF[trailer..]);
    assert!(large.len() > 500_000);
    let added = upload(&server, &parent, "other", &large).await;
    assert_eq!(added.status, 201, "{}", added.text);
    assert_eq!(added.json()["size"], large.len());
}

fn small_limits() -> HttpConfig {
    HttpConfig {
        attachments: AttachmentLimits {
            file_bytes_max: 4096,
            files_max: 10,
            total_bytes_max: 1024 * 1024,
        },
        ..HttpConfig::default()
    }
}

#[tokio::test]
async fn each_bad_input_has_its_code_and_stores_nothing() {
    let server = Server::with(small_limits(), true).await;
    let parent = parent(&server, 1).await;
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00".to_vec();
    exe.extend_from_slice(b"This program cannot be run in DOS mode.\r\n");
    let mut polyglot = PNG.to_vec();
    polyglot.extend_from_slice(b"PK\x03\x04 and a zip archive");
    let jpeg_cut = &JPEG_GPS[..JPEG_GPS.len() - 40];
    let mut scripted = PDF[..PDF.len() - 30].to_vec();
    scripted.extend_from_slice(b"<< /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>\n");
    scripted.extend_from_slice(&PDF[PDF.len() - 30..]);

    let cases: [(&str, &[u8], u16, &str); 7] = [
        ("other", &exe, 415, "attachment_unsupported_type"),
        ("other", &polyglot, 422, "attachment_polyglot"),
        ("other", jpeg_cut, 422, "attachment_truncated"),
        ("other", b"", 422, "attachment_empty"),
        ("other", &scripted, 422, "attachment_pdf_script"),
        ("passport", PNG, 422, "attachment_kind_unknown"),
        // No priority claim: nothing a priority document could support.
        (
            "priority_document",
            PNG,
            422,
            "attachment_kind_not_accepted",
        ),
    ];
    for (kind, bytes, status, code) in cases {
        upload(&server, &parent, kind, bytes)
            .await
            .assert_error(status, code);
    }
    let over = vec![b'%'; 5000];
    upload(&server, &parent, "other", &over)
        .await
        .assert_error(413, "attachment_too_large");
    assert!(list(&server, &parent).await.is_empty(), "nothing stored");

    // Another parent's application: the same 404 as an application that does not exist.
    let other = parent_of(&server, 2).await;
    let theirs = upload(
        &server,
        &Parent {
            number: other.number.clone(),
            code: parent.code.clone(),
        },
        "other",
        PNG,
    )
    .await;
    let unknown = upload(
        &server,
        &Parent {
            number: "ESL-999".into(),
            code: parent.code.clone(),
        },
        "other",
        PNG,
    )
    .await;
    theirs.assert_error(404, "not_found");
    assert_eq!(theirs.body, unknown.body);
    assert!(list(&server, &other).await.is_empty());
}

async fn parent_of(server: &Server, serial: u16) -> Parent {
    parent(server, serial).await
}

#[tokio::test]
async fn the_eleventh_file_is_refused() {
    let server = Server::start().await;
    let parent = parent(&server, 1).await;
    for n in 1..=10 {
        let added = upload(&server, &parent, "other", PNG).await;
        assert_eq!(added.status, 201, "file {n}: {}", added.text);
    }
    upload(&server, &parent, "other", PNG)
        .await
        .assert_error(409, "attachment_too_many");
    assert_eq!(list(&server, &parent).await.len(), 10);
}

/// A request whose declared length passes the limit is answered before its body is sent:
/// the service does not wait for (or read) bytes it would refuse.
#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_the_body() {
    let server = Server::with(small_limits(), true).await;
    let parent = parent(&server, 1).await;
    let address = server.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/applications/{}/attachments?kind=other HTTP/1.1\r\nHost: {address}\r\n\
         X-Access-Code: {}\r\nContent-Length: 100000000\r\n\r\n",
        parent.number, parent.code
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered without the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("attachment_too_large"), "{answer}");

    // A body without a declared length (chunked) is cut off once it passes the limit.
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/applications/{}/attachments?kind=other HTTP/1.1\r\nHost: {address}\r\n\
         X-Access-Code: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        parent.number, parent.code
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..5 {
        let chunk = format!("400\r\n{}\r\n", "%".repeat(1024));
        stream.write_all(chunk.as_bytes()).await.unwrap();
    }
    let mut answer = vec![0; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered before the body ended")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("attachment_too_large"), "{answer}");
    assert!(list(&server, &parent).await.is_empty());
}

#[tokio::test]
async fn staff_of_the_district_read_the_files_and_each_view_is_logged() {
    let server = Server::start().await;
    let parent = parent(&server, 1).await;
    assert_eq!(upload(&server, &parent, "other", PDF).await.status, 201);
    let officer = server.officer();
    let admin = server.admin();
    let elsewhere = server.staff(
        "officer-sar",
        Role::Officer,
        Scope::District(server.app.other_district),
    );
    let kindergarten = server.kindergarten(0);

    let listed = server
        .get(&format!(
            "/api/v1/applications/{}/attachments",
            parent.number
        ))
        .bearer_auth(&officer)
        .go()
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let file = server
        .get(&format!(
            "/api/v1/applications/{}/attachments/1",
            parent.number
        ))
        .bearer_auth(&officer)
        .go()
        .await;
    assert_eq!(file.status, 200);
    assert_eq!(file.body, PDF, "a PDF is stored as it came");
    for token in [&elsewhere, &kindergarten] {
        let refused = server
            .get(&format!(
                "/api/v1/applications/{}/attachments/1",
                parent.number
            ))
            .bearer_auth(token)
            .go()
            .await;
        refused.assert_error(403, "forbidden");
    }

    let log = server
        .get(&format!("/api/v1/access-log?application={}", parent.number))
        .bearer_auth(&admin)
        .go()
        .await;
    assert_eq!(log.status, 200, "{}", log.text);
    let kinds: Vec<(Value, Value)> = log.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["account"].clone(), e["kind"].clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (json!("officer-esl"), json!("attachment")),
            (json!("officer-esl"), json!("attachment")),
        ]
    );
}

#[tokio::test]
async fn verify_proves_each_file_and_finds_a_changed_or_missing_one() {
    let mut server = Server::start().await;
    let parent = parent(&server, 1).await;
    assert_eq!(upload(&server, &parent, "other", PNG).await.status, 201);
    assert_eq!(
        upload(&server, &parent, "birth_certificate", PDF)
            .await
            .status,
        201
    );
    let path = server.app.path.clone();
    tokio::task::spawn_blocking(move || {
        server.app.stop();
        let report = kezek::verify::verify(&path).expect("untouched files verify");
        assert_eq!(report.attachments, 2);

        let conn = rusqlite::Connection::open(&path).unwrap();
        // One byte of the stored PDF changed: its hash no longer matches the journal's.
        conn.execute(
            "UPDATE attachments SET bytes = CAST(replace(CAST(bytes AS TEXT), 'Certificate', \
             'Certifixate') AS BLOB) WHERE ordinal = 2",
            [],
        )
        .unwrap();
        let failure = kezek::verify::verify(&path).unwrap_err().to_string();
        assert!(
            failure.contains("attachments") && failure.contains("SHA-256"),
            "{failure}"
        );

        // The file removed behind the journal's back: its event has no file.
        conn.execute("DELETE FROM attachments WHERE ordinal = 2", [])
            .unwrap();
        drop(conn);
        let failure = kezek::verify::verify(&path).unwrap_err().to_string();
        assert!(failure.contains("without its file"), "{failure}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_category_that_needs_its_document_is_verified_only_with_it_attached() {
    let server = Server::start().await;
    let admin = server.admin();
    let officer = server.officer();
    // The administrator says large families' claims need the certificate attached.
    let categories = server
        .get("/api/v1/categories")
        .bearer_auth(&admin)
        .go()
        .await;
    let mut category = categories
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "large_family")
        .unwrap()
        .clone();
    assert_eq!(category["attachment_required"], false);
    category["attachment_required"] = json!(true);
    let changed = server
        .put("/api/v1/categories/large_family")
        .bearer_auth(&admin)
        .json(&category)
        .go()
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);

    let mut claim = form(1);
    claim["priority_category"] = json!("large_family");
    claim["priority_document"] = json!("№ 17 of 02.11.2026");
    let registered = server.register(claim).await;
    let parent = Parent {
        number: registered["number"].as_str().unwrap().into(),
        code: registered["access_code"].as_str().unwrap().into(),
    };
    let verify = || {
        server
            .post(&format!(
                "/api/v1/applications/{}/priority/verify",
                parent.number
            ))
            .bearer_auth(&officer)
            .go()
    };
    // Another kind of file is not the claim's document.
    assert_eq!(
        upload(&server, &parent, "birth_certificate", PNG)
            .await
            .status,
        201
    );
    verify()
        .await
        .assert_error(409, "priority_document_not_attached");

    let added = upload(&server, &parent, "priority_document", PDF).await;
    assert_eq!(added.status, 201, "{}", added.text);
    let verified = verify().await;
    assert_eq!(verified.status, 200, "{}", verified.text);
    let application = server.read(&parent.number, &parent.code).await;
    assert_eq!(
        application["priority"]["status"], "verified",
        "{application}"
    );
}

// Asking for a document (issue 19 §5).

async fn claimant(server: &Server, serial: u16) -> Parent {
    let mut claim = form(serial);
    claim["priority_category"] = json!("large_family");
    claim["priority_document"] = json!("№ 17 of 02.11.2026");
    let registered = server.register(claim).await;
    Parent {
        number: registered["number"].as_str().unwrap().into(),
        code: registered["access_code"].as_str().unwrap().into(),
    }
}

async fn ask(server: &Server, token: &str, number: &str, kind: &str, reason: &str) -> Answer {
    server
        .post(&format!("/api/v1/applications/{number}/document-requests"))
        .bearer_auth(token)
        .json(&json!({ "kind": kind, "reason": reason }))
        .go()
        .await
}

/// The work list's entry of `number`.
async fn work_item(server: &Server, officer: &str, number: &str) -> Value {
    let list = server
        .get("/api/v1/applications?district=ESL&claims=true")
        .bearer_auth(officer)
        .go()
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    list.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["number"] == number)
        .cloned()
        .unwrap_or_else(|| panic!("{number} is not on the claims list"))
}

async fn overdue_numbers(server: &Server, officer: &str) -> Vec<Value> {
    let list = server
        .get("/api/v1/applications?district=ESL&overdue=true")
        .bearer_auth(officer)
        .go()
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    list.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["number"].clone())
        .collect()
}

fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    text.parse().unwrap()
}

#[tokio::test]
async fn asking_for_a_document_pauses_the_claims_deadline_until_it_arrives() {
    let server = Server::start().await;
    let officer = server.officer();
    let parent = claimant(&server, 1).await;
    // Received Friday 2026-11-20: decided by Thursday the 26th (tests/api.rs says why).
    let item = work_item(&server, &officer, &parent.number).await;
    assert_eq!(item["due"], "2026-11-26");
    assert_eq!(item["awaiting_document"], false);

    // Monday the 23rd the officer cannot read the certificate and asks for it.
    server.app.clock.set(at("2026-11-23T05:00:00Z"));
    let reason = "The scan of the certificate is unreadable: please photograph it again.";
    let asked = ask(
        &server,
        &officer,
        &parent.number,
        "priority_document",
        reason,
    )
    .await;
    assert_eq!(asked.status, 200, "{}", asked.text);
    let item = work_item(&server, &officer, &parent.number).await;
    assert_eq!(item["due"], Value::Null, "paused while the parent is asked");
    assert_eq!(item["awaiting_document"], true);
    assert_eq!(item["overdue"], false);

    // The parent is told by a message that names the kind, not the reason, and sees the
    // reason on their side.
    let messages: Vec<(String, String)> = {
        let conn = rusqlite::Connection::open(&server.app.path).unwrap();
        let mut statement = conn
            .prepare("SELECT subject, body FROM outbox WHERE kind = 'status_changed'")
            .unwrap();
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].0.contains(&parent.number) && messages[0].0.contains("запрошен документ"));
    assert!(messages[0].1.contains("подтверждающий право на приоритет"));
    assert!(!messages[0].1.contains("unreadable"));
    let requests = server
        .get(&format!(
            "/api/v1/applications/{}/document-requests",
            parent.number
        ))
        .header("X-Access-Code", &parent.code)
        .go()
        .await;
    assert_eq!(requests.status, 200, "{}", requests.text);
    let requests = requests.json();
    assert_eq!(requests[0]["kind"], "priority_document");
    assert_eq!(requests[0]["reason"], reason);
    assert_eq!(requests[0]["requested_by"], "staff:officer-esl");
    assert_eq!(requests[0]["received_at"], Value::Null);

    // Past the first deadline, nothing is overdue: the parent has the document to send.
    server.app.clock.set(at("2026-11-30T05:00:00Z"));
    assert!(overdue_numbers(&server, &officer).await.is_empty());

    // Another kind of file does not answer it.
    assert_eq!(upload(&server, &parent, "other", PNG).await.status, 201);
    assert_eq!(
        work_item(&server, &officer, &parent.number).await["awaiting_document"],
        true
    );

    // Tuesday 1 December it arrives: the full three working days again, not counting the
    // 1st: 2, 3, 4 December, so by Monday the 7th.
    server.app.clock.set(at("2026-12-01T05:00:00Z"));
    let added = upload(&server, &parent, "priority_document", PDF).await;
    assert_eq!(added.status, 201, "{}", added.text);
    let item = work_item(&server, &officer, &parent.number).await;
    assert_eq!(item["due"], "2026-12-07");
    assert_eq!(item["awaiting_document"], false);
    let requests = server
        .get(&format!(
            "/api/v1/applications/{}/document-requests",
            parent.number
        ))
        .bearer_auth(&officer)
        .go()
        .await
        .json();
    assert_eq!(requests[0]["received_attachment"], 2);
    assert!(requests[0]["received_at"]
        .as_str()
        .unwrap()
        .starts_with("2026-12-01"));

    // The status history shows both steps, by whom.
    let application = server.read(&parent.number, &parent.code).await;
    let steps: Vec<(Value, Value)> = application["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["change"].as_str().unwrap().starts_with("document_"))
        .map(|h| (h["change"].clone(), h["by"].clone()))
        .collect();
    assert_eq!(
        steps,
        vec![
            (json!("document_requested"), json!("staff")),
            (json!("document_received"), json!("parent")),
        ]
    );

    assert!(overdue_numbers(&server, &officer).await.is_empty());
    server.app.clock.set(at("2026-12-08T05:00:00Z"));
    assert_eq!(
        overdue_numbers(&server, &officer).await,
        [json!(parent.number)]
    );
}

#[tokio::test]
async fn a_bad_request_for_a_document_has_its_code_and_stores_nothing() {
    let server = Server::start().await;
    let officer = server.officer();
    let operator = server.operator();
    let elsewhere = server.staff(
        "officer-sar",
        Role::Officer,
        Scope::District(server.app.other_district),
    );
    let plain = parent(&server, 1).await;
    let claim = claimant(&server, 2).await;

    ask(&server, &officer, &claim.number, "birth_certificate", "  ")
        .await
        .assert_error(422, "document_request_reason_missing");
    ask(
        &server,
        &officer,
        &claim.number,
        "birth_certificate",
        &"x".repeat(1001),
    )
    .await
    .assert_error(422, "document_request_reason_missing");
    ask(&server, &officer, &claim.number, "passport", "Missing.")
        .await
        .assert_error(422, "attachment_kind_unknown");
    ask(
        &server,
        &officer,
        &plain.number,
        "priority_document",
        "Missing.",
    )
    .await
    .assert_error(422, "attachment_kind_not_accepted");
    ask(
        &server,
        &elsewhere,
        &claim.number,
        "birth_certificate",
        "Missing.",
    )
    .await
    .assert_error(403, "forbidden");
    let by_parent = server
        .post(&format!(
            "/api/v1/applications/{}/document-requests",
            claim.number
        ))
        .header("X-Access-Code", &claim.code)
        .json(&json!({ "kind": "other", "reason": "Missing." }))
        .go()
        .await;
    assert!(
        matches!(by_parent.status, 401 | 403),
        "a parent does not ask: {}",
        by_parent.text
    );
    // An operator of the district may ask; the same kind again while open may not.
    let asked = ask(
        &server,
        &operator,
        &claim.number,
        "birth_certificate",
        "Missing.",
    )
    .await;
    assert_eq!(asked.status, 200, "{}", asked.text);
    ask(
        &server,
        &officer,
        &claim.number,
        "birth_certificate",
        "Still missing.",
    )
    .await
    .assert_error(409, "document_already_requested");

    let conn = rusqlite::Connection::open(&server.app.path).unwrap();
    let stored: i64 = conn
        .query_row("SELECT count(*) FROM document_requests", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 1, "only the operator's request is stored");
    let events: i64 = conn
        .query_row(
            "SELECT count(*) FROM events WHERE kind = 'document_requested'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(events, 1);
}

#[tokio::test]
async fn verify_checks_the_requests_against_the_journal() {
    let mut server = Server::start().await;
    let officer = server.officer();
    let parent = claimant(&server, 1).await;
    let asked = ask(
        &server,
        &officer,
        &parent.number,
        "birth_certificate",
        "Missing.",
    )
    .await;
    assert_eq!(asked.status, 200, "{}", asked.text);
    assert_eq!(
        upload(&server, &parent, "birth_certificate", PNG)
            .await
            .status,
        201
    );
    let path = server.app.path.clone();
    tokio::task::spawn_blocking(move || {
        server.app.stop();
        kezek::verify::verify(&path).expect("the request and its answer verify");
        let conn = rusqlite::Connection::open(&path).unwrap();
        // Someone else named as the one who asked.
        conn.execute(
            "UPDATE document_requests SET requested_by = 'staff:someone-else'",
            [],
        )
        .unwrap();
        let failure = kezek::verify::verify(&path).unwrap_err().to_string();
        assert!(failure.contains("requested_by"), "{failure}");
        conn.execute(
            "UPDATE document_requests SET requested_by = 'staff:officer-esl'",
            [],
        )
        .unwrap();
        kezek::verify::verify(&path).expect("as it was");
        // The answer erased behind the journal's back.
        conn.execute(
            "UPDATE document_requests SET received_at = NULL, received_seq = NULL, \
             received_ordinal = NULL",
            [],
        )
        .unwrap();
        drop(conn);
        let failure = kezek::verify::verify(&path).unwrap_err().to_string();
        assert!(
            failure.contains("document_requests") && failure.contains("document_received"),
            "{failure}"
        );
    })
    .await
    .unwrap();
}

/// The officer asks on the application's page (kk/ru form); the work list marks the
/// claim as waiting for the document; the parent's look-up page shows the reason.
#[tokio::test]
async fn the_officer_asks_on_the_page_and_the_parent_reads_the_reason_on_theirs() {
    let mut server = Server::start().await;
    server.stop_at_redirects();
    let parent = claimant(&server, 4).await;
    let officer = server.officer();
    let mut jar = std::collections::BTreeMap::new();
    let entrance = server.get("/staff").go().await;
    let cookie = cookies(&entrance, &mut jar);
    let signed_in = server
        .post("/staff/sign-in")
        .header("cookie", cookie)
        .form(&[
            ("token", officer.as_str()),
            ("csrf", hidden(&entrance.text, "csrf").as_str()),
        ])
        .go()
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.text);
    let cookie = cookies(&signed_in, &mut jar);
    let page = server
        .get(&format!("/staff/applications/{}", parent.number))
        .header("cookie", cookie.clone())
        .go()
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("id=\"ask-document-title\""));
    // One language at a time (the header's switch): the form's title in either.
    assert!(page.text.contains("Запросить документ") || page.text.contains("Құжатты сұрау"));
    let reason = "Свидетельство нечитаемо, сфотографируйте его заново.";
    let asked = server
        .post(&format!(
            "/staff/applications/{}/request-document",
            parent.number
        ))
        .header("cookie", cookie.clone())
        .form(&[
            ("csrf", hidden(&page.text, "csrf").as_str()),
            (
                "idempotency_key",
                hidden(&page.text, "idempotency_key").as_str(),
            ),
            ("kind", "priority_document"),
            ("reason", reason),
        ])
        .go()
        .await;
    assert_eq!(asked.status, 303, "{}", asked.text);
    let page = server
        .get(&format!(
            "/staff/applications/{}?done=requested",
            parent.number
        ))
        .header("cookie", cookie.clone())
        .go()
        .await;
    assert!(page.text.contains("data-testid=\"document-requests\""));
    assert!(page.text.contains(reason));
    let work_list = server.get("/staff").header("cookie", cookie).go().await;
    assert!(
        work_list.text.contains("data-testid=\"awaiting-document\""),
        "the claim is marked as paused on the work list"
    );

    // The parent signs in with the number and code and reads the reason on /my.
    let mut jar = std::collections::BTreeMap::new();
    let lookup = server.get("/lookup").go().await;
    let cookie = cookies(&lookup, &mut jar);
    let signed_in = server
        .post("/lookup")
        .header("cookie", cookie)
        .form(&[
            ("number", parent.number.as_str()),
            ("code", parent.code.as_str()),
            ("csrf", hidden(&lookup.text, "csrf").as_str()),
        ])
        .go()
        .await;
    let cookie = cookies(&signed_in, &mut jar);
    let my = server.get("/my").header("cookie", cookie).go().await;
    assert_eq!(my.status, 200, "{}", my.text);
    assert!(my.text.contains(reason));
    assert!(my.text.contains("data-open=\"true\""));
}

/// Issue 19's "after erasure the bytes are gone": files attached, the application withdrawn
/// and its personal data erased by an administrator (issue 16); then none of the stored
/// files' bytes are left in the database file or its WAL after a checkpoint (the same
/// search finds them before), and `verify` passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_erasure_the_files_bytes_are_gone_from_the_storage() {
    let mut server = Server::start().await;
    let parent = parent(&server, 71).await;
    assert_eq!(upload(&server, &parent, "other", PDF).await.status, 201);
    assert_eq!(upload(&server, &parent, "other", PNG).await.status, 201);
    let admin = server.admin();
    let erase = format!("/api/v1/applications/{}/erase", parent.number);
    server
        .post(&erase)
        .bearer_auth(&admin)
        .go()
        .await
        .assert_error(409, "erasure_active");
    let withdrawn = server
        .post(&format!("/api/v1/applications/{}/withdraw", parent.number))
        .header("X-Access-Code", &parent.code)
        .go()
        .await;
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.text);
    let path = server.app.path.clone();
    let storage = |path: &std::path::Path| {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
        let mut bytes = std::fs::read(path).unwrap();
        bytes.extend(std::fs::read(path.with_extension("db-wal")).unwrap_or_default());
        bytes
    };
    // Long runs from inside each file: a PDF's header alone is in every PDF.
    let needles = [
        &PDF[PDF.len() / 2..PDF.len() / 2 + 48],
        &PNG[PNG.len() / 2..PNG.len() / 2 + 48],
    ];
    let before = tokio::task::block_in_place(|| storage(&path));
    assert!(
        needles.iter().all(|n| find(&before, n)),
        "the search finds the files"
    );
    let erased = server.post(&erase).bearer_auth(&admin).go().await;
    assert_eq!(erased.status, 200, "{}", erased.text);
    // The parent still finds the application, its names gone and the erasure said.
    let view = server
        .get(&format!("/api/v1/applications/{}", parent.number))
        .header("X-Access-Code", &parent.code)
        .go()
        .await
        .json();
    assert_eq!(
        (&view["personal_data_erased"], &view["child_full_name"]),
        (&json!(true), &json!(""))
    );
    tokio::task::spawn_blocking(move || {
        server.app.stop();
        let after = storage(&path);
        for needle in needles {
            assert!(
                !find(&after, needle),
                "an erased file's bytes are still stored"
            );
        }
        let report = kezek::verify::verify(&path).unwrap();
        assert_eq!((report.attachments, report.erased), (0, 1));
    })
    .await
    .unwrap();
}

// Files refused for malware (issue 19 §6) on the officer's page.

/// A file clamd refused leaves only its journal record (`AttachmentInfected`); the
/// officer's page of the application it was sent for names the signature, when and who
/// sent it, in Kazakh and in Russian, and no other application's refusals.
#[tokio::test(flavor = "multi_thread")]
async fn the_officers_page_shows_the_files_refused_for_malware() {
    use kezek::domain::application::{ApplicationId, RegistrationNumber};
    use kezek::domain::event::Actor;
    use kezek::service::Command;
    let mut server = Server::start().await;
    server.stop_at_redirects();
    let (first, second) = (parent(&server, 1).await, parent(&server, 2).await);
    let id_of = |number: &str| ApplicationId {
        district: server.app.district,
        number: RegistrationNumber(number.trim_start_matches("ESL-").parse().unwrap()),
    };
    let refusals = [
        (
            Some(id_of(&first.number)),
            "Kezek.Test.EICAR",
            Actor::portal(),
        ),
        (
            Some(id_of(&first.number)),
            "Pdf.Exploit.Sample",
            Actor::staff("operator-esl"),
        ),
        (Some(id_of(&second.number)), "Second.Only", Actor::portal()),
        (None, "At.Registration", Actor::portal()),
    ];
    for (id, signature, actor) in refusals {
        let command = Command::RecordInfected {
            id,
            sha256: hex::encode(Sha256::digest(signature)),
            size: 2_500,
            signature: signature.into(),
        };
        server.app.service().submit(command, actor).await.unwrap();
    }
    let officer = server.officer();
    let cookie = server.staff_page_session(&officer).await;
    for (lang, refused, by) in [
        (
            "kk",
            "Файл қабылданбады: зиянды бағдарлама қолтаңбасы",
            "Жіберген: Ата-ана",
        ),
        (
            "ru",
            "Файл отклонён: сигнатура вредоносной программы",
            "Отправил: Родитель",
        ),
    ] {
        let page = server
            .get(&format!("/staff/applications/{}?lang={lang}", first.number))
            .header("cookie", cookie.clone())
            .go()
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        let html = &page.text;
        let listed = html
            .split("data-testid=\"attachments-infected\"")
            .nth(1)
            .unwrap_or_else(|| panic!("no refused files listed: {html}"));
        let listed = &listed[..listed.find("</ul>").unwrap()];
        assert_eq!(listed.matches(refused).count(), 2, "{listed}");
        assert!(listed.contains("<strong data-testid=\"signature\">Kezek.Test.EICAR</strong>"));
        assert!(listed.contains(by), "{listed}");
        assert!(listed.contains("operator-esl"), "{listed}");
        assert!(listed.contains("3 "), "2,500 bytes as 3 KB: {listed}");
        assert!(!html.contains("Second.Only") && !html.contains("At.Registration"));
    }
    let page = server
        .get(&format!("/staff/applications/{}", second.number))
        .header("cookie", cookie.clone())
        .go()
        .await;
    assert!(page.text.contains("Second.Only") && !page.text.contains("Kezek.Test.EICAR"));

    // The page reads these few events through migration 0020's index, not the journal.
    let conn = rusqlite::Connection::open(&server.app.path).unwrap();
    let plan: Vec<String> = conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT seq, recorded_at, actor, payload FROM events \
             WHERE kind = 'attachment_infected' ORDER BY seq",
        )
        .unwrap()
        .query_map([], |row| row.get(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        plan.iter()
            .any(|step| step.contains("events_attachment_infected")),
        "{plan:?}"
    );
}
