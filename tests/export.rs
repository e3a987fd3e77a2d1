//! Subject access (issue 16): a parent and an officer of the district export everything
//! held about a child (the application with every personal field, its history, referrals,
//! messages and who looked at it); the officer's export is in the access log; another
//! parent's code gets the same 404 as an unknown number.

mod common;
#[path = "common/http.rs"]
mod http;

use common::valid_form;
use http::{Go, Server};
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
