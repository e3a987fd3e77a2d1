//! Issue 15, items 3 and 4 below the pages: a kindergarten head withdraws a place reported
//! by mistake and marks a child left (the place goes on at once, in one command); an
//! administrator edits and closes groups, keeps priority categories and staff accounts in
//! the journal. Each refusal stores nothing; each change survives a restart and is in
//! `kezek verify`'s replay.

mod common;

use common::{add_staff, date, names, valid_form, TestApp};
use kezek::domain::application::{ApplicationStatus, RegistrationForm};
use kezek::domain::catalog::{AgeBand, GroupId, Language, PriorityCategory, Tier};
use kezek::domain::event::Actor;
use kezek::domain::referral::PlaceId;
use kezek::domain::staff::{Role, Scope, StaffAccount};
use kezek::service::{Command, CommandError, NewPlaces, Outcome};
use kezek::verify::verify;

const GROUP: GroupId = GroupId(1);

fn form_now(serial: u16) -> RegistrationForm {
    let mut form = valid_form(serial);
    form.desired_start = "2026-11-20".into();
    form
}

fn run(app: &TestApp, command: Command) -> Result<Outcome, CommandError> {
    app.service().submit_blocking(command, Actor::staff("kg-1"))
}

fn report_to_group(app: &TestApp, count: u32) -> Outcome {
    run(
        app,
        Command::ReportPlaces(NewPlaces {
            kindergarten: app.kindergartens[0],
            group: Some(GROUP),
            age_band: None,
            language: None,
            count,
            available_from: date(2026, 11, 20),
        }),
    )
    .unwrap()
}

fn events_count(app: &TestApp) -> u64 {
    verify(&app.path).unwrap().events
}

#[test]
fn a_child_who_left_frees_its_place_for_the_next_child_in_one_command() {
    let mut app = TestApp::spawn();
    let first = app.register(form_now(1)).unwrap();
    let Outcome::PlacesReported { referrals, .. } = report_to_group(&app, 1) else {
        panic!()
    };
    assert_eq!(referrals[0].application, first.id);
    run(
        &app,
        Command::HandIn {
            referral: referrals[0].id,
            by: app.kindergartens[0],
        },
    )
    .unwrap();
    let second = app.register(form_now(2)).unwrap();
    assert_eq!(second.status, ApplicationStatus::Queued);

    // Another kindergarten cannot mark it; nothing is stored.
    let before = events_count(&app);
    let refused = run(
        &app,
        Command::MarkLeft {
            id: first.id,
            by: app.kindergartens[1],
        },
    );
    assert!(
        matches!(refused, Err(CommandError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(events_count(&app), before);

    let outcome = run(
        &app,
        Command::MarkLeft {
            id: first.id,
            by: app.kindergartens[0],
        },
    )
    .unwrap();
    let Outcome::Left { next: Some(next) } = outcome else {
        panic!("the freed place went to nobody: {outcome:?}")
    };
    assert_eq!(next.application, second.id);
    assert_eq!(next.kindergarten, app.kindergartens[0]);
    // Twice is refused with its own reason.
    let again = run(
        &app,
        Command::MarkLeft {
            id: first.id,
            by: app.kindergartens[0],
        },
    );
    assert!(
        matches!(
            again,
            Err(CommandError::Conflict(
                "the child is not enrolled in this kindergarten"
            ))
        ),
        "{again:?}"
    );

    app.restart();
    let state = app.service().read();
    assert!(!state.enrolled.contains_key(&first.id));
    assert!(state.referral_of.contains_key(&second.id));
    drop(state);
    verify(&app.path).expect("the journal replays to the same tables and state");
}

#[test]
fn a_place_reported_by_mistake_is_withdrawn_once_and_only_by_its_kindergarten() {
    let mut app = TestApp::spawn();
    // Nobody is registered: the place stays open.
    let Outcome::PlacesReported { places, referrals } = report_to_group(&app, 1) else {
        panic!()
    };
    assert!(referrals.is_empty());
    let place = places[0];
    let other = run(
        &app,
        Command::WithdrawPlace {
            place,
            by: app.kindergartens[1],
        },
    );
    assert!(
        matches!(other, Err(CommandError::Forbidden(_))),
        "{other:?}"
    );
    run(
        &app,
        Command::WithdrawPlace {
            place,
            by: app.kindergartens[0],
        },
    )
    .unwrap();
    let again = run(
        &app,
        Command::WithdrawPlace {
            place,
            by: app.kindergartens[0],
        },
    );
    assert!(
        matches!(again, Err(CommandError::Conflict("the place is not open"))),
        "{again:?}"
    );
    let unknown = run(
        &app,
        Command::WithdrawPlace {
            place: PlaceId(99),
            by: app.kindergartens[0],
        },
    );
    assert!(
        matches!(unknown, Err(CommandError::NotFound)),
        "{unknown:?}"
    );
    // A child registered now does not get the withdrawn place.
    let child = app.register(form_now(3)).unwrap();
    assert_eq!(child.status, ApplicationStatus::Queued);
    app.restart();
    assert!(app.service().read().open_places.is_empty());
    verify(&app.path).expect("replay");
}

#[test]
fn a_closed_group_withdraws_its_open_places_and_takes_no_new_ones() {
    let mut app = TestApp::spawn();
    report_to_group(&app, 2);
    let Outcome::GroupClosed { withdrawn } = run(&app, Command::CloseGroup { id: GROUP }).unwrap()
    else {
        panic!()
    };
    assert_eq!(withdrawn, 2);
    let refused = run(
        &app,
        Command::ReportPlaces(NewPlaces {
            kindergarten: app.kindergartens[0],
            group: Some(GROUP),
            age_band: None,
            language: None,
            count: 1,
            available_from: date(2026, 11, 20),
        }),
    );
    assert!(
        matches!(refused, Err(CommandError::Conflict("the group is closed"))),
        "{refused:?}"
    );
    let edited = run(
        &app,
        Command::ChangeGroup {
            id: GROUP,
            name: "Балапан".into(),
            language: Language::RUSSIAN,
            age_band: AgeBand::new(date(2021, 1, 1), date(2021, 12, 31)).unwrap(),
            capacity: 25,
        },
    );
    assert!(edited.is_ok(), "{edited:?}");
    app.restart();
    let group = app.service().read().catalog.groups[&GROUP].clone();
    assert!(group.closed);
    assert_eq!(group.name, "Балапан");
    assert_eq!(group.capacity, 25);
    verify(&app.path).expect("replay");
}

#[test]
fn categories_and_staff_accounts_are_journaled_and_the_last_administrator_stays() {
    let mut app = TestApp::spawn();
    add_staff(&app.path, "root", Role::Admin, Scope::Everywhere);
    let category = PriorityCategory {
        code: "large_family_plus".into(),
        tier: Tier::First,
        names: names("Көп балалы"),
        document: names("Анықтама"),
        retired: false,
        attachment_required: false,
    };
    run(&app, Command::CreateCategory(category.clone())).unwrap();
    let twice = run(&app, Command::CreateCategory(category.clone()));
    assert!(matches!(
        twice,
        Err(CommandError::Conflict("the category exists already"))
    ));
    // A claim of it, then it is retired: the claim stays, new claims are refused.
    let mut form = form_now(4);
    form.priority_category = Some("large_family_plus".into());
    form.priority_document = Some("№ 7".into());
    let claimant = app.register(form).unwrap();
    run(
        &app,
        Command::RetireCategory {
            code: "large_family_plus".into(),
        },
    )
    .unwrap();
    let mut late = form_now(5);
    late.priority_category = Some("large_family_plus".into());
    late.priority_document = Some("№ 8".into());
    assert!(
        app.register(late).is_err(),
        "a retired category takes no new claim"
    );
    run(&app, Command::VerifyPriority { id: claimant.id }).unwrap();

    let created = run(
        &app,
        Command::CreateStaff(StaffAccount {
            name: "head-1".into(),
            role: Role::Kindergarten,
            scope: Scope::Kindergarten(app.kindergartens[0]),
        }),
    )
    .unwrap();
    let Outcome::StaffCreated { token } = created else {
        panic!()
    };
    assert!(token.starts_with("kzk_"));
    let wrong_scope = run(
        &app,
        Command::CreateStaff(StaffAccount {
            name: "head-2".into(),
            role: Role::Kindergarten,
            scope: Scope::District(app.district),
        }),
    );
    assert!(matches!(wrong_scope, Err(CommandError::Invalid(_))));
    run(
        &app,
        Command::ChangeStaff(StaffAccount {
            name: "head-1".into(),
            role: Role::Kindergarten,
            scope: Scope::Kindergarten(app.kindergartens[1]),
        }),
    )
    .unwrap();
    let last = run(
        &app,
        Command::RevokeStaff {
            name: "root".into(),
        },
    );
    assert!(
        matches!(last, Err(CommandError::Conflict("the last administrator"))),
        "{last:?}"
    );
    run(
        &app,
        Command::RevokeStaff {
            name: "head-1".into(),
        },
    )
    .unwrap();

    app.restart();
    let state = app.service().read();
    assert!(state.catalog.categories["large_family_plus"].retired);
    drop(state);
    let conn = rusqlite::Connection::open(&app.path).unwrap();
    let accounts = kezek::store::staff::list(&conn).unwrap();
    let head = accounts.iter().find(|(a, _)| a.name == "head-1").unwrap();
    assert_eq!(head.0.scope, Scope::Kindergarten(app.kindergartens[1]));
    assert!(head.1, "revoked");
    verify(&app.path).expect("replay");
}
