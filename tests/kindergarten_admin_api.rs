//! Issue 15, items 3 and 4 through the API: the head's views answer the child's name and the
//! parent's phone to its own kindergarten only (403 to another), marking a child left
//! answers the referral its place went to, and the administrator's operations answer their
//! stable codes (last_administrator, category_exists, group_closed).

mod common;
#[path = "common/http.rs"]
mod http;

use common::valid_form;
use http::{Go, Server};
use kezek::domain::staff::{Role, Scope};
use serde_json::json;

fn form_now(serial: u16) -> serde_json::Value {
    let mut form = valid_form(serial);
    form.desired_start = "2026-11-20".into();
    serde_json::to_value(form).unwrap()
}

#[tokio::test]
async fn the_head_sees_its_incoming_child_and_a_left_child_frees_the_place() {
    let server = Server::start().await;
    let kg = server.kindergarten(0);
    let other = server.kindergarten(1);
    let first = server.register(form_now(1)).await;
    let number = first["number"].as_str().unwrap().to_string();
    let reported = server.report_places(&kg, 0, 1).await;
    assert_eq!(reported.status, 201, "{}", reported.text);
    let referral = reported.json()["referrals"][0]["number"]
        .as_str()
        .unwrap()
        .to_string();

    let id = server.kindergarten_id(0);
    let overview = server
        .get(&format!("/api/v1/kindergartens/{id}/overview"))
        .bearer_auth(&kg)
        .go()
        .await;
    assert_eq!(overview.status, 200, "{}", overview.text);
    assert_eq!(overview.header("cache-control"), Some("no-store"));
    let incoming = &overview.json()["incoming"][0];
    assert_eq!(incoming["referral"], referral.as_str());
    assert_eq!(incoming["child_name"], "Қасымова Әйгерім");
    assert_eq!(incoming["applicant_phone"], "+77012345678");
    assert!(!overview.text.contains("791028302728"), "no IIN");
    server
        .get(&format!("/api/v1/kindergartens/{id}/overview"))
        .bearer_auth(&other)
        .go()
        .await
        .assert_error(403, "forbidden");

    let handed = server
        .post(&format!("/api/v1/referrals/{referral}/hand-in"))
        .bearer_auth(&kg)
        .go()
        .await;
    assert_eq!(handed.status, 200, "{}", handed.text);
    let roster = server
        .get(&format!("/api/v1/kindergartens/{id}/roster"))
        .bearer_auth(&kg)
        .go()
        .await;
    assert!(roster.text.contains(&number), "{}", roster.text);

    let second = server.register(form_now(2)).await;
    let left = server
        .post(&format!(
            "/api/v1/kindergartens/{id}/children/{number}/left"
        ))
        .bearer_auth(&kg)
        .go()
        .await;
    assert_eq!(left.status, 200, "{}", left.text);
    assert_eq!(left.json()["next"]["application"], second["number"]);
    server
        .post(&format!(
            "/api/v1/kindergartens/{id}/children/{number}/left"
        ))
        .bearer_auth(&kg)
        .go()
        .await
        .assert_error(409, "child_not_enrolled");
}

#[tokio::test]
async fn administrator_operations_answer_their_codes() {
    let server = Server::start().await;
    let admin = server.admin();
    let category = json!({
        "code": "volunteer_family",
        "tier": "first",
        "names": {"kk": "Еріктілер", "ru": "Волонтёры"},
        "document": {"kk": "Анықтама", "ru": "Справка"},
    });
    let created = server
        .post("/api/v1/categories")
        .bearer_auth(&admin)
        .json(&category)
        .go()
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    server
        .post("/api/v1/categories")
        .bearer_auth(&admin)
        .json(&category)
        .go()
        .await
        .assert_error(409, "category_exists");

    server
        .post("/api/v1/staff-accounts/admin/revoke")
        .bearer_auth(&admin)
        .go()
        .await
        .assert_error(409, "last_administrator");
    let account = server
        .post("/api/v1/staff-accounts")
        .bearer_auth(&admin)
        .json(&json!({"name": "head-2", "role": "kindergarten", "kindergarten": server.kindergarten_id(1)}))
        .go()
        .await;
    assert_eq!(account.status, 201, "{}", account.text);
    let token = account.json()["token"].as_str().unwrap().to_string();
    let desk = server
        .get(&format!(
            "/api/v1/kindergartens/{}/overview",
            server.kindergarten_id(1)
        ))
        .bearer_auth(&token)
        .go()
        .await;
    assert_eq!(desk.status, 200, "the new account works: {}", desk.text);

    let closed = server
        .post("/api/v1/groups/1/close")
        .bearer_auth(&admin)
        .go()
        .await;
    assert_eq!(closed.status, 200, "{}", closed.text);
    let kg = server.staff(
        "kg-1",
        Role::Kindergarten,
        Scope::Kindergarten(server.app.kindergartens[0]),
    );
    server
        .post(&format!(
            "/api/v1/kindergartens/{}/vacancies",
            server.kindergarten_id(0)
        ))
        .bearer_auth(&kg)
        .json(&json!({"group": 1, "count": 1, "available_from": "2026-11-20"}))
        .go()
        .await
        .assert_error(409, "group_closed");
    kezek::verify::verify(&server.app.path).expect("replay");
}
