//! The result documents over HTTP, end to end: a real server on an ephemeral port over a
//! temporary database (the catalog of `common::TestApp`: districts ESL and SAR,
//! kindergartens 1 and 2 in ESL), driven by reqwest. Each page in both languages and both
//! formats; the PDF's text layer; the verification link printed on the page, before and
//! after a revocation and with a forged signature; who may fetch a document; escaping.

mod common;
#[path = "common/http.rs"]
mod http;

use common::valid_form;
use http::{Answer, Go, Server};
use kezek::domain::staff::{Role, Scope};
use kezek::http::HttpConfig;
use serde_json::{json, Value};

/// Every letter of the Kazakh alphabet that Russian lacks: ә ғ қ ң ө ұ ү һ і.
const KAZAKH_NAME: &str = "Әбіғұлұлы Қаңөһүр";

/// What only these tests ask of the server.
impl Server {
    /// One free place at kindergarten 1 for children born in 2022, Kazakh groups, today:
    /// the first waiting child gets referral ESL-R1.
    async fn one_place(&self) {
        let token = self.staff(
            "kg-0",
            Role::Kindergarten,
            Scope::Kindergarten(self.app.kindergartens[0]),
        );
        let answer = self
            .post(&format!(
                "/api/v1/kindergartens/{}/vacancies",
                self.app.kindergartens[0].0
            ))
            .bearer_auth(&token)
            .json(&json!({
                "born_from": "2022-01-01",
                "born_to": "2022-12-31",
                "language": "kk",
                "count": 1,
                "available_from": "2026-11-20",
            }))
            .go()
            .await;
        assert_eq!(answer.status, 201, "{}", answer.text);
        assert_eq!(answer.json()["referrals"][0]["number"], "ESL-R1");
    }

    async fn refuse(&self, officer: &str, number: &str, text: &str) {
        let answer = self
            .post(&format!("/api/v1/applications/{number}/refuse"))
            .bearer_auth(officer)
            .json(&json!({"reason": "documents_incomplete", "text": text}))
            .go()
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }

    /// A document as its parent fetches it.
    async fn document(&self, path: &str, code: &str) -> Answer {
        self.get(path).header("X-Access-Code", code).go().await
    }
}

/// A registration wanting a place from today (so a place reported today fits it).
fn form_now(serial: u16, name: &str) -> Value {
    let mut form = serde_json::to_value(valid_form(serial)).unwrap();
    form["desired_start"] = json!("2026-11-20");
    form["child_full_name"] = json!(name);
    form
}

fn code(registered: &Value) -> String {
    registered["access_code"].as_str().unwrap().to_string()
}

/// The text layer of a PDF, as a reader's copy and search see it.
fn pdf_text(answer: &Answer) -> String {
    assert!(answer.body.starts_with(b"%PDF-"), "not a PDF");
    pdf_extract::extract_text_from_mem(&answer.body).expect("the PDF's text can be read")
}

/// The PDF's words, each run of whitespace (a line break of the layout) as one space.
fn pdf_words(answer: &Answer) -> String {
    pdf_text(answer)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The verification link the HTML page prints (its `href`, unescaped).
fn printed_link(html: &str) -> String {
    let start = html.find("<a href=\"").expect("the page prints its link") + 9;
    let end = start + html[start..].find('"').unwrap();
    html[start..end].replace("&amp;", "&")
}

async fn verification(server: &Server, link: &str) -> Value {
    let answer = server.http.get(link).go().await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    answer.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_document_answers_in_both_languages_and_formats() {
    let server = Server::start().await;
    let officer = server.officer();
    let first = code(&server.register(form_now(1, KAZAKH_NAME)).await);
    let second = code(&server.register(form_now(2, KAZAKH_NAME)).await);
    server.one_place().await;
    server
        .refuse(
            &officer,
            "ESL-2",
            "Анықтама ұсынылмады. Справка не представлена.",
        )
        .await;

    let documents = [
        (
            "/api/v1/applications/ESL-1/notice",
            &first,
            ["ХАБАРЛАМА", "УВЕДОМЛЕНИЕ"],
        ),
        (
            "/api/v1/referrals/ESL-R1/document",
            &first,
            ["ЖОЛДАМА", "НАПРАВЛЕНИЕ"],
        ),
        (
            "/api/v1/applications/ESL-2/refusal",
            &second,
            ["БАС ТАРТУ", "ОБ ОТКАЗЕ"],
        ),
    ];
    for (path, access_code, titles) in documents {
        for (lang, title) in ["kk", "ru"].into_iter().zip(titles) {
            let html = server
                .document(&format!("{path}?lang={lang}"), access_code)
                .await;
            html.assert_page("text/html; charset=utf-8");
            assert_eq!(html.header("content-language"), Some(lang));
            let page = html.text;
            assert!(page.contains(&format!("<html lang=\"{lang}\">")));
            assert!(page.contains(KAZAKH_NAME), "{path} {lang}");
            assert!(page.contains("@page { size: A4"));
            assert!(page.contains("<svg"), "the QR code");

            let pdf = server
                .document(&format!("{path}?lang={lang}&format=pdf"), access_code)
                .await;
            pdf.assert_page("application/pdf");
            let text = pdf_text(&pdf);
            assert!(text.contains(KAZAKH_NAME), "{path} {lang}: {text}");
            assert!(text.contains(title), "{path} {lang}: {text}");
            assert!(text.contains("15.03.2022"), "{text}");
        }
    }

    // The referral states the kindergarten, the home address and the last day.
    let referral = server
        .document(
            "/api/v1/referrals/ESL-R1/document?lang=ru&format=pdf",
            &first,
        )
        .await;
    let text = pdf_text(&referral);
    assert!(text.contains("Астана, 1"), "{text}");
    assert!(text.contains("Астана, Мәңгілік Ел 10, 5"), "{text}");
    assert!(
        pdf_words(&referral).contains("до конца пятницы 27.11.2026"),
        "{text}"
    );
    assert!(
        !text.contains("28.11.2026"),
        "never the next midnight: {text}"
    );
    // The notice never prints the access code: it is not stored.
    let notice = server
        .document("/api/v1/applications/ESL-1/notice?lang=ru", &first)
        .await
        .text;
    assert!(!notice.contains(&first));
    assert!(notice.contains("коду доступа, выданному при регистрации"));

    // Without `lang`, the language follows Accept-Language: Kazakh if preferred, else Russian.
    let kazakh = server
        .get("/api/v1/applications/ESL-1/notice")
        .header("X-Access-Code", &first)
        .header("Accept-Language", "kk-KZ, ru;q=0.8")
        .go()
        .await;
    assert_eq!(kazakh.header("content-language"), Some("kk"));
    let english = server
        .get("/api/v1/applications/ESL-1/notice")
        .header("X-Access-Code", &first)
        .header("Accept-Language", "en")
        .go()
        .await;
    assert_eq!(english.header("content-language"), Some("ru"));

    // A refusal only for a refused application; no unknown query values.
    server
        .document("/api/v1/applications/ESL-1/refusal", &first)
        .await
        .assert_error(404, "not_found");
    server
        .document("/api/v1/applications/ESL-1/notice?format=docx", &first)
        .await
        .assert_error(400, "query_invalid");
    server
        .document("/api/v1/applications/ESL-1/notice?lang=en", &first)
        .await
        .assert_error(400, "query_invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_link_verifies_until_the_referral_is_revoked() {
    let server = Server::start().await;
    let officer = server.officer();
    let parent = code(&server.register(form_now(1, KAZAKH_NAME)).await);
    server.one_place().await;
    let page = server
        .document("/api/v1/referrals/ESL-R1/document?lang=kk", &parent)
        .await
        .text;
    let link = printed_link(&page);
    // With no configured public address, the address the service is bound to.
    let prefix = format!(
        "{}/api/v1/documents/referral-ESL-R1/verify?v=0&sig=",
        server.base
    );
    assert!(link.starts_with(&prefix), "{link}");
    // The link is printed in small text too, and the key's id beside it.
    let keys = server.get("/api/v1/keys").go().await;
    assert_eq!(keys.status, 200);
    let keys = keys.json();
    assert_eq!(keys[0]["algorithm"], "Ed25519");
    assert_eq!(keys[0]["public_key"].as_str().unwrap().len(), 43);
    let key_id = keys[0]["id"].as_str().unwrap();
    assert!(page.contains(&format!("Ed25519 {key_id}")));
    // The PDF carries the same seal as the page.
    let pdf = server
        .document(
            "/api/v1/referrals/ESL-R1/document?lang=ru&format=pdf",
            &parent,
        )
        .await;
    let signature = &link[prefix.len()..];
    let pdf_text = pdf_text(&pdf);
    assert!(pdf_text.contains(key_id), "{pdf_text}");
    assert!(pdf_text.contains(&signature[..20]), "{pdf_text}");

    let check = verification(&server, &link).await;
    assert_eq!(check["document"], "referral-ESL-R1");
    assert_eq!(check["authentic"], true);
    assert_eq!(check["valid"], true);
    assert_eq!(check["standing"], "in_force");
    // No personal data in the public answer.
    let body = check.to_string();
    assert!(
        !body.contains(KAZAKH_NAME) && !body.contains("Астана"),
        "{body}"
    );

    // One changed character of the signature (mid-way, so the decoded bytes differ, not
    // just the unused bits of the last character): not authentic.
    let at = link.len() - 40;
    let changed = if &link[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{changed}{}", &link[..at], &link[at + 1..]);
    assert_ne!(forged, link);
    let check = verification(&server, &forged).await;
    // Without a valid signature, one answer for everything: a forged seal, no seal, an
    // existing number, one never issued, another version, a malformed id. Nothing tells
    // which documents exist.
    let not_authentic = json!({ "authentic": false, "valid": false });
    assert_eq!(check, not_authentic);
    for path in [
        &link[link.find("/api/").unwrap()..link.find("&sig=").unwrap()],
        "/api/v1/documents/referral-ESL-R1/verify?v=0&sig=x",
        "/api/v1/documents/referral-ESL-R9/verify?v=0&sig=x",
        "/api/v1/documents/notice-ESL-1/verify",
        "/api/v1/documents/notice-ESL-99/verify?sig=x",
        "/api/v1/documents/letter-ESL-1/verify",
        "/api/v1/documents/referral-ESL-R1/verify?v=1&sig=x",
    ] {
        let check = verification(&server, &format!("{}{path}", server.base)).await;
        assert_eq!(check, not_authentic, "{path}");
    }

    let answer = server
        .post("/api/v1/referrals/ESL-R1/revoke")
        .bearer_auth(&officer)
        .json(&json!({"reason": "The family moved to another city."}))
        .go()
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let check = verification(&server, &link).await;
    assert_eq!(check["authentic"], true);
    assert_eq!(check["valid"], false);
    assert_eq!(check["standing"], "ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_opens_only_for_its_parent_and_the_districts_staff() {
    let config = HttpConfig {
        public_url: Some("https://kezek.example.kz/".into()),
        ..HttpConfig::default()
    };
    let server = Server::with(config, false).await;
    let officer = server.officer();
    let first = code(&server.register(form_now(1, KAZAKH_NAME)).await);
    let second = code(&server.register(form_now(2, "Қасымова Әйгерім")).await);
    server.one_place().await;
    server
        .refuse(&officer, "ESL-2", "Анықтама ұсынылмады.")
        .await;

    // The second child's parent, with their own code, reaches none of the first's.
    for path in [
        "/api/v1/applications/ESL-1/notice",
        "/api/v1/referrals/ESL-R1/document?format=pdf",
    ] {
        server
            .document(path, &second)
            .await
            .assert_error(404, "not_found");
    }
    server
        .document("/api/v1/applications/ESL-2/refusal", &first)
        .await
        .assert_error(404, "not_found");
    server
        .get("/api/v1/applications/ESL-1/notice")
        .go()
        .await
        .assert_error(401, "access_code_required");

    // The district's officer reads them all; another district's does not.
    for path in [
        "/api/v1/applications/ESL-1/notice",
        "/api/v1/referrals/ESL-R1/document",
        "/api/v1/applications/ESL-2/refusal?format=pdf",
    ] {
        let answer = server.get(path).bearer_auth(&officer).go().await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
    }
    let elsewhere = server.staff(
        "officer-sar",
        Role::Officer,
        Scope::District(server.app.other_district),
    );
    server
        .get("/api/v1/applications/ESL-1/notice")
        .bearer_auth(&elsewhere)
        .go()
        .await
        .assert_error(403, "forbidden");

    // The endpoints are in the OpenAPI document, with both content types.
    let document = server.get("/api/v1/openapi.json").go().await.json();
    let paths = &document["paths"];
    for path in [
        "/api/v1/applications/{number}/notice",
        "/api/v1/referrals/{number}/document",
        "/api/v1/applications/{number}/refusal",
        "/api/v1/keys",
        "/api/v1/documents/{id}/verify",
    ] {
        assert!(paths[path]["get"].is_object(), "{path} is not documented");
    }
    let content =
        &paths["/api/v1/applications/{number}/notice"]["get"]["responses"]["200"]["content"];
    assert!(content["text/html"].is_object() && content["application/pdf"].is_object());

    // The configured public address is printed, not the request's host.
    let page = server
        .document("/api/v1/applications/ESL-1/notice?lang=ru", &first)
        .await
        .text;
    assert!(page.contains(
        "href=\"https://kezek.example.kz/api/v1/documents/notice-ESL-1/verify?v=0&amp;sig="
    ));
    assert!(page.contains("https://kezek.example.kz/</strong>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_escapes_what_was_typed_into_it() {
    let server = Server::start().await;
    let officer = server.officer();
    // A name with markup never gets in: registration refuses it.
    let answer = server
        .post("/api/v1/applications")
        .json(&form_now(1, "<script>alert(1)</script>"))
        .go()
        .await;
    answer.assert_error(422, "name_invalid");
    // An address and a motivation may hold anything: the pages escape them.
    let mut form = form_now(1, KAZAKH_NAME);
    form["applicant_address"] = json!("Астана, <script>alert('address')</script> & Co");
    let first = code(&server.register(form).await);
    let second = code(&server.register(form_now(2, KAZAKH_NAME)).await);
    server.one_place().await;
    server
        .refuse(&officer, "ESL-2", "<script>alert(\"refusal\")</script>")
        .await;

    let referral = server
        .document("/api/v1/referrals/ESL-R1/document?lang=ru", &first)
        .await;
    referral.assert_page("text/html; charset=utf-8");
    let csp = referral.header("content-security-policy").unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let page = referral.text;
    assert!(!page.contains("<script"), "{page}");
    assert!(page.contains("Астана, &lt;script&gt;alert(&#39;address&#39;)&lt;/script&gt; &amp; Co"));

    let refusal = server
        .document("/api/v1/applications/ESL-2/refusal?lang=kk", &second)
        .await
        .text;
    assert!(!refusal.contains("<script"), "{refusal}");
    assert!(refusal.contains("&lt;script&gt;alert(&quot;refusal&quot;)&lt;/script&gt;"));
    // The PDF prints it as the text it is.
    let pdf = server
        .document("/api/v1/applications/ESL-2/refusal?format=pdf", &second)
        .await;
    assert!(pdf_text(&pdf).contains("<script>alert(\"refusal\")</script>"));
}

/// Seed 000's documents: the notice names the applicant it was issued to; the referral names
/// the head of the district's education department of its day of issue, with a signature
/// line. The head is catalog data an administrator sets; a new head does not rename the
/// papers already issued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notice_names_the_applicant_and_the_referral_the_head_of_its_day() {
    let server = Server::start().await;
    let admin = server.admin();
    let set_head = |name: &'static str| {
        server
            .put("/api/v1/districts/ESL/education-head")
            .bearer_auth(&admin)
            .json(&json!({ "full_name": name }))
    };
    let answer = set_head("Жұмабеков Ерлан Асқарұлы").go().await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let first = code(&server.register(form_now(1, KAZAKH_NAME)).await);
    server.one_place().await;
    let answer = set_head("Омарова Гүлнар").go().await;
    assert_eq!(answer.status, 200, "{}", answer.text);

    let notice = server
        .document(
            "/api/v1/applications/ESL-1/notice?lang=ru&format=pdf",
            &first,
        )
        .await;
    let words = pdf_words(&notice);
    assert!(
        words.contains("Настоящее уведомление выдано: Қасымов Арман"),
        "{words}"
    );
    let referral = server
        .document(
            "/api/v1/referrals/ESL-R1/document?lang=kk&format=pdf",
            &first,
        )
        .await;
    let words = pdf_words(&referral);
    assert!(
        words.contains("Білім бөлімінің басшысы: Жұмабеков Ерлан Асқарұлы"),
        "{words}"
    );
    assert!(words.contains("(қолы)"), "{words}");
    assert!(
        !words.contains("Омарова"),
        "the head of the day of issue: {words}"
    );
    // The printed link still verifies: the name is part of what is signed.
    let html = server
        .document("/api/v1/referrals/ESL-R1/document?lang=kk", &first)
        .await;
    let verdict = verification(&server, &printed_link(&html.text)).await;
    assert_eq!(verdict["authentic"], true);
    assert_eq!(verdict["last_day"], "2026-11-27");
}

/// A verification link names the configured address, or the one the service is bound to,
/// never the request's Host: a forged Host must not put a forger's address on a genuine
/// document (issue 13: without --public-url the link took the Host header).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_host_never_appears_in_a_documents_links() {
    let server = Server::start().await;
    let parent = code(&server.register(form_now(1, KAZAKH_NAME)).await);
    for format in ["html", "pdf"] {
        let answer = server
            .get(&format!(
                "/api/v1/applications/ESL-1/notice?lang=kk&format={format}"
            ))
            .header("X-Access-Code", &parent)
            .header("Host", "evil.example")
            .go()
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let text = if format == "pdf" {
            pdf_text(&answer)
        } else {
            answer.text.clone()
        };
        assert!(!text.contains("evil.example"), "{format}: {text}");
        if format == "html" {
            let link = printed_link(&text);
            assert!(link.starts_with(&server.base), "{link}");
        }
    }
}

/// The verification endpoint has its own quota per client: checking papers is for people,
/// not for walking the numbers, and it spends nothing of a parent's look-ups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifications_are_rate_limited_on_their_own() {
    let config = HttpConfig {
        verifications: kezek::http::limits::VerificationQuota {
            per_minute: 1,
            burst: 3,
        },
        ..HttpConfig::default()
    };
    let server = Server::with(config, false).await;
    let parent = code(&server.register(form_now(1, KAZAKH_NAME)).await);
    let path = "/api/v1/documents/notice-ESL-1/verify?sig=x";
    for _ in 0..3 {
        assert_eq!(server.get(path).go().await.status, 200);
    }
    let refused = server.get(path).go().await;
    refused.assert_error(429, "rate_limited");
    assert!(refused.header("retry-after").is_some());
    // The parent's own look-ups are another quota.
    server.read("ESL-1", &parent).await;
}
