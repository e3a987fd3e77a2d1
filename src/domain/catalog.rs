//! What the queue is about: districts, their kindergartens and groups, languages, and the
//! priority categories. All of it is data an administrator maintains, not code.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A district: the locality whose queue an application joins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DistrictId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KindergartenId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GroupId(pub u32);

/// A language of instruction, as an ISO 639-1 code ("kk", "ru", ...). Two lowercase ASCII
/// letters, stored inline so that the waiting list can compare languages without allocating.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Language([u8; 2]);

impl Language {
    pub const KAZAKH: Language = Language(*b"kk");
    pub const RUSSIAN: Language = Language(*b"ru");

    pub fn parse(code: &str) -> Option<Language> {
        match code.as_bytes() {
            [a, b] if a.is_ascii_lowercase() && b.is_ascii_lowercase() => Some(Language([*a, *b])),
            _ => None,
        }
    }

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a Language holds two ASCII letters")
    }
}

impl fmt::Debug for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Language {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Language {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Language::parse(&code)
            .ok_or_else(|| serde::de::Error::custom("not a two-letter language code"))
    }
}

/// Names are kept in both official languages; every user-facing text is bilingual.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    pub kk: String,
    pub ru: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct District {
    pub id: DistrictId,
    /// Short stable code, part of every application number in the district ("ESL-000123").
    pub code: String,
    pub names: Names,
    /// The group languages this district runs; an application may ask only for these.
    pub languages: Vec<Language>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kindergarten {
    pub id: KindergartenId,
    pub district: DistrictId,
    /// The kindergarten's public number ("No. 42"), printed on referrals.
    pub number: String,
    pub names: Names,
    pub address: String,
    /// The kindergarten's head (director), as the administrator entered them. Absent from the
    /// journal's payload when `None`, so events written before it keep their bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
}

/// A group of a kindergarten: which children it takes and how many.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: GroupId,
    pub kindergarten: KindergartenId,
    pub name: String,
    pub language: Language,
    pub age_band: AgeBand,
    pub capacity: u32,
    /// A closed group takes no new places; its live referrals stay valid. Absent from the
    /// journal's payload while open, so events written before it keep their bytes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub closed: bool,
}

/// The birth dates a group or a free place takes, both ends inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgeBand {
    pub born_from: NaiveDate,
    pub born_to: NaiveDate,
}

impl AgeBand {
    pub fn new(born_from: NaiveDate, born_to: NaiveDate) -> Option<AgeBand> {
        (born_from <= born_to).then_some(AgeBand { born_from, born_to })
    }

    pub fn contains(&self, birth_date: NaiveDate) -> bool {
        self.born_from <= birth_date && birth_date <= self.born_to
    }
}

/// The three tiers of the queue, in the order they are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// кезектен тыс / внеочередное
    OutOfTurn = 0,
    /// бірінші кезекте / первоочередное
    First = 1,
    General = 2,
}

impl Tier {
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    pub fn from_u8(value: u8) -> Option<Tier> {
        match value {
            0 => Some(Tier::OutOfTurn),
            1 => Some(Tier::First),
            2 => Some(Tier::General),
            _ => None,
        }
    }
}

/// A priority category: a right to be served ahead of the general tier, once verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityCategory {
    pub code: String,
    /// Only `OutOfTurn` or `First`; a category in the general tier would be meaningless.
    pub tier: Tier,
    pub names: Names,
    /// The document an officer must see before verifying the claim.
    pub document: Names,
    /// Whether a claim can be verified only with that document attached to the
    /// application (issue 19). Absent from payloads written before: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attachment_required: bool,
    /// A retired category takes no new claims; the applications that hold it keep it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retired: bool,
}

/// When a child stops being of preschool age. Configuration, defaulting to the rule in
/// force: school from the school year in which the child is six on 1 September.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchoolAgeRule {
    pub school_entry_age_years: u32,
    /// The month and day the school year starts, when the age is measured.
    pub school_year_start_month: u32,
    pub school_year_start_day: u32,
    /// Preschool age ends at this age in any case ("up to 7 years").
    pub preschool_age_limit_years: u32,
}

impl Default for SchoolAgeRule {
    fn default() -> Self {
        SchoolAgeRule {
            school_entry_age_years: 6,
            school_year_start_month: 9,
            school_year_start_day: 1,
            preschool_age_limit_years: 7,
        }
    }
}

impl SchoolAgeRule {
    /// The first day on which a child born on `birth_date` is of school age (or seven):
    /// from then on it can no longer be queued or take a place.
    pub fn leaves_preschool_on(&self, birth_date: NaiveDate) -> NaiveDate {
        use chrono::Datelike;
        let turns = |years: u32| add_years(birth_date, years);
        let entry_birthday = turns(self.school_entry_age_years);
        let mut school_start = NaiveDate::from_ymd_opt(
            entry_birthday.year(),
            self.school_year_start_month,
            self.school_year_start_day,
        )
        .expect("a configured school year start is a real date");
        if school_start < entry_birthday {
            school_start = add_years(school_start, 1);
        }
        school_start.min(turns(self.preschool_age_limit_years))
    }

    pub fn is_preschool_on(&self, birth_date: NaiveDate, day: NaiveDate) -> bool {
        birth_date <= day && day < self.leaves_preschool_on(birth_date)
    }

    /// The earliest birth date of a child still of preschool age on `day`: a child born on
    /// `day` or earlier is of preschool age then exactly when born on or after this date.
    /// It lets a place's birth-date band carry the school-age rule for a given day, so the
    /// waiting list's index needs no second condition.
    pub fn earliest_birth_preschool_on(&self, day: NaiveDate) -> NaiveDate {
        // `leaves_preschool_on` never decreases with the birth date, so the children still
        // preschool on `day` are those born from some date on; find it by bisection. Born
        // more than the age limit before `day`, a child has left; born on `day`, it has not.
        let years_back = self
            .preschool_age_limit_years
            .max(self.school_entry_age_years)
            + 1;
        let mut left = day
            .checked_sub_months(chrono::Months::new(12 * years_back))
            .unwrap_or(NaiveDate::MIN);
        let mut still = day;
        // Invariant: a child born on `left` has left by `day`; one born on `still` has not.
        while left + chrono::Days::new(1) < still {
            let middle = left + chrono::Days::new(((still - left).num_days() / 2) as u64);
            if self.leaves_preschool_on(middle) > day {
                still = middle;
            } else {
                left = middle;
            }
        }
        still
    }
}

/// The same day `years` later; 29 February becomes 1 March in a common year, which is when
/// the law counts such a birthday as reached.
pub fn add_years(date: NaiveDate, years: u32) -> NaiveDate {
    use chrono::Datelike;
    let year = date.year() + years as i32;
    NaiveDate::from_ymd_opt(year, date.month(), date.day())
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(year, 3, 1).expect("1 March exists"))
}

/// Everything static the queue refers to, in one value the domain can consult.
#[derive(Clone, Debug, PartialEq)]
pub struct Catalog {
    pub districts: BTreeMap<DistrictId, District>,
    pub kindergartens: BTreeMap<KindergartenId, Kindergarten>,
    pub groups: BTreeMap<GroupId, Group>,
    pub categories: BTreeMap<String, PriorityCategory>,
    pub school_age: SchoolAgeRule,
    /// Districts without an entry follow `DistrictPolicy::default()`.
    pub policies: BTreeMap<DistrictId, super::referral::DistrictPolicy>,
    pub calendar: super::calendar::WorkCalendar,
    /// The full name of the head of each district's education department, once set.
    pub education_heads: BTreeMap<DistrictId, String>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            districts: BTreeMap::new(),
            kindergartens: BTreeMap::new(),
            groups: BTreeMap::new(),
            categories: BTreeMap::new(),
            school_age: SchoolAgeRule::default(),
            policies: BTreeMap::new(),
            calendar: super::calendar::WorkCalendar::shipped(),
            education_heads: BTreeMap::new(),
        }
    }
}

impl Catalog {
    pub fn district_by_code(&self, code: &str) -> Option<&District> {
        self.districts
            .values()
            .find(|district| district.code == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_child_six_before_september_leaves_that_september() {
        let rule = SchoolAgeRule::default();
        assert_eq!(
            rule.leaves_preschool_on(date(2019, 8, 31)),
            date(2025, 9, 1)
        );
        assert_eq!(rule.leaves_preschool_on(date(2019, 9, 1)), date(2025, 9, 1));
        assert_eq!(rule.leaves_preschool_on(date(2019, 9, 2)), date(2026, 9, 1));
        assert!(rule.is_preschool_on(date(2019, 9, 2), date(2026, 8, 31)));
        assert!(!rule.is_preschool_on(date(2019, 9, 2), date(2026, 9, 1)));
    }

    #[test]
    fn a_leap_day_birthday_is_reached_on_the_first_of_march() {
        assert_eq!(add_years(date(2020, 2, 29), 1), date(2021, 3, 1));
        assert_eq!(add_years(date(2020, 2, 29), 4), date(2024, 2, 29));
    }

    #[test]
    fn the_earliest_birth_date_still_preschool_is_the_first_of_september_six_years_before() {
        let rule = SchoolAgeRule::default();
        // On 1 September 2026 the children born up to 1 September 2020 have gone to school.
        assert_eq!(
            rule.earliest_birth_preschool_on(date(2026, 9, 1)),
            date(2020, 9, 2)
        );
        assert_eq!(
            rule.earliest_birth_preschool_on(date(2026, 8, 31)),
            date(2019, 9, 2)
        );
    }

    proptest::proptest! {
        /// The bisection agrees with the rule itself, day by day, for any configured rule.
        #[test]
        fn the_earliest_birth_date_divides_preschool_from_school_age(
            entry in 5u32..8,
            extra in 0u32..2,
            month in 1u32..13,
            day_of_month in 1u32..29,
            day_offset in 0i64..36_500,
            birth_back in 0i64..3_300,
        ) {
            let rule = SchoolAgeRule {
                school_entry_age_years: entry,
                school_year_start_month: month,
                school_year_start_day: day_of_month,
                preschool_age_limit_years: entry + extra,
            };
            let day = date(1950, 1, 1) + chrono::Days::new(day_offset as u64);
            let birth = day - chrono::Days::new(birth_back as u64);
            let earliest = rule.earliest_birth_preschool_on(day);
            proptest::prop_assert_eq!(rule.is_preschool_on(birth, day), birth >= earliest);
        }
    }

    #[test]
    fn languages_are_two_lowercase_letters() {
        assert_eq!(Language::parse("kk"), Some(Language::KAZAKH));
        assert_eq!(Language::parse("KK"), None);
        assert_eq!(Language::parse("kaz"), None);
        assert_eq!(Language::parse("қз"), None);
    }
}
