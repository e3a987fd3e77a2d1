//! The reports through HTTP (issue 17): an officer's reports scoped to its district, an
//! administrator's everywhere or filtered, CSV beside JSON, every bad input a row of the
//! error table, the staff pages, and the public statistics with small cells hidden (and
//! their complement, so a hidden count is not the shown total minus the rest).

mod common;
#[path = "common/http.rs"]
mod http;

use common::{child_iin, date, valid_form};
use http::{Go, Server};
use kezek::domain::staff::{Role, Scope};
use serde_json::Value;

/// Six children born in 2022 and two born in 2023, in ESL.
async fn city() -> Server {
    let server = Server::start().await;
    let app = &server.app;
    tokio::task::block_in_place(|| {
        for serial in 1..=8u16 {
            let mut form = valid_form(serial);
            if serial > 6 {
                form.child_birth_date = "2023-01-10".into();
                form.child_iin = child_iin(date(2023, 1, 10), serial * 2);
            }
            app.register(form).unwrap();
        }
    });
    server
}

fn rows(body: &Value) -> Vec<Vec<Value>> {
    body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_officer_reads_its_districts_reports_as_json_and_csv() {
    let server = city().await;
    let officer = server.officer();

    let queue = server
        .get("/api/v1/reports/queue")
        .bearer_auth(&officer)
        .go()
        .await;
    assert_eq!(queue.status, 200, "{}", queue.text);
    let body = queue.json();
    assert_eq!(body["district"], "ESL");
    assert_eq!(
        rows(&body),
        vec![
            vec![Value::from(2022), "general".into(), 6.into()],
            vec![Value::from(2023), "general".into(), 2.into()],
        ]
    );

    let kindergartens = server
        .get("/api/v1/reports/kindergartens")
        .bearer_auth(&officer)
        .go()
        .await
        .json();
    // Every form chooses kindergartens 1 then 2.
    let first = server.kindergarten_id(0);
    assert_eq!(rows(&kindergartens)[0][0], first);
    assert_eq!(rows(&kindergartens)[0][2..], [Value::from(8), 8.into()]);

    let csv = server
        .get("/api/v1/reports/queue.csv")
        .bearer_auth(&officer)
        .go()
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        csv.text,
        "birth_year,tier,waiting\r\n2022,general,6\r\n2023,general,2\r\n"
    );

    for name in [
        "trend",
        "waiting",
        "still-waiting",
        "referrals",
        "places",
        "manual",
        "officers",
        "survey",
    ] {
        let answer = server
            .get(&format!("/api/v1/reports/{name}"))
            .bearer_auth(&officer)
            .go()
            .await;
        assert_eq!(answer.status, 200, "{name}: {}", answer.text);
        assert_eq!(answer.json()["report"], name);
    }
    let still = server
        .get("/api/v1/reports/still-waiting")
        .bearer_auth(&officer)
        .go()
        .await
        .json();
    assert_eq!(rows(&still)[0][2], 6, "six of 2022 still wait");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_ranges_districts_and_scopes_are_rows_of_the_error_table() {
    let server = city().await;
    let officer = server.officer();
    let admin = server.admin();
    let operator = server.operator();
    let get = |path: &str, token: &str| server.get(path).bearer_auth(token.to_string());

    let refused = [
        (
            "/api/v1/reports/queue?from=2026-05-01&to=2026-04-01",
            &officer,
            422,
            "report_range_reversed",
        ),
        (
            "/api/v1/reports/referrals?from=2020-01-01&to=2026-01-02",
            &officer,
            422,
            "report_range_too_long",
        ),
        (
            "/api/v1/reports/queue?district=NOPE",
            &admin,
            422,
            "district_unknown",
        ),
        (
            "/api/v1/reports/queue?district=SAR",
            &officer,
            403,
            "district_out_of_scope",
        ),
        (
            "/api/v1/reports/queue?from=yesterday",
            &officer,
            400,
            "query_invalid",
        ),
        ("/api/v1/reports/nothing", &officer, 404, "not_found"),
        ("/api/v1/reports/queue", &operator, 403, "forbidden"),
    ];
    for (path, token, status, code) in refused {
        get(path, token).go().await.assert_error(status, code);
    }
    // Exactly five years is allowed.
    let five = get(
        "/api/v1/reports/referrals?from=2021-01-02&to=2026-01-02",
        &officer,
    )
    .go()
    .await;
    assert_eq!(five.status, 200, "{}", five.text);
    server
        .get("/api/v1/reports/queue")
        .go()
        .await
        .assert_error(401, "unauthorized");

    // In Kazakh, from the table.
    let kk = get("/api/v1/reports/queue?district=SAR", &officer)
        .header("Accept-Language", "kk")
        .go()
        .await
        .json();
    assert_eq!(
        kk["message"],
        "Сіз тек өз ауданыңыздың есептерін көре аласыз."
    );

    // The administrator sees everything, or one district.
    let all = get("/api/v1/reports/queue", &admin).go().await.json();
    assert_eq!(all["district"], Value::Null);
    assert_eq!(rows(&all).len(), 2);
    let sar = get("/api/v1/reports/queue?district=SAR", &admin)
        .go()
        .await
        .json();
    assert!(rows(&sar).is_empty(), "nobody waits in SAR: {sar}");
    let kindergarten = server.staff(
        "kg",
        Role::Kindergarten,
        Scope::Kindergarten(server.app.kindergartens[0]),
    );
    get("/api/v1/reports/queue", &kindergarten)
        .go()
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test(flavor = "multi_thread")]
async fn public_statistics_hide_small_cells_and_their_complement() {
    let server = city().await;
    let stats = server.get("/api/v1/statistics").go().await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    let body = stats.json();
    // 2023 has two children: hidden; 2022's six would give them away (the queue's length
    // is public), so they are hidden too.
    assert_eq!(
        body["queue"],
        serde_json::json!([
            {"birth_year": 2022, "waiting": null},
            {"birth_year": 2023, "waiting": null}
        ])
    );
    assert!(!stats.text.contains("iin") && !stats.text.contains("Қасым"));

    for lang in ["kk", "ru"] {
        let page = server.get(&format!("/statistics?lang={lang}")).go().await;
        assert_eq!(page.status, 200);
        assert!(page.text.contains("&lt; 5"), "{}", page.text);
    }
    let unknown = server.get("/api/v1/statistics?district=NOPE").go().await;
    unknown.assert_error(422, "district_unknown");
}

/// The public page draws each figure as a chart above its table; a hidden count draws no
/// bar (its height would tell it) but a "<5" mark, and each chart has its own title ids.
#[tokio::test(flavor = "multi_thread")]
async fn the_public_statistics_chart_each_figure_without_the_hidden_counts() {
    let server = city().await;
    // Three born in 2024: with 2023's two, two hidden cells and 2022's six shown.
    tokio::task::block_in_place(|| {
        for serial in 20..23u16 {
            let mut form = valid_form(serial);
            form.child_birth_date = "2024-02-10".into();
            form.child_iin = child_iin(date(2024, 2, 10), serial * 2);
            server.app.register(form).unwrap();
        }
    });
    for (lang, title) in [
        ("kk", "Кезекте күтетіндер, туған жылы бойынша"),
        ("ru", "Ждут в очереди, по году рождения"),
    ] {
        let page = server.get(&format!("/statistics?lang={lang}")).go().await;
        assert_eq!(page.status, 200);
        let html = &page.text;
        assert!(
            html.contains(&format!(r#"<title id="chart-queue-title">{title}</title>"#)),
            "{html}"
        );
        assert_eq!(html.matches("<svg").count(), 1, "only the queue has counts");
        assert_eq!(html.matches("<rect").count(), 1, "2022's bar alone");
        assert_eq!(
            html.matches("&lt;5</text>").count(),
            2,
            "2023 and 2024 marked"
        );
        let hidden_cell = r#"<td class="num">&lt; 5</td>"#;
        assert_eq!(
            html.matches(hidden_cell).count(),
            2,
            "and hidden in the table"
        );
        assert!(html.contains("<th scope=\"row\">2024</th>"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_staff_pages_draw_each_report_as_a_chart_and_a_table() {
    let server = city().await;
    let officer = server.officer();
    // Pages read the staff cookie; the sign-in form (with its CSRF token) sets it.
    let mut server = server;
    server.stop_at_redirects();
    let cookie = server.staff_page_session(&officer).await;
    let page = server
        .get("/staff/reports/queue?lang=ru")
        .header("Cookie", &cookie)
        .go()
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("<svg"), "a chart");
    assert_eq!(page.text.matches("<rect").count(), 2, "one bar per row");
    assert!(page.text.contains("<th scope=\"row\">2022</th>"));
    let csv = server
        .get("/staff/reports/queue.csv")
        .header("Cookie", &cookie)
        .go()
        .await;
    assert!(csv.text.starts_with("birth_year,tier,waiting\r\n"));
    let other = server
        .get("/staff/reports/queue?district=SAR")
        .header("Cookie", &cookie)
        .go()
        .await;
    assert_eq!(other.status, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn claims_waiting_and_each_officers_decisions_are_counted_live() {
    let server = city().await;
    let officer = server.officer();
    let mut claim = valid_form(9);
    claim.priority_category = Some("large_family".into());
    claim.priority_document = Some("№ 12".into());
    let mut other = valid_form(10);
    other.priority_category = Some("orphan".into());
    other.priority_document = Some("№ 13".into());
    let app = &server.app;
    let (first, second) = tokio::task::block_in_place(|| {
        (app.register(claim).unwrap(), app.register(other).unwrap())
    });
    let manual = |token: String| {
        let request = server.get("/api/v1/reports/manual").bearer_auth(token);
        async move { rows(&request.go().await.json()) }
    };
    assert_eq!(manual(officer.clone()).await[0][1], 2, "two claims wait");

    let number = |id: kezek::domain::application::ApplicationId| format!("ESL-{}", id.number.0);
    let verified = server
        .post(&format!(
            "/api/v1/applications/{}/priority/verify",
            number(first.id)
        ))
        .bearer_auth(&officer)
        .go()
        .await;
    assert_eq!(verified.status, 200, "{}", verified.text);
    let rejected = server
        .post(&format!(
            "/api/v1/applications/{}/priority/reject",
            number(second.id)
        ))
        .bearer_auth(&officer)
        .json(&serde_json::json!({"reason": "Құжат жоқ"}))
        .go()
        .await;
    assert_eq!(rejected.status, 200, "{}", rejected.text);

    let now = manual(officer.clone()).await;
    assert_eq!(now[0][1], 0, "no claim waits: {now:?}");
    assert_eq!(
        now[1][3..],
        [Value::from(1), 1.into()],
        "one verified, one rejected"
    );
    let officers = server
        .get("/api/v1/reports/officers")
        .bearer_auth(&officer)
        .go()
        .await
        .json();
    assert_eq!(
        rows(&officers)[0][1..],
        [Value::from("officer-esl"), 2.into()]
    );
    // The tier moved with the decision: one out of the general tier now.
    let queue = server
        .get("/api/v1/reports/queue")
        .bearer_auth(&officer)
        .go()
        .await
        .json();
    let general: i64 = rows(&queue)
        .iter()
        .filter(|row| row[1] == "general")
        .map(|row| row[2].as_i64().unwrap())
        .sum();
    assert_eq!(general, 9, "{queue}");
}

// The manual-steps report's "overdue" (issue 17 §1), by DOMAIN.md's rule.

async fn claimant(server: &Server, serial: u16) -> (String, String) {
    let mut claim = serde_json::to_value(valid_form(serial)).unwrap();
    claim["priority_category"] = "large_family".into();
    claim["priority_document"] = "№ 17 of 02.11.2026".into();
    let registered = server.register(claim).await;
    (
        registered["number"].as_str().unwrap().into(),
        registered["access_code"].as_str().unwrap().into(),
    )
}

/// The manual report's "now" row: claims waiting, overdue.
async fn claims_now(server: &Server, officer: &str) -> (Value, Value) {
    let manual = server
        .get("/api/v1/reports/manual")
        .bearer_auth(officer)
        .go()
        .await;
    assert_eq!(manual.status, 200, "{}", manual.text);
    let now = rows(&manual.json())[0].clone();
    assert_eq!(now[0], "now");
    (now[1].clone(), now[2].clone())
}

/// How many claims the officer's work list marks overdue.
async fn work_list_overdue(server: &Server, officer: &str) -> usize {
    let list = server
        .get("/api/v1/applications?district=ESL&overdue=true")
        .bearer_auth(officer)
        .go()
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    list.json()["items"].as_array().unwrap().len()
}

fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    text.parse().unwrap()
}

/// A claim is overdue after 3 working days of the district's calendar, neither the day of
/// receipt nor the day of issue counted, and never while a document asked for is awaited
/// (it counts again from the day it arrives): the report says so as the officer's work list
/// does. The report used to count 10 calendar days, which a Friday claim before a holiday
/// shows (due the 18th, overdue on the 19th, 8 days after).
#[tokio::test(flavor = "multi_thread")]
async fn the_manual_report_counts_overdue_claims_in_working_days_as_the_work_list() {
    let server = Server::start().await;
    let officer = server.officer();
    // Friday 20 November; on Monday the 23rd the officer asks for the document.
    let (paused, code) = claimant(&server, 1).await;
    server.app.clock.set(at("2026-11-23T05:00:00Z"));
    let asked = server
        .post(&format!("/api/v1/applications/{paused}/document-requests"))
        .bearer_auth(&officer)
        .json(&serde_json::json!({ "kind": "priority_document", "reason": "Unreadable." }))
        .go()
        .await;
    assert_eq!(asked.status, 200, "{}", asked.text);

    // Friday 11 December, before Independence Day (Wednesday the 16th): counted the 14th,
    // 15th and 17th, issued by Friday the 18th (the 17th without the holiday).
    server.app.clock.set(at("2026-12-11T05:00:00Z"));
    claimant(&server, 2).await;
    for (now, overdue) in [
        ("2026-12-17T12:00:00Z", 0),
        ("2026-12-18T12:00:00Z", 0),
        ("2026-12-19T05:00:00Z", 1),
    ] {
        server.app.clock.set(at(now));
        assert_eq!(
            claims_now(&server, &officer).await,
            (Value::from(2), Value::from(overdue)),
            "on {now}"
        );
        assert_eq!(work_list_overdue(&server, &officer).await, overdue, "{now}");
    }

    // The document arrives on Monday the 21st: counted the 22nd, 23rd and 24th, issued by
    // the 25th, overdue on the 26th.
    server.app.clock.set(at("2026-12-21T05:00:00Z"));
    let pdf = include_bytes!("fixtures/attachments/certificate.pdf");
    let added = server
        .post(&format!(
            "/api/v1/applications/{paused}/attachments?kind=priority_document"
        ))
        .header("X-Access-Code", &code)
        .header("Content-Type", "application/pdf")
        .body(pdf.to_vec())
        .go()
        .await;
    assert_eq!(added.status, 201, "{}", added.text);
    for (now, overdue) in [("2026-12-25T12:00:00Z", 1), ("2026-12-26T05:00:00Z", 2)] {
        server.app.clock.set(at(now));
        assert_eq!(
            claims_now(&server, &officer).await,
            (Value::from(2), Value::from(overdue)),
            "on {now}"
        );
        assert_eq!(work_list_overdue(&server, &officer).await, overdue, "{now}");
    }
}
