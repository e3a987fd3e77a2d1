//! Who looked at what (issue 15, item 5). The staff access log records every staff view of
//! personal data (who, when, which application, never the data), administrators read it
//! with filters, a parent reads the entries of their own child and of no other, and the log
//! is append-only and hash-chained: a changed row is refused by the table and, should
//! someone get past that, found by `kezek verify`.

mod common;
#[path = "common/http.rs"]
mod http;

use common::valid_form;
use http::{Go, Server};
use serde_json::{json, Value};

fn form(serial: u16) -> Value {
    serde_json::to_value(valid_form(serial)).unwrap()
}

fn entries(log: &Value) -> Vec<(String, String, Option<String>)> {
    log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["account"].as_str().unwrap().to_string(),
                e["kind"].as_str().unwrap().to_string(),
                e["application"].as_str().map(String::from),
            )
        })
        .collect()
}

#[tokio::test]
async fn staff_views_are_recorded_and_each_parent_reads_only_their_own() {
    // Arrange: two children, an officer and an administrator.
    let server = Server::start().await;
    let first = server.register(form(1)).await;
    let second = server.register(form(2)).await;
    let (first_number, first_code) = (
        first["number"].as_str().unwrap(),
        first["access_code"].as_str().unwrap(),
    );
    let second_number = second["number"].as_str().unwrap();
    let officer = server.officer();
    let admin = server.admin();
    let first_iin = valid_form(1).child_iin;

    // Act: the officer opens the first application and searches the second by the IIN.
    let opened = server
        .get(&format!("/api/v1/applications/{first_number}"))
        .bearer_auth(&officer)
        .go()
        .await;
    assert_eq!(opened.status, 200, "{}", opened.text);
    let second_iin = valid_form(2).child_iin;
    let found = server
        .get(&format!(
            "/api/v1/applications/search?district=ESL&child_iin={second_iin}"
        ))
        .bearer_auth(&officer)
        .go()
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert_eq!(found.json()["items"][0]["number"], second_number);
    // Printing the second one's notice shows its data too: recorded.
    let printed = server
        .get(&format!("/api/v1/applications/{second_number}/notice"))
        .bearer_auth(&officer)
        .go()
        .await;
    assert_eq!(printed.status, 200, "{}", printed.text);
    // A parent reading their own application is no staff view.
    server.read(first_number, first_code).await;

    // Assert: the administrator reads both views, by account and by application.
    let log = server
        .get("/api/v1/access-log?account=officer-esl")
        .bearer_auth(&admin)
        .go()
        .await;
    assert_eq!(log.status, 200, "{}", log.text);
    assert_eq!(
        entries(&log.json()),
        vec![
            (
                "officer-esl".into(),
                "application".into(),
                Some(first_number.into())
            ),
            (
                "officer-esl".into(),
                "search".into(),
                Some(second_number.into())
            ),
            (
                "officer-esl".into(),
                "application".into(),
                Some(second_number.into())
            ),
        ]
    );
    // Never the data: neither the IIN searched for nor the child's name.
    assert!(!log.text.contains(&second_iin) && !log.text.contains(&first_iin));
    assert!(!log.text.contains("Қасымова"));
    let by_application = server
        .get(&format!("/api/v1/access-log?application={second_number}"))
        .bearer_auth(&admin)
        .go()
        .await;
    assert_eq!(entries(&by_application.json()).len(), 2);
    // Only administrators read the whole log.
    server
        .get("/api/v1/access-log")
        .bearer_auth(&officer)
        .go()
        .await
        .assert_error(403, "forbidden");

    // The parent reads who looked at their child, and not at another's.
    let own = server
        .get(&format!("/api/v1/applications/{first_number}/access-log"))
        .header("X-Access-Code", first_code)
        .go()
        .await;
    assert_eq!(own.status, 200, "{}", own.text);
    assert_eq!(
        entries(&own.json()),
        vec![(
            "officer-esl".into(),
            "application".into(),
            Some(first_number.into())
        )]
    );
    server
        .get(&format!("/api/v1/applications/{second_number}/access-log"))
        .header("X-Access-Code", first_code)
        .go()
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn the_work_list_records_each_application_it_lists() {
    let server = Server::start().await;
    let first = server.register(form(1)).await;
    let second = server.register(form(2)).await;
    let officer = server.officer();
    let admin = server.admin();
    // An empty page (nothing after the last) showed no one: nothing recorded.
    let none = server
        .get("/api/v1/applications?district=ESL&after=999999")
        .bearer_auth(&officer)
        .go()
        .await;
    assert_eq!(none.status, 200, "{}", none.text);
    assert_eq!(none.json()["items"], json!([]));
    let log = server
        .get("/api/v1/access-log")
        .bearer_auth(&admin)
        .go()
        .await;
    assert_eq!(entries(&log.json()), vec![]);

    let list = server
        .get("/api/v1/applications?district=ESL")
        .bearer_auth(&officer)
        .go()
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json()["items"].as_array().unwrap().len(), 2);
    let log = server
        .get("/api/v1/access-log")
        .bearer_auth(&admin)
        .go()
        .await;
    let listed = |v: &Value| {
        (
            "officer-esl".to_string(),
            "search".to_string(),
            Some(v["number"].as_str().unwrap().to_string()),
        )
    };
    assert_eq!(entries(&log.json()), vec![listed(&first), listed(&second)]);
    // The administrator's own look at the log is no view of an application.
    let again = server
        .get("/api/v1/access-log")
        .bearer_auth(&admin)
        .go()
        .await;
    assert_eq!(entries(&again.json()).len(), 2);
}

#[tokio::test]
async fn a_search_that_finds_nothing_is_recorded_and_bad_searches_are_refused() {
    let server = Server::start().await;
    let officer = server.officer();
    let nothing = server
        .get("/api/v1/applications/search?district=ESL&name=Нет%20такого")
        .bearer_auth(&officer)
        .go()
        .await;
    assert_eq!(nothing.status, 200, "{}", nothing.text);
    assert_eq!(nothing.json()["items"], json!([]));
    let log = server
        .get("/api/v1/access-log")
        .bearer_auth(server.admin())
        .go()
        .await;
    assert_eq!(
        entries(&log.json()),
        vec![("officer-esl".into(), "search".into(), None)]
    );
    for query in [
        "child_iin=123",
        "name=Ab&child_iin=791028302728",
        "",
        "name=A",
    ] {
        server
            .get(&format!("/api/v1/applications/search?district=ESL&{query}"))
            .bearer_auth(&officer)
            .go()
            .await
            .assert_error(400, "query_invalid");
    }
    // Another district's officer searches nothing here.
    let other = server.staff(
        "officer-sar",
        kezek::domain::staff::Role::Officer,
        kezek::domain::staff::Scope::District(server.app.other_district),
    );
    server
        .get("/api/v1/applications/search?district=ESL&name=Ab")
        .bearer_auth(&other)
        .go()
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn the_log_is_append_only_and_tampering_is_detected() {
    let mut server = Server::start().await;
    let registered = server.register(form(1)).await;
    let number = registered["number"].as_str().unwrap().to_string();
    let officer = server.officer();
    for _ in 0..3 {
        let opened = server
            .get(&format!("/api/v1/applications/{number}"))
            .bearer_auth(&officer)
            .go()
            .await;
        assert_eq!(opened.status, 200);
    }
    let path = server.app.path.clone();
    tokio::task::spawn_blocking(move || {
        server.app.stop();
        let report = kezek::verify::verify(&path).expect("an untouched log verifies");
        assert_eq!(report.staff_views, 3);

        let conn = rusqlite::Connection::open(&path).unwrap();
        // The table itself refuses a change and a removal.
        let update = conn.execute(
            "UPDATE staff_views SET account = 'nobody' WHERE seq = 2",
            [],
        );
        assert!(update.unwrap_err().to_string().contains("append-only"));
        let delete = conn.execute("DELETE FROM staff_views WHERE seq = 2", []);
        assert!(delete.unwrap_err().to_string().contains("append-only"));

        // Someone with the file drops the guard and hides who looked: verify names the row.
        conn.execute_batch(
            "DROP TRIGGER staff_views_no_update; \
             UPDATE staff_views SET account = 'nobody' WHERE seq = 2;",
        )
        .unwrap();
        drop(conn);
        let failure = kezek::verify::verify(&path).unwrap_err().to_string();
        assert!(failure.contains("staff access log, entry 2"), "{failure}");
    })
    .await
    .unwrap();
}
