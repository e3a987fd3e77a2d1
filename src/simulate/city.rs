//! The simulated city: its districts, kindergartens and groups (created through the
//! service's catalog commands), and the families who register children, as forms a parent
//! would type. Everything is drawn from seeded generators, so a seed is a city.

use crate::domain::application::{ApplicationId, RegistrationForm};
use crate::domain::catalog::{
    add_years, AgeBand, DistrictId, GroupId, KindergartenId, Language, Names, SchoolAgeRule,
};
use crate::domain::event::Actor;
use crate::domain::iin::{Iin, Sex};
use crate::domain::referral::DistrictPolicy;
use crate::service::{Command, CommandError, NewGroup, NewKindergarten, Outcome, Service};
use chrono::{Datelike, Duration, NaiveDate};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

/// Astana's districts: (code, Kazakh name, Russian name, whether the 1 : 3 interleave is on).
/// Both settings of the interleave run side by side, so the audit sees both orders.
const DISTRICTS: [(&str, &str, &str, bool); 5] = [
    ("ALM", "Алматы ауданы", "район Алматы", true),
    ("BAY", "Байқоңыр ауданы", "район Байконыр", false),
    ("ESL", "Есіл ауданы", "район Есиль", true),
    ("SAR", "Сарыарқа ауданы", "район Сарыарка", false),
    ("NUR", "Нұра ауданы", "район Нура", true),
];

/// The school-year cohorts that have groups: children born from 2 September of the year to
/// 1 September of the next, who start and leave school together.
const COHORTS: std::ops::RangeInclusive<i32> = 2020..=2025;
/// The share of kindergartens that also run Russian-language groups (all run Kazakh ones).
const RUSSIAN_GROUPS_SHARE: f64 = 0.6;
/// Priority categories and their weights among claims (the codes of the shipped catalog).
const CATEGORIES: [(&str, u32); 7] = [
    ("military_family", 14),
    ("special_state_body_family", 8),
    ("died_in_service_family", 3),
    ("orphan", 15),
    ("child_disability", 25),
    ("parent_disability", 15),
    ("large_family", 20),
];
const CLAIM_SHARE: f64 = 0.12;

pub fn district_count() -> usize {
    DISTRICTS.len()
}

pub struct SimDistrict {
    pub id: DistrictId,
    pub code: &'static str,
    pub interleave: bool,
    pub kindergartens: Vec<SimKindergarten>,
}

pub struct SimKindergarten {
    pub id: KindergartenId,
    /// (group, cohort, language) of each of its groups.
    pub groups: Vec<(GroupId, i32, Language)>,
}

/// The first school year whose intake a place free on `date` belongs to: places free from
/// 1 September on are the next year's.
pub fn intake_year(date: NaiveDate) -> i32 {
    if date.month() >= 9 {
        date.year()
    } else {
        date.year() - 1
    }
}

/// The cohorts of preschool groups in the school year starting in `year`: from the year
/// before school down to the nursery group of one-year-olds.
pub fn cohorts_in_school_year(year: i32) -> std::ops::RangeInclusive<i32> {
    year - 6..=year - 2
}

pub fn cohort_band(cohort: i32) -> AgeBand {
    let day = |year, month, day| NaiveDate::from_ymd_opt(year, month, day).expect("a real date");
    AgeBand::new(day(cohort, 9, 2), day(cohort + 1, 9, 1)).expect("a year-long band")
}

/// Creates the city's catalog and policies through the service; `kindergartens` are shared
/// out over the districts. Returns the districts and how many commands it took.
pub fn build(
    service: &Service,
    kindergartens: usize,
    interleave_everywhere: Option<bool>,
    rng: &mut SmallRng,
) -> Result<(Vec<SimDistrict>, u64), CommandError> {
    let mut commands = 0;
    let mut districts = Vec::new();
    for (index, (code, kk, ru, interleave)) in DISTRICTS.iter().enumerate() {
        let id = crate::demo::create_district(service, code, kk, ru)?;
        let interleave = &interleave_everywhere.unwrap_or(*interleave);
        if *interleave {
            let policy = DistrictPolicy {
                interleave_first_priority: true,
                ..DistrictPolicy::default()
            };
            let command = Command::SetPolicy {
                district: id,
                policy,
            };
            service.submit_blocking(command, Actor::staff("simulated-admin"))?;
            commands += 1;
        }
        let count =
            kindergartens / DISTRICTS.len() + usize::from(index < kindergartens % DISTRICTS.len());
        let kindergartens: Vec<SimKindergarten> = (1..=count)
            .map(|number| create_kindergarten(service, id, index * 1000 + number, rng))
            .collect::<Result<_, _>>()?;
        let groups: usize = kindergartens.iter().map(|k| k.groups.len()).sum();
        commands += 1 + (kindergartens.len() + groups) as u64;
        districts.push(SimDistrict {
            id,
            code,
            interleave: *interleave,
            kindergartens,
        });
    }
    Ok((districts, commands))
}

fn create_kindergarten(
    service: &Service,
    district: DistrictId,
    number: usize,
    rng: &mut SmallRng,
) -> Result<SimKindergarten, CommandError> {
    let new = NewKindergarten {
        district,
        number: number.to_string(),
        names: Names {
            kk: format!("№{number} бөбекжай-бақшасы"),
            ru: format!("Ясли-сад №{number}"),
        },
        address: format!("Астана, {number}-көше, 1"),
        head: None,
    };
    let id = match service.submit_blocking(Command::CreateKindergarten(new), Actor::system())? {
        Outcome::KindergartenCreated(id) => id,
        other => unreachable!("creating a kindergarten answered {other:?}"),
    };
    let mut languages = vec![Language::KAZAKH];
    if rng.random_bool(RUSSIAN_GROUPS_SHARE) {
        languages.push(Language::RUSSIAN);
    }
    let mut commands = Vec::new();
    let mut shapes = Vec::new();
    for cohort in COHORTS {
        for language in &languages {
            commands.push((
                Command::CreateGroup(NewGroup {
                    kindergarten: id,
                    name: format!("{cohort}/{} ({language})", cohort + 1),
                    language: *language,
                    age_band: cohort_band(cohort),
                    capacity: 25,
                }),
                Actor::system(),
            ));
            shapes.push((cohort, *language));
        }
    }
    let mut groups = Vec::new();
    for (answer, (cohort, language)) in service
        .submit_many_blocking(commands)
        .into_iter()
        .zip(shapes)
    {
        match answer? {
            Outcome::GroupCreated(group) => groups.push((group, cohort, language)),
            other => unreachable!("creating a group answered {other:?}"),
        }
    }
    Ok(SimKindergarten { id, groups })
}

/// What the officer will do with a priority claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimDecision {
    Verify,
    Reject,
    /// Never decided within the simulation: the claim counts for nothing.
    Undecided,
}

/// A registration to submit, and what the simulation will do about it later.
pub struct Registration {
    pub form: RegistrationForm,
    pub claim: Option<ClaimDecision>,
}

/// The parents of the city: makes registration forms, one child each.
pub struct Families {
    rng: SmallRng,
    serials: HashMap<(NaiveDate, Sex), u16>,
    school_age: SchoolAgeRule,
}

impl Families {
    pub fn new(seed: u64) -> Families {
        Families {
            rng: SmallRng::seed_from_u64(seed),
            serials: HashMap::new(),
            school_age: SchoolAgeRule::default(),
        }
    }

    /// A valid registration on local date `today` in `district`.
    pub fn registration(&mut self, district: &SimDistrict, today: NaiveDate) -> Registration {
        let (birth_date, desired_start) = self.child_dates(today);
        let sex = if self.rng.random_bool(0.5) {
            Sex::Male
        } else {
            Sex::Female
        };
        let child_iin = self.next_iin(birth_date, sex);
        let parent_birth = NaiveDate::from_ymd_opt(
            self.rng.random_range(1980..2003),
            self.rng.random_range(1..13),
            self.rng.random_range(1..29),
        )
        .expect("day 1 to 28 exists in every month");
        let applicant_iin = self.next_iin(parent_birth, Sex::Female);
        let kindergartens = self.choices(district);
        let language = match self.rng.random_range(0..100) {
            0..55 => "kk",
            55..90 => "ru",
            _ => "any",
        };
        let category = self.rng.random_bool(CLAIM_SHARE).then(|| self.category());
        let claim = category.map(|_| match self.rng.random_range(0..100) {
            0..70 => ClaimDecision::Verify,
            70..95 => ClaimDecision::Reject,
            _ => ClaimDecision::Undecided,
        });
        let form = RegistrationForm {
            district: district.code.into(),
            child_iin: child_iin.as_string(),
            child_full_name: "Қасымов Әлихан".into(),
            child_birth_date: birth_date.format("%Y-%m-%d").to_string(),
            applicant_iin: applicant_iin.as_string(),
            applicant_full_name: "Қасымова Айгүл".into(),
            applicant_phone: format!("+77{:09}", self.rng.random_range(0..1_000_000_000u32)),
            applicant_email: None,
            applicant_address: format!("Астана, {}-көше, 7", self.rng.random_range(1..300)),
            applicant_relation: "mother".into(),
            desired_start: desired_start.format("%Y-%m-%d").to_string(),
            kindergartens,
            language: language.into(),
            priority_category: category.map(str::to_string),
            priority_document: category.map(|_| "№ 17-04/2291".to_string()),
        };
        Registration { form, claim }
    }

    /// A form, by the other parent on `today`, for a child who already waits: the service
    /// must refuse it (`already_queued`).
    pub fn duplicate(&mut self, original: &RegistrationForm, today: NaiveDate) -> RegistrationForm {
        let parent_birth = NaiveDate::from_ymd_opt(1985, 6, 1).expect("a real date");
        let wanted = NaiveDate::parse_from_str(&original.desired_start, "%Y-%m-%d")
            .expect("the simulation wrote the date");
        RegistrationForm {
            applicant_iin: self.next_iin(parent_birth, Sex::Male).as_string(),
            applicant_relation: "father".into(),
            desired_start: wanted.max(today).format("%Y-%m-%d").to_string(),
            ..original.clone()
        }
    }

    /// The twin of the child `form` registers: same birth date, same applicant, a name and
    /// IIN of its own.
    pub fn twin(&mut self, form: &RegistrationForm) -> RegistrationForm {
        let birth = NaiveDate::parse_from_str(&form.child_birth_date, "%Y-%m-%d")
            .expect("the simulation wrote the date");
        RegistrationForm {
            child_iin: self.next_iin(birth, Sex::Female).as_string(),
            child_full_name: "Қасымова Әйгерім".into(),
            ..form.clone()
        }
    }

    /// Most parents register in the child's first two years; the wanted start is the
    /// September after the child turns two, as soon as possible, or some time ahead.
    fn child_dates(&mut self, today: NaiveDate) -> (NaiveDate, NaiveDate) {
        loop {
            let age_days = match self.rng.random_range(0..100) {
                0..45 => self.rng.random_range(14..365),
                45..75 => self.rng.random_range(365..730),
                75..90 => self.rng.random_range(730..1460),
                _ => self.rng.random_range(1460..2100),
            };
            let birth_date = today - Duration::days(age_days);
            let leaves = self.school_age.leaves_preschool_on(birth_date);
            let wanted = match self.rng.random_range(0..100) {
                0..40 => next_september_first(today.max(add_years(birth_date, 2))),
                40..75 => today + Duration::days(self.rng.random_range(0..=60)),
                _ => today + Duration::days(self.rng.random_range(0..=540)),
            };
            let desired_start = wanted.min(leaves - Duration::days(1));
            if desired_start >= today && self.school_age.is_preschool_on(birth_date, desired_start)
            {
                return (birth_date, desired_start);
            }
        }
    }

    /// "Any" for some; otherwise 1 to 5 kindergartens near home (neighbours in the list).
    fn choices(&mut self, district: &SimDistrict) -> Vec<u32> {
        let all = &district.kindergartens;
        if all.is_empty() || self.rng.random_bool(0.15) {
            return Vec::new();
        }
        let home = self.rng.random_range(0..all.len());
        let wanted = self.rng.random_range(1..=5usize).min(all.len());
        let mut chosen: Vec<u32> = Vec::with_capacity(wanted);
        while chosen.len() < wanted {
            let offset = self.rng.random_range(0..7);
            let id = all[(home + offset) % all.len()].id.0;
            if !chosen.contains(&id) {
                chosen.push(id);
            }
        }
        chosen
    }

    fn category(&mut self) -> &'static str {
        let total: u32 = CATEGORIES.iter().map(|(_, weight)| weight).sum();
        let mut pick = self.rng.random_range(0..total);
        for (code, weight) in CATEGORIES {
            if pick < weight {
                return code;
            }
            pick -= weight;
        }
        unreachable!("the pick is below the total weight")
    }

    /// A fresh valid IIN for (date, sex): serials count up, skipping the rare serial for
    /// which no check digit exists.
    fn next_iin(&mut self, date: NaiveDate, sex: Sex) -> Iin {
        let serial = self.serials.entry((date, sex)).or_insert(0);
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
}

fn next_september_first(from: NaiveDate) -> NaiveDate {
    let this_year = NaiveDate::from_ymd_opt(from.year(), 9, 1).expect("a real date");
    if this_year >= from {
        this_year
    } else {
        NaiveDate::from_ymd_opt(from.year() + 1, 9, 1).expect("a real date")
    }
}

/// Who registered, for the duplicates and withdrawals drawn later.
pub struct Registered {
    pub id: ApplicationId,
    pub form: RegistrationForm,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cohort_band_holds_exactly_the_children_who_start_school_together() {
        let rule = SchoolAgeRule::default();
        let band = cohort_band(2021);
        assert_eq!(
            rule.leaves_preschool_on(band.born_from),
            rule.leaves_preschool_on(band.born_to)
        );
        let before = band.born_from - Duration::days(1);
        assert_ne!(
            rule.leaves_preschool_on(before),
            rule.leaves_preschool_on(band.born_from)
        );
    }

    #[test]
    fn the_groups_of_a_school_year_are_all_of_preschool_age_all_year() {
        let rule = SchoolAgeRule::default();
        for cohort in cohorts_in_school_year(2027) {
            let band = cohort_band(cohort);
            let last_day = NaiveDate::from_ymd_opt(2028, 8, 31).unwrap();
            assert!(
                rule.is_preschool_on(band.born_from, last_day),
                "cohort {cohort}"
            );
        }
        assert_eq!(
            intake_year(NaiveDate::from_ymd_opt(2027, 8, 31).unwrap()),
            2026
        );
        assert_eq!(
            intake_year(NaiveDate::from_ymd_opt(2027, 9, 1).unwrap()),
            2027
        );
    }
}
