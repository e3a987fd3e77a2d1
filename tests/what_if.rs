//! The administrators' what-if page (issue 18, §4): the form posted for a small city, a seed
//! and two policies shows, cell for cell, the table `kezek simulate --compare` prints for the
//! same options (the command line run here as a separate process); a city too large or an
//! unknown policy is refused with its code from the error table, on the page and in the API;
//! an officer may not run it.

mod common;
#[path = "common/http.rs"]
mod http;

use http::{cookies, hidden, Go, Server};
use serde_json::json;

const SEED: &str = "5";
const REGISTRATIONS: &str = "300";
const KINDERGARTENS: &str = "10";

/// The page's table: each row's key and cells (`tr data-key=…` then its `td`s).
fn page_cells(html: &str) -> Vec<(String, Vec<String>)> {
    let table = html
        .split("data-testid=\"what-if\"")
        .nth(1)
        .expect("the result table")
        .split("</table>")
        .next()
        .unwrap();
    table
        .split("<tr data-key=\"")
        .skip(1)
        .map(|row| {
            let key = row.split('"').next().unwrap().to_string();
            let cells = row
                .split("<td>")
                .skip(1)
                .map(|cell| cell.split("</td>").next().unwrap().to_string())
                .collect();
            (key, cells)
        })
        .collect()
}

/// The command line's Markdown table: each figure row's cells (the header rows skipped).
fn cli_cells(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| figure"))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .skip(1)
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn the_what_if_page_shows_the_figures_the_command_line_prints() {
    let mut server = Server::start().await;
    server.stop_at_redirects();
    let admin = server.admin();
    let cookie = server.staff_page_session(&admin).await;
    let desk = server.get("/staff").header("cookie", &cookie).go().await;
    assert!(desk.text.contains("href=\"/staff/admin/what-if\""));
    let form = server
        .get("/staff/admin/what-if")
        .header("cookie", &cookie)
        .go()
        .await;
    assert_eq!(form.status, 200, "{}", form.text);
    let mut jar = std::collections::BTreeMap::new();
    for pair in cookie.split("; ") {
        let (name, value) = pair.split_once('=').unwrap();
        jar.insert(name.to_string(), value.to_string());
    }
    let cookie = cookies(&form, &mut jar);
    let csrf = hidden(&form.text, "csrf");
    let post = |fields: Vec<(&'static str, &'static str)>| {
        let mut body: Vec<(&str, String)> = vec![("csrf", csrf.clone())];
        body.extend(fields.into_iter().map(|(k, v)| (k, v.to_string())));
        server
            .post("/staff/admin/what-if")
            .header("cookie", cookie.clone())
            .form(&body)
    };
    let shown = post(vec![
        ("registrations", REGISTRATIONS),
        ("kindergartens", KINDERGARTENS),
        ("seed", SEED),
        ("policies", "place_by_place"),
        ("policies", "round"),
    ])
    .go()
    .await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    let page = page_cells(&shown.text);

    let scratch = tempfile::tempdir().unwrap();
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_kezek"))
        .current_dir(scratch.path())
        .args([
            "simulate",
            "--compare",
            "--seed",
            SEED,
            "--registrations",
            REGISTRATIONS,
            "--kindergartens",
            KINDERGARTENS,
            "--policies",
            "place_by_place,round",
        ])
        .output()
        .unwrap();
    let printed = String::from_utf8(cli.stdout).unwrap();
    let cli = cli_cells(&printed);
    assert_eq!(page.len(), cli.len(), "{printed}");
    assert!(page.len() >= 10);
    for ((key, cells), printed_cells) in page.iter().zip(&cli) {
        assert_eq!(cells.len(), 2, "{key}");
        assert_eq!(
            cells, printed_cells,
            "{key}: the page and the command line differ"
        );
    }
    // Figures that could be wrong: children were placed, and the round's column has no
    // ranked envy of its own referrals while place by place has no round referrals at all.
    let row = |key: &str| &page.iter().find(|(k, _)| k == key).unwrap().1;
    assert_ne!(row("placed")[0], "0");
    assert_eq!(row("envy_round"), &vec!["-".to_string(), "0".to_string()]);

    // Bad input: the field's error beside it, from the error table; nothing run.
    let too_large = post(vec![
        ("registrations", "6000"),
        ("kindergartens", KINDERGARTENS),
        ("seed", SEED),
        ("policies", "round"),
    ])
    .header("accept-language", "ru")
    .go()
    .await;
    assert_eq!(too_large.status, 422);
    assert!(too_large.text.contains("registrations-error"));
    assert!(!too_large.text.contains("data-testid=\"what-if\""));
    let none_chosen = post(vec![
        ("registrations", REGISTRATIONS),
        ("kindergartens", KINDERGARTENS),
        ("seed", SEED),
    ])
    .go()
    .await;
    assert_eq!(none_chosen.status, 422);
    assert!(none_chosen.text.contains("policies-error"));

    // The API: the same checks, with their codes.
    let api = |body: serde_json::Value, token: String| {
        server
            .post("/api/v1/what-if")
            .bearer_auth(token)
            .json(&body)
    };
    api(
        json!({"registrations": 6000, "kindergartens": 10, "seed": 1, "policies": ["round"]}),
        admin.clone(),
    )
    .go()
    .await
    .assert_error(422, "what_if_size_invalid");
    api(
        json!({"registrations": 100, "kindergartens": 3, "seed": 1, "policies": ["round"]}),
        admin.clone(),
    )
    .go()
    .await
    .assert_error(422, "what_if_size_invalid");
    api(
        json!({"registrations": 100, "kindergartens": 10, "seed": 1, "policies": ["lottery"]}),
        admin.clone(),
    )
    .go()
    .await
    .assert_error(422, "what_if_policy_unknown");
    api(
        json!({"registrations": 100, "kindergartens": 10, "seed": 1, "policies": ["round"]}),
        server.officer(),
    )
    .go()
    .await
    .assert_error(403, "forbidden");
}
