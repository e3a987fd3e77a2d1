//! The JSON request bodies of the API, from arbitrary bytes, the way the handlers take them.
//!
//! The first byte picks one of the request types the handlers extract with `ApiJson`; the
//! rest is the body. It goes through `ApiJson::from_request` (axum's `Json` plus our mapping
//! of every rejection into the error table), then what parses goes through the conversion
//! into domain types the handler does (`NewApplication::parse` for a registration, the
//! language codes, age bands, calendar text, clock arithmetic).
//!
//! Properties: nothing panics; a refusal is a 4xx row of the error table whose `detail`,
//! if any, is a field path and never a value from the body; an accepted body serialises
//! and parses back to the same JSON; an accepted registration form is the same whether read
//! as the API's type or the domain's, and what `NewApplication::parse` accepts is consistent
//! (the IIN's birth date, distinct IINs, known kindergartens of the district, a +7 phone).
#![no_main]

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use chrono::{Datelike, NaiveDate};
use kezek::domain::application::{Choices, NewApplication, RegistrationForm};
use kezek::domain::calendar::{
    end_of_local_day, end_of_local_day_after, WorkCalendar, YearCalendar,
};
use kezek::domain::catalog::{
    AgeBand, Catalog, District, DistrictId, Kindergarten, KindergartenId, Language, Names,
    PriorityCategory, Tier,
};
use kezek::domain::local_date;
use kezek::http::extract::ApiJson;
use kezek::http::fuzzing::*;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match selector % 14 {
        0 => {
            if let Some(request) = extract::<RegistrationRequest>(body) {
                check_registration(body, request);
            }
        }
        1 => {
            if let Some(request) = extract::<DistrictRequest>(body) {
                let codes = request.languages.iter().map(|c| Language::parse(c));
                for (code, language) in request.languages.iter().zip(codes) {
                    if let Some(language) = language {
                        assert_eq!(language.code(), code);
                    }
                }
            }
        }
        2 => drop(extract::<KindergartenRequest>(body)),
        3 => {
            if let Some(request) = extract::<GroupRequest>(body) {
                let band = AgeBand::new(request.born_from, request.born_to);
                assert_eq!(band.is_some(), request.born_from <= request.born_to);
                drop(Language::parse(&request.language));
            }
        }
        4 => drop(extract::<PolicyRequest>(body)),
        5 => {
            if let Some(request) = extract::<CalendarRequest>(body) {
                check_calendar(&request.text);
            }
        }
        6 => {
            if let Some(request) = extract::<ClockRequest>(body) {
                check_clock(request.now);
            }
        }
        7 => drop(extract::<SurveyAnswers>(body)),
        8 => {
            if let Some(report) = extract::<VacancyReport>(body) {
                if let (Some(from), Some(to)) = (report.born_from, report.born_to) {
                    assert_eq!(AgeBand::new(from, to).is_some(), from <= to);
                }
                drop(report.language.as_deref().map(Language::parse));
            }
        }
        9 => drop(extract::<Reason>(body)),
        10 => drop(extract::<RefusalRequest>(body)),
        11 => drop(extract::<RevocationRequest>(body)),
        // The calendar's text and the registration are where most of the logic is: give
        // them the bytes directly too, without having to find the JSON around them.
        12 => {
            if let Ok(text) = std::str::from_utf8(body) {
                check_calendar(text);
            }
        }
        _ => {
            if let Ok(form) = serde_json::from_slice::<RegistrationForm>(body) {
                check_form(&form);
            }
        }
    }
});

/// The body through `ApiJson`, as a handler receives it; `None` when it was refused, after
/// checking the refusal.
fn extract<T>(body: &[u8]) -> Option<T>
where
    T: DeserializeOwned + Serialize + Send + 'static,
{
    let request = Request::post("/")
        .header("content-type", "application/json")
        .header("accept-language", "en")
        .body(Body::from(body.to_vec()))
        .expect("a fixed request builds");
    match block_on(ApiJson::<T>::from_request(request, &())) {
        Ok(ApiJson(value)) => {
            let json = serde_json::to_string(&value).expect("a request type serialises");
            let again: T = serde_json::from_str(&json).expect("its own JSON parses back");
            assert_eq!(serde_json::to_string(&again).unwrap(), json);
            Some(value)
        }
        Err(refusal) => {
            check_refusal(refusal.into_response());
            None
        }
    }
}

fn check_refusal(response: axum::response::Response) {
    let status = response.status();
    assert!(
        [
            StatusCode::BAD_REQUEST,
            StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            StatusCode::UNPROCESSABLE_ENTITY
        ]
        .contains(&status),
        "a body refused with {status}"
    );
    let bytes = block_on(axum::body::to_bytes(response.into_body(), 64 * 1024))
        .expect("an error body is small");
    let body: serde_json::Value = serde_json::from_slice(&bytes).expect("an error body is JSON");
    let code = body["code"].as_str().expect("an error has a code");
    assert!(
        [
            "malformed",
            "field_not_settable",
            "payload_too_large",
            "unsupported_media_type"
        ]
        .contains(&code),
        "unexpected code {code}"
    );
    if let Some(detail) = body.get("detail") {
        // Field paths only (`child.birth_date`, `kindergartens[2]`): never a value.
        let detail = detail.as_str().expect("a detail is text");
        assert!(
            !detail.is_empty()
                && detail.len() <= 128
                && detail
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.[]".contains(&b)),
            "detail is not a field path: {detail:?}"
        );
    }
}

fn check_registration(body: &[u8], request: RegistrationRequest) {
    let form = RegistrationForm::from(request);
    // The API's type and the domain's form are one shape: a body reads the same as either.
    let direct: RegistrationForm =
        serde_json::from_slice(body).expect("a body the API accepts is a RegistrationForm");
    assert_eq!(direct, form);
    check_form(&form);
}

fn check_form(form: &RegistrationForm) {
    let catalog = catalog();
    let Ok(new) = NewApplication::parse(form, catalog, today()) else {
        return;
    };
    assert_eq!(new.child.birth_date, new.child.iin.birth_date());
    assert_eq!(new.child.sex, new.child.iin.sex());
    assert!(new.child.birth_date <= today() && new.desired_start >= today());
    assert_ne!(new.child.iin, new.applicant.iin);
    let district = &catalog.districts[&new.district];
    assert_eq!(district.code, form.district.trim());
    if let Choices::Listed(list) = &new.choices {
        assert!((1..=5).contains(&list.len()));
        for (i, id) in list.iter().enumerate() {
            assert!(!list[..i].contains(id), "a kindergarten chosen twice");
            assert_eq!(catalog.kindergartens[id].district, new.district);
        }
    }
    if let Some(language) = new.language {
        assert!(district.languages.contains(&language));
    }
    let phone = new.applicant.phone.as_bytes();
    assert!(phone.len() == 12 && phone.starts_with(b"+7"));
    assert!(phone[2..].iter().all(u8::is_ascii_digit));
    for name in [&new.child.full_name, &new.applicant.full_name] {
        assert!(!name.is_empty() && name.trim() == name && !name.contains("  "));
    }
}

/// A year's calendar text, as `PUT /calendar/{year}` takes it: what parses must say of each
/// listed day what the line said, and counting working days over it must end.
fn check_calendar(text: &str) {
    // The year the command would be given: the one the first line names, else 2027.
    let year = text
        .get(..4)
        .and_then(|y| y.parse::<i32>().ok())
        .filter(|y| (2000..=2100).contains(y))
        .unwrap_or(2027);
    let Ok(parsed) = YearCalendar::parse(year, text) else {
        return;
    };
    let mut calendar = WorkCalendar::shipped();
    calendar.set_year(year, parsed);
    for line in text.lines().map(str::trim) {
        let mut fields = line.split_whitespace();
        let (Some(date), Some(kind)) = (fields.next(), fields.next()) else {
            continue;
        };
        if line.starts_with('#') {
            continue;
        }
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("it parsed");
        assert_eq!(calendar.is_working_day(date), kind == "work", "{line}");
    }
    let new_year = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
    let after = calendar.working_days_after(new_year, 30);
    assert!(after > new_year && after.year() <= year + 1);
}

/// What the service computes from a new "now" (`POST /admin/clock`, then a tick).
fn check_clock(now: chrono::DateTime<chrono::Utc>) {
    let day = local_date(now);
    assert!(end_of_local_day(day) > now);
    assert!(end_of_local_day_after(now, 90) > now);
    let calendar = &catalog().calendar;
    assert!(calendar.validity_end(now, 30) > now);
    assert!(calendar.manual_step_due(now, 5) > day);
    let _ = catalog().school_age.is_preschool_on(day, day);
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

/// The catalog of the tests: ESL (kk, ru) with kindergartens 1 and 2, SAR (ru) with 3, and
/// one first-priority category.
fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let names = |text: &str| Names {
            kk: text.to_string(),
            ru: text.to_string(),
        };
        let mut catalog = Catalog::default();
        for (id, code, languages) in [
            (1, "ESL", vec![Language::KAZAKH, Language::RUSSIAN]),
            (2, "SAR", vec![Language::RUSSIAN]),
        ] {
            let district = District {
                id: DistrictId(id),
                code: code.to_string(),
                names: names(code),
                languages,
            };
            catalog.districts.insert(district.id, district);
        }
        for (id, district) in [(1, 1), (2, 1), (3, 2)] {
            let kindergarten = Kindergarten {
                id: KindergartenId(id),
                district: DistrictId(district),
                number: id.to_string(),
                names: names("kindergarten"),
                address: "street".to_string(),
            };
            catalog.kindergartens.insert(kindergarten.id, kindergarten);
        }
        let category = PriorityCategory {
            code: "large_family".to_string(),
            tier: Tier::First,
            names: names("large family"),
            document: names("certificate"),
        };
        catalog.categories.insert(category.code.clone(), category);
        catalog
    })
}

/// Runs a future that never waits on anything outside it (a request whose body is all in
/// memory) to completion, without a runtime.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}
