//! Shared fixtures: a service on a fresh temporary database with a small catalog, a manual
//! clock, and a builder of valid registration forms.
#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use kezek::clock::ManualClock;
use kezek::domain::application::{Application, RegistrationForm};
use kezek::domain::catalog::{AgeBand, DistrictId, KindergartenId, Language, Names};
use kezek::domain::event::Actor;
use kezek::domain::iin::{Iin, Sex};
use kezek::service::{Command, NewDistrict, NewGroup, NewKindergarten, Outcome, Service};
use std::path::PathBuf;
use std::sync::Arc;

pub struct TestApp {
    service: Option<Service>,
    pub clock: ManualClock,
    pub path: PathBuf,
    pub district: DistrictId,
    pub other_district: DistrictId,
    /// Two kindergartens in `district`, one in `other_district`.
    pub kindergartens: [KindergartenId; 3],
    _dir: tempfile::TempDir,
}

/// 2026-11-20 09:00 local time (UTC+5), a Friday.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 4, 0, 0).unwrap()
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn names(text: &str) -> Names {
    Names {
        kk: format!("{text} (kk)"),
        ru: format!("{text} (ru)"),
    }
}

impl TestApp {
    pub fn spawn() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kezek.db");
        let clock = ManualClock::new(start_time());
        let service = Service::start(&path, Arc::new(clock.clone())).unwrap();
        let district = create_district(&service, "ESL");
        let other_district = create_district(&service, "SAR");
        let kindergartens = [
            create_kindergarten(&service, district, "1"),
            create_kindergarten(&service, district, "2"),
            create_kindergarten(&service, other_district, "3"),
        ];
        let group = NewGroup {
            kindergarten: kindergartens[0],
            name: "3–4".into(),
            language: Language::KAZAKH,
            age_band: AgeBand::new(date(2022, 1, 1), date(2022, 12, 31)).unwrap(),
            capacity: 20,
        };
        service
            .submit_blocking(Command::CreateGroup(group), Actor::system())
            .unwrap();
        TestApp {
            service: Some(service),
            clock,
            path,
            district,
            other_district,
            kindergartens,
            _dir: dir,
        }
    }

    pub fn service(&self) -> &Service {
        self.service
            .as_ref()
            .expect("the service runs between restarts")
    }

    /// Stops the service (the writer finishes and closes the database) and starts a new one
    /// on the same file: the state is rebuilt from SQLite, as after a real restart.
    pub fn restart(&mut self) {
        self.service.take().expect("running").shutdown();
        let clock = Arc::new(self.clock.clone());
        self.service = Some(Service::start(&self.path, clock).unwrap());
    }

    /// Starts the service again after `stop`.
    pub fn restart_stopped(&mut self) {
        assert!(self.service.is_none(), "stop first");
        let clock = Arc::new(self.clock.clone());
        self.service = Some(Service::start(&self.path, clock).unwrap());
    }

    /// Stops the service, as before a restart, leaving the database closed.
    pub fn stop(&mut self) {
        self.service.take().expect("running").shutdown();
    }

    pub fn register(
        &self,
        form: RegistrationForm,
    ) -> Result<Application, kezek::service::CommandError> {
        let command = Command::Register {
            form,
            channel: kezek::domain::application::Channel::Portal,
        };
        match self.service().submit_blocking(command, Actor::portal())? {
            Outcome::Registered { application, .. } => Ok(*application),
            other => panic!("registration answered {other:?}"),
        }
    }
}

fn create_district(service: &Service, code: &str) -> DistrictId {
    let new = NewDistrict {
        code: code.into(),
        names: names(code),
        languages: vec![Language::KAZAKH, Language::RUSSIAN],
    };
    match service
        .submit_blocking(Command::CreateDistrict(new), Actor::system())
        .unwrap()
    {
        Outcome::DistrictCreated(id) => id,
        other => panic!("{other:?}"),
    }
}

fn create_kindergarten(service: &Service, district: DistrictId, number: &str) -> KindergartenId {
    let new = NewKindergarten {
        district,
        number: number.into(),
        names: names(number),
        address: format!("Астана, {number}"),
        head: None,
    };
    match service
        .submit_blocking(Command::CreateKindergarten(new), Actor::system())
        .unwrap()
    {
        Outcome::KindergartenCreated(id) => id,
        other => panic!("{other:?}"),
    }
}

/// A valid IIN for a child born on `birth`, distinct per `serial`.
pub fn child_iin(birth: NaiveDate, serial: u16) -> String {
    (serial..)
        .find_map(|s| Iin::synthesize(birth, Sex::Female, s))
        .unwrap()
        .as_string()
}

/// A form that passes every check on 2026-11-20 in district ESL.
pub fn valid_form(serial: u16) -> RegistrationForm {
    let birth = date(2022, 3, 15);
    RegistrationForm {
        district: "ESL".into(),
        child_iin: child_iin(birth, serial * 2),
        child_full_name: "Қасымова Әйгерім".into(),
        child_birth_date: "2022-03-15".into(),
        applicant_iin: "791028302728".into(),
        applicant_full_name: "Қасымов Арман".into(),
        applicant_phone: "+7 701 234 56 78".into(),
        applicant_email: Some("arman@example.kz".into()),
        applicant_address: "Астана, Мәңгілік Ел 10, 5".into(),
        applicant_relation: "father".into(),
        desired_start: "2027-09-01".into(),
        kindergartens: vec![1, 2],
        language: "kk".into(),
        priority_category: None,
        priority_document: None,
    }
}

/// A staff account written straight into the database at `path` (as `kezek staff add`
/// does); answers its bearer token.
pub fn add_staff(
    path: &std::path::Path,
    name: &str,
    role: kezek::domain::staff::Role,
    scope: kezek::domain::staff::Scope,
) -> String {
    let token = kezek::domain::staff::generate_token(&mut rand::rng());
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let account = kezek::domain::staff::StaffAccount {
        name: name.into(),
        role,
        scope,
    };
    let hash = kezek::domain::staff::token_hash(&token);
    kezek::store::staff::add(&conn, &account, &hash, start_time()).unwrap();
    token
}

/// `kezek serve` on a free loopback port with `extra` flags, its log discarded: the child
/// and the address it printed (`http://127.0.0.1:PORT`).
pub fn spawn_server(db: &std::path::Path, extra: &[&str]) -> (std::process::Child, String) {
    let mut command = kezek_serve(db);
    command.args(["--addr", "127.0.0.1:0"]).args(extra);
    spawn_listening(command)
}

/// `kezek --db DB serve`, to be given more flags or environment.
pub fn kezek_serve(db: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kezek"));
    command.arg("--db").arg(db).arg("serve");
    command
}

/// Starts `command` (a `kezek serve`), its log discarded, and waits for the address it
/// prints (`http://127.0.0.1:PORT`).
pub fn spawn_listening(mut command: std::process::Command) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let address = lines
        .find_map(|line| line.ok()?.strip_prefix("listening on ").map(str::to_string))
        .expect("serve prints its address");
    (child, address)
}

/// Twins of `base`'s applicant (a registration form as JSON; children born 2022-03-15 like
/// `valid_form`'s), serials `serial` and `serial + 1`, together or not: a family
/// registration's body.
pub fn twins_of(base: &serde_json::Value, serial: u16, together: bool) -> serde_json::Value {
    let child = |s: u16, name: &str| {
        serde_json::json!({
            "iin": child_iin(date(2022, 3, 15), s * 2),
            "full_name": name,
            "birth_date": "2022-03-15",
        })
    };
    serde_json::json!({
        "district": "ESL",
        "applicant_iin": base["applicant_iin"],
        "applicant_full_name": base["applicant_full_name"],
        "applicant_phone": base["applicant_phone"],
        "applicant_address": base["applicant_address"],
        "applicant_relation": base["applicant_relation"],
        "desired_start": base["desired_start"],
        "kindergartens": base["kindergartens"],
        "language": "kk",
        "together": together,
        "children": [child(serial, "Қасымова Айша"), child(serial + 1, "Қасымова Фатима")],
    })
}

/// A property's number of cases: `default`, or `PROPTEST_CASES` when it is set, for a longer
/// soak (`PROPTEST_CASES=3000 cargo test --release --test referral_model`). proptest reads
/// that variable only into its default configuration, which a test's own count replaces.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default)
}
