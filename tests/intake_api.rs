//! The intake round through the administrators' API (issue 18): open, list, dry run, close,
//! and each refusal with its code from the error table.

mod common;
#[path = "common/http.rs"]
mod http;

use common::valid_form;
use http::{Answer, Go, Server};
use serde_json::{json, Value};

async fn report_for(server: &Server, token: &str, index: usize, date: &str) -> Answer {
    server
        .post(&format!(
            "/api/v1/kindergartens/{}/vacancies",
            server.kindergarten_id(index)
        ))
        .bearer_auth(token)
        .json(&json!({
            "born_from": "2022-01-01",
            "born_to": "2022-12-31",
            "language": "kk",
            "count": 1,
            "available_from": date,
        }))
        .go()
        .await
}

async fn open(server: &Server, admin: &str, places_for: &str) -> Answer {
    server
        .post("/api/v1/districts/ESL/rounds")
        .bearer_auth(admin)
        .json(&json!({"places_for": places_for, "closes_at": "2026-11-30T13:00:00Z"}))
        .go()
        .await
}

#[tokio::test]
async fn an_administrator_opens_a_round_sees_its_dry_run_and_closes_it() {
    let server = Server::start().await;
    let admin = server.admin();
    let kg0 = server.kindergarten(0);
    let kg1 = server.kindergarten(1);
    // The first child wants kindergarten 1 then 2, the second only 2 (valid_form's ids).
    let mut first = valid_form(1);
    first.kindergartens = vec![server.kindergarten_id(0), server.kindergarten_id(1)];
    let first = server.register(serde_json::to_value(first).unwrap()).await;
    let mut second = valid_form(2);
    second.kindergartens = vec![server.kindergarten_id(1)];
    let second = server.register(serde_json::to_value(second).unwrap()).await;

    open(&server, &kg0, "2027-09-01")
        .await
        .assert_error(403, "forbidden");
    open(&server, &admin, "2026-11-01")
        .await
        .assert_error(422, "round_date_past");
    let opened = open(&server, &admin, "2027-09-01").await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let round = opened.json()["id"].as_u64().unwrap();
    open(&server, &admin, "2027-09-02")
        .await
        .assert_error(409, "round_overlaps");

    // Kindergarten 2 reports first: collected, not given.
    for (token, index) in [(&kg1, 1), (&kg0, 0)] {
        let reported = report_for(&server, token, index, "2027-09-01").await;
        assert_eq!(reported.status, 201, "{}", reported.text);
        assert_eq!(reported.json()["referrals"], json!([]), "{}", reported.text);
    }

    let dry = server
        .get(&format!("/api/v1/rounds/{round}/dry-run"))
        .bearer_auth(&admin)
        .go()
        .await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    let dry: Value = dry.json();
    let given: Vec<(String, String)> = dry["placements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["application"].as_str().unwrap().to_string(),
                p["rank"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        given,
        vec![
            (first["number"].as_str().unwrap().to_string(), "1".into()),
            (second["number"].as_str().unwrap().to_string(), "1".into()),
        ]
    );
    assert_eq!(dry["figures"]["placed"], 2);
    assert_eq!(dry["figures"]["first_choice_share"], 1.0);
    assert_eq!(dry["figures"]["mean_rank"], 1.0);
    assert_eq!(dry["figures"]["unfilled"], 0);
    assert!(!dry.to_string().contains("791028302728"), "no IIN");

    let listed = server.get("/api/v1/rounds").bearer_auth(&admin).go().await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.json()[0]["places"], 2);
    assert_eq!(listed.json()[0]["closed_at"], Value::Null);

    let closed = server
        .post(&format!("/api/v1/rounds/{round}/close"))
        .bearer_auth(&admin)
        .go()
        .await;
    assert_eq!(closed.status, 200, "{}", closed.text);
    assert_eq!(closed.json()["referrals"].as_array().unwrap().len(), 2);
    server
        .post(&format!("/api/v1/rounds/{round}/close"))
        .bearer_auth(&admin)
        .go()
        .await
        .assert_error(409, "round_closed");
    server
        .get(&format!("/api/v1/rounds/{round}/dry-run"))
        .bearer_auth(&admin)
        .go()
        .await
        .assert_error(409, "round_closed");
    server
        .get("/api/v1/rounds/99/dry-run")
        .bearer_auth(&admin)
        .go()
        .await
        .assert_error(404, "not_found");
    report_for(&server, &kg0, 0, "2027-09-01")
        .await
        .assert_error(409, "round_places_closed");
    let listed = server.get("/api/v1/rounds").bearer_auth(&admin).go().await;
    assert_eq!(listed.json()[0]["referrals"], 2);
    assert!(listed.json()[0]["closed_at"].is_string());
}

fn cookies(answer: &Answer, jar: &mut std::collections::BTreeMap<String, String>) -> String {
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

fn csrf_of(text: &str) -> String {
    text.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string()
}

/// The administrator's page shows the dry run as a table with its figures, and its button
/// closes the round; the list shows it closed with its referrals.
#[tokio::test]
async fn the_admin_page_shows_the_dry_run_and_closes_the_round() {
    let mut server = Server::start().await;
    server.stop_at_redirects();
    let admin = server.admin();
    let kg0 = server.kindergarten(0);
    let mut form = valid_form(1);
    form.kindergartens = vec![server.kindergarten_id(1), server.kindergarten_id(0)];
    let child = server.register(serde_json::to_value(form).unwrap()).await;
    let number = child["number"].as_str().unwrap();
    let round = open(&server, &admin, "2027-09-01").await.json()["id"]
        .as_u64()
        .unwrap();
    report_for(&server, &kg0, 0, "2027-09-01").await;

    let mut jar = std::collections::BTreeMap::new();
    let entrance = server.get("/staff").go().await;
    let cookie = cookies(&entrance, &mut jar);
    let signed_in = server
        .post("/staff/sign-in")
        .header("cookie", cookie)
        .form(&[
            ("token", admin.as_str()),
            ("csrf", &csrf_of(&entrance.text)),
        ])
        .go()
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.text);
    let cookie = cookies(&signed_in, &mut jar);

    let desk = server
        .get("/staff")
        .header("cookie", cookie.clone())
        .go()
        .await;
    assert!(desk.text.contains("/staff/admin/rounds"), "{}", desk.text);
    let page = server
        .get(&format!("/staff/admin/rounds/{round}"))
        .header("cookie", cookie.clone())
        .go()
        .await;
    page.assert_page("text/html; charset=utf-8");
    assert!(!page.text.contains("<script"), "no JavaScript");
    let table = page.text.split("data-testid=\"dry-run\"").nth(1).unwrap();
    let row = table.split("<tr>").nth(2).expect("one row after the heads");
    assert!(row.contains(number), "{row}");
    assert!(row.contains("<td>2</td>"), "its second choice: {row}");
    let figures = page.text.split("data-testid=\"figures\"").nth(1).unwrap();
    assert!(
        figures.contains("<dd>0.0 %</dd>") && figures.contains("<dd>2.00</dd>"),
        "{figures}"
    );

    let closed = server
        .post(&format!("/staff/admin/rounds/{round}/close"))
        .header("cookie", cookie.clone())
        .form(&[
            ("csrf", csrf_of(&page.text).as_str()),
            ("idempotency_key", "close-1"),
        ])
        .go()
        .await;
    assert_eq!(closed.status, 303, "{}", closed.text);
    let list = server
        .get("/staff/admin/rounds")
        .header("cookie", cookie.clone())
        .go()
        .await;
    list.assert_page("text/html; charset=utf-8");
    let rows = list.text.split("data-testid=\"rounds\"").nth(1).unwrap();
    assert!(rows.contains("Закрыта") || rows.contains("Жабық"), "{rows}");
    let gone = server
        .get(&format!("/staff/admin/rounds/{round}"))
        .header("cookie", cookie)
        .go()
        .await;
    assert_eq!(gone.status, 404);
}
