//! The HTTP API end to end: a real server on an ephemeral port over a temporary database,
//! driven by reqwest as any client would. Each test starts its own service (the catalog of
//! `common::TestApp`: districts ESL and SAR, kindergartens 1 and 2 in ESL, 3 in SAR) with a
//! manual clock at 2026-11-20 09:00 local, and staff accounts written straight into the
//! database, as `kezek staff add` does.

mod common;
#[path = "common/http.rs"]
mod http;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use common::{child_iin, start_time, valid_form};
use http::{Answer, Go, Server};
use kezek::http::limits::LimitConfig;
use kezek::http::HttpConfig;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------

/// What only these tests ask of the server.
impl Server {
    async fn health(&self) -> Value {
        let answer = self.get("/api/v1/health").go().await;
        assert_eq!(answer.status, 200);
        answer.json()
    }

    async fn waiting(&self) -> u64 {
        self.health().await["applications_waiting"]
            .as_u64()
            .unwrap()
    }

    /// The whole journal, through the audit feed.
    async fn audit(&self, admin: &str) -> Vec<Value> {
        let answer = self
            .get("/api/v1/audit?after=0&limit=1000")
            .bearer_auth(admin)
            .go()
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()["events"].as_array().unwrap().clone()
    }

    /// The public queue page at `query` (without the leading `?`).
    async fn queue(&self, query: &str) -> Value {
        let answer = self
            .get(&format!("/api/v1/districts/ESL/queue?{query}"))
            .go()
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()
    }

    /// The application numbers of the public queue page, in order.
    async fn queue_numbers(&self, query: &str) -> Vec<String> {
        numbers(&self.queue(query).await["entries"])
    }
}

/// A valid portal registration (a child born 2022-03-15, kindergartens 1 and 2, Kazakh,
/// from 2027-09-01), unique per `serial`.
fn form(serial: u16) -> Value {
    serde_json::to_value(valid_form(serial)).unwrap()
}

/// As `form`, wanting a place from today, so places reported today fit it.
fn form_now(serial: u16) -> Value {
    let mut form = form(serial);
    form["desired_start"] = json!("2026-11-20");
    form
}

fn form_born(serial: u16, birth: NaiveDate) -> Value {
    let mut form = form(serial);
    form["child_iin"] = json!(child_iin(birth, serial * 2));
    form["child_birth_date"] = json!(birth.to_string());
    form
}

fn with_claim(mut form: Value, category: &str) -> Value {
    form["priority_category"] = json!(category);
    form["priority_document"] = json!("№ 17 of 02.11.2026");
    form
}

fn numbers(entries: &Value) -> Vec<String> {
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["number"].as_str().unwrap().to_string())
        .collect()
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
}

fn instant(value: &Value) -> DateTime<Utc> {
    text(value).parse().unwrap()
}

fn is_access_code(code: &str) -> bool {
    let groups: Vec<&str> = code.split('-').collect();
    groups.len() == 3
        && groups.iter().all(|g| {
            g.len() == 4
                && g.bytes()
                    .all(|b| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b))
        })
}

/// An admin moves the manual clock to `now` (RFC 3339).
async fn set_clock(server: &Server, admin: &str, now: &str) -> Answer {
    server
        .post("/api/v1/admin/clock")
        .bearer_auth(admin)
        .json(&json!({ "now": now }))
        .go()
        .await
}

// ---------------------------------------------------------------------------------------
// Public
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_catalog_lists_districts_and_each_districts_kindergartens() {
    let server = Server::start().await;

    let health = server.health().await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["applications_waiting"], 0);
    assert_eq!(health["referrals_live"], 0);

    let districts = server.get("/api/v1/districts").go().await;
    assert_eq!(districts.status, 200);
    let districts = districts.json();
    let codes: Vec<&str> = districts
        .as_array()
        .unwrap()
        .iter()
        .map(|d| text(&d["code"]))
        .collect();
    assert_eq!(codes, ["ESL", "SAR"]);
    assert_eq!(districts[0]["names"]["ru"], "ESL (ru)");
    assert_eq!(districts[0]["languages"], json!(["kk", "ru"]));

    let esl = server.get("/api/v1/kindergartens?district=ESL").go().await;
    assert_eq!(esl.status, 200);
    let esl = esl.json();
    let ids: Vec<u64> = esl
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_u64().unwrap())
        .collect();
    assert_eq!(
        ids,
        [server.kindergarten_id(0), server.kindergarten_id(1)].map(u64::from)
    );
    assert!(esl
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["district"] == "ESL"));
    assert_eq!(esl[0]["address"], "Астана, 1");
    assert_eq!(esl[0]["groups"][0]["language"], "kk");
    assert_eq!(esl[0]["groups"][0]["born_from"], "2022-01-01");
    assert_eq!(esl[0]["groups"][0]["capacity"], 20);

    let sar = server
        .get("/api/v1/kindergartens?district=sar")
        .go()
        .await
        .json();
    assert_eq!(sar.as_array().unwrap().len(), 1);
    assert_eq!(sar[0]["id"], server.kindergarten_id(2));

    let all = server.get("/api/v1/kindergartens").go().await.json();
    assert_eq!(all.as_array().unwrap().len(), 3);

    server
        .get("/api/v1/kindergartens?district=NOPE")
        .go()
        .await
        .assert_error(404, "not_found");
    server
        .get("/api/v1/districts/NOPE/queue")
        .go()
        .await
        .assert_error(404, "not_found");
    server
        .get("/api/v1/districts/NOPE/protocol")
        .go()
        .await
        .assert_error(404, "not_found");
    server
        .get("/api/v1/no/such/path")
        .go()
        .await
        .assert_error(404, "not_found");
    server
        .put("/api/v1/health")
        .go()
        .await
        .assert_error(405, "method_not_allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_queue_is_in_order_paged_filtered_by_cohort_and_kindergarten_and_anonymous() {
    let server = Server::start().await;
    let k1 = server.kindergarten_id(0);
    let k2 = server.kindergarten_id(1);
    // 2022 cohort: ESL-1 chose 1 and 2, ESL-2 only 2, ESL-3 any, ESL-4 only 1, ESL-5 only 2.
    let choices: [Vec<u32>; 5] = [vec![k1, k2], vec![k2], vec![], vec![k1], vec![k2]];
    let mut iins = Vec::new();
    for (serial, choice) in (1u16..).zip(choices.iter()) {
        let mut form = form(serial);
        form["kindergartens"] = json!(choice);
        iins.push(text(&form["child_iin"]).to_string());
        server.register(form).await;
    }
    // 2023 cohort: ESL-6 and ESL-7.
    for serial in [6, 7] {
        let form = form_born(serial, common::date(2023, 5, 10));
        iins.push(text(&form["child_iin"]).to_string());
        server.register(form).await;
    }

    let page = server.queue("").await;
    assert_eq!(page["district"], "ESL");
    assert_eq!(
        page["cohorts"],
        json!([{"cohort": 2022, "waiting": 5}, {"cohort": 2023, "waiting": 2}])
    );
    assert_eq!(page["cohort"], 2022, "the oldest cohort by default");
    assert_eq!(page["total"], 5);
    assert_eq!(page["offset"], 0);
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(
        numbers(&page["entries"]),
        ["ESL-1", "ESL-2", "ESL-3", "ESL-4", "ESL-5"]
    );
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry["position"], i + 1);
        assert_eq!(entry["birth_year"], 2022);
        assert_eq!(entry["tier"], "general");
        assert_eq!(entry["on_stop_list"], false);
        assert_eq!(instant(&entry["registered_at"]), start_time());
    }

    let younger = server.queue("cohort=2023").await;
    assert_eq!(younger["cohort"], 2023);
    assert_eq!(younger["total"], 2);
    assert_eq!(numbers(&younger["entries"]), ["ESL-6", "ESL-7"]);
    assert_eq!(younger["entries"][0]["position"], 1);
    assert_eq!(younger["entries"][0]["birth_year"], 2023);
    let empty = server.queue("cohort=2021").await;
    assert_eq!(empty["total"], 0);
    assert_eq!(empty["entries"], json!([]));

    // Kindergarten 1's places go to those who chose it or take any.
    let at_k1 = server.queue(&format!("kindergarten={k1}")).await;
    assert_eq!(at_k1["kindergarten"], k1);
    assert_eq!(numbers(&at_k1["entries"]), ["ESL-1", "ESL-3", "ESL-4"]);
    assert_eq!(at_k1["total"], 3);
    let positions: Vec<u64> = at_k1["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, [1, 2, 3]);
    let at_k2 = server.queue(&format!("kindergarten={k2}")).await;
    assert_eq!(
        numbers(&at_k2["entries"]),
        ["ESL-1", "ESL-2", "ESL-3", "ESL-5"]
    );
    // A kindergarten of another district, or none at all, is not this queue's.
    for other in [server.kindergarten_id(2), 999] {
        server
            .get(&format!("/api/v1/districts/ESL/queue?kindergarten={other}"))
            .go()
            .await
            .assert_error(404, "not_found");
    }

    // Pages are slices of the full list, positions counted from the start.
    let full = server.queue("cohort=2022&limit=500").await;
    let all = full["entries"].as_array().unwrap().clone();
    let mut paged = Vec::new();
    for offset in [0, 2, 4] {
        let page = server
            .queue(&format!("cohort=2022&offset={offset}&limit=2"))
            .await;
        assert_eq!(page["offset"], offset);
        assert_eq!(page["total"], 5);
        paged.extend(page["entries"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(paged, all);
    let k1_page = server
        .queue(&format!("kindergarten={k1}&offset=1&limit=1"))
        .await;
    assert_eq!(numbers(&k1_page["entries"]), ["ESL-3"]);
    assert_eq!(k1_page["entries"][0]["position"], 2);
    let beyond = server.queue("offset=10").await;
    assert_eq!(beyond["entries"], json!([]));

    server
        .get("/api/v1/districts/ESL/queue?limit=many")
        .go()
        .await
        .assert_error(400, "query_invalid");

    // Nothing personal, on any page.
    for query in ["limit=500", "cohort=2023", &format!("kindergarten={k1}")] {
        let body = server
            .get(&format!("/api/v1/districts/ESL/queue?{query}"))
            .go()
            .await
            .text;
        assert!(!body.contains("Қасымова"), "a child's name: {body}");
        assert!(!body.contains("Қасымов"), "an applicant's name: {body}");
        assert!(
            !body.contains("791028302728"),
            "the applicant's IIN: {body}"
        );
        for iin in &iins {
            assert!(!body.contains(iin.as_str()), "a child's IIN: {body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_protocol_shows_each_reported_place_and_the_referral_it_became_anonymised() {
    let server = Server::start().await;
    let kg = server.kindergarten(0);
    let first = form_now(1);
    let iin = text(&first["child_iin"]).to_string();
    server.register(first).await;
    server.register(form_now(2)).await;
    let report = server.report_places(&kg, 0, 1).await;
    assert_eq!(report.status, 201, "{}", report.text);
    let place = report.json()["places"][0].as_u64().unwrap();

    let answer = server
        .get("/api/v1/districts/ESL/protocol?from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z")
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let protocol = answer.json();
    assert_eq!(protocol["district"], "ESL");
    assert_eq!(protocol["truncated"], false);
    let places = protocol["places"].as_array().unwrap();
    assert_eq!(places.len(), 1);
    assert_eq!(places[0]["id"], place);
    assert_eq!(places[0]["kindergarten"], server.kindergarten_id(0));
    assert_eq!(places[0]["language"], "kk");
    assert_eq!(places[0]["born_from"], "2022-01-01");
    assert_eq!(places[0]["available_from"], "2026-11-20");
    let referrals = protocol["referrals"].as_array().unwrap();
    assert_eq!(referrals.len(), 1);
    assert_eq!(referrals[0]["number"], "ESL-R1");
    assert_eq!(
        referrals[0]["application"], "ESL-1",
        "the first in the queue"
    );
    assert_eq!(referrals[0]["place"], place);
    assert_eq!(referrals[0]["status"], "issued");
    assert_eq!(instant(&referrals[0]["issued_at"]), start_time());
    assert!(!answer.text.contains("Қасымова"), "{}", answer.text);
    assert!(!answer.text.contains(&iin), "{}", answer.text);
    assert!(!answer.text.contains("Мәңгілік"), "{}", answer.text);

    // The default period (30 days up to now, exclusive) holds it too, once now is later;
    // a period before it does not.
    server.app.clock.advance(chrono::Duration::minutes(1));
    let default = server
        .get("/api/v1/districts/ESL/protocol")
        .go()
        .await
        .json();
    assert_eq!(default["referrals"].as_array().unwrap().len(), 1);
    let before = server
        .get("/api/v1/districts/ESL/protocol?from=2026-11-01T00:00:00Z&to=2026-11-20T00:00:00Z")
        .go()
        .await
        .json();
    assert_eq!(before["places"], json!([]));
    assert_eq!(before["referrals"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_protocol_refuses_a_period_that_ends_before_it_starts() {
    let server = Server::start().await;
    let body = server
        .get("/api/v1/districts/ESL/protocol?from=2026-11-21T00:00:00Z&to=2026-11-20T00:00:00Z")
        .go()
        .await
        .assert_error(400, "query_invalid");
    assert_eq!(body["detail"], "from");
    server
        .get("/api/v1/districts/ESL/protocol?from=yesterday")
        .go()
        .await
        .assert_error(400, "query_invalid");
    server
        .get("/api/v1/districts/ESL/protocol?since=2026-11-01T00:00:00Z")
        .go()
        .await
        .assert_error(400, "query_invalid");
}

// ---------------------------------------------------------------------------------------
// Parents
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_registers_then_reads_the_application_and_its_position() {
    let server = Server::start().await;
    let registered = server.register(form(1)).await;
    assert_eq!(registered["number"], "ESL-1");
    let code = text(&registered["access_code"]).to_string();
    assert!(is_access_code(&code), "{code}");
    assert_eq!(registered["status"], "queued");
    assert_eq!(instant(&registered["registered_at"]), start_time());
    assert_eq!(registered["position"]["in_cohort"], 1);
    assert_eq!(registered["referral"], Value::Null);

    let second = server.register(form(2)).await;
    assert_eq!(second["number"], "ESL-2");
    assert_ne!(second["access_code"], registered["access_code"]);
    assert_eq!(second["position"]["in_cohort"], 2);
    assert_eq!(second["position"]["cohort_size"], 2);

    let answer = server
        .get("/api/v1/applications/ESL-1")
        .header("X-Access-Code", &code)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let view = answer.json();
    assert_eq!(view["number"], "ESL-1");
    assert_eq!(view["district"], "ESL");
    assert_eq!(view["status"], "queued");
    assert_eq!(view["stage"], "completed", "the notice was issued");
    assert_eq!(view["child_full_name"], "Қасымова Әйгерім");
    assert_eq!(view["child_birth_date"], "2022-03-15");
    assert_eq!(view["desired_start"], "2027-09-01");
    assert_eq!(
        view["kindergartens"],
        json!([server.kindergarten_id(0), server.kindergarten_id(1)])
    );
    assert_eq!(view["language"], "kk");
    assert_eq!(view["tier"], "general");
    assert_eq!(view["channel"], "portal");
    assert_eq!(view["priority"], Value::Null);
    assert_eq!(view["referral"], Value::Null);
    assert_eq!(view["position"]["cohort"], 2022);
    assert_eq!(view["position"]["in_cohort"], 1);
    assert_eq!(view["position"]["cohort_size"], 2);
    // Received, then completed by its result document (seed 004), while it waits on.
    let history = view["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0]["change"], "application_registered");
    assert_eq!(history[0]["status"], "queued");
    assert_eq!(history[0]["stage"], "received");
    assert_eq!(history[0]["by"], "parent");
    assert_eq!(history[1]["change"], "notice_issued");
    assert_eq!(history[1]["status"], "queued");
    assert_eq!(history[1]["stage"], "completed");
    assert_eq!(history[1]["by"], "system");

    // The code is case- and dash-insensitive as typed from paper.
    let typed = code.replace('-', " ").to_lowercase();
    server.read("ESL-1", &typed).await;

    let answer = server
        .get("/api/v1/applications/ESL-2/position")
        .header("X-Access-Code", text(&second["access_code"]))
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let position = answer.json();
    assert_eq!(position["number"], "ESL-2");
    assert_eq!(position["waiting"], true);
    assert_eq!(position["position"]["in_cohort"], 2);
    let per_kindergarten = position["position"]["per_kindergarten"].as_array().unwrap();
    assert_eq!(per_kindergarten.len(), 2);
    assert_eq!(
        per_kindergarten[0]["kindergarten"],
        server.kindergarten_id(0)
    );
    assert_eq!(per_kindergarten[0]["ahead"], 1);

    // Without any credential the application is not the public's; the parent is told what
    // to give.
    server
        .get("/api/v1/applications/ESL-1")
        .go()
        .await
        .assert_error(401, "access_code_required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_position_history_improves_when_someone_ahead_withdraws() {
    let server = Server::start().await;
    let ahead = server.register(form(1)).await;
    let me = server.register(form(2)).await;
    server.register(form(3)).await; // behind: does not count
    let my_code = text(&me["access_code"]).to_string();
    assert_eq!(me["position"]["in_cohort"], 2);

    // Monday 2026-11-23: the child ahead withdraws.
    server.app.clock.advance(chrono::Duration::days(3));
    let answer = server
        .post("/api/v1/applications/ESL-1/withdraw")
        .header("X-Access-Code", text(&ahead["access_code"]))
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["status"], "withdrawn");

    let answer = server
        .get("/api/v1/applications/ESL-2/positions/history")
        .header("X-Access-Code", &my_code)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let history = answer.json();
    assert_eq!(history["number"], "ESL-2");
    assert_eq!(history["cohort"], 2022);
    assert_eq!(
        history["points"],
        json!([
            {"date": "2026-11-20", "position": 2},
            {"date": "2026-11-23", "position": 1},
        ])
    );

    let now = server.read("ESL-2", &my_code).await;
    assert_eq!(now["position"]["in_cohort"], 1);
    assert_eq!(now["position"]["cohort_size"], 2);

    let withdrawn = server.read("ESL-1", text(&ahead["access_code"])).await;
    assert_eq!(withdrawn["status"], "withdrawn");
    assert_eq!(withdrawn["stage"], "completed");
    assert_eq!(withdrawn["position"], Value::Null);
    let last = withdrawn["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["change"], "application_withdrawn");
    assert_eq!(last["status"], "withdrawn");
    let position = server
        .get("/api/v1/applications/ESL-1/position")
        .header("X-Access-Code", text(&ahead["access_code"]))
        .go()
        .await
        .json();
    assert_eq!(position["waiting"], false);
    assert_eq!(position["position"], Value::Null);

    // Withdrawn once is withdrawn.
    server
        .post("/api/v1/applications/ESL-1/withdraw")
        .header("X-Access-Code", text(&ahead["access_code"]))
        .go()
        .await
        .assert_error(409, "application_not_queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_referral_goes_to_the_next_child_and_cannot_be_handed_in() {
    let server = Server::start().await;
    let kg = server.kindergarten(0);
    let first = server.register(form_now(1)).await;
    let second = server.register(form_now(2)).await;
    let (first_code, second_code) = (
        text(&first["access_code"]).to_string(),
        text(&second["access_code"]).to_string(),
    );
    let report = server.report_places(&kg, 0, 1).await;
    assert_eq!(report.status, 201, "{}", report.text);
    assert_eq!(report.json()["referrals"][0]["application"], "ESL-1");

    let view = server.read("ESL-1", &first_code).await;
    assert_eq!(view["status"], "referred");
    assert_eq!(view["referral"]["number"], "ESL-R1");
    assert_eq!(view["referral"]["status"], "issued");
    assert_eq!(view["position"], Value::Null);
    assert_eq!(server.read("ESL-2", &second_code).await["status"], "queued");

    let answer = server
        .post("/api/v1/referrals/ESL-R1/decline")
        .header("X-Access-Code", &first_code)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["status"], "declined");

    let next = server.read("ESL-2", &second_code).await;
    assert_eq!(next["status"], "referred");
    assert_eq!(next["referral"]["number"], "ESL-R2");
    assert_eq!(next["referral"]["kindergarten"], server.kindergarten_id(0));
    assert_eq!(next["referral"]["status"], "issued");
    let changes: Vec<&str> = next["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| text(&h["change"]))
        .collect();
    assert_eq!(
        changes,
        ["application_registered", "notice_issued", "referral_issued"]
    );

    let declined = server.read("ESL-1", &first_code).await;
    assert_eq!(declined["status"], "queued");
    assert_eq!(declined["referral"]["status"], "declined");
    assert!(declined["on_stop_list_until"].is_string(), "{declined}");
    let queue = server.queue("").await;
    assert_eq!(numbers(&queue["entries"]), ["ESL-1"]);
    assert_eq!(queue["entries"][0]["on_stop_list"], true);

    // Declined is over: neither the parent nor the kindergarten can act on it.
    server
        .post("/api/v1/referrals/ESL-R1/hand-in")
        .bearer_auth(&kg)
        .go()
        .await
        .assert_error(409, "referral_not_live");
    server
        .post("/api/v1/referrals/ESL-R1/decline")
        .header("X-Access-Code", &first_code)
        .go()
        .await
        .assert_error(409, "referral_not_live");
    // Another parent's referral is not found, as an unknown one.
    server
        .post("/api/v1/referrals/ESL-R2/decline")
        .header("X-Access-Code", &first_code)
        .go()
        .await
        .assert_error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawing_with_a_referral_gives_the_place_to_the_next_child() {
    let server = Server::start().await;
    let kg = server.kindergarten(0);
    let first = server.register(form_now(1)).await;
    let second = server.register(form_now(2)).await;
    let first_code = text(&first["access_code"]).to_string();
    let second_code = text(&second["access_code"]).to_string();
    let report = server.report_places(&kg, 0, 1).await;
    assert_eq!(report.json()["referrals"][0]["application"], "ESL-1");

    let answer = server
        .post("/api/v1/applications/ESL-1/withdraw")
        .header("X-Access-Code", &first_code)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let withdrawn = server.read("ESL-1", &first_code).await;
    assert_eq!(withdrawn["status"], "withdrawn");
    assert_eq!(withdrawn["stage"], "completed");
    assert_eq!(withdrawn["referral"]["status"], "declined");
    assert_eq!(withdrawn["on_stop_list_until"], Value::Null);
    let next = server.read("ESL-2", &second_code).await;
    assert_eq!(next["status"], "referred");
    assert_eq!(next["referral"]["number"], "ESL-R2");
    // Nobody is left waiting: the withdrawn child is not on the public queue either.
    assert_eq!(server.queue("").await["entries"], Value::Array(vec![]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_is_extended_once() {
    let server = Server::start().await;
    let kg = server.kindergarten(0);
    let registered = server.register(form_now(1)).await;
    let code = text(&registered["access_code"]).to_string();
    let report = server.report_places(&kg, 0, 1).await.json();
    let issued = &report["referrals"][0];
    assert_eq!(issued["extended"], false);
    // Friday 2026-11-20 + 5 working days: the end of Friday 2026-11-27, local time.
    assert_eq!(
        instant(&issued["valid_until"]),
        "2026-11-27T19:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    // The day itself, which pages and papers name: never the next day's midnight.
    assert_eq!(issued["last_day"], "2026-11-27");

    let answer = server
        .post("/api/v1/referrals/ESL-R1/extend")
        .header("X-Access-Code", &code)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let extended = answer.json();
    assert_eq!(extended["number"], "ESL-R1");
    assert_eq!(extended["extended"], true);
    assert_eq!(extended["status"], "issued");
    // Up to 30 calendar days from issue: the end of 2026-12-20, local time.
    assert_eq!(
        instant(&extended["valid_until"]),
        "2026-12-20T19:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert!(instant(&extended["valid_until"]) > instant(&issued["valid_until"]));
    assert_eq!(extended["last_day"], "2026-12-20");
    let view = server.read("ESL-1", &code).await;
    assert_eq!(view["referral"]["valid_until"], extended["valid_until"]);
    assert_eq!(view["referral"]["last_day"], "2026-12-20");

    server
        .post("/api/v1/referrals/ESL-R1/extend")
        .header("X-Access-Code", &code)
        .go()
        .await
        .assert_error(409, "already_extended");
}

/// Seed 004 (Astana): "within a month", and a district that does not extend refuses with
/// its own code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_s_month_rule_sets_the_last_day_and_its_no_extension_rule_refuses() {
    let server = Server::start().await;
    let admin = server.admin();
    let policy = json!({
        "validity": {"kind": "calendar_month"},
        "extension": {"kind": "not_allowed"},
        "stop_list_days": 10,
        "interleave_first_priority": false,
    });
    let answer = server
        .put("/api/v1/districts/ESL/policy")
        .bearer_auth(&admin)
        .json(&policy)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let mut bad = policy.clone();
    bad["extension"] = json!({"kind": "once", "calendar_days_after_issue": 91});
    server
        .put("/api/v1/districts/ESL/policy")
        .bearer_auth(&admin)
        .json(&bad)
        .go()
        .await
        .assert_error(422, "policy_invalid");
    bad["validity"] = json!({"kind": "fortnight"});
    server
        .put("/api/v1/districts/ESL/policy")
        .bearer_auth(&admin)
        .json(&bad)
        .go()
        .await
        .assert_error(400, "malformed");

    let kg = server.kindergarten(0);
    let registered = server.register(form_now(1)).await;
    let code = text(&registered["access_code"]).to_string();
    let report = server.report_places(&kg, 0, 1).await.json();
    // Issued Friday 2026-11-20: to the end of Sunday 2026-12-20.
    assert_eq!(report["referrals"][0]["last_day"], "2026-12-20");
    server
        .post("/api/v1/referrals/ESL-R1/extend")
        .header("X-Access-Code", &code)
        .go()
        .await
        .assert_error(409, "extension_not_allowed");
    let view = server.read("ESL-1", &code).await;
    assert_eq!(view["referral"]["extended"], false);
}

/// DOMAIN: a place already free at registration gives a referral straight away, instead of
/// the notice: the referral is then the result document that completes the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_at_registration_completes_the_request_instead_of_the_notice() {
    let server = Server::start().await;
    let kg = server.kindergarten(0);
    let report = server.report_places(&kg, 0, 1).await.json();
    assert_eq!(report["referrals"], json!([]), "no one waits yet");
    let registered = server.register(form_now(1)).await;
    let code = text(&registered["access_code"]).to_string();
    let view = server.read("ESL-1", &code).await;
    assert_eq!(view["status"], "referred");
    let steps: Vec<(&str, &str)> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (text(&h["change"]), text(&h["stage"])))
        .collect();
    assert_eq!(
        steps,
        [
            ("application_registered", "received"),
            ("referral_issued", "completed")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_survey_opens_when_the_notice_completes_the_request_once_and_only_to_the_parent() {
    let server = Server::start().await;
    let officer = server.officer();
    let registered = server.register(form(1)).await;
    let code = text(&registered["access_code"]).to_string();
    let answers = json!({"process": "fully", "information": "partly"});
    let survey = |headers: &[(&str, &str)]| {
        let mut request = server
            .post("/api/v1/applications/ESL-1/survey")
            .json(&answers);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    };

    // Seed 004: the request is completed when its result document, the notice, is issued,
    // at registration; the application goes on waiting in the queue.
    let view = server.read("ESL-1", &code).await;
    assert_eq!(view["status"], "queued");
    assert_eq!(view["stage"], "completed");

    let bearer = format!("Bearer {officer}");
    survey(&[("Authorization", bearer.as_str())])
        .go()
        .await
        .assert_error(403, "forbidden");
    survey(&[])
        .go()
        .await
        .assert_error(401, "access_code_required");
    let wrong = server
        .post("/api/v1/applications/ESL-1/survey")
        .header("X-Access-Code", &code)
        .json(&json!({"process": "very", "information": "partly"}))
        .go()
        .await
        .assert_error(400, "malformed");
    assert_eq!(wrong["detail"], "process");

    let answer = survey(&[("X-Access-Code", code.as_str())]).go().await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["status"], "answered");
    let view = server.read("ESL-1", &code).await;
    assert_eq!(
        view["status"], "queued",
        "answering changes nothing of the queue"
    );

    survey(&[("X-Access-Code", code.as_str())])
        .go()
        .await
        .assert_error(409, "survey_already_answered");
}

// ---------------------------------------------------------------------------------------
// Officers and operators
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_register_on_their_channel_and_work_the_districts_list() {
    let server = Server::start().await;
    let officer = server.officer();
    let operator = server.operator();
    let kg = server.kindergarten(0);

    let by_officer = server
        .post("/api/v1/applications")
        .bearer_auth(&officer)
        .json(&form(1))
        .go()
        .await;
    assert_eq!(by_officer.status, 201, "{}", by_officer.text);
    assert_eq!(by_officer.json()["number"], "ESL-1");
    let by_operator = server
        .post("/api/v1/applications")
        .bearer_auth(&operator)
        .json(&form(2))
        .go()
        .await;
    assert_eq!(by_operator.status, 201, "{}", by_operator.text);
    assert_eq!(by_operator.json()["number"], "ESL-2");
    server.register(form(3)).await;

    // Staff of the district read the application without a code.
    let view = server
        .get("/api/v1/applications/ESL-1")
        .bearer_auth(&operator)
        .go()
        .await;
    assert_eq!(view.status, 200, "{}", view.text);
    assert_eq!(view.json()["channel"], "office");
    assert_eq!(view.json()["history"][0]["by"], "staff");

    let answer = server
        .get("/api/v1/applications?district=ESL")
        .bearer_auth(&officer)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let list = answer.json();
    assert_eq!(
        numbers(&list["items"]),
        ["ESL-1", "ESL-2", "ESL-3"],
        "oldest first"
    );
    let channels: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| text(&i["channel"]))
        .collect();
    assert_eq!(channels, ["office", "service_centre", "portal"]);
    assert_eq!(list["items"][0]["child_full_name"], "Қасымова Әйгерім");
    assert_eq!(list["items"][0]["status"], "queued");
    assert_eq!(list["next_after"], Value::Null);

    // Paging.
    let page = server
        .get("/api/v1/applications?district=ESL&limit=2")
        .bearer_auth(&officer)
        .go()
        .await
        .json();
    assert_eq!(numbers(&page["items"]), ["ESL-1", "ESL-2"]);
    assert_eq!(page["next_after"], 2);
    let rest = server
        .get("/api/v1/applications?district=ESL&limit=2&after=2")
        .bearer_auth(&officer)
        .go()
        .await
        .json();
    assert_eq!(numbers(&rest["items"]), ["ESL-3"]);

    // The status filter.
    server
        .post("/api/v1/applications/ESL-2/refuse")
        .bearer_auth(&officer)
        .json(&json!({"reason": "data_unreliable", "text": "The address could not be confirmed."}))
        .go()
        .await;
    let refused = server
        .get("/api/v1/applications?district=ESL&status=refused")
        .bearer_auth(&officer)
        .go()
        .await
        .json();
    assert_eq!(numbers(&refused["items"]), ["ESL-2"]);
    assert_eq!(refused["items"][0]["status"], "refused");
    let queued = server
        .get("/api/v1/applications?district=ESL&status=queued")
        .bearer_auth(&operator)
        .go()
        .await
        .json();
    assert_eq!(numbers(&queued["items"]), ["ESL-1", "ESL-3"]);
    server
        .get("/api/v1/applications?district=ESL&status=lost")
        .bearer_auth(&officer)
        .go()
        .await
        .assert_error(400, "query_invalid");

    // Who may not.
    server
        .get("/api/v1/applications?district=ESL")
        .go()
        .await
        .assert_error(401, "unauthorized");
    server
        .get("/api/v1/applications?district=ESL")
        .bearer_auth("kzk_not-a-token")
        .go()
        .await
        .assert_error(401, "unauthorized");
    server
        .get("/api/v1/applications?district=ESL")
        .header("Authorization", "Basic YWRtaW46YWRtaW4=")
        .go()
        .await
        .assert_error(401, "unauthorized");
    server
        .get("/api/v1/applications?district=ESL")
        .bearer_auth(&kg)
        .go()
        .await
        .assert_error(403, "forbidden");
    server
        .get("/api/v1/applications?district=SAR")
        .bearer_auth(&officer)
        .go()
        .await
        .assert_error(403, "forbidden");
    // An operator of ESL registers nobody in SAR.
    let mut in_sar = form(4);
    in_sar["district"] = json!("SAR");
    in_sar["kindergartens"] = json!([server.kindergarten_id(2)]);
    server
        .post("/api/v1/applications")
        .bearer_auth(&operator)
        .json(&in_sar)
        .go()
        .await
        .assert_error(403, "forbidden");
    // A kindergarten registers nobody at all.
    server
        .post("/api/v1/applications")
        .bearer_auth(&kg)
        .json(&form(5))
        .go()
        .await
        .assert_error(403, "forbidden");
    assert_eq!(server.waiting().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_priority_claim_is_overdue_only_after_its_three_working_days() {
    let server = Server::start().await;
    let officer = server.officer();
    let admin = server.admin();
    server.register(form(1)).await;
    server.register(with_claim(form(2), "large_family")).await;
    let overdue = |server: &Server| {
        server
            .get("/api/v1/applications?district=ESL&overdue=true")
            .bearer_auth(&officer)
            .go()
    };

    let list = server
        .get("/api/v1/applications?district=ESL")
        .bearer_auth(&officer)
        .go()
        .await
        .json();
    let claim = &list["items"][1];
    assert_eq!(claim["number"], "ESL-2");
    assert_eq!(claim["priority_category"], "large_family");
    assert_eq!(claim["priority_document"], "№ 17 of 02.11.2026");
    assert_eq!(claim["priority_status"], "claimed");
    // Received Friday 2026-11-20; three working days not counting it: 23, 24, 25 November,
    // so it is decided on Thursday the 26th at the latest.
    assert_eq!(claim["due"], "2026-11-26");
    assert_eq!(claim["overdue"], false);
    assert_eq!(list["items"][0]["due"], Value::Null);
    assert_eq!(overdue(&server).await.json()["items"], json!([]));

    // On the last day it is due, not overdue.
    let moved = set_clock(&server, &admin, "2026-11-26T13:00:00Z").await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(overdue(&server).await.json()["items"], json!([]));

    // The next morning it is.
    let moved = set_clock(&server, &admin, "2026-11-27T04:00:00Z").await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    let answer = overdue(&server).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let list = answer.json();
    assert_eq!(numbers(&list["items"]), ["ESL-2"]);
    assert_eq!(list["items"][0]["overdue"], true);

    // Decided, it leaves the overdue list.
    let answer = server
        .post("/api/v1/applications/ESL-2/priority/reject")
        .bearer_auth(&officer)
        .json(&json!({"reason": "The certificate is from 2019."}))
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(overdue(&server).await.json()["items"], json!([]));
}

/// `a,b@x` would put a second recipient into the `To:` of every message; control and
/// direction-changing characters would make a stored text read differently from what it
/// is. Each is refused with its stable code, from parents and staff alike, storing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_recipient_and_unsafe_characters_are_refused_with_stable_codes() {
    let server = Server::start().await;
    let officer = server.officer();
    for email in [
        "a,b@x",
        "victim,attacker@evil.example",
        "Ata <ata@example.kz>",
    ] {
        let mut with_email = form(1);
        with_email["applicant_email"] = json!(email);
        let answer = server
            .post("/api/v1/applications")
            .json(&with_email)
            .go()
            .await;
        answer.assert_error(422, "email_invalid");
    }
    for address in ["Астана, \u{202E}1 көше", "Астана,\u{1B}[2J 1 көше"] {
        let mut with_address = form(1);
        with_address["applicant_address"] = json!(address);
        let answer = server
            .post("/api/v1/applications")
            .json(&with_address)
            .go()
            .await;
        answer.assert_error(422, "text_unsafe");
    }
    assert_eq!(
        server.queue("").await["entries"],
        json!([]),
        "nothing stored"
    );
    // The catalog's names and addresses too: they are printed on every referral.
    let kindergarten = json!({
        "district": "ESL",
        "number": "99",
        "names": { "kk": "Балабақша \u{202E}99", "ru": "Детский сад 99" },
        "address": "Астана, 1",
    });
    server
        .post("/api/v1/kindergartens")
        .bearer_auth(server.admin())
        .json(&kindergarten)
        .go()
        .await
        .assert_error(422, "text_unsafe");

    let mut plain = form(1);
    plain["applicant_email"] = json!("ata.ana@example.kz");
    server.register(with_claim(plain, "orphan")).await;
    server
        .post("/api/v1/applications/ESL-1/priority/reject")
        .bearer_auth(&officer)
        .json(&json!({ "reason": "Құжат \u{2067}расталмады" }))
        .go()
        .await
        .assert_error(422, "text_unsafe");
    // A reason may have lines; the claim is still open for it.
    let answer = server
        .post("/api/v1/applications/ESL-1/priority/reject")
        .bearer_auth(&officer)
        .json(&json!({ "reason": "Құжат расталмады.\nДокумент не подтверждён." }))
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_priority_moves_the_child_ahead_and_a_rejected_one_does_not() {
    let server = Server::start().await;
    let officer = server.officer();
    let operator = server.operator();
    server.register(form(1)).await;
    let claimant = server.register(with_claim(form(2), "large_family")).await;
    server.register(with_claim(form(3), "orphan")).await;
    let mut in_sar = form(4);
    in_sar["district"] = json!("SAR");
    in_sar["kindergartens"] = json!([server.kindergarten_id(2)]);
    let sar = server.register(with_claim(in_sar, "orphan")).await;
    assert_eq!(sar["number"], "SAR-1");

    let before = server.queue("").await;
    assert_eq!(numbers(&before["entries"]), ["ESL-1", "ESL-2", "ESL-3"]);
    assert!(before["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["tier"] == "general"));
    assert_eq!(claimant["position"]["in_cohort"], 2);

    // An operator may not decide; an officer of another district may not either.
    server
        .post("/api/v1/applications/ESL-2/priority/verify")
        .bearer_auth(&operator)
        .go()
        .await
        .assert_error(403, "forbidden");
    server
        .post("/api/v1/applications/SAR-1/priority/verify")
        .bearer_auth(&officer)
        .go()
        .await
        .assert_error(403, "forbidden");
    server
        .post("/api/v1/applications/ESL-2/priority/verify")
        .go()
        .await
        .assert_error(401, "unauthorized");

    let answer = server
        .post("/api/v1/applications/ESL-2/priority/verify")
        .bearer_auth(&officer)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["status"], "verified");

    let after = server.queue("").await;
    assert_eq!(numbers(&after["entries"]), ["ESL-2", "ESL-1", "ESL-3"]);
    assert_eq!(after["entries"][0]["tier"], "first");
    assert_eq!(after["entries"][0]["position"], 1);
    assert_eq!(after["entries"][1]["position"], 2);
    assert_eq!(
        after["entries"][0]["registered_at"], before["entries"][1]["registered_at"],
        "the original registration time is kept"
    );
    let view = server.read("ESL-2", text(&claimant["access_code"])).await;
    assert_eq!(view["tier"], "first");
    assert_eq!(view["priority"]["status"], "verified");
    assert_eq!(view["position"]["in_cohort"], 1);
    assert!(view["history"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["change"] == "priority_verified" && h["by"] == "staff"));

    server
        .post("/api/v1/applications/ESL-2/priority/verify")
        .bearer_auth(&officer)
        .go()
        .await
        .assert_error(409, "priority_already_decided");

    // A rejection needs its reason, and keeps the child in the general tier.
    server
        .post("/api/v1/applications/ESL-3/priority/reject")
        .bearer_auth(&officer)
        .json(&json!({"reason": "  "}))
        .go()
        .await
        .assert_error(422, "invalid");
    let answer = server
        .post("/api/v1/applications/ESL-3/priority/reject")
        .bearer_auth(&officer)
        .json(&json!({"reason": "No guardianship decision was shown."}))
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["status"], "rejected");
    let rejected = server.queue("").await;
    assert_eq!(numbers(&rejected["entries"]), ["ESL-2", "ESL-1", "ESL-3"]);
    assert_eq!(rejected["entries"][2]["tier"], "general");
    let list = server
        .get("/api/v1/applications?district=ESL")
        .bearer_auth(&officer)
        .go()
        .await
        .json();
    assert_eq!(list["items"][2]["priority_status"], "rejected");

    // Nothing to decide where nothing was claimed.
    server
        .post("/api/v1/applications/ESL-1/priority/reject")
        .bearer_auth(&officer)
        .json(&json!({"reason": "Nothing."}))
        .go()
        .await
        .assert_error(409, "no_priority_claim");
    server
        .post("/api/v1/applications/ESL-1/priority/verify")
        .bearer_auth(&officer)
        .go()
        .await
        .assert_error(409, "no_priority_claim");
    server
        .post("/api/v1/applications/ESL-99/priority/verify")
        .bearer_auth(&officer)
        .go()
        .await
        .assert_error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_application_leaves_the_queue_for_good() {
    let server = Server::start().await;
    let officer = server.officer();
    let operator = server.operator();
    let refused = server.register(form(1)).await;
    server.register(form(2)).await;
    let refusal = json!({
        "reason": "documents_incomplete",
        "text": "The birth certificate was not presented.",
    });

    server
        .post("/api/v1/applications/ESL-1/refuse")
        .bearer_auth(&operator)
        .json(&refusal)
        .go()
        .await
        .assert_error(403, "forbidden");
    server
        .post("/api/v1/applications/ESL-1/refuse")
        .bearer_auth(&officer)
        .json(&json!({"reason": "no_reason", "text": "x"}))
        .go()
        .await
        .assert_error(400, "malformed");
    server
        .post("/api/v1/applications/ESL-1/refuse")
        .bearer_auth(&officer)
        .json(&json!({"reason": "legal_bar", "text": ""}))
        .go()
        .await
        .assert_error(422, "invalid");

    let answer = server
        .post("/api/v1/applications/ESL-1/refuse")
        .bearer_auth(&officer)
        .json(&refusal)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["status"], "refused");

    let view = server.read("ESL-1", text(&refused["access_code"])).await;
    assert_eq!(view["status"], "refused");
    assert_eq!(view["stage"], "completed");
    assert_eq!(view["position"], Value::Null);
    let last = view["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["change"], "application_refused");
    assert_eq!(last["by"], "staff");
    assert_eq!(server.queue_numbers("").await, ["ESL-2"]);
    assert_eq!(server.waiting().await, 1);

    server
        .post("/api/v1/applications/ESL-1/refuse")
        .bearer_auth(&officer)
        .json(&refusal)
        .go()
        .await
        .assert_error(409, "application_not_queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_referral_goes_to_the_next_child() {
    let server = Server::start().await;
    let officer = server.officer();
    let operator = server.operator();
    let kg = server.kindergarten(0);
    let first = server.register(form_now(1)).await;
    let second = server.register(form_now(2)).await;
    let report = server.report_places(&kg, 0, 1).await.json();
    assert_eq!(report["referrals"][0]["number"], "ESL-R1");
    let revocation = json!({"reason": "The family moved to another city."});

    server
        .post("/api/v1/referrals/ESL-R1/revoke")
        .bearer_auth(&operator)
        .json(&revocation)
        .go()
        .await
        .assert_error(403, "forbidden");
    server
        .post("/api/v1/referrals/ESL-R1/revoke")
        .header("X-Access-Code", text(&first["access_code"]))
        .json(&revocation)
        .go()
        .await
        .assert_error(401, "unauthorized");

    let answer = server
        .post("/api/v1/referrals/ESL-R1/revoke")
        .bearer_auth(&officer)
        .json(&revocation)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let lapsed = answer.json();
    assert_eq!(lapsed["status"], "revoked");
    assert_eq!(lapsed["next_referral"]["number"], "ESL-R2");
    assert_eq!(lapsed["next_referral"]["application"], "ESL-2");

    let next = server.read("ESL-2", text(&second["access_code"])).await;
    assert_eq!(next["status"], "referred");
    assert_eq!(next["referral"]["number"], "ESL-R2");
    let revoked = server.read("ESL-1", text(&first["access_code"])).await;
    assert_eq!(revoked["referral"]["status"], "revoked");
    assert_eq!(revoked["status"], "queued");

    server
        .post("/api/v1/referrals/ESL-R1/revoke")
        .bearer_auth(&officer)
        .json(&revocation)
        .go()
        .await
        .assert_error(409, "referral_not_live");
    server
        .post("/api/v1/referrals/ESL-R9/revoke")
        .bearer_auth(&officer)
        .json(&revocation)
        .go()
        .await
        .assert_error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_access_code_replaces_the_old_one() {
    let server = Server::start().await;
    let operator = server.operator();
    let registered = server.register(form(1)).await;
    let old = text(&registered["access_code"]).to_string();

    server
        .post("/api/v1/applications/ESL-1/access-code")
        .header("X-Access-Code", &old)
        .go()
        .await
        .assert_error(401, "unauthorized");

    let answer = server
        .post("/api/v1/applications/ESL-1/access-code")
        .bearer_auth(&operator)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let issued = answer.json();
    assert_eq!(issued["number"], "ESL-1");
    let new = text(&issued["access_code"]).to_string();
    assert!(is_access_code(&new), "{new}");
    assert_ne!(new, old);

    server
        .get("/api/v1/applications/ESL-1")
        .header("X-Access-Code", &old)
        .go()
        .await
        .assert_error(404, "not_found");
    let view = server.read("ESL-1", &new).await;
    assert_eq!(view["status"], "queued");
    // A new code is the parent's business, not a step of the service.
    assert_eq!(view["history"].as_array().unwrap().len(), 2);
}

// ---------------------------------------------------------------------------------------
// Kindergartens
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reported_places_become_referrals_in_queue_order_and_only_their_kindergarten_confirms() {
    let server = Server::start().await;
    let kg1 = server.kindergarten(0);
    let kg2 = server.kindergarten(1);
    let officer = server.officer();
    let first = server.register(form_now(1)).await;
    server.register(form_now(2)).await;
    server.register(form_now(3)).await;

    // Only the kindergarten's own account reports its places.
    server
        .report_places(&kg2, 0, 1)
        .await
        .assert_error(403, "forbidden");
    server
        .report_places(&officer, 0, 1)
        .await
        .assert_error(403, "forbidden");
    let bad_band = server
        .post(&format!(
            "/api/v1/kindergartens/{}/vacancies",
            server.kindergarten_id(0)
        ))
        .bearer_auth(&kg1)
        .json(&json!({
            "born_from": "2022-12-31", "born_to": "2022-01-01",
            "count": 1, "available_from": "2026-11-20",
        }))
        .go()
        .await
        .assert_error(422, "invalid");
    assert_eq!(bad_band["detail"], "born_from, born_to");

    let answer = server.report_places(&kg1, 0, 2).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let report = answer.json();
    assert_eq!(report["places"].as_array().unwrap().len(), 2);
    let referrals = report["referrals"].as_array().unwrap();
    let pairs: Vec<(&str, &str)> = referrals
        .iter()
        .map(|r| (text(&r["number"]), text(&r["application"])))
        .collect();
    assert_eq!(pairs, [("ESL-R1", "ESL-1"), ("ESL-R2", "ESL-2")]);
    assert!(referrals
        .iter()
        .all(|r| r["kindergarten"] == server.kindergarten_id(0) && r["status"] == "issued"));
    assert_eq!(server.queue_numbers("").await, ["ESL-3"]);
    let health = server.health().await;
    assert_eq!(health["applications_waiting"], 1);
    assert_eq!(health["referrals_live"], 2);

    // Another kindergarten cannot confirm it; an unknown referral is not found.
    server
        .post("/api/v1/referrals/ESL-R1/hand-in")
        .bearer_auth(&kg2)
        .go()
        .await
        .assert_error(403, "forbidden");
    server
        .post("/api/v1/referrals/ESL-R1/hand-in")
        .bearer_auth(&officer)
        .go()
        .await
        .assert_error(403, "forbidden");
    server
        .post("/api/v1/referrals/ESL-R7/hand-in")
        .bearer_auth(&kg1)
        .go()
        .await
        .assert_error(404, "not_found");

    let answer = server
        .post("/api/v1/referrals/ESL-R1/hand-in")
        .bearer_auth(&kg1)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let handed_in = answer.json();
    assert_eq!(handed_in["number"], "ESL-R1");
    assert_eq!(handed_in["status"], "handed_in");
    assert_eq!(instant(&handed_in["closed_at"]), start_time());

    let view = server.read("ESL-1", text(&first["access_code"])).await;
    assert_eq!(view["status"], "enrolled");
    assert_eq!(view["stage"], "completed");
    assert_eq!(view["referral"]["status"], "handed_in");
    let last = view["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["change"], "referral_handed_in");
    assert_eq!(last["status"], "enrolled");
    assert_eq!(server.health().await["referrals_live"], 1);

    server
        .post("/api/v1/referrals/ESL-R1/hand-in")
        .bearer_auth(&kg1)
        .go()
        .await
        .assert_error(409, "referral_not_live");
}

// ---------------------------------------------------------------------------------------
// Administrators
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_maintains_the_catalog_policies_and_calendar() {
    let server = Server::start().await;
    let admin = server.admin();
    let officer = server.officer();
    let names = |text: &str| json!({"kk": format!("{text} (kk)"), "ru": format!("{text} (ru)")});

    let district = json!({"code": "TLD", "names": names("Taldykorgan"), "languages": ["kk"]});
    server
        .post("/api/v1/districts")
        .bearer_auth(&officer)
        .json(&district)
        .go()
        .await
        .assert_error(403, "forbidden");
    server
        .post("/api/v1/districts")
        .json(&district)
        .go()
        .await
        .assert_error(401, "unauthorized");
    let answer = server
        .post("/api/v1/districts")
        .bearer_auth(&admin)
        .json(&district)
        .go()
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let district_id = answer.json()["id"].as_u64().unwrap();
    server
        .post("/api/v1/districts")
        .bearer_auth(&admin)
        .json(&json!({"code": "XYZ", "names": names("x"), "languages": ["French"]}))
        .go()
        .await
        .assert_error(422, "invalid");
    let districts = server.get("/api/v1/districts").go().await.json();
    let tld = districts
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "TLD")
        .expect("the new district is listed")
        .clone();
    assert_eq!(tld["id"], district_id);
    assert_eq!(tld["languages"], json!(["kk"]));
    assert_eq!(tld["names"]["ru"], "Taldykorgan (ru)");

    let answer = server
        .post("/api/v1/kindergartens")
        .bearer_auth(&admin)
        .json(&json!({"district": "TLD", "number": "7", "names": names("Balapan"), "address": "Талдықорған, Абай 7"}))
        .go()
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let kindergarten = answer.json()["id"].as_u64().unwrap();
    server
        .post("/api/v1/kindergartens")
        .bearer_auth(&admin)
        .json(&json!({"district": "NOPE", "number": "8", "names": names("x"), "address": "x"}))
        .go()
        .await
        .assert_error(422, "district_unknown");

    let group = json!({"name": "2–3", "language": "kk", "born_from": "2023-01-01", "born_to": "2023-12-31", "capacity": 15});
    server
        .post(&format!("/api/v1/kindergartens/{kindergarten}/groups"))
        .bearer_auth(&officer)
        .json(&group)
        .go()
        .await
        .assert_error(403, "forbidden");
    let answer = server
        .post(&format!("/api/v1/kindergartens/{kindergarten}/groups"))
        .bearer_auth(&admin)
        .json(&group)
        .go()
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let group_id = answer.json()["id"].as_u64().unwrap();
    let listed = server
        .get("/api/v1/kindergartens?district=TLD")
        .go()
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], kindergarten);
    assert_eq!(listed[0]["district"], "TLD");
    assert_eq!(listed[0]["number"], "7");
    assert_eq!(listed[0]["groups"][0]["id"], group_id);
    assert_eq!(listed[0]["groups"][0]["capacity"], 15);
    assert_eq!(listed[0]["groups"][0]["born_to"], "2023-12-31");

    // The new district takes registrations at once, numbered in its own journal.
    let mut in_tld = form_born(1, common::date(2023, 4, 2));
    in_tld["district"] = json!("TLD");
    in_tld["kindergartens"] = json!([kindergarten]);
    assert_eq!(server.register(in_tld).await["number"], "TLD-1");

    // A policy: referrals valid one working day.
    let policy = json!({
        "validity": {"kind": "working_days", "days": 1},
        "extension": {"kind": "once", "calendar_days_after_issue": 30},
        "stop_list_days": 10,
        "interleave_first_priority": false,
    });
    server
        .put("/api/v1/districts/ESL/policy")
        .bearer_auth(&officer)
        .json(&policy)
        .go()
        .await
        .assert_error(403, "forbidden");
    // The head of the education department, who signs the district's referrals.
    let put_head = |token: &str, district: &str, full_name: &str| {
        server
            .put(&format!("/api/v1/districts/{district}/education-head"))
            .bearer_auth(token)
            .json(&json!({ "full_name": full_name }))
            .go()
    };
    let head = "Жұмабеков Ерлан";
    put_head(&officer, "ESL", head)
        .await
        .assert_error(403, "forbidden");
    put_head(&admin, "NOPE", head)
        .await
        .assert_error(404, "not_found");
    put_head(&admin, "ESL", "  ")
        .await
        .assert_error(422, "name_invalid");
    let answer = put_head(&admin, "ESL", head).await;
    assert_eq!(answer.status, 200, "{}", answer.text);

    let mut bad = policy.clone();
    bad["validity"]["days"] = json!(0);
    server
        .put("/api/v1/districts/ESL/policy")
        .bearer_auth(&admin)
        .json(&bad)
        .go()
        .await
        .assert_error(422, "policy_invalid");
    server
        .put("/api/v1/districts/NOPE/policy")
        .bearer_auth(&admin)
        .json(&policy)
        .go()
        .await
        .assert_error(404, "not_found");
    let answer = server
        .put("/api/v1/districts/ESL/policy")
        .bearer_auth(&admin)
        .json(&policy)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["status"], "set");
    server.register(form_now(2)).await;
    let kg = server.kindergarten(0);
    let report = server.report_places(&kg, 0, 1).await.json();
    // Issued Friday 2026-11-20, valid one working day: to the end of Monday the 23rd.
    assert_eq!(
        instant(&report["referrals"][0]["valid_until"]),
        "2026-11-23T19:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(report["referrals"][0]["last_day"], "2026-11-23");

    // The calendar of a year, as shipped in calendars/.
    let calendar = include_str!("../calendars/2027.txt");
    server
        .put("/api/v1/calendar/2027")
        .bearer_auth(&officer)
        .json(&json!({ "text": calendar }))
        .go()
        .await
        .assert_error(403, "forbidden");
    server
        .put("/api/v1/calendar/2027")
        .bearer_auth(&admin)
        .json(&json!({ "text": "2027-02-30 off   Nothing" }))
        .go()
        .await
        .assert_error(422, "calendar_date_malformed");
    // The preview names every bad line, with its number and its own code, and stores nothing.
    let answer = server
        .post("/api/v1/calendar/2027/preview")
        .bearer_auth(&admin)
        .json(&json!({ "text": "# a comment\n2027-02-30 off\n2027-11-19 off\n2027-11-20 off\n2026-11-23 off\n2027-11-22 work\n2027-11-23" }))
        .go()
        .await;
    answer.assert_error(422, "calendar_lines_invalid");
    assert_eq!(
        answer.json()["detail"],
        "line 2: calendar_date_malformed; line 4: calendar_weekend_off; \
         line 5: calendar_date_other_year; line 6: calendar_weekday_work; \
         line 7: calendar_day_kind_missing"
    );
    let answer = server
        .post("/api/v1/calendar/1999/preview")
        .bearer_auth(&admin)
        .json(&json!({ "text": "1999-11-19 off" }))
        .go()
        .await;
    answer.assert_error(422, "calendar_year_invalid");
    let answer = server
        .post("/api/v1/calendar/2027/preview")
        .bearer_auth(&admin)
        .json(&json!({ "text": format!("{calendar}2027-11-19 off  a Friday\n") }))
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        answer.json(),
        json!([{"date": "2027-11-19", "working_now": true, "working_after": false}])
    );
    // A month without a working day would stretch every deadline across it.
    let june_off: String = (1..=30)
        .map(|day| NaiveDate::from_ymd_opt(2027, 6, day).unwrap())
        .filter(|d| !matches!(d.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun))
        .map(|d| format!("{d} off\n"))
        .collect();
    let answer = server
        .put("/api/v1/calendar/2027")
        .bearer_auth(&admin)
        .json(&json!({ "text": june_off }))
        .go()
        .await;
    answer.assert_error(422, "calendar_break_too_long");
    server
        .post("/api/v1/calendar/2027/preview")
        .bearer_auth(&admin)
        .json(&json!({ "text": june_off }))
        .go()
        .await
        .assert_error(422, "calendar_break_too_long");
    assert!(
        answer.text.contains("without a working day"),
        "{}",
        answer.text
    );
    let answer = server
        .put("/api/v1/calendar/2027")
        .bearer_auth(&admin)
        .json(&json!({ "text": calendar }))
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["status"], "set");
    let events = server.audit(&admin).await;
    let last = events.last().unwrap();
    assert_eq!(last["kind"], "calendar_year_set");
    assert_eq!(last["actor"], "staff:admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_feed_is_a_hash_chain_anyone_can_recompute() {
    let server = Server::start().await;
    let admin = server.admin();
    let officer = server.officer();
    server.register(form(1)).await;
    server
        .post("/api/v1/applications/ESL-1/refuse")
        .bearer_auth(&officer)
        .json(&json!({"reason": "legal_bar", "text": "A court decision."}))
        .go()
        .await;

    server
        .get("/api/v1/audit")
        .bearer_auth(&officer)
        .go()
        .await
        .assert_error(403, "forbidden");
    server
        .get("/api/v1/audit")
        .go()
        .await
        .assert_error(401, "unauthorized");

    let answer = server
        .get("/api/v1/audit?after=0&limit=1000")
        .bearer_auth(&admin)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let page = answer.json();
    assert_eq!(page["next_after"], Value::Null);
    let events = page["events"].as_array().unwrap();
    assert!(events.len() >= 6, "{events:?}");
    let mut previous = [0u8; 32];
    let mut previous_seq = 0;
    for event in events {
        let seq = event["seq"].as_u64().unwrap();
        assert_eq!(seq, previous_seq + 1, "gapless");
        let prev_hash = text(&event["prev_hash"]);
        let hash = text(&event["hash"]);
        assert_eq!(hash.len(), 64);
        assert!(hash
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(prev_hash, hex::encode(previous), "event {seq}");
        let recomputed = kezek::domain::event::chain_hash(
            &previous,
            seq,
            instant(&event["recorded_at"]).timestamp_micros(),
            text(&event["actor"]),
            text(&event["kind"]),
            text(&event["payload"]),
        );
        assert_eq!(hex::encode(recomputed), hash, "event {seq}");
        previous = hex::decode(hash).unwrap().try_into().unwrap();
        previous_seq = seq;
    }
    let kinds: Vec<&str> = events.iter().map(|e| text(&e["kind"])).collect();
    assert_eq!(kinds[0], "district_created");
    assert!(kinds.contains(&"application_registered"));
    let refused = events
        .iter()
        .find(|e| e["kind"] == "application_refused")
        .unwrap();
    assert_eq!(refused["actor"], "staff:officer-esl");
    let registered = events
        .iter()
        .find(|e| e["kind"] == "application_registered")
        .unwrap();
    assert_eq!(registered["actor"], "portal");

    // Paging: `after` continues, `next_after` says where.
    let first_two = server
        .get("/api/v1/audit?limit=2")
        .bearer_auth(&admin)
        .go()
        .await
        .json();
    assert_eq!(first_two["events"].as_array().unwrap().len(), 2);
    assert_eq!(first_two["next_after"], 2);
    let rest = server
        .get("/api/v1/audit?after=2")
        .bearer_auth(&admin)
        .go()
        .await
        .json();
    assert_eq!(rest["events"][0]["seq"], 3);
    assert_eq!(
        rest["events"][0]["prev_hash"],
        first_two["events"][1]["hash"]
    );
    assert_eq!(rest["events"].as_array().unwrap().len(), events.len() - 2);
    server
        .get("/api/v1/audit?after=-1")
        .bearer_auth(&admin)
        .go()
        .await
        .assert_error(400, "query_invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_moves_forward_only_and_only_when_it_is_manual() {
    let server = Server::start().await;
    let admin = server.admin();
    let officer = server.officer();

    set_clock(&server, &officer, "2026-12-01T00:00:00Z")
        .await
        .assert_error(403, "forbidden");
    let answer = set_clock(&server, &admin, "2026-12-01T00:00:00Z").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let moved = answer.json();
    assert_eq!(moved["now"], "2026-12-01T00:00:00Z");
    assert_eq!(moved["expired"], 0);
    assert_eq!(
        kezek::clock::Clock::now(&server.app.clock),
        "2026-12-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    // Registrations now carry the new time.
    let registered = server.register(form(1)).await;
    assert_eq!(registered["registered_at"], "2026-12-01T00:00:00Z");

    set_clock(&server, &admin, "2026-11-30T00:00:00Z")
        .await
        .assert_error(409, "clock_backwards");

    let system = Server::with(HttpConfig::default(), false).await;
    let admin = system.admin();
    let body = set_clock(&system, &admin, "2026-12-01T00:00:00Z")
        .await
        .assert_error(403, "clock_not_manual");
    assert_eq!(body["lang"], "ru");
    assert_eq!(
        kezek::clock::Clock::now(&system.app.clock),
        start_time(),
        "the refused move changed nothing"
    );
}

// ---------------------------------------------------------------------------------------
// The documents of the API
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_path_and_metrics_are_exposed() {
    let server = Server::start().await;
    let answer = server.get("/api/v1/openapi.json").go().await;
    assert_eq!(answer.status, 200);
    let document = answer.json();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    let expected: [(&str, &[&str]); 31] = [
        ("/api/v1/health", &["get"]),
        ("/api/v1/districts", &["get", "post"]),
        ("/api/v1/kindergartens", &["get", "post"]),
        ("/api/v1/districts/{district}/queue", &["get"]),
        ("/api/v1/districts/{district}/protocol", &["get"]),
        ("/api/v1/applications", &["get", "post"]),
        ("/api/v1/applications/{number}", &["get"]),
        ("/api/v1/applications/{number}/position", &["get"]),
        ("/api/v1/applications/{number}/positions/history", &["get"]),
        ("/api/v1/applications/{number}/withdraw", &["post"]),
        ("/api/v1/applications/{number}/survey", &["post"]),
        ("/api/v1/referrals/{number}/decline", &["post"]),
        ("/api/v1/referrals/{number}/extend", &["post"]),
        ("/api/v1/districts/{district}/education-head", &["put"]),
        ("/api/v1/applications/{number}/priority/verify", &["post"]),
        ("/api/v1/applications/{number}/priority/reject", &["post"]),
        ("/api/v1/applications/{number}/refuse", &["post"]),
        ("/api/v1/referrals/{number}/revoke", &["post"]),
        ("/api/v1/applications/{number}/access-code", &["post"]),
        ("/api/v1/kindergartens/{id}/vacancies", &["post"]),
        ("/api/v1/referrals/{number}/hand-in", &["post"]),
        ("/api/v1/kindergartens/{id}/groups", &["post"]),
        ("/api/v1/districts/{district}/policy", &["put"]),
        ("/api/v1/calendar/{year}", &["put"]),
        ("/api/v1/audit", &["get"]),
        ("/api/v1/admin/clock", &["post"]),
        ("/api/v1/applications/search", &["get"]),
        ("/api/v1/access-log", &["get"]),
        ("/api/v1/applications/{number}/access-log", &["get"]),
        ("/api/v1/reports/{name}", &["get"]),
        ("/api/v1/statistics", &["get"]),
    ];
    for (path, methods) in expected {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is missing from {:?}", paths.keys()));
        for method in methods {
            assert!(item.get(*method).is_some(), "{method} {path}");
        }
    }
    let schemes = &document["components"]["securitySchemes"];
    assert!(schemes.get("staff_token").is_some(), "{schemes}");
    assert!(schemes.get("access_code").is_some(), "{schemes}");

    server.register(form(1)).await;
    server.register(form(2)).await;
    let answer = server.get("/metrics").go().await;
    assert_eq!(answer.status, 200);
    assert!(answer
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    let metrics = answer.text;
    assert!(metrics.contains("kezek_http_requests_total"), "{metrics}");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("kezek_http_requests_total{")
                && l.contains("method=\"POST\"")
                && l.contains("route=\"/api/v1/applications\"")
                && l.contains("status=\"201\"")
                && l.ends_with(" 2")),
        "{metrics}"
    );
    assert!(
        metrics.lines().any(|l| l == "kezek_applications_waiting 2"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("ESL-1"),
        "no numbers in labels: {metrics}"
    );
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_with_their_codes_and_store_nothing() {
    let server = Server::start().await;
    let admin = server.admin();
    let events_before = server.audit(&admin).await.len();
    let post = || server.post("/api/v1/applications");

    post()
        .header("content-type", "application/json")
        .body(r#"{"district": "ESL", "#)
        .go()
        .await
        .assert_error(400, "malformed");
    let missing = post()
        .json(&json!({"district": "ESL"}))
        .go()
        .await
        .assert_error(400, "malformed");
    assert_eq!(missing["detail"], "child_iin");
    post()
        .header("Idempotency-Key", "has space")
        .json(&form(1))
        .go()
        .await
        .assert_error(400, "idempotency_key_invalid");
    post()
        .header("Idempotency-Key", "k".repeat(256))
        .json(&form(1))
        .go()
        .await
        .assert_error(400, "idempotency_key_invalid");

    let mut huge = form(1);
    huge["child_full_name"] = json!("А".repeat(40 * 1024));
    post()
        .json(&huge)
        .go()
        .await
        .assert_error(413, "payload_too_large");

    post()
        .body(serde_json::to_string(&form(1)).unwrap())
        .go()
        .await
        .assert_error(415, "unsupported_media_type");
    post()
        .header("content-type", "text/plain")
        .body(serde_json::to_string(&form(1)).unwrap())
        .go()
        .await
        .assert_error(415, "unsupported_media_type");

    let mut bad_iin = form(1);
    bad_iin["child_iin"] = json!("061211600013");
    post()
        .json(&bad_iin)
        .go()
        .await
        .assert_error(422, "child_iin_invalid");
    let mut in_past = form(1);
    in_past["desired_start"] = json!("2026-11-19");
    post()
        .json(&in_past)
        .go()
        .await
        .assert_error(422, "desired_start_in_past");
    let mut elsewhere = form(1);
    elsewhere["kindergartens"] = json!([server.kindergarten_id(2)]);
    post()
        .json(&elsewhere)
        .go()
        .await
        .assert_error(422, "kindergarten_not_in_district");

    for (field, value) in [
        ("tier", json!("out_of_turn")),
        ("registered_at", json!("2020-01-01T00:00:00Z")),
        ("status", json!("enrolled")),
    ] {
        let mut form = form(1);
        form[field] = value;
        let body = post()
            .json(&form)
            .go()
            .await
            .assert_error(422, "field_not_settable");
        assert_eq!(body["detail"], field);
    }

    assert_eq!(server.waiting().await, 0, "nothing was stored");
    assert_eq!(server.audit(&admin).await.len(), events_before);

    // The message follows Accept-Language; the code does not.
    let in_kazakh = post()
        .header("Accept-Language", "kk")
        .json(&bad_iin)
        .go()
        .await
        .assert_error(422, "child_iin_invalid");
    assert_eq!(in_kazakh["lang"], "kk");
    assert_eq!(in_kazakh["message"], "Баланың ЖСН-і қате.");
    let in_english = post()
        .header("Accept-Language", "en-GB,en;q=0.9")
        .json(&bad_iin)
        .go()
        .await
        .assert_error(422, "child_iin_invalid");
    assert_eq!(in_english["lang"], "en");
    assert_eq!(in_english["message"], "The child's IIN is not valid.");
    let by_default = post()
        .json(&bad_iin)
        .go()
        .await
        .assert_error(422, "child_iin_invalid");
    assert_eq!(by_default["lang"], "ru");
    assert_eq!(by_default["message"], "ИИН ребёнка неверен.");
    let malformed_kk = post()
        .header("Accept-Language", "kk")
        .header("content-type", "application/json")
        .body("{")
        .go()
        .await
        .assert_error(400, "malformed");
    assert_eq!(malformed_kk["message"], "Сұрау дұрыс құрастырылмаған.");

    // A registered child cannot be registered again, anywhere.
    server.register(form(1)).await;
    server
        .register_conflict(form(1))
        .await
        .assert_error(409, "already_queued");
    let mut in_sar = form(1);
    in_sar["district"] = json!("SAR");
    in_sar["kindergartens"] = json!([server.kindergarten_id(2)]);
    server
        .register_conflict(in_sar)
        .await
        .assert_error(409, "already_queued");
    assert_eq!(server.waiting().await, 1);
}

impl Server {
    async fn register_conflict(&self, form: Value) -> Answer {
        self.post("/api/v1/applications").json(&form).go().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_childs_number_and_an_unknown_number_answer_byte_for_byte_alike() {
    let server = Server::start().await;
    let mine = server.register(form(1)).await;
    server.register(form(2)).await;
    let code = text(&mine["access_code"]).to_string();

    let read = |path: &str| {
        server
            .get(path)
            .header("X-Access-Code", &code)
            .header("Accept-Language", "en")
            .go()
    };
    let other = read("/api/v1/applications/ESL-2").await;
    let unknown = read("/api/v1/applications/ESL-999").await;
    let unparsable = read("/api/v1/applications/ESL-x").await;
    let other_district = read("/api/v1/applications/SAR-1").await;
    other.assert_error(404, "not_found");
    assert_eq!(other.text, unknown.text);
    assert_eq!(other.text, unparsable.text);
    assert_eq!(other.text, other_district.text);
    assert_eq!(unknown.status, 404);
    assert_eq!(other.json()["message"], "Not found.");
    assert!(other.json().get("detail").is_none());

    let position = read("/api/v1/applications/ESL-2/position").await;
    let unknown_position = read("/api/v1/applications/ESL-999/position").await;
    assert_eq!(position.status, 404);
    assert_eq!(position.text, unknown_position.text);
    let history = read("/api/v1/applications/ESL-2/positions/history").await;
    assert_eq!(history.status, 404);
    assert_eq!(history.text, other.text);

    // Acting on another's application is as unknown as reading it.
    let withdraw = server
        .post("/api/v1/applications/ESL-2/withdraw")
        .header("X-Access-Code", &code)
        .header("Accept-Language", "en")
        .go()
        .await;
    assert_eq!(withdraw.status, 404);
    assert_eq!(withdraw.text, other.text);
    assert_eq!(server.waiting().await, 2, "nothing was withdrawn");

    // The parent's own still opens.
    server.read("ESL-1", &code).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_from_one_client_are_rate_limited_then_even_the_right_code_is() {
    let config = HttpConfig {
        limits: LimitConfig {
            lookups_per_minute: 600,
            lookup_burst: 100,
            wrong_codes_per_hour: 2,
            wrong_code_burst: 3,
        },
        ..HttpConfig::default()
    };
    let server = Server::with(config, true).await;
    let registered = server.register(form(1)).await;
    let code = text(&registered["access_code"]).to_string();
    let read = |code: &str| {
        server
            .get("/api/v1/applications/ESL-1")
            .header("X-Access-Code", code)
            .go()
    };

    server.read("ESL-1", &code).await;
    for _ in 0..3 {
        read("0000-0000-0000").await.assert_error(404, "not_found");
    }
    let refused = read("0000-0000-0000").await;
    refused.assert_error(429, "rate_limited");
    let retry_after: u64 = refused
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    // Two wrong codes an hour: one comes back within 30 minutes.
    assert!((1..=1800).contains(&retry_after), "{retry_after}");

    read(&code).await.assert_error(429, "rate_limited");
    server
        .get("/api/v1/applications/ESL-1/position")
        .header("X-Access-Code", &code)
        .go()
        .await
        .assert_error(429, "rate_limited");
    // Staff and the public are not parents: they are not stopped.
    let officer = server.officer();
    let answer = server
        .get("/api/v1/applications/ESL-1")
        .bearer_auth(&officer)
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(server.health().await["applications_waiting"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn look_ups_beyond_the_burst_are_rate_limited() {
    let config = HttpConfig {
        limits: LimitConfig {
            lookups_per_minute: 1,
            lookup_burst: 3,
            wrong_codes_per_hour: 20,
            wrong_code_burst: 10,
        },
        ..HttpConfig::default()
    };
    let server = Server::with(config, true).await;
    let registered = server.register(form(1)).await;
    let code = text(&registered["access_code"]).to_string();
    for _ in 0..3 {
        server.read("ESL-1", &code).await;
    }
    let refused = server
        .get("/api/v1/applications/ESL-1/position")
        .header("X-Access-Code", &code)
        .header("Accept-Language", "en")
        .go()
        .await;
    let body = refused.assert_error(429, "rate_limited");
    assert_eq!(body["message"], "Too many requests. Try again later.");
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
}

// ---------------------------------------------------------------------------------------
// Must-shows: one child, one application; a retry is a replay
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_registrations_of_one_child_store_exactly_one() {
    let server = Server::start().await;
    let admin = server.admin();
    let officer = server.officer();
    let form = form(1);
    let requests: Vec<_> = (0..100)
        .map(|_| {
            let request = server.post("/api/v1/applications").json(&form);
            tokio::spawn(request.go())
        })
        .collect();
    let mut created = Vec::new();
    let mut conflicts = 0;
    for request in requests {
        let answer = request.await.unwrap();
        match answer.status {
            201 => created.push(answer.json()),
            409 => {
                answer.assert_error(409, "already_queued");
                conflicts += 1;
            }
            other => panic!("{other}: {}", answer.text),
        }
    }
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(conflicts, 99);
    assert_eq!(created[0]["number"], "ESL-1");

    assert_eq!(server.waiting().await, 1);
    let registered = server
        .audit(&admin)
        .await
        .iter()
        .filter(|e| e["kind"] == "application_registered")
        .count();
    assert_eq!(registered, 1);
    let list = server
        .get("/api/v1/applications?district=ESL")
        .bearer_auth(&officer)
        .go()
        .await
        .json();
    assert_eq!(numbers(&list["items"]), ["ESL-1"]);
    // The journal's numbers stay gapless: the next child is ESL-2.
    assert_eq!(server.register(self::form(2)).await["number"], "ESL-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_with_the_same_idempotency_key_replays_the_first_answer() {
    let server = Server::start().await;
    let admin = server.admin();
    let send = |key: &str, form: &Value| {
        server
            .post("/api/v1/applications")
            .header("Idempotency-Key", key)
            .json(form)
            .go()
    };

    let first = send("retry-7f3a", &form(1)).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.header("idempotent-replayed"), None);
    let events = server.audit(&admin).await.len();
    assert_eq!(server.waiting().await, 1);

    let retry = send("retry-7f3a", &form(1)).await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.header("cache-control"), Some("no-store"));
    let (first_body, retry_body) = (first.json(), retry.json());
    assert_eq!(retry_body["number"], "ESL-1");
    assert_eq!(retry_body["access_code"], first_body["access_code"]);
    assert_eq!(retry_body, first_body);

    // The same key for another request is refused, not replayed.
    send("retry-7f3a", &form(2))
        .await
        .assert_error(422, "idempotency_key_reused");

    assert_eq!(server.waiting().await, 1, "nothing new was stored");
    assert_eq!(server.audit(&admin).await.len(), events);

    // Another key is another request; without a key a repeat is a conflict.
    let other = send("retry-8b1c", &form(2)).await;
    assert_eq!(other.status, 201, "{}", other.text);
    assert_eq!(other.json()["number"], "ESL-2");
    server
        .register_conflict(form(2))
        .await
        .assert_error(409, "already_queued");
    assert_eq!(server.waiting().await, 2);

    // Commands other than registration replay too.
    let code = text(&first_body["access_code"]).to_string();
    let withdraw = || {
        server
            .post("/api/v1/applications/ESL-1/withdraw")
            .header("X-Access-Code", &code)
            .header("Idempotency-Key", "withdraw-1")
            .go()
    };
    let once = withdraw().await;
    assert_eq!(once.status, 200, "{}", once.text);
    let twice = withdraw().await;
    assert_eq!(twice.status, 200, "{}", twice.text);
    assert_eq!(twice.header("idempotent-replayed"), Some("true"));
    assert_eq!(twice.json(), once.json());
    assert_eq!(server.waiting().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_registration_repeats_the_first_answer_after_the_queue_moved() {
    let server = Server::start().await;
    let kg = server.kindergarten(0);
    let send = || {
        server
            .post("/api/v1/applications")
            .header("Idempotency-Key", "retry-after-referral")
            .json(&form_now(1))
            .go()
    };
    let first = send().await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(server.report_places(&kg, 0, 1).await.status, 201);

    let retry = send().await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.json(), first.json());
}

// ---------------------------------------------------------------------------------------
// Found by fuzzing from the OpenAPI document (scripts/api-fuzz)
// ---------------------------------------------------------------------------------------

/// `to` may be the earliest instant chrono holds; the default `from`, 30 days before it,
/// is not an instant at all. The subtraction overflowed and the handler panicked: the
/// client saw its connection dropped instead of an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_protocol_up_to_the_earliest_instant_answers_an_empty_period() {
    let server = Server::start().await;
    let answer = server
        .get("/api/v1/districts/ESL/protocol?to=-262143-01-01T00:00:00Z")
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let protocol = answer.json();
    assert!(
        instant(&protocol["from"]) <= instant(&protocol["to"]),
        "{protocol}"
    );
    assert_eq!(protocol["places"], json!([]));
}

/// A manual clock set near the end of chrono's range (year 262142) killed the writer: the
/// tick after it could not take the local date of "now". The clock now stops at year 9998,
/// where every date the service derives from it still exists, and the service goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manual_clock_refuses_a_year_past_9998_and_the_writer_lives_on() {
    let server = Server::start().await;
    let admin = server.admin();
    server.register(form(1)).await;

    for now in ["+262142-12-31T23:59:59Z", "9999-01-01T00:00:00Z"] {
        let body = set_clock(&server, &admin, now)
            .await
            .assert_error(422, "invalid");
        assert_eq!(body["detail"], "now", "{now}");
    }

    // The writer still runs commands: the registration ages out at the last allowed year.
    let moved = set_clock(&server, &admin, "9998-12-31T18:59:59Z").await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.json()["aged_out"], 1, "{}", moved.text);
    assert_eq!(server.waiting().await, 0);
}

/// The query-string structs were documented as required *path* parameters (utoipa's default
/// for `IntoParams`), so schemathesis, and any client generated from the document, could
/// not send a work list's `district` or a queue's `offset` at all. Every path parameter
/// must be in its path's template, and every one of these query parameters in the query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_puts_path_and_query_parameters_where_they_are() {
    let server = Server::start().await;
    let document = server.get("/api/v1/openapi.json").go().await.json();
    let mut query = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = text(&parameter["name"]);
                match text(&parameter["in"]) {
                    "path" => assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path}: path parameter {name} is not in the path"
                    ),
                    "query" => query.push((path.clone(), name.to_string(), parameter.clone())),
                    _ => {}
                }
            }
        }
    }
    let find = |path: &str, name: &str| {
        query
            .iter()
            .find(|(p, n, _)| p == path && n == name)
            .unwrap_or_else(|| panic!("{path}: no query parameter {name}"))
            .2
            .clone()
    };
    assert_eq!(find("/api/v1/applications", "district")["required"], true);
    assert_eq!(find("/api/v1/applications", "after")["required"], false);
    assert_eq!(
        find("/api/v1/districts/{district}/queue", "offset")["required"],
        false
    );
    assert_eq!(
        find("/api/v1/districts/{district}/protocol", "to")["required"],
        false
    );
    assert_eq!(find("/api/v1/kindergartens", "district")["required"], false);
    find("/api/v1/audit", "after");

    // Every status the error table can answer for an operation of its kind is documented
    // (schemathesis reported 400, 401, 403, 415 and 422 answers as undocumented).
    let responses = |method: &str, path: &str| document["paths"][path][method]["responses"].clone();
    let registration = responses("post", "/api/v1/applications");
    for status in ["201", "400", "409", "413", "415", "422", "500"] {
        assert!(
            registration.get(status).is_some(),
            "POST /applications: no {status}"
        );
    }
    let audit = responses("get", "/api/v1/audit");
    for status in ["200", "400", "401", "403", "500"] {
        assert!(audit.get(status).is_some(), "GET /audit: no {status}");
    }
    assert!(responses("get", "/api/v1/health").get("401").is_none());
}
