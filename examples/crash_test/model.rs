//! The reference model the crash test replays the surviving operations in: plain vectors,
//! compared by queue key on demand, written from DOMAIN.md and nothing else (it shares no
//! code with `src/domain/`, whose allocation it is meant to check).
//!
//! The crash test's workload has one district, the general tier only (no priority claims
//! are decided) and a clock that stands still, so the rules it needs are:
//! - the queue key is `(registered_at, registration number)`;
//! - a place goes to the first waiting application in key order that fits it: birth date in
//!   the band, language equal or any, the kindergarten among the choices or any, desired
//!   start not after the place's date, no referral outstanding, not on the stop list;
//! - a new registration takes an open place that fits it at once, its most wanted
//!   kindergarten first (any kindergarten: all equal), then the earliest reported place;
//! - a hand-in fills the place and enrols the child; a decline reopens the place, puts the
//!   child on the stop list (no clock moves, so it stays there) and the place goes at once
//!   to the next child in order.

use chrono::{Datelike, NaiveDate};

/// What a registration asks for, as the client sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Form {
    pub birth: NaiveDate,
    /// `None`: any language.
    pub language: Option<String>,
    /// Kindergarten ids, most wanted first; empty: any kindergarten of the district.
    pub choices: Vec<u32>,
    pub desired_start: NaiveDate,
}

/// Free places as the client reported them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vacancy {
    pub kindergarten: u32,
    pub born_from: NaiveDate,
    pub born_to: NaiveDate,
    pub language: String,
    pub count: u32,
    pub available_from: NaiveDate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildState {
    Waiting { held: bool },
    Referred(u32),
    Enrolled,
}

#[derive(Clone, Debug)]
pub struct Child {
    pub number: u32,
    pub registered_at_micros: i64,
    pub form: Form,
    pub state: ChildState,
}

impl Child {
    fn key(&self) -> (i64, u32) {
        (self.registered_at_micros, self.number)
    }

    pub fn cohort(&self) -> i32 {
        self.form.birth.year()
    }

    pub fn wants(&self, kindergarten: u32) -> bool {
        self.form.choices.is_empty() || self.form.choices.contains(&kindergarten)
    }

    fn fits(&self, place: &Place) -> bool {
        self.state == ChildState::Waiting { held: false }
            && place.vacancy.born_from <= self.form.birth
            && self.form.birth <= place.vacancy.born_to
            && self
                .form
                .language
                .as_ref()
                .is_none_or(|l| *l == place.vacancy.language)
            && self.wants(place.vacancy.kindergarten)
            && self.form.desired_start <= place.vacancy.available_from
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaceState {
    Open,
    Held(u32),
    Filled,
}

#[derive(Clone, Debug)]
pub struct Place {
    pub id: u64,
    pub vacancy: Vacancy,
    pub state: PlaceState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferralState {
    Issued,
    HandedIn,
    Declined,
}

impl ReferralState {
    /// The name the API and the tables use.
    pub fn code(self) -> &'static str {
        match self {
            ReferralState::Issued => "issued",
            ReferralState::HandedIn => "handed_in",
            ReferralState::Declined => "declined",
        }
    }
}

/// A referral: (number, place, application number, kindergarten).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Issued {
    pub number: u32,
    pub place: u64,
    pub application: u32,
    pub kindergarten: u32,
}

#[derive(Clone, Debug)]
pub struct ModelReferral {
    pub issued: Issued,
    pub state: ReferralState,
}

/// Why the model cannot take an operation: the journal asked for something impossible.
pub type ModelError = String;

#[derive(Default)]
pub struct Model {
    /// Index `number - 1`.
    pub children: Vec<Child>,
    /// Index `id - 1`.
    pub places: Vec<Place>,
    /// Index `number - 1`.
    pub referrals: Vec<ModelReferral>,
}

impl Model {
    /// Registers; returns the number and the referral it got at once, if any.
    pub fn register(&mut self, form: Form, registered_at_micros: i64) -> (u32, Option<Issued>) {
        let number = self.children.len() as u32 + 1;
        self.children.push(Child {
            number,
            registered_at_micros,
            form,
            state: ChildState::Waiting { held: false },
        });
        let child = &self.children[number as usize - 1];
        let preference = |place: &Place| {
            let choices = &child.form.choices;
            let rank = choices
                .iter()
                .position(|k| *k == place.vacancy.kindergarten)
                .unwrap_or(choices.len());
            (rank, place.id)
        };
        let chosen = self
            .places
            .iter()
            .filter(|p| p.state == PlaceState::Open && child.fits(p))
            .min_by_key(|p| preference(p))
            .map(|p| p.id);
        let referral = chosen.map(|place| self.issue(place, number));
        (number, referral)
    }

    /// Reports places; returns their ids and the referrals they went to, in order.
    pub fn report(&mut self, vacancy: Vacancy) -> (Vec<u64>, Vec<Issued>) {
        let first = self.places.len() as u64 + 1;
        let ids: Vec<u64> = (first..first + u64::from(vacancy.count)).collect();
        for id in &ids {
            self.places.push(Place {
                id: *id,
                vacancy: vacancy.clone(),
                state: PlaceState::Open,
            });
        }
        let referrals = ids.iter().filter_map(|id| self.allocate(*id)).collect();
        (ids, referrals)
    }

    pub fn hand_in(&mut self, number: u32) -> Result<(), ModelError> {
        let (place, application) = self.live(number)?;
        self.referrals[number as usize - 1].state = ReferralState::HandedIn;
        self.places[place as usize - 1].state = PlaceState::Filled;
        self.children[application as usize - 1].state = ChildState::Enrolled;
        Ok(())
    }

    /// Declines; returns the referral the freed place went to, if anyone fits it.
    pub fn decline(&mut self, number: u32) -> Result<Option<Issued>, ModelError> {
        let (place, application) = self.live(number)?;
        self.referrals[number as usize - 1].state = ReferralState::Declined;
        self.places[place as usize - 1].state = PlaceState::Open;
        self.children[application as usize - 1].state = ChildState::Waiting { held: true };
        Ok(self.allocate(place))
    }

    /// The waiting applications (the stop list included) of a birth-year cohort, in queue
    /// order; with a kindergarten, only those that chose it or any.
    pub fn queue(&self, cohort: i32, kindergarten: Option<u32>) -> Vec<(u32, bool)> {
        let mut waiting: Vec<&Child> = self
            .children
            .iter()
            .filter(|c| matches!(c.state, ChildState::Waiting { .. }) && c.cohort() == cohort)
            .filter(|c| kindergarten.is_none_or(|k| c.wants(k)))
            .collect();
        waiting.sort_by_key(|c| c.key());
        waiting
            .iter()
            .map(|c| (c.number, c.state == ChildState::Waiting { held: true }))
            .collect()
    }

    fn live(&self, number: u32) -> Result<(u64, u32), ModelError> {
        match self.referrals.get((number as usize).wrapping_sub(1)) {
            Some(r) if r.state == ReferralState::Issued => {
                Ok((r.issued.place, r.issued.application))
            }
            Some(r) => Err(format!("referral R{number} is {:?}, not live", r.state)),
            None => Err(format!("referral R{number} was never issued")),
        }
    }

    /// The place goes to the first fitting child in key order, if any.
    fn allocate(&mut self, place: u64) -> Option<Issued> {
        let open = &self.places[place as usize - 1];
        debug_assert_eq!(open.state, PlaceState::Open);
        let mut fitting: Vec<&Child> = self.children.iter().filter(|c| c.fits(open)).collect();
        fitting.sort_by_key(|c| c.key());
        let number = fitting.first()?.number;
        Some(self.issue(place, number))
    }

    fn issue(&mut self, place: u64, application: u32) -> Issued {
        let issued = Issued {
            number: self.referrals.len() as u32 + 1,
            place,
            application,
            kindergarten: self.places[place as usize - 1].vacancy.kindergarten,
        };
        self.referrals.push(ModelReferral {
            issued,
            state: ReferralState::Issued,
        });
        self.places[place as usize - 1].state = PlaceState::Held(issued.number);
        self.children[application as usize - 1].state = ChildState::Referred(issued.number);
        issued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn form(choices: Vec<u32>, language: Option<&str>) -> Form {
        Form {
            birth: day(2023, 5, 1),
            language: language.map(str::to_string),
            choices,
            desired_start: day(2026, 12, 1),
        }
    }

    fn vacancy(kindergarten: u32, count: u32) -> Vacancy {
        Vacancy {
            kindergarten,
            born_from: day(2023, 1, 1),
            born_to: day(2023, 12, 31),
            language: "kk".into(),
            count,
            available_from: day(2026, 12, 1),
        }
    }

    #[test]
    fn places_go_in_key_order_and_a_decline_passes_the_place_on() {
        let mut model = Model::default();
        assert_eq!(model.register(form(vec![1], Some("kk")), 5).0, 1);
        assert_eq!(model.register(form(vec![], None), 5).0, 2);
        model.register(form(vec![2], None), 5);
        let (places, referrals) = model.report(vacancy(1, 3));
        assert_eq!(places, [1, 2, 3]);
        let to: Vec<u32> = referrals.iter().map(|r| r.application).collect();
        assert_eq!(to, [1, 2], "the third child wants only kindergarten 2");
        assert_eq!(model.decline(1).unwrap(), None, "nobody else fits");
        assert_eq!(model.queue(2023, None), [(1, true), (3, false)]);
        assert_eq!(model.queue(2023, Some(1)), [(1, true)]);
        // The next registration takes the earliest open place.
        let (_, at_once) = model.register(form(vec![1], Some("kk")), 6);
        assert_eq!(at_once.map(|r| r.place), Some(1));
        assert!(model.hand_in(1).is_err(), "declined");
        model.hand_in(2).unwrap();
        assert_eq!(model.places[1].state, PlaceState::Filled);
    }

    #[test]
    fn a_registration_takes_its_most_wanted_kindergarten_first() {
        let mut model = Model::default();
        model.report(vacancy(1, 1));
        model.report(vacancy(2, 1));
        let (_, referral) = model.register(form(vec![2, 1], None), 1);
        assert_eq!(referral.map(|r| r.place), Some(2));
    }
}
