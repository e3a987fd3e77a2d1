//! Registration through the service: every validation rule refuses with its stable code and
//! stores nothing; numbers are gapless; a child is queued once, even under concurrency.

mod common;

use common::{child_iin, date, valid_form, TestApp};
use kezek::domain::application::{ApplicationStatus, Channel, ClaimStatus, RegistrationNumber};
use kezek::domain::catalog::Tier;
use kezek::domain::event::Actor;
use kezek::service::{Command, CommandError, Outcome};

fn refusal_code(app: &TestApp, form: kezek::domain::application::RegistrationForm) -> String {
    match app.register(form) {
        Err(CommandError::Refused(refusal)) => refusal.code().to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn journal_length(app: &TestApp) -> i64 {
    let conn = rusqlite::Connection::open(&app.path).unwrap();
    conn.query_row("SELECT count(*) FROM events", [], |row| row.get(0))
        .unwrap()
}

#[test]
fn each_invalid_field_is_refused_with_its_own_code_and_nothing_is_stored() {
    let app = TestApp::spawn();
    let events_before = journal_length(&app);
    type Change = Box<dyn Fn(&mut kezek::domain::application::RegistrationForm)>;
    let cases: Vec<(&str, Change)> = vec![
        ("district_unknown", Box::new(|f| f.district = "XXX".into())),
        (
            "child_iin_invalid",
            Box::new(|f| f.child_iin = "220315600013".into()),
        ),
        (
            "child_iin_invalid",
            Box::new(|f| f.child_iin = "22031560001".into()),
        ),
        (
            "applicant_iin_invalid",
            Box::new(|f| f.applicant_iin = "791028302729".into()),
        ),
        (
            "applicant_is_child",
            Box::new(|f| f.applicant_iin = f.child_iin.clone()),
        ),
        (
            "birth_date_malformed",
            Box::new(|f| f.child_birth_date = "15.03.2022".into()),
        ),
        (
            "birth_date_mismatch",
            Box::new(|f| f.child_birth_date = "2022-03-16".into()),
        ),
        (
            "desired_start_malformed",
            Box::new(|f| f.desired_start = "soon".into()),
        ),
        (
            "desired_start_in_past",
            Box::new(|f| f.desired_start = "2026-11-19".into()),
        ),
        (
            "name_invalid",
            Box::new(|f| f.child_full_name = "  ".into()),
        ),
        (
            "name_invalid",
            Box::new(|f| f.applicant_full_name = "x".repeat(201)),
        ),
        (
            "name_invalid",
            Box::new(|f| f.child_full_name = "<script>".into()),
        ),
        (
            "phone_invalid",
            Box::new(|f| f.applicant_phone = "12345".into()),
        ),
        (
            "email_invalid",
            Box::new(|f| f.applicant_email = Some("not-an-address".into())),
        ),
        // One mailbox only: a second recipient, a display name, a header are refused.
        (
            "email_invalid",
            Box::new(|f| f.applicant_email = Some("victim,attacker@evil.example".into())),
        ),
        (
            "email_invalid",
            Box::new(|f| f.applicant_email = Some("Ata <ata@example.kz>".into())),
        ),
        (
            "email_invalid",
            Box::new(|f| f.applicant_email = Some("ata@example.kz\r\nBcc: x@evil.example".into())),
        ),
        // Control and direction-changing characters in free text.
        (
            "text_unsafe",
            Box::new(|f| f.applicant_address = "Астана, \u{202E}1 көше".into()),
        ),
        (
            "text_unsafe",
            Box::new(|f| f.applicant_address = "Астана,\u{0}1 көше".into()),
        ),
        (
            "text_unsafe",
            Box::new(|f| f.child_full_name = "Әли\u{2066}хан".into()),
        ),
        (
            "text_unsafe",
            Box::new(|f| {
                f.priority_category = Some("orphan".into());
                f.priority_document = Some("№ 12\u{202D}34\n".into());
            }),
        ),
        (
            "address_invalid",
            Box::new(|f| f.applicant_address = String::new()),
        ),
        (
            "relation_invalid",
            Box::new(|f| f.applicant_relation = "neighbour".into()),
        ),
        (
            "too_many_kindergartens",
            Box::new(|f| f.kindergartens = vec![1, 2, 1, 2, 1, 2]),
        ),
        (
            "duplicate_kindergarten",
            Box::new(|f| f.kindergartens = vec![1, 1]),
        ),
        (
            "kindergarten_unknown",
            Box::new(|f| f.kindergartens = vec![99]),
        ),
        (
            "kindergarten_not_in_district",
            Box::new(|f| f.kindergartens = vec![1, 3]),
        ),
        (
            "language_not_offered",
            Box::new(|f| f.language = "de".into()),
        ),
        (
            "language_not_offered",
            Box::new(|f| f.language = "Kazakh".into()),
        ),
        (
            "priority_category_unknown",
            Box::new(|f| f.priority_category = Some("vip".into())),
        ),
        (
            "priority_document_missing",
            Box::new(|f| f.priority_category = Some("orphan".into())),
        ),
    ];
    for (expected, change) in cases {
        let mut form = valid_form(1);
        change(&mut form);
        assert_eq!(refusal_code(&app, form), expected);
    }
    assert_eq!(
        journal_length(&app),
        events_before,
        "a refusal must store nothing"
    );
    let first = app.register(valid_form(1)).unwrap();
    assert_eq!(
        first.id.number,
        RegistrationNumber(1),
        "refusals must not consume numbers"
    );
}

#[test]
fn age_rules_follow_the_school_age_and_the_birth_date() {
    let app = TestApp::spawn();
    // Born 2020-08-31: six before 1 September 2026, so already of school age on 2026-11-20.
    let mut form = valid_form(1);
    form.child_iin = child_iin(date(2020, 8, 31), 1);
    form.child_birth_date = "2020-08-31".into();
    assert_eq!(refusal_code(&app, form), "not_preschool_age");
    // Born 2021-03-01: preschool now, but school age from 2027-09-01.
    let mut form = valid_form(2);
    form.child_iin = child_iin(date(2021, 3, 1), 1);
    form.child_birth_date = "2021-03-01".into();
    form.desired_start = "2027-09-01".into();
    assert_eq!(refusal_code(&app, form.clone()), "not_preschool_age");
    form.desired_start = "2027-08-31".into();
    app.register(form)
        .expect("the last preschool day is a valid start");
    // Not yet born.
    let mut form = valid_form(3);
    form.child_iin = child_iin(date(2026, 12, 1), 1);
    form.child_birth_date = "2026-12-01".into();
    assert_eq!(refusal_code(&app, form), "child_not_born");
}

#[test]
fn a_registration_is_stored_with_gapless_numbers_per_district() {
    let app = TestApp::spawn();
    let mut numbers = Vec::new();
    for serial in 1..=3 {
        numbers.push(app.register(valid_form(serial)).unwrap().id.number.0);
    }
    let mut elsewhere = valid_form(4);
    elsewhere.district = "SAR".into();
    elsewhere.kindergartens = vec![3];
    let other = app.register(elsewhere).unwrap();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(
        other.id.number,
        RegistrationNumber(1),
        "each district has its own journal"
    );
    let stored = app.register(valid_form(5)).unwrap();
    assert_eq!(stored.status, ApplicationStatus::Queued);
    assert_eq!(stored.tier, Tier::General);
    assert_eq!(
        stored.applicant.phone, "+77012345678",
        "phones are normalised"
    );
    assert_eq!(stored.registered_at, common::start_time());
}

#[test]
fn a_child_with_an_active_application_is_refused_anywhere_until_it_is_withdrawn() {
    let app = TestApp::spawn();
    let first = app.register(valid_form(1)).unwrap();
    let mut elsewhere = valid_form(1);
    elsewhere.district = "SAR".into();
    elsewhere.kindergartens = vec![];
    assert_eq!(refusal_code(&app, elsewhere.clone()), "already_queued");
    app.service()
        .submit_blocking(Command::Withdraw { id: first.id }, Actor::portal())
        .unwrap();
    let again = app
        .register(elsewhere)
        .expect("a withdrawn application frees the child");
    assert_eq!(again.id.district, app.other_district);
    let withdrawn_twice = app
        .service()
        .submit_blocking(Command::Withdraw { id: first.id }, Actor::portal());
    assert!(
        matches!(withdrawn_twice, Err(CommandError::Conflict(_))),
        "{withdrawn_twice:?}"
    );
}

/// The fixture is built with blocking calls, so the runtime is entered only after it.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_hundred_concurrent_registrations_of_one_child_create_exactly_one_application() {
    let app = TestApp::spawn();
    let service = app.service().clone();
    runtime().block_on(async move {
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let service = service.clone();
                tokio::spawn(async move {
                    service
                        .register(valid_form(7), Channel::Portal, Actor::portal())
                        .await
                })
            })
            .collect();
        let mut accepted = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => accepted += 1,
                Err(CommandError::Refused(refusal)) => assert_eq!(refusal.code(), "already_queued"),
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(accepted, 1);
        assert_eq!(service.read().waiting.len(), 1);
    });
}

#[test]
fn concurrent_registrations_each_get_their_own_answer_and_number() {
    let app = TestApp::spawn();
    let service = app.service().clone();
    runtime().block_on(async move {
        let tasks: Vec<_> = (1..=200u16)
            .map(|serial| {
                let service = service.clone();
                let mut form = valid_form(serial);
                if serial % 10 == 0 {
                    form.applicant_phone = "bad".into();
                }
                tokio::spawn(async move {
                    (
                        serial,
                        service
                            .register(form, Channel::Portal, Actor::portal())
                            .await,
                    )
                })
            })
            .collect();
        let mut numbers = Vec::new();
        for task in tasks {
            let (serial, answer) = task.await.unwrap();
            match answer {
                Ok(application) => {
                    assert_ne!(serial % 10, 0);
                    numbers.push(application.id.number.0);
                }
                Err(CommandError::Refused(refusal)) => {
                    assert_eq!(serial % 10, 0, "only the bad phones are refused");
                    assert_eq!(refusal.code(), "phone_invalid");
                }
                Err(other) => panic!("{other}"),
            }
        }
        numbers.sort_unstable();
        let stats = service.stats();
        let commits = stats.commits.load(std::sync::atomic::Ordering::Relaxed);
        let commands = stats.commands.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            commits < commands,
            "group commit batches: {commits} commits for {commands} commands"
        );
        assert_eq!(
            numbers,
            (1..=180).collect::<Vec<_>>(),
            "numbers are gapless despite refusals in the same batches"
        );
    });
}

#[test]
fn registration_time_never_goes_back_even_if_the_clock_does() {
    let app = TestApp::spawn();
    let first = app.register(valid_form(1)).unwrap();
    app.clock.advance(chrono::Duration::hours(-3));
    let second = app.register(valid_form(2)).unwrap();
    assert!(second.registered_at >= first.registered_at);
    assert!(
        second.key() > first.key(),
        "the later registration stays behind"
    );
}

#[test]
fn a_verified_priority_moves_the_child_ahead_and_a_rejected_one_does_not() {
    let app = TestApp::spawn();
    let general = app.register(valid_form(1)).unwrap();
    app.clock.advance(chrono::Duration::minutes(5));
    let mut claim = valid_form(2);
    claim.priority_category = Some("large_family".into());
    claim.priority_document = Some("№ 123 of 01.02.2026".into());
    let claimant = app.register(claim.clone()).unwrap();
    assert_eq!(
        claimant.priority.as_ref().unwrap().status,
        ClaimStatus::Claimed
    );
    assert_eq!(
        app.service().position(claimant.id).unwrap().in_cohort,
        2,
        "a claim alone counts for nothing"
    );

    app.service()
        .submit_blocking(
            Command::VerifyPriority { id: claimant.id },
            Actor::staff("officer-1"),
        )
        .unwrap();
    assert_eq!(app.service().position(claimant.id).unwrap().in_cohort, 1);
    assert_eq!(app.service().position(general.id).unwrap().in_cohort, 2);
    let again = app.service().submit_blocking(
        Command::VerifyPriority { id: claimant.id },
        Actor::staff("officer-1"),
    );
    assert!(matches!(again, Err(CommandError::Conflict(_))));

    // Found unconfirmed later: back to the general tier with the original time.
    let reject = Command::RejectPriority {
        id: claimant.id,
        reason: "forged".into(),
    };
    app.service()
        .submit_blocking(reject, Actor::staff("officer-1"))
        .unwrap();
    assert_eq!(app.service().position(claimant.id).unwrap().in_cohort, 2);
    let no_claim = app.service().submit_blocking(
        Command::VerifyPriority { id: general.id },
        Actor::staff("officer-1"),
    );
    assert!(matches!(no_claim, Err(CommandError::Conflict(_))));
    let no_reason = app.service().submit_blocking(
        Command::RejectPriority {
            id: general.id,
            reason: " ".into(),
        },
        Actor::staff("o"),
    );
    assert!(no_reason.is_err());
}

#[test]
fn staff_channels_record_who_entered_the_application() {
    let app = TestApp::spawn();
    let command = Command::Register {
        form: valid_form(1),
        channel: Channel::ServiceCentre,
    };
    let Outcome::Registered { application, .. } = app
        .service()
        .submit_blocking(command, Actor::staff("operator-7"))
        .unwrap()
    else {
        panic!("not registered");
    };
    assert_eq!(application.entered_by.as_deref(), Some("staff:operator-7"));
    let portal = app.register(valid_form(2)).unwrap();
    assert_eq!(portal.entered_by, None);
}

/// The web form lists every refusal of a registration at once (`NewApplication::refusals`);
/// the API answers the first (`NewApplication::parse`). Over every combination of eight
/// kinds of bad field, the two agree: `parse` refuses exactly when the list is not empty,
/// with the list's first entry, and every bad field has an entry of its own.
#[test]
fn the_forms_list_of_refusals_agrees_with_the_apis_first_refusal() {
    use kezek::domain::application::NewApplication;
    let app = TestApp::spawn();
    let catalog = app.service().read().catalog.clone();
    let today = date(2026, 11, 20);
    type Spoil = fn(&mut kezek::domain::application::RegistrationForm);
    let spoils: [(&str, Spoil); 8] = [
        ("district", |f| f.district = "XXX".into()),
        ("child_iin", |f| f.child_iin = "12345".into()),
        ("child_birth_date", |f| {
            f.child_birth_date = "2022-02-30".into()
        }),
        ("child_full_name", |f| f.child_full_name = "  ".into()),
        ("applicant_phone", |f| f.applicant_phone = "555".into()),
        ("applicant_email", |f| {
            f.applicant_email = Some("no-at-sign".into())
        }),
        ("desired_start", |f| f.desired_start = "2020-01-01".into()),
        ("priority_category", |f| {
            f.priority_category = Some("no_such_category".into())
        }),
    ];
    for mask in 0u32..(1 << spoils.len()) {
        let mut form = valid_form(1);
        let mut spoiled = Vec::new();
        for (i, (field, spoil)) in spoils.iter().enumerate() {
            if mask & (1 << i) != 0 {
                spoil(&mut form);
                spoiled.push(*field);
            }
        }
        let listed = NewApplication::refusals(&form, &catalog, today);
        let first = NewApplication::parse(&form, &catalog, today).err();
        assert_eq!(
            first,
            listed.first().map(|(_, r)| r.clone()),
            "mask {mask:#b}"
        );
        for field in &spoiled {
            // A birth date cannot be checked against an IIN that is not one.
            let shadowed = *field == "child_birth_date" && spoiled.contains(&"child_iin");
            assert!(
                shadowed || listed.iter().any(|(f, _)| f == field),
                "mask {mask:#b}: {field} is not listed in {listed:?}"
            );
        }
        assert_eq!(
            listed.is_empty(),
            spoiled.is_empty(),
            "mask {mask:#b}: {listed:?}"
        );
    }
}

/// A registration's answer holds the access code, and the answer is kept for 24 hours so
/// that a retried request gets it again. Kept, but not readable: the database holds the
/// Idempotency-Key only as a hash and the answer only sealed with the key.
#[test]
fn a_remembered_registration_keeps_its_access_code_sealed() {
    use kezek::service::Idempotency;
    let app = TestApp::spawn();
    let idempotency = Idempotency {
        scope: "portal".into(),
        key: "retry-me-7d1f".into(),
        fingerprint: [9; 32],
    };
    let submit = || {
        let command = Command::Register {
            form: valid_form(3),
            channel: Channel::Portal,
        };
        runtime().block_on(app.service().submit_idempotent(
            command,
            Actor::portal(),
            Some(idempotency.clone()),
        ))
    };
    let Outcome::Registered { access_code, .. } = submit().unwrap() else {
        panic!("a registration answers Registered")
    };
    let Outcome::Replayed(first) = submit().unwrap() else {
        panic!("the retry is a replay")
    };
    let Outcome::Registered {
        access_code: again, ..
    } = *first
    else {
        panic!("of the registration")
    };
    assert_eq!(again, access_code);
    let conn = rusqlite::Connection::open(&app.path).unwrap();
    let (key, outcome): (String, String) = conn
        .query_row("SELECT key, outcome FROM idempotency_keys", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    assert!(!key.contains("retry-me"), "{key}");
    assert!(!outcome.contains(&access_code), "{outcome}");
    assert!(!outcome.contains("Registered"), "{outcome}");
}
