//! Signed documents rebuilt from the journal: authentic while unchanged, and in force only
//! while what they state still holds.

mod common;

use chrono::Duration;
use common::{valid_form, TestApp};
use kezek::clock::Clock;
use kezek::documents::{self, DocumentSigner};
use kezek::domain::application::RefusalReason;
use kezek::domain::document::{DocumentId, DocumentKind, Standing};
use kezek::domain::event::Actor;
use kezek::domain::referral::Referral;
use kezek::service::{Command, NewPlaces, Outcome};

fn form_now(serial: u16) -> kezek::domain::application::RegistrationForm {
    let mut form = valid_form(serial);
    form.desired_start = "2026-11-20".into();
    form
}

fn one_place(app: &TestApp) -> Referral {
    let today = kezek::domain::local_date(app.clock.now());
    let outcome = app
        .service()
        .submit_blocking(
            Command::ReportPlaces(NewPlaces {
                kindergarten: kezek::domain::catalog::KindergartenId(1),
                group: None,
                age_band: Some(kezek::domain::catalog::AgeBand {
                    born_from: common::date(2022, 1, 1),
                    born_to: common::date(2022, 12, 31),
                }),
                language: Some(kezek::domain::catalog::Language::KAZAKH),
                count: 1,
                available_from: today,
            }),
            Actor::staff("kindergarten-1"),
        )
        .unwrap();
    let Outcome::PlacesReported { mut referrals, .. } = outcome else {
        panic!("{outcome:?}")
    };
    referrals.pop().expect("the place fits the child")
}

fn reader(app: &TestApp) -> rusqlite::Connection {
    rusqlite::Connection::open(&app.path).unwrap()
}

#[test]
fn a_revoked_referral_verifies_as_authentic_but_no_longer_valid() {
    let app = TestApp::spawn();
    let signer = DocumentSigner::from_seed([3; 32]);
    app.register(form_now(1)).unwrap();
    let referral = one_place(&app);
    let catalog = app.service().read().catalog.clone();
    let built = documents::referral(&reader(&app), &catalog, referral.id, None, app.clock.now())
        .unwrap()
        .unwrap();
    assert_eq!(built.standing, Standing::InForce);
    assert_eq!(built.data.child_full_name, "Қасымова Әйгерім");
    assert!(built.data.home_address.is_some());
    assert_eq!(built.data.officer, "system");
    let signature = signer.sign(&built.data);
    let id = DocumentId::parse(&built.data.id).unwrap();
    assert_eq!(id.kind, DocumentKind::Referral);
    let check = |app: &TestApp| {
        documents::verify(
            &reader(app),
            &catalog,
            &signer,
            &id,
            None,
            &signature,
            app.clock.now(),
        )
        .unwrap()
        .unwrap()
    };
    let before = check(&app);
    assert!(before.authentic && before.valid, "{before:?}");

    app.service()
        .submit_blocking(
            Command::Revoke {
                referral: referral.id,
                reason: "құжаттар жалған".into(),
                priority_unconfirmed: false,
            },
            Actor::staff("officer-1"),
        )
        .unwrap();
    let after = check(&app);
    assert!(
        after.authentic,
        "the paper is still the one the service issued"
    );
    assert!(!after.valid, "but it no longer gives a place");
    assert_eq!(after.standing, Standing::Ended);
    // A signature made for another document does not make this one authentic.
    let other = documents::notice(&reader(&app), &catalog, referral.application, None)
        .unwrap()
        .unwrap();
    let forged = documents::verify(
        &reader(&app),
        &catalog,
        &signer,
        &id,
        None,
        &signer.sign(&other.data),
        app.clock.now(),
    )
    .unwrap()
    .unwrap();
    assert!(!forged.authentic && !forged.valid);
}

#[test]
fn an_extension_supersedes_the_first_paper_and_a_hand_in_uses_the_second() {
    let app = TestApp::spawn();
    let signer = DocumentSigner::from_seed([4; 32]);
    app.register(form_now(1)).unwrap();
    let referral = one_place(&app);
    let catalog = app.service().read().catalog.clone();
    let first = documents::referral(&reader(&app), &catalog, referral.id, None, app.clock.now())
        .unwrap()
        .unwrap();
    let first_signature = signer.sign(&first.data);
    app.service()
        .submit_blocking(
            Command::Extend {
                referral: referral.id,
            },
            Actor::portal(),
        )
        .unwrap();
    let id = DocumentId::parse(&first.data.id).unwrap();
    let verify = |version: Option<u32>, signature: &str| {
        documents::verify(
            &reader(&app),
            &catalog,
            &signer,
            &id,
            version,
            signature,
            app.clock.now(),
        )
        .unwrap()
        .unwrap()
    };
    let old = verify(Some(0), &first_signature);
    assert!(old.authentic && !old.valid);
    assert_eq!(old.standing, Standing::Superseded);
    let second = documents::referral(&reader(&app), &catalog, referral.id, None, app.clock.now())
        .unwrap()
        .unwrap();
    assert_eq!(second.data.version, 1);
    assert!(second.data.valid_until > first.data.valid_until);
    let second_signature = signer.sign(&second.data);
    assert!(verify(None, &second_signature).valid);
    // The first paper's signature does not pass for the second's data.
    assert!(!verify(None, &first_signature).authentic);

    app.service()
        .submit_blocking(
            Command::HandIn {
                referral: referral.id,
                by: kezek::domain::catalog::KindergartenId(1),
            },
            Actor::staff("kindergarten-1"),
        )
        .unwrap();
    let used = verify(None, &second_signature);
    assert!(used.authentic && !used.valid);
    assert_eq!(used.standing, Standing::Used);
}

#[test]
fn notice_and_refusal_carry_what_the_journal_says() {
    let app = TestApp::spawn();
    let signer = DocumentSigner::from_seed([5; 32]);
    let application = app.register(valid_form(1)).unwrap();
    let catalog = app.service().read().catalog.clone();
    let notice = documents::notice(&reader(&app), &catalog, application.id, None)
        .unwrap()
        .unwrap();
    assert_eq!(notice.data.application, "ESL-1");
    assert_eq!(notice.data.issued_at, application.registered_at);
    assert_eq!(notice.standing, Standing::InForce);
    assert!(documents::refusal(&reader(&app), &catalog, application.id)
        .unwrap()
        .is_none());
    let notice_signature = signer.sign(&notice.data);

    app.clock.advance(Duration::hours(3));
    app.service()
        .submit_blocking(
            Command::Refuse {
                id: application.id,
                reason: RefusalReason::DocumentsIncomplete,
                text: "Туу туралы куәлік көшірмесі жоқ".into(),
            },
            Actor::staff("officer-7"),
        )
        .unwrap();
    let refusal = documents::refusal(&reader(&app), &catalog, application.id)
        .unwrap()
        .unwrap();
    assert_eq!(refusal.data.officer, "officer-7");
    assert_eq!(
        refusal.data.refusal_reason,
        Some(RefusalReason::DocumentsIncomplete)
    );
    assert_eq!(refusal.data.issued_at, app.clock.now());
    assert_eq!(refusal.standing, Standing::InForce);
    // The notice is still authentic, but the application it announces is over.
    let id = DocumentId::parse(&notice.data.id).unwrap();
    let check = documents::verify(
        &reader(&app),
        &catalog,
        &signer,
        &id,
        None,
        &notice_signature,
        app.clock.now(),
    )
    .unwrap()
    .unwrap();
    assert!(check.authentic && !check.valid);
    assert_eq!(check.standing, Standing::Ended);
}

#[test]
fn a_rebinding_reissues_the_notice_naming_the_real_applicant_and_the_first_paper_still_verifies() {
    let app = TestApp::spawn();
    let signer = DocumentSigner::from_seed([6; 32]);
    let application = app.register(valid_form(1)).unwrap();
    let catalog = app.service().read().catalog.clone();
    let first = documents::notice(&reader(&app), &catalog, application.id, None)
        .unwrap()
        .unwrap();
    let squatter = application.applicant.full_name.clone();
    assert_eq!(first.data.applicant_full_name.as_deref(), Some(&*squatter));
    let first_signature = signer.sign(&first.data);

    app.clock.advance(Duration::hours(2));
    let real = kezek::domain::application::ApplicantForm {
        applicant_iin: "850303400109".into(),
        applicant_full_name: "Сейітова Айгүл Маратқызы".into(),
        applicant_relation: "mother".into(),
        applicant_phone: "+7 701 222 33 44".into(),
        applicant_email: None,
        applicant_address: "Астана, Сарыарқа 5, 6".into(),
    };
    let outcome = app
        .service()
        .submit_blocking(
            Command::ReissueAccessCode {
                id: application.id,
                contacts: None,
                applicant: Some(real),
            },
            Actor::staff("operator-1"),
        )
        .unwrap();
    assert!(matches!(outcome, Outcome::AccessCode(_)), "{outcome:?}");

    let second = documents::notice(&reader(&app), &catalog, application.id, None)
        .unwrap()
        .unwrap();
    assert_eq!(second.latest_version, 1);
    assert_eq!(second.data.version, 1);
    assert_eq!(
        second.data.applicant_full_name.as_deref(),
        Some("Сейітова Айгүл Маратқызы")
    );
    assert_eq!(second.data.issued_at, app.clock.now());
    assert_eq!(second.data.officer, "operator-1");
    assert_eq!(second.data.registered_at, first.data.registered_at);
    assert_eq!(second.standing, Standing::InForce);
    // The first paper rebuilds as it was issued: the squatter's name, authentic, superseded.
    let again = documents::notice(&reader(&app), &catalog, application.id, Some(0))
        .unwrap()
        .unwrap();
    assert_eq!(again.data, first.data);
    let id = DocumentId::parse(&first.data.id).unwrap();
    let verify = |version: Option<u32>, signature: &str| {
        documents::verify(
            &reader(&app),
            &catalog,
            &signer,
            &id,
            version,
            signature,
            app.clock.now(),
        )
        .unwrap()
        .unwrap()
    };
    let old = verify(Some(0), &first_signature);
    assert!(old.authentic && !old.valid, "{old:?}");
    assert_eq!(old.standing, Standing::Superseded);
    let new = verify(None, &signer.sign(&second.data));
    assert!(new.authentic && new.valid, "{new:?}");
    assert!(!verify(None, &first_signature).authentic);
}
