//! Subject access (issue 16): a parent and an officer of the district export everything
//! held about a child (the application with every personal field, its history, referrals,
//! messages, who looked at it, the documents attached and asked for); the officer's export
//! is in the access log; another parent's code gets the same 404 as an unknown number.

mod common;
#[path = "common/http.rs"]
mod http;

use common::valid_form;
use http::{cookies, Go, Server};
use serde_json::Value;

fn form(serial: u16) -> Value {
    serde_json::to_value(valid_form(serial)).unwrap()
}

#[tokio::test]
async fn parent_and_officer_export_everything_held_and_no_one_else_does() {
    let server = Server::start().await;
    let first = server.register(form(1)).await;
    let second = server.register(form(2)).await;
    let number = first["number"].as_str().unwrap();
    let code = first["access_code"].as_str().unwrap();
    let other_code = second["access_code"].as_str().unwrap();
    let path = format!("/api/v1/applications/{number}/export");

    // The officer's export: every field, and the export itself in the log it returns.
    let officer = server.officer();
    let answer = server.get(&path).bearer_auth(&officer).go().await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let export = answer.json();
    assert_eq!(export["view"]["number"], number);
    assert_eq!(export["held"]["child"]["iin"], valid_form(1).child_iin);
    assert_eq!(export["held"]["applicant"]["phone"], "+77012345678");
    assert!(!export["view"]["history"].as_array().unwrap().is_empty());
    let messages = export["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["kind"], "registered");
    assert_eq!(messages[0]["recipient"], "mailto:arman@example.kz");
    let log = export["access_log"]["entries"].as_array().unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["application"], number);

    // The parent's: the same data, the officer's look among it; the parent is not logged.
    let answer = server.get(&path).header("X-Access-Code", code).go().await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let export = answer.json();
    assert_eq!(export["held"]["child"]["iin"], valid_form(1).child_iin);
    assert_eq!(export["access_log"]["entries"].as_array().unwrap().len(), 1);
    assert!(export["referrals"].as_array().unwrap().is_empty());

    // Another parent's code, a wrong code, no code: the same 404 (or the code's 401).
    for wrong in [other_code, "AAAA-BBBB-CCCC"] {
        let answer = server.get(&path).header("X-Access-Code", wrong).go().await;
        answer.assert_error(404, "not_found");
    }
    let unknown = server
        .get("/api/v1/applications/ESL-999/export")
        .header("X-Access-Code", code)
        .go()
        .await;
    unknown.assert_error(404, "not_found");
}

/// The parent's readable copy: signed in with the number and code, `/my/export` shows the
/// child's and the applicant's data, the messages and the staff's looks.
#[tokio::test]
async fn the_parent_reads_everything_held_on_a_page() {
    let mut server = Server::start().await;
    // Redirects not followed: the look-up's 303 carries the session's cookie.
    server.stop_at_redirects();
    let registered = server.register(form(7)).await;
    let number = registered["number"].as_str().unwrap();
    let code = registered["access_code"].as_str().unwrap();
    let officer = server.officer();
    let answer = server
        .get(&format!("/api/v1/applications/{number}/export"))
        .bearer_auth(&officer)
        .go()
        .await;
    assert_eq!(answer.status, 200);

    let mut jar = std::collections::BTreeMap::new();
    let form_page = server.get("/lookup").go().await;
    let cookie = cookies(&form_page, &mut jar);
    let html = form_page.text.clone();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string();
    let signed_in = server
        .post("/lookup")
        .header("cookie", cookie)
        .form(&[("number", number), ("code", code), ("csrf", csrf.as_str())])
        .go()
        .await;
    assert!([200, 303].contains(&signed_in.status), "{}", signed_in.text);
    let cookie = cookies(&signed_in, &mut jar);
    let page = server.get("/my/export").header("cookie", cookie).go().await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains(&valid_form(7).child_iin),
        "the child's IIN"
    );
    assert!(page.text.contains("+77012345678"), "the applicant's phone");
    assert!(page.text.contains("data-testid=\"messages\""));
    assert!(
        page.text.contains("data-testid=\"access-log\""),
        "the officer's look"
    );

    // Without a session: to the look-up, nothing shown.
    let anonymous = server.get("/my/export").go().await;
    assert_eq!(anonymous.status, 303);
    assert!(!anonymous.text.contains(&valid_form(7).child_iin));
}

/// The officer's page of the export, linked from the application's page, is recorded in
/// the access log before it is shown.
#[tokio::test]
async fn the_officer_reads_the_export_on_a_page_and_the_look_is_logged() {
    let mut server = Server::start().await;
    server.stop_at_redirects();
    let registered = server.register(form(8)).await;
    let number = registered["number"].as_str().unwrap();
    let code = registered["access_code"].as_str().unwrap();
    let officer = server.officer();
    let cookie = server.staff_page_session(&officer).await;
    let application = server
        .get(&format!("/staff/applications/{number}"))
        .header("cookie", cookie.clone())
        .go()
        .await;
    assert!(application
        .text
        .contains(&format!("/staff/applications/{number}/export")));
    let page = server
        .get(&format!("/staff/applications/{number}/export"))
        .header("cookie", cookie)
        .go()
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains(&valid_form(8).child_iin));
    // The parent sees both looks: the application's page and the export's.
    let export = server
        .get(&format!("/api/v1/applications/{number}/export"))
        .header("X-Access-Code", code)
        .go()
        .await
        .json();
    assert_eq!(export["access_log"]["entries"].as_array().unwrap().len(), 2);
}

/// The export lists each attached document (kind, type, size, SHA-256, who and when) and
/// the documents asked for, never the bytes; the page links each file's download.
#[tokio::test]
async fn the_export_lists_the_attached_and_asked_for_documents_without_their_bytes() {
    const PNG: &[u8] = include_bytes!("fixtures/attachments/certificate.png");
    let server = Server::start().await;
    let registered = server.register(form(3)).await;
    let number = registered["number"].as_str().unwrap();
    let code = registered["access_code"].as_str().unwrap();
    let officer = server.officer();
    let asked = server
        .post(&format!("/api/v1/applications/{number}/document-requests"))
        .bearer_auth(&officer)
        .json(&serde_json::json!({ "kind": "birth_certificate", "reason": "Not attached." }))
        .go()
        .await;
    assert_eq!(asked.status, 200, "{}", asked.text);
    let added = server
        .post(&format!(
            "/api/v1/applications/{number}/attachments?kind=birth_certificate"
        ))
        .header("X-Access-Code", code)
        .body(PNG.to_vec())
        .go()
        .await;
    assert_eq!(added.status, 201, "{}", added.text);
    let stored = added.json();

    let answer = server
        .get(&format!("/api/v1/applications/{number}/export"))
        .header("X-Access-Code", code)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let export = answer.json();
    let files = export["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0]["kind"], "birth_certificate");
    assert_eq!(files[0]["media_type"], "image/png");
    assert_eq!(files[0]["sha256"], stored["sha256"]);
    assert_eq!(files[0]["size"], stored["size"]);
    assert_eq!(files[0]["attached_by"], "portal");
    assert!(files[0]["attached_at"].is_string());
    assert!(files[0].get("bytes").is_none());
    let requests = export["document_requests"].as_array().unwrap();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["reason"], "Not attached.");
    assert_eq!(requests[0]["received_attachment"], 1);
    // Not the bytes, in any encoding: a PNG's signature in base64 is nowhere.
    assert!(!answer.text.contains("iVBORw0KGgo"));
}
