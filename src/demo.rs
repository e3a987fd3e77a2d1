//! Realistic synthetic data: the districts of a city, their kindergartens and groups, and
//! applications with valid IINs, birth dates spread over the preschool years, about 10%
//! priority claims (some verified, some rejected), 1 to 5 choices or "any", kk and ru.
//!
//! Deterministic for a given seed. Registrations go through the service, like real ones, so
//! the demo exercises the same validation, numbering and journal; only time is simulated (a
//! manual clock walks forward over the last four years).

use crate::clock::ManualClock;
use crate::domain::application::{ApplicationId, Channel, RegistrationForm};
use crate::domain::catalog::{
    AgeBand, Catalog, DistrictId, KindergartenId, Language, Names, SchoolAgeRule,
};
use crate::domain::event::Actor;
use crate::domain::iin::{Iin, Sex};
use crate::service::{
    Command, CommandError, NewDistrict, NewGroup, NewKindergarten, Outcome, Service,
};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

/// Astana's districts: (code, Kazakh name, Russian name).
const DISTRICTS: [(&str, &str, &str); 5] = [
    ("ALM", "Алматы ауданы", "район Алматы"),
    ("BAY", "Байқоңыр ауданы", "район Байконыр"),
    ("ESL", "Есіл ауданы", "район Есиль"),
    ("SAR", "Сарыарқа ауданы", "район Сарыарка"),
    ("NUR", "Нұра ауданы", "район Нура"),
];
const STREETS: [&str; 8] = [
    "Қабанбай батыр даңғылы",
    "Мәңгілік Ел даңғылы",
    "Тұран даңғылы",
    "Сарайшық көшесі",
    "Кенесары көшесі",
    "Республика даңғылы",
    "Абай даңғылы",
    "Сығанақ көшесі",
];
const GIVEN_MALE: [&str; 8] = [
    "Әлихан",
    "Нұрсұлтан",
    "Ерұлан",
    "Іскандер",
    "Арман",
    "Тимур",
    "Дмитрий",
    "Айбек",
];
const GIVEN_FEMALE: [&str; 8] = [
    "Әйгерім",
    "Аружан",
    "Жұлдыз",
    "Інкәр",
    "Айым",
    "Мадина",
    "Анна",
    "Гүлнұр",
];
const SURNAMES: [&str; 8] = [
    "Қасымов",
    "Сейітов",
    "Оспанов",
    "Жұмабаев",
    "Нұрланов",
    "Ким",
    "Иванов",
    "Әбенов",
];
const KINDERGARTENS_PER_DISTRICT: usize = 80;
/// Commands sent together; the writer commits them as one batch at one simulated instant.
const CHUNK: usize = 512;

pub struct DemoOptions {
    pub applications: usize,
    pub seed: u64,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub registered: usize,
    pub refused: usize,
    pub priorities_verified: usize,
    pub priorities_rejected: usize,
}

/// Creates the demo catalog if the database has none. Returns the catalog as it then stands.
pub fn ensure_catalog(service: &Service) -> Result<Catalog, CommandError> {
    if service.read().catalog.districts.is_empty() {
        for (index, (code, kk, ru)) in DISTRICTS.iter().enumerate() {
            let district = create_district(service, code, kk, ru)?;
            let kindergartens = (1..=KINDERGARTENS_PER_DISTRICT)
                .map(|number| {
                    (
                        Command::CreateKindergarten(new_kindergarten(district, index, number)),
                        Actor::system(),
                    )
                })
                .collect();
            let mut groups = Vec::new();
            for answer in service.submit_many_blocking(kindergartens) {
                match answer? {
                    Outcome::KindergartenCreated(id) => groups.extend(new_groups(id)),
                    other => unreachable!("creating a kindergarten answered {other:?}"),
                }
            }
            let groups = groups
                .into_iter()
                .map(|g| (Command::CreateGroup(g), Actor::system()))
                .collect();
            for answer in service.submit_many_blocking(groups) {
                answer?;
            }
        }
    }
    Ok(service.read().catalog.clone())
}

/// A district with both group languages (the demo's and the simulation's cities).
pub(crate) fn create_district(
    service: &Service,
    code: &str,
    kk: &str,
    ru: &str,
) -> Result<DistrictId, CommandError> {
    let new = NewDistrict {
        code: code.into(),
        names: Names {
            kk: kk.into(),
            ru: ru.into(),
        },
        languages: vec![Language::KAZAKH, Language::RUSSIAN],
    };
    match service.submit_blocking(Command::CreateDistrict(new), Actor::system())? {
        Outcome::DistrictCreated(id) => Ok(id),
        other => unreachable!("creating a district answered {other:?}"),
    }
}

fn new_kindergarten(district: DistrictId, district_index: usize, number: usize) -> NewKindergarten {
    let public_number = format!("{}", district_index * 100 + number);
    NewKindergarten {
        district,
        number: public_number.clone(),
        names: Names {
            kk: format!("№{public_number} «Балдырған» бөбекжай-бақшасы"),
            ru: format!("Ясли-сад №{public_number} «Балдырган»"),
        },
        address: format!(
            "Астана, {}, {}",
            STREETS[number % STREETS.len()],
            number * 3 + 1
        ),
        head: None,
    }
}

/// One group per age year and language, for the children born in that calendar year.
fn new_groups(kindergarten: KindergartenId) -> Vec<NewGroup> {
    let this_year = Utc::now().year();
    let mut groups = Vec::new();
    for age in 2..=5 {
        for language in [Language::KAZAKH, Language::RUSSIAN] {
            let born = this_year - age;
            let age_band = AgeBand::new(
                NaiveDate::from_ymd_opt(born, 1, 1).expect("1 January exists"),
                NaiveDate::from_ymd_opt(born, 12, 31).expect("31 December exists"),
            )
            .expect("a calendar year is a valid band");
            groups.push(NewGroup {
                kindergarten,
                name: format!("{age}–{} жас / лет ({language})", age + 1),
                language,
                age_band,
                capacity: 25,
            });
        }
    }
    groups
}

/// Makes synthetic registrations. Kept separate from submitting so that benches can build
/// forms without a service.
pub struct FormGenerator {
    rng: SmallRng,
    districts: Vec<(String, Vec<KindergartenId>)>,
    serials: HashMap<(NaiveDate, Sex), u16>,
    school_age: SchoolAgeRule,
}

impl FormGenerator {
    pub fn new(catalog: &Catalog, seed: u64) -> FormGenerator {
        let districts = catalog
            .districts
            .values()
            .map(|district| {
                let kindergartens = catalog
                    .kindergartens
                    .values()
                    .filter(|k| k.district == district.id)
                    .map(|k| k.id)
                    .collect();
                (district.code.clone(), kindergartens)
            })
            .collect();
        FormGenerator {
            rng: SmallRng::seed_from_u64(seed),
            districts,
            serials: HashMap::new(),
            school_age: catalog.school_age,
        }
    }

    /// A valid registration on local date `today`, for a child born within the last
    /// `max_age_days` (and at least two weeks ago).
    pub fn form(&mut self, today: NaiveDate, max_age_days: i64) -> RegistrationForm {
        let rng = &mut self.rng;
        let (code, kindergartens) = &self.districts[rng.random_range(0..self.districts.len())];
        let sex = if rng.random_bool(0.5) {
            Sex::Male
        } else {
            Sex::Female
        };
        let birth_date = today - Duration::days(rng.random_range(14..max_age_days.max(15)));
        let child_iin = next_iin(&mut self.serials, birth_date, sex);
        let parent_birth = NaiveDate::from_ymd_opt(
            rng.random_range(1980..2003),
            rng.random_range(1..13),
            rng.random_range(1..29),
        )
        .expect("day 1 to 28 exists in every month");
        let parent_sex = if rng.random_bool(0.7) {
            Sex::Female
        } else {
            Sex::Male
        };
        let applicant_iin = next_iin(&mut self.serials, parent_birth, parent_sex);
        let leaves = self.school_age.leaves_preschool_on(birth_date);
        let latest_start = (leaves - Duration::days(1)).min(today + Duration::days(730));
        let desired_start =
            today + Duration::days(rng.random_range(0..=(latest_start - today).num_days().max(0)));
        let kindergarten_ids = if rng.random_bool(0.15) {
            Vec::new()
        } else {
            let wanted = rng.random_range(1..=5usize);
            let mut chosen: Vec<u32> = Vec::with_capacity(wanted);
            while chosen.len() < wanted.min(kindergartens.len()) {
                let id = kindergartens[rng.random_range(0..kindergartens.len())].0;
                if !chosen.contains(&id) {
                    chosen.push(id);
                }
            }
            chosen
        };
        let language = match rng.random_range(0..100) {
            0..55 => "kk",
            55..90 => "ru",
            _ => "any",
        };
        let claim = rng.random_bool(0.10).then(|| {
            const CATEGORIES: [&str; 7] = [
                "military_family",
                "special_state_body_family",
                "died_in_service_family",
                "orphan",
                "child_disability",
                "parent_disability",
                "large_family",
            ];
            CATEGORIES[rng.random_range(0..CATEGORIES.len())]
        });
        let surname = SURNAMES[rng.random_range(0..SURNAMES.len())];
        let given = |rng: &mut SmallRng, sex: Sex| match sex {
            Sex::Male => GIVEN_MALE[rng.random_range(0..GIVEN_MALE.len())],
            Sex::Female => GIVEN_FEMALE[rng.random_range(0..GIVEN_FEMALE.len())],
        };
        RegistrationForm {
            district: code.clone(),
            child_iin: child_iin.as_string(),
            child_full_name: format!("{surname} {}", given(rng, sex)),
            child_birth_date: birth_date.format("%Y-%m-%d").to_string(),
            applicant_iin: applicant_iin.as_string(),
            applicant_full_name: format!("{surname} {}", given(rng, parent_sex)),
            applicant_phone: format!("+77{:09}", rng.random_range(0..1_000_000_000u32)),
            applicant_email: rng
                .random_bool(0.6)
                .then(|| format!("parent{}@example.kz", rng.random::<u32>())),
            applicant_address: format!(
                "Астана, {}, {}",
                STREETS[rng.random_range(0..STREETS.len())],
                rng.random_range(1..200)
            ),
            applicant_relation: if parent_sex == Sex::Female {
                "mother"
            } else {
                "father"
            }
            .into(),
            desired_start: desired_start.format("%Y-%m-%d").to_string(),
            kindergartens: kindergarten_ids,
            language: language.into(),
            priority_category: claim.map(str::to_string),
            priority_document: claim.map(|_| {
                format!(
                    "№{}-{}",
                    rng.random_range(100..999),
                    rng.random_range(1000..99999)
                )
            }),
        }
    }
}

/// A fresh valid IIN for (date, sex): serials count up per date and sex, skipping the rare
/// serial for which no check digit exists.
fn next_iin(serials: &mut HashMap<(NaiveDate, Sex), u16>, date: NaiveDate, sex: Sex) -> Iin {
    let serial = serials.entry((date, sex)).or_insert(0);
    loop {
        *serial = serial
            .checked_add(1)
            .filter(|s| *s < 10_000)
            .expect("under 10,000 people per birth date and sex");
        if let Some(iin) = Iin::synthesize(date, sex, *serial) {
            return iin;
        }
    }
}

/// Registers `options.applications` children over the four years before `end`, through
/// the service, with the clock walking forward; then decides most priority claims.
/// Registers `forms` from `submitters` concurrent tasks on `runtime`, each awaiting one
/// answer before it sends the next (as an HTTP handler does), and waits for all. Generated
/// forms are valid: a refusal panics. For the benches and examples that time the writer.
pub fn register_concurrently(
    service: &Service,
    runtime: &tokio::runtime::Runtime,
    forms: Vec<RegistrationForm>,
    submitters: usize,
) {
    let mut queues: Vec<Vec<RegistrationForm>> = vec![Vec::new(); submitters];
    for (i, form) in forms.into_iter().enumerate() {
        queues[i % submitters].push(form);
    }
    runtime.block_on(async {
        let tasks: Vec<_> = queues
            .into_iter()
            .map(|queue| {
                let service = service.clone();
                tokio::spawn(async move {
                    for form in queue {
                        service
                            .register(form, Channel::Portal, Actor::portal())
                            .await
                            .expect("a generated form is registered");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a submitter does not panic");
        }
    });
}

pub fn populate(
    service: &Service,
    clock: &ManualClock,
    end: DateTime<Utc>,
    options: &DemoOptions,
    mut progress: impl FnMut(usize),
) -> Result<DemoSummary, CommandError> {
    let catalog = ensure_catalog(service)?;
    let mut generator = FormGenerator::new(&catalog, options.seed);
    let mut decider = SmallRng::seed_from_u64(options.seed ^ 0x5eed);
    let start = end - Duration::days(4 * 365);
    let span_micros = (end - start)
        .num_microseconds()
        .expect("four years fit in i64 micros");
    let mut summary = DemoSummary::default();
    let mut done = 0;
    while done < options.applications {
        let size = CHUNK.min(options.applications - done);
        let at =
            start + Duration::microseconds(span_micros / options.applications as i64 * done as i64);
        clock.set(at);
        let today = crate::domain::local_date(at);
        // Children still of preschool age at `end` when registered at `at`.
        let born_not_before = crate::domain::local_date(end) - Duration::days(5 * 365);
        let oldest_days = (today - born_not_before).num_days().clamp(15, 3 * 365);
        let commands = (0..size)
            .map(|_| {
                let form = generator.form(today, oldest_days);
                let command = Command::Register {
                    form,
                    channel: Channel::Portal,
                };
                (command, Actor::portal())
            })
            .collect();
        let mut decisions = Vec::new();
        for answer in service.submit_many_blocking(commands) {
            match answer {
                Ok(Outcome::Registered { application, .. }) => {
                    summary.registered += 1;
                    if application.priority.is_some() {
                        decisions.push(priority_decision(&mut decider, application.id));
                    }
                }
                Ok(other) => unreachable!("a registration answered {other:?}"),
                Err(CommandError::Refused(_)) => summary.refused += 1,
                Err(error) => return Err(error),
            }
        }
        let (commands, verified): (Vec<_>, Vec<bool>) = decisions
            .into_iter()
            .flatten()
            .map(|(command, verified)| ((command, Actor::staff("demo-officer")), verified))
            .unzip();
        for (answer, verified) in service
            .submit_many_blocking(commands)
            .into_iter()
            .zip(verified)
        {
            answer?;
            if verified {
                summary.priorities_verified += 1
            } else {
                summary.priorities_rejected += 1
            }
        }
        done += size;
        progress(done);
    }
    clock.set(end);
    Ok(summary)
}

/// Seven in ten claims are verified, two rejected, one left for an officer to decide.
fn priority_decision(rng: &mut SmallRng, id: ApplicationId) -> Option<(Command, bool)> {
    match rng.random_range(0..10) {
        0..7 => Some((Command::VerifyPriority { id }, true)),
        7..9 => Some((
            Command::RejectPriority {
                id,
                reason: "Құжат расталмады / документ не подтверждён".into(),
            },
            false,
        )),
        _ => None,
    }
}
