//! Free places and referrals, exactly: who gets a place, when a referral lapses (across a
//! weekend, a public holiday, an extension, a restart), the stop list, hand-in, decline and
//! revocation, aging out, and the 1 : 3 interleave. Time is a manual clock; nothing sleeps.

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::{child_iin, date, valid_form, TestApp};
use kezek::domain::application::{Application, ApplicationStatus, RegistrationForm};
use kezek::domain::calendar::end_of_local_day;
use kezek::domain::catalog::{AgeBand, Language, Tier};
use kezek::domain::event::{chain_hash, Actor, Event};
use kezek::domain::referral::{DistrictPolicy, Extension, Referral, ReferralStatus, Validity};
use kezek::service::{Command, CommandError, NewPlaces, Outcome};
use kezek::verify::verify;

/// A form for a child born in 2022 who wants a place from today (2026-11-20).
fn form_now(serial: u16) -> RegistrationForm {
    let mut form = valid_form(serial);
    form.desired_start = "2026-11-20".into();
    form
}

fn with_priority(mut form: RegistrationForm, category: &str) -> RegistrationForm {
    form.priority_category = Some(category.into());
    form.priority_document = Some("№ 1".into());
    form
}

/// `count` places of kindergarten 1, Kazakh, for children born in `band`, free from
/// `available_from`; answers the referrals they became at once.
fn report(
    app: &TestApp,
    band: AgeBand,
    count: u32,
    available_from: chrono::NaiveDate,
) -> Vec<Referral> {
    let new = NewPlaces {
        kindergarten: app.kindergartens[0],
        group: None,
        age_band: Some(band),
        language: Some(Language::KAZAKH),
        count,
        available_from,
    };
    match app
        .service()
        .submit_blocking(Command::ReportPlaces(new), Actor::staff("kg-1"))
        .unwrap()
    {
        Outcome::PlacesReported { referrals, .. } => referrals,
        other => panic!("{other:?}"),
    }
}

/// Places for the children born in 2022, free today.
fn places(app: &TestApp, count: u32) -> Vec<Referral> {
    let today = kezek::domain::local_date(kezek::clock::Clock::now(&app.clock));
    let band = AgeBand::new(date(2022, 1, 1), date(2022, 12, 31)).unwrap();
    report(app, band, count, today)
}

fn register_at(app: &TestApp, form: RegistrationForm) -> Application {
    let application = app.register(form).unwrap();
    app.clock.advance(Duration::minutes(1));
    application
}

fn verify_priority(app: &TestApp, application: &Application) {
    let command = Command::VerifyPriority { id: application.id };
    app.service()
        .submit_blocking(command, Actor::staff("officer"))
        .unwrap();
}

fn status(app: &TestApp, application: &Application) -> ApplicationStatus {
    let conn = rusqlite::Connection::open(&app.path).unwrap();
    let text: String = conn
        .query_row(
            "SELECT status FROM applications WHERE district_id = ?1 AND registration_number = ?2",
            [application.id.district.0, application.id.number.0],
            |r| r.get(0),
        )
        .unwrap();
    serde_json::from_value(serde_json::Value::String(text)).unwrap()
}

#[test]
fn places_go_in_queue_order_a_verified_priority_first_and_leftovers_wait_for_a_fit() {
    let app = TestApp::spawn();
    let first = register_at(&app, form_now(1));
    let second = register_at(&app, form_now(2));
    let priority = register_at(&app, with_priority(form_now(3), "large_family"));
    verify_priority(&app, &priority);
    let mut russian = form_now(4);
    russian.language = "ru".into();
    let russian = register_at(&app, russian);

    let issued = places(&app, 4);
    let got: Vec<_> = issued.iter().map(|r| r.application).collect();
    assert_eq!(
        got,
        [priority.id, first.id, second.id],
        "the Russian-group child does not fit"
    );
    assert_eq!(
        app.service()
            .read()
            .open_places
            .values()
            .map(|o| o.len())
            .sum::<usize>(),
        1
    );
    assert_eq!(status(&app, &russian), ApplicationStatus::Queued);

    // The open place goes to the first child who fits it, at registration.
    let Outcome::Registered {
        application,
        referral,
        ..
    } = app
        .service()
        .submit_blocking(
            Command::Register {
                form: form_now(5),
                channel: kezek::domain::application::Channel::Portal,
            },
            Actor::portal(),
        )
        .unwrap()
    else {
        panic!()
    };
    let referral = referral.expect("a waiting place fits: the answer is a referral");
    assert_eq!(referral.application, application.id);
    assert_eq!(application.status, ApplicationStatus::Referred);
    assert!(app
        .service()
        .read()
        .open_places
        .values()
        .all(|o| o.is_empty()));
    if let Err(error) = verify(&app.path) {
        panic!("verify: {error}");
    }
}

#[test]
fn a_referral_is_valid_to_the_end_of_the_fifth_working_day_across_the_weekend() {
    let app = TestApp::spawn();
    register_at(&app, form_now(1));
    let referral = &places(&app, 1)[0];
    // Issued Friday 20 Nov: counted Mon 23 .. Fri 27; lapses at local midnight.
    assert_eq!(referral.valid_until, end_of_local_day(date(2026, 11, 27)));
    assert_eq!(
        referral.valid_until,
        Utc.with_ymd_and_hms(2026, 11, 27, 19, 0, 0).unwrap()
    );
}

#[test]
fn a_public_holiday_is_not_a_working_day() {
    let app = TestApp::spawn();
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 12, 14, 5, 0, 0).unwrap());
    let mut form = form_now(1);
    form.desired_start = "2026-12-14".into();
    register_at(&app, form);
    let referrals = places(&app, 1);
    // Mon 14 Dec: 15, (16 Independence Day), 17, 18, (weekend), 21, 22.
    assert_eq!(
        referrals[0].valid_until,
        end_of_local_day(date(2026, 12, 22))
    );
}

#[test]
fn expiry_passes_the_place_on_at_the_deadline_and_the_stop_list_holds_the_child_ten_days() {
    let app = TestApp::spawn();
    let first = register_at(&app, form_now(1));
    let second = register_at(&app, form_now(2));
    let third = register_at(&app, form_now(3));
    let referral = places(&app, 1).remove(0);
    assert_eq!(referral.application, first.id);

    // The timer runs too when the clock moves; `tick_blocking` only makes sure that
    // everything due has been processed, by whichever got there first.
    app.clock.set(referral.valid_until - Duration::seconds(1));
    app.service().tick_blocking().unwrap();
    assert!(
        app.service().read().live.contains_key(&referral.id),
        "not a second early"
    );
    app.clock.set(referral.valid_until);
    app.service().tick_blocking().unwrap();
    assert!(!app.service().read().live.contains_key(&referral.id));
    let state = app.service().read();
    let next = state.live.values().next().unwrap();
    assert_eq!(
        next.referral.application, second.id,
        "the place went straight to the next child"
    );
    let held_until = state.held[&first.id];
    assert_eq!(held_until, referral.valid_until + Duration::days(10));
    let position = state.waiting.position(first.id).unwrap();
    assert_eq!(
        position.in_cohort, 1,
        "on the stop list the child keeps its place in the order"
    );
    drop(state);
    assert_eq!(status(&app, &first), ApplicationStatus::Queued);

    // While stop-listed, a new place skips the child.
    let skipped = places(&app, 1).remove(0);
    assert_eq!(skipped.application, third.id);

    // When the stop list ends, an open place that fits goes to the child at once.
    places(&app, 1); // nobody fits now: it stays open
    app.clock.set(held_until);
    app.service().tick_blocking().unwrap();
    assert!(!app.service().read().held.contains_key(&first.id));
    assert_eq!(status(&app, &first), ApplicationStatus::Referred);
    if let Err(error) = verify(&app.path) {
        panic!("verify: {error}");
    }
}

#[test]
fn the_timer_expires_referrals_by_itself_when_the_clock_moves() {
    let app = TestApp::spawn();
    register_at(&app, form_now(1));
    let referral = places(&app, 1).remove(0);
    app.clock.set(referral.valid_until + Duration::minutes(1));
    // No explicit tick: the scheduler was woken by the manual clock.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.service().read().live.contains_key(&referral.id) {
        assert!(
            std::time::Instant::now() < deadline,
            "the timer did not expire the referral"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn an_extension_is_granted_once_up_to_thirty_calendar_days_from_issue() {
    let app = TestApp::spawn();
    register_at(&app, form_now(1));
    register_at(&app, form_now(2));
    let referral = places(&app, 1).remove(0);
    let extend = Command::Extend {
        referral: referral.id,
    };
    let Outcome::Referral(extended) = app
        .service()
        .submit_blocking(extend.clone(), Actor::portal())
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        extended.valid_until,
        end_of_local_day(date(2026, 12, 20)),
        "issued 20 Nov + 30 days"
    );
    assert!(extended.extended);
    let again = app.service().submit_blocking(extend, Actor::portal());
    assert!(matches!(again, Err(CommandError::Conflict(_))), "{again:?}");

    app.clock.set(referral.valid_until + Duration::days(1));
    app.service().tick_blocking().unwrap();
    assert!(
        app.service().read().live.contains_key(&referral.id),
        "the old deadline no longer counts"
    );
    app.clock.set(extended.valid_until);
    app.service().tick_blocking().unwrap();
    assert!(!app.service().read().live.contains_key(&referral.id));
}

#[test]
fn a_deadline_that_passed_while_the_service_was_down_is_honoured_once_at_start() {
    let mut app = TestApp::spawn();
    let first = register_at(&app, form_now(1));
    let second = register_at(&app, form_now(2));
    let referral = places(&app, 1).remove(0);
    app.stop();
    app.clock.set(referral.valid_until + Duration::days(3));
    app.restart_stopped();
    let state = app.service().read();
    assert!(
        !state.live.contains_key(&referral.id),
        "expired at start, before serving"
    );
    assert_eq!(
        state.live.values().next().unwrap().referral.application,
        second.id
    );
    // The lapse counts from the deadline, not from when the service noticed.
    assert_eq!(
        state.held[&first.id],
        referral.valid_until + Duration::days(10)
    );
    drop(state);
    let events = |app: &TestApp| -> i64 {
        rusqlite::Connection::open(&app.path)
            .unwrap()
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap()
    };
    let lapsed_at: String = rusqlite::Connection::open(&app.path)
        .unwrap()
        .query_row(
            "SELECT payload FROM events WHERE kind = 'referral_lapsed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        lapsed_at.contains(
            &referral
                .valid_until
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        ),
        "{lapsed_at}"
    );
    let before = events(&app);
    app.restart();
    assert_eq!(app.service().tick_blocking().unwrap(), Default::default());
    assert_eq!(events(&app), before, "nothing is processed twice");
    if let Err(error) = verify(&app.path) {
        panic!("verify: {error}");
    }
}

#[test]
fn hand_in_is_for_the_referral_s_own_kindergarten_and_completes_the_application() {
    let app = TestApp::spawn();
    let child = register_at(&app, form_now(1));
    let referral = places(&app, 1).remove(0);
    let wrong = Command::HandIn {
        referral: referral.id,
        by: app.kindergartens[1],
    };
    assert!(matches!(
        app.service().submit_blocking(wrong, Actor::staff("kg-2")),
        Err(CommandError::Forbidden(_))
    ));
    let right = Command::HandIn {
        referral: referral.id,
        by: app.kindergartens[0],
    };
    let Outcome::Referral(done) = app
        .service()
        .submit_blocking(right.clone(), Actor::staff("kg-1"))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(done.status, ReferralStatus::HandedIn);
    assert_eq!(status(&app, &child), ApplicationStatus::Enrolled);
    let twice = app.service().submit_blocking(right, Actor::staff("kg-1"));
    assert!(matches!(twice, Err(CommandError::Conflict(_))), "{twice:?}");
    // The child is free to be registered again only because it left the queue system
    // enrolled; its place is filled, not reopened.
    assert!(app.service().read().places.is_empty());
    if let Err(error) = verify(&app.path) {
        panic!("verify: {error}");
    }
}

#[test]
fn a_decline_or_a_revocation_gives_the_place_to_the_next_child_in_the_same_command() {
    let app = TestApp::spawn();
    let first = register_at(&app, with_priority(form_now(1), "orphan"));
    verify_priority(&app, &first);
    let second = register_at(&app, form_now(2));
    let third = register_at(&app, form_now(3));
    let referral = places(&app, 1).remove(0);
    assert_eq!(referral.application, first.id);

    let revoke = Command::Revoke {
        referral: referral.id,
        reason: "the document was forged".into(),
        priority_unconfirmed: true,
    };
    let Outcome::Lapsed { next } = app
        .service()
        .submit_blocking(revoke, Actor::staff("officer"))
        .unwrap()
    else {
        panic!()
    };
    let next = next.expect("the next child gets the place");
    assert_eq!(next.application, second.id);
    let state = app.service().read();
    let demoted = state.waiting.get(first.id).unwrap();
    assert_eq!(
        demoted.key.tier,
        Tier::General,
        "an unconfirmed priority drops to the general tier"
    );
    assert_eq!(
        demoted.key.registered_at_micros,
        first.registered_at.timestamp_micros(),
        "keeping its time"
    );
    drop(state);

    let decline = Command::Decline { referral: next.id };
    let Outcome::Lapsed { next } = app
        .service()
        .submit_blocking(decline, Actor::portal())
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        next.unwrap().application,
        third.id,
        "the first two are on the stop list"
    );
    let no_reason = Command::Revoke {
        referral: referral.id,
        reason: " ".into(),
        priority_unconfirmed: false,
    };
    assert!(app
        .service()
        .submit_blocking(no_reason, Actor::staff("officer"))
        .is_err());
    if let Err(error) = verify(&app.path) {
        panic!("verify: {error}");
    }
}

#[test]
fn a_child_reaching_school_age_leaves_the_queue_by_itself() {
    let app = TestApp::spawn();
    let mut form = form_now(1);
    // Born 10 Sep 2020: six after 1 Sep 2026, so school from 1 Sep 2027.
    form.child_iin = child_iin(date(2020, 9, 10), 1);
    form.child_birth_date = "2020-09-10".into();
    let older = register_at(&app, form);
    let younger = register_at(&app, form_now(2));
    app.clock
        .set(Utc.with_ymd_and_hms(2027, 8, 31, 18, 59, 0).unwrap());
    app.service().tick_blocking().unwrap();
    assert_eq!(
        status(&app, &older),
        ApplicationStatus::Queued,
        "still 31 August in Astana"
    );
    app.clock
        .set(Utc.with_ymd_and_hms(2027, 8, 31, 19, 0, 0).unwrap());
    app.service().tick_blocking().unwrap();
    assert_eq!(status(&app, &older), ApplicationStatus::AgedOut);
    assert!(app.service().position(older.id).is_none());
    assert_eq!(app.service().position(younger.id).unwrap().in_cohort, 1);
    if let Err(error) = verify(&app.path) {
        panic!("verify: {error}");
    }
}

/// A referral that expires at the end of 31 August frees its place at the very midnight
/// the next child in line reaches school age: that child must leave the queue first, not
/// take a place it can no longer use (found by `kezek simulate`'s audit of who fits).
#[test]
fn a_place_freed_at_the_midnight_a_child_reaches_school_age_does_not_go_to_that_child() {
    let app = TestApp::spawn();
    // Born 10 and 11 Sep 2020: six after 1 Sep 2026, so both go to school on 1 Sep 2027.
    let holder = register_at(&app, born_on(1, date(2020, 9, 10)));
    let next = register_at(&app, born_on(2, date(2020, 9, 11)));
    let end_of_august = end_of_local_day(date(2027, 8, 31));
    let issue_day = (16..31)
        .map(|day| Utc.with_ymd_and_hms(2027, 8, day, 4, 0, 0).unwrap())
        .find(|at| {
            DistrictPolicy::default().validity_end(*at, &app.service().read().catalog.calendar)
                == end_of_august
        })
        .expect("a day whose referral is valid to the end of 31 August");
    app.clock.set(issue_day);
    app.service().tick_blocking().unwrap();
    let band = AgeBand::new(date(2020, 1, 1), date(2020, 12, 31)).unwrap();
    let referrals = report(&app, band, 1, kezek::domain::local_date(issue_day));
    assert_eq!(referrals[0].application, holder.id);
    assert_eq!(referrals[0].valid_until, end_of_august);

    app.clock.set(end_of_august);
    app.service().tick_blocking().unwrap();

    assert_eq!(status(&app, &holder), ApplicationStatus::AgedOut);
    assert_eq!(status(&app, &next), ApplicationStatus::AgedOut);
    assert!(
        app.service().read().live.is_empty(),
        "the place waits for a child who fits"
    );
    if let Err(error) = verify(&app.path) {
        panic!("verify: {error}");
    }
}

/// A child born on `birth` (in 2020 or 2021), wanting a place from 20 November 2026; its IIN
/// is distinct per `serial`.
fn born_on(serial: u16, birth: chrono::NaiveDate) -> RegistrationForm {
    let mut form = form_now(serial);
    form.child_iin = child_iin(birth, serial * 2);
    form.child_birth_date = birth.format("%Y-%m-%d").to_string();
    form
}

/// One place for the children born in 2020 and 2021, free from `from`.
fn places_from(app: &TestApp, from: chrono::NaiveDate) -> Vec<Referral> {
    let band = AgeBand::new(date(2020, 1, 1), date(2021, 12, 31)).unwrap();
    report(app, band, 1, from)
}

/// The August intake: places reported in August are free from 1 September, the day the
/// oldest children go to school. Such a child is first in the queue but cannot use the
/// place, so the place goes to the next child who can; a place free at once still goes to
/// the older child, of preschool age for ten more days.
#[test]
fn a_place_free_from_the_day_a_child_goes_to_school_goes_to_the_next_child() {
    let app = TestApp::spawn();
    // Born 10 Sep 2020: school from 1 Sep 2027.
    let older = register_at(&app, born_on(1, date(2020, 9, 10)));
    let younger = register_at(&app, born_on(2, date(2021, 10, 1)));
    app.clock
        .set(Utc.with_ymd_and_hms(2027, 8, 21, 4, 0, 0).unwrap());
    app.service().tick_blocking().unwrap();

    let september = places_from(&app, date(2027, 9, 1));
    assert_eq!(september.len(), 1);
    assert_eq!(september[0].application, younger.id);

    let at_once = places_from(&app, date(2027, 8, 21));
    assert_eq!(at_once.len(), 1);
    assert_eq!(at_once[0].application, older.id);
    if let Err(error) = verify(&app.path) {
        panic!("verify: {error}");
    }
}

/// A band whose children have all reached school age by the places' date would leave them
/// open for ever; the report is refused and nothing is stored.
#[test]
fn places_only_children_of_school_age_could_take_are_refused() {
    let app = TestApp::spawn();
    let places_for = |born_to: chrono::NaiveDate, from: chrono::NaiveDate| NewPlaces {
        kindergarten: app.kindergartens[0],
        group: None,
        age_band: Some(AgeBand::new(date(2019, 1, 1), born_to).unwrap()),
        language: Some(Language::KAZAKH),
        count: 2,
        available_from: from,
    };
    let submit = |new| {
        app.service()
            .submit_blocking(Command::ReportPlaces(new), Actor::staff("kg-1"))
    };
    // On 20 November 2026, children born in 2019 go to school (since 1 September 2026).
    let refused = submit(places_for(date(2019, 12, 31), date(2026, 11, 20)));
    match refused {
        Err(CommandError::Invalid(reason)) => assert!(reason.contains("school age"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // Born up to 1 September 2021, they are six by 1 September 2027 and go to school then.
    let refused = submit(places_for(date(2021, 9, 1), date(2027, 9, 1)));
    assert!(
        matches!(refused, Err(CommandError::Invalid(_))),
        "{refused:?}"
    );
    assert!(app.service().read().places.is_empty(), "nothing stored");
    // One day more in the band, and a child born on 2 September 2021 could take it.
    assert!(submit(places_for(date(2021, 9, 2), date(2027, 9, 1))).is_ok());
    assert_eq!(app.service().read().places.len(), 2);
}

/// A command that runs after midnight but before the day's tick (a busy writer, a restart
/// at 00:00) still sees the day: a child who reached school age at that midnight, and is
/// still listed until the sweep runs, does not take a place.
#[test]
fn a_place_reported_after_midnight_before_the_sweep_skips_a_child_now_of_school_age() {
    let app = TestApp::spawn();
    let older = register_at(&app, born_on(1, date(2020, 9, 10)));
    let younger = register_at(&app, born_on(2, date(2021, 10, 1)));
    // 00:00:30 on 1 September in Astana; the timer is not woken, so nothing has swept yet.
    app.clock
        .set_without_waking(Utc.with_ymd_and_hms(2027, 8, 31, 19, 0, 30).unwrap());
    assert_eq!(status(&app, &older), ApplicationStatus::Queued);

    let referrals = places_from(&app, date(2027, 9, 1));

    assert_eq!(referrals.len(), 1);
    assert_eq!(referrals[0].application, younger.id);
    app.service().tick_blocking().unwrap();
    assert_eq!(status(&app, &older), ApplicationStatus::AgedOut);
    if let Err(error) = verify(&app.path) {
        panic!("verify: {error}");
    }
}

#[test]
fn with_the_interleave_policy_referrals_follow_one_first_priority_then_three_general_across_restarts(
) {
    let mut app = TestApp::spawn();
    let policy = DistrictPolicy {
        interleave_first_priority: true,
        ..DistrictPolicy::default()
    };
    set_policy(&app, policy);
    // General children registered first, first-priority ones later: plain key order would
    // serve every first-priority child before any general one.
    let mut tiers = std::collections::HashMap::new();
    for serial in 1..=9u16 {
        let application = register_at(&app, form_now(serial));
        tiers.insert(application.id, Tier::General);
    }
    for serial in 10..=12u16 {
        let application = register_at(&app, with_priority(form_now(serial), "large_family"));
        verify_priority(&app, &application);
        tiers.insert(application.id, Tier::First);
    }
    let out_of_turn = register_at(&app, with_priority(form_now(13), "military_family"));
    verify_priority(&app, &out_of_turn);
    tiers.insert(out_of_turn.id, Tier::OutOfTurn);

    let mut sequence = Vec::new();
    for round in 0..13 {
        let referral = places(&app, 1).remove(0);
        sequence.push(tiers[&referral.application]);
        if round % 3 == 2 {
            app.restart();
        }
    }
    use Tier::{First as F, General as G, OutOfTurn as O};
    assert_eq!(sequence, [O, F, G, G, G, F, G, G, G, F, G, G, G]);
    if let Err(error) = verify(&app.path) {
        panic!("verify: {error}");
    }
}

/// A real clock has nanoseconds; the tables keep microseconds. Every instant the journal
/// records must be one the rows can hold, or `verify` would find the two apart.
#[test]
fn a_clock_with_nanoseconds_leaves_a_journal_that_verifies() {
    let mut app = TestApp::spawn();
    app.clock
        .set(kezek::clock::Clock::now(&app.clock) + Duration::nanoseconds(123_456_789));
    let first = register_at(&app, form_now(1));
    let second = register_at(&app, form_now(2));
    let issued = places(&app, 1);
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].application, first.id);
    assert_eq!(issued[0].issued_at.timestamp_subsec_nanos() % 1000, 0);
    app.clock.advance(Duration::nanoseconds(987_654_321));
    let next = app
        .service()
        .submit_blocking(
            Command::Decline {
                referral: issued[0].id,
            },
            Actor::portal(),
        )
        .unwrap();
    let Outcome::Lapsed { next: Some(next) } = next else {
        panic!("the place goes to the second child: {next:?}");
    };
    assert_eq!(next.application, second.id);
    app.stop();
    verify(&app.path).unwrap();
}

fn set_policy(app: &TestApp, policy: DistrictPolicy) {
    app.service()
        .submit_blocking(
            Command::SetPolicy {
                district: app.district,
                policy,
            },
            Actor::staff("admin"),
        )
        .unwrap();
}

/// The district's validity rule decides the deadline: seed 000's "within 5 days" counts
/// calendar days, seed 004's "within a month" runs to the same date of the next month.
#[test]
fn the_district_chooses_working_days_calendar_days_or_a_month() {
    let cases = [
        (Validity::WorkingDays { days: 5 }, date(2026, 11, 27)),
        (Validity::CalendarDays { days: 5 }, date(2026, 11, 25)),
        (Validity::CalendarMonth, date(2026, 12, 20)),
    ];
    for (validity, last_day) in cases {
        let app = TestApp::spawn();
        set_policy(
            &app,
            DistrictPolicy {
                validity,
                ..DistrictPolicy::default()
            },
        );
        register_at(&app, form_now(1));
        // Issued Friday 20 November 2026.
        let referral = places(&app, 1).remove(0);
        assert_eq!(
            referral.valid_until,
            end_of_local_day(last_day),
            "{validity:?}"
        );
        if let Err(error) = verify(&app.path) {
            panic!("verify: {error}");
        }
    }
}

#[test]
fn a_district_that_does_not_extend_refuses_an_extension_and_stores_nothing() {
    let app = TestApp::spawn();
    set_policy(
        &app,
        DistrictPolicy {
            extension: Extension::NotAllowed,
            ..DistrictPolicy::default()
        },
    );
    register_at(&app, form_now(1));
    let referral = places(&app, 1).remove(0);
    let refused = app.service().submit_blocking(
        Command::Extend {
            referral: referral.id,
        },
        Actor::portal(),
    );
    assert!(
        matches!(
            refused,
            Err(CommandError::Conflict(
                "the district does not extend referrals"
            ))
        ),
        "{refused:?}"
    );
    let state = app.service().read();
    let live = &state.live[&referral.id].referral;
    assert_eq!(live.valid_until, referral.valid_until);
    assert!(!live.extended);
}

/// A journal written before the validity rule could be chosen holds `PolicySet` in its first
/// shape. Appended to a database (chained as the writer would), it must decode to the policy
/// it meant: the tables already hold that policy, so `verify` passes only if the replay of
/// the old payload gives exactly it.
#[test]
fn a_policy_in_the_first_journal_shape_replays_to_the_same_policy() {
    let mut app = TestApp::spawn();
    let policy = DistrictPolicy {
        validity: Validity::WorkingDays { days: 7 },
        extension: Extension::Once {
            calendar_days_after_issue: 20,
        },
        stop_list_days: 12,
        interleave_first_priority: true,
        ..DistrictPolicy::default()
    };
    set_policy(&app, policy);
    app.stop();
    let old_payload = format!(
        r#"{{"type":"policy_set","data":{{"district":{},"policy":{{"referral_validity_working_days":7,"extension_calendar_days":20,"stop_list_days":12,"interleave_first_priority":true}}}}}}"#,
        app.district.0
    );
    let decoded = Event::from_payload(&old_payload).unwrap();
    assert_eq!(
        decoded,
        Event::PolicySet {
            district: app.district,
            policy
        }
    );
    append_raw_event(&app.path, "policy_set", &old_payload);
    if let Err(error) = verify(&app.path) {
        panic!("verify: {error}");
    }
    app.restart_stopped();
    assert_eq!(app.service().read().policy(app.district), policy);
}

/// Appends an event with exactly `payload` to the journal, sealed onto the chain.
fn append_raw_event(path: &std::path::Path, kind: &str, payload: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let (seq, recorded_at, prev_hash): (u64, i64, Vec<u8>) = conn
        .query_row(
            "SELECT seq, recorded_at, hash FROM events ORDER BY seq DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    let prev_hash: [u8; 32] = prev_hash.try_into().unwrap();
    let (seq, actor) = (seq + 1, "staff:admin");
    let hash = chain_hash(&prev_hash, seq, recorded_at, actor, kind, payload);
    conn.execute(
        "INSERT INTO events (seq, recorded_at, actor, kind, payload, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![
            seq,
            recorded_at,
            actor,
            kind,
            payload,
            &prev_hash[..],
            &hash[..]
        ],
    )
    .unwrap();
}

/// The head of the education department is catalog data: journaled, replayed by `verify`,
/// and back after a restart; a name that is no name is refused with nothing stored.
#[test]
fn the_education_head_is_journaled_replayed_and_rebuilt_at_start() {
    let mut app = TestApp::spawn();
    let set = |name: &str| {
        app.service().submit_blocking(
            Command::SetEducationHead {
                district: app.district,
                full_name: name.into(),
            },
            Actor::staff("admin"),
        )
    };
    let refused = set("42");
    assert!(
        matches!(refused, Err(CommandError::Refused(_))),
        "{refused:?}"
    );
    assert!(app.service().read().catalog.education_heads.is_empty());
    set("Жұмабеков  Ерлан").unwrap();
    set("Омарова Гүлнар").unwrap();
    if let Err(error) = verify(&app.path) {
        panic!("verify: {error}");
    }
    app.restart();
    let state = app.service().read();
    assert_eq!(
        state
            .catalog
            .education_heads
            .get(&app.district)
            .map(String::as_str),
        Some("Омарова Гүлнар")
    );
}
