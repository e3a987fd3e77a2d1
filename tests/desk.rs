//! The desk's remedy when somebody else registered a child first (issue 15, item 1): staff
//! issue the real applicant a new access code, their contact details replace the
//! application's (journaled as an amendment, replayed by `kezek verify`), and the code the
//! other person holds stops working. A bad contact is refused with its own code and
//! nothing changes: neither the contacts nor the code.

mod common;
#[path = "common/http.rs"]
mod http;

use common::valid_form;
use http::{Go, Server};
use serde_json::{json, Value};

fn contacts(server: &Server, number: u32) -> (String, Option<String>, String) {
    let conn = rusqlite::Connection::open(&server.app.path).unwrap();
    conn.query_row(
        "SELECT applicant_phone, applicant_email, applicant_address FROM applications \
         WHERE registration_number = ?1",
        [number],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )
    .unwrap()
}

#[tokio::test]
async fn a_new_code_at_the_desk_replaces_the_contacts_and_ends_the_old_code() {
    let mut server = Server::start().await;
    let registered = server
        .register(serde_json::to_value(valid_form(1)).unwrap())
        .await;
    let number = registered["number"].as_str().unwrap().to_string();
    let old_code = registered["access_code"].as_str().unwrap().to_string();
    let operator = server.operator();
    let before = contacts(&server, 1);

    // A bad phone: refused with its code, and nothing changed.
    let refused = server
        .post(&format!("/api/v1/applications/{number}/access-code"))
        .bearer_auth(&operator)
        .json(&json!({ "applicant_phone": "12", "applicant_address": "Астана, Сарыарқа 1" }))
        .go()
        .await;
    refused.assert_error(422, "phone_invalid");
    assert_eq!(contacts(&server, 1), before);
    server.read(&number, &old_code).await;

    // The real applicant's contacts: replaced, and a new code that alone opens it.
    let answer = server
        .post(&format!("/api/v1/applications/{number}/access-code"))
        .bearer_auth(&operator)
        .json(&json!({
            "applicant_phone": "+7 702 555 44 33",
            "applicant_email": "",
            "applicant_address": "Астана, Сарыарқа 1, 2",
        }))
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let new_code = answer.json()["access_code"].as_str().unwrap().to_string();
    assert_ne!(new_code, old_code);
    let (phone, email, address) = contacts(&server, 1);
    assert_eq!(phone, "+77025554433");
    assert_eq!(email, None);
    assert_eq!(address, "Астана, Сарыарқа 1, 2");
    server
        .get(&format!("/api/v1/applications/{number}"))
        .header("X-Access-Code", &old_code)
        .go()
        .await
        .assert_error(404, "not_found");
    let view: Value = server.read(&number, &new_code).await;
    let kinds: Vec<&str> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["change"].as_str())
        .collect();
    assert!(kinds.contains(&"application_amended"), "{kinds:?}");

    // Without a body, only the code is new.
    let again = server
        .post(&format!("/api/v1/applications/{number}/access-code"))
        .bearer_auth(&operator)
        .go()
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(contacts(&server, 1).0, "+77025554433");

    // The journal replays to the same tables.
    let path = server.app.path.clone();
    tokio::task::spawn_blocking(move || {
        server.app.stop();
        kezek::verify::verify(&path).expect("the replay matches");
    })
    .await
    .unwrap();
}
