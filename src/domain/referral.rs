//! Free places and referrals (жолдама / направление), and the district policies that govern
//! them. A kindergarten reports free places; each place goes, as a referral, to the
//! application whose turn it is; a referral is handed in, or it lapses (declined, expired,
//! revoked) and the place goes to the next child at once.

use super::application::ApplicationId;
use super::calendar::{end_of_local_day, WorkCalendar};
use super::catalog::{AgeBand, DistrictId, GroupId, KindergartenId, Language, Tier};
use super::local_date;
use super::waiting_list::{Place, TierSplit};
use chrono::{DateTime, Days, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One free place. Numbered across the whole service, in the order places were reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PlaceId(pub u64);

/// A referral's number in its district's journal of referrals: gapless, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReferralNumber(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReferralId {
    pub district: DistrictId,
    pub number: ReferralNumber,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreePlace {
    pub id: PlaceId,
    pub district: DistrictId,
    pub kindergarten: KindergartenId,
    pub group: Option<GroupId>,
    pub age_band: AgeBand,
    pub language: Language,
    pub available_from: NaiveDate,
    pub reported_at: DateTime<Utc>,
}

impl FreePlace {
    pub fn as_place(&self) -> Place {
        Place {
            kindergarten: self.kindergarten,
            age_band: self.age_band,
            language: self.language,
            available_from: self.available_from,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    Issued,
    HandedIn,
    Declined,
    Expired,
    Revoked,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    pub id: ReferralId,
    pub place: PlaceId,
    pub application: ApplicationId,
    pub kindergarten: KindergartenId,
    pub issued_at: DateTime<Utc>,
    /// The end of the last day it may be handed in (local midnight, as an instant).
    pub valid_until: DateTime<Utc>,
    pub extended: bool,
    pub status: ReferralStatus,
    pub closed_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    /// For a child already enrolled elsewhere (a transfer request): handed in, it moves the
    /// child and frees the old place; lapsed, it ends the request. Absent from the journal's
    /// payload when false, so referrals written before transfers encode as they did.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub transfer: bool,
    /// The intake round whose close issued it (issue 18); absent for a place-by-place one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<super::intake::RoundId>,
}

impl Referral {
    /// A referral just issued for `place` to `application`.
    pub fn issued(
        id: ReferralId,
        place: &FreePlace,
        application: ApplicationId,
        issued_at: DateTime<Utc>,
        valid_until: DateTime<Utc>,
    ) -> Referral {
        Referral {
            id,
            place: place.id,
            application,
            kindergarten: place.kindergarten,
            issued_at,
            valid_until,
            extended: false,
            status: ReferralStatus::Issued,
            closed_at: None,
            reason: None,
            transfer: false,
            round: None,
        }
    }
}

/// Why a referral ended without the child being enrolled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Lapse {
    Declined,
    Expired,
    Revoked {
        reason: String,
        /// The priority the referral was issued on turned out unconfirmed: the child drops
        /// to the general tier, keeping its registration time.
        priority_unconfirmed: bool,
    },
}

impl Lapse {
    pub fn status(&self) -> ReferralStatus {
        match self {
            Lapse::Declined => ReferralStatus::Declined,
            Lapse::Expired => ReferralStatus::Expired,
            Lapse::Revoked { .. } => ReferralStatus::Revoked,
        }
    }
}

/// How long a referral may be handed in, counted from the day after its day of issue; it
/// lapses at the end of the last day, local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Validity {
    /// `days` working days (national rules and Almaty: 5).
    WorkingDays { days: u32 },
    /// `days` calendar days (seed 000's form: "within 5 days").
    CalendarDays { days: u32 },
    /// To the same date of the next month, or its last day if shorter (seed 004, Astana:
    /// "within a month").
    CalendarMonth,
}

impl Validity {
    pub const WORKING_DAYS_MAX: u32 = 30;
    pub const CALENDAR_DAYS_MAX: u32 = 60;

    /// The last day a referral issued on `issue_day` may be handed in.
    pub fn last_day(self, issue_day: NaiveDate, calendar: &WorkCalendar) -> NaiveDate {
        match self {
            Validity::WorkingDays { days } => calendar.working_days_after(issue_day, days),
            Validity::CalendarDays { days } => issue_day + Days::new(u64::from(days)),
            Validity::CalendarMonth => issue_day
                .checked_add_months(Months::new(1))
                .expect("a month after a day in the calendar's range exists"),
        }
    }

    fn is_valid(self) -> bool {
        match self {
            Validity::WorkingDays { days } => (1..=Self::WORKING_DAYS_MAX).contains(&days),
            Validity::CalendarDays { days } => (1..=Self::CALENDAR_DAYS_MAX).contains(&days),
            Validity::CalendarMonth => true,
        }
    }
}

/// Whether, on the parent's request, a referral's validity may be extended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Extension {
    NotAllowed,
    /// Once, to the end of the `calendar_days_after_issue`-th calendar day after the day of
    /// issue (Astana practice: 30).
    Once {
        calendar_days_after_issue: u32,
    },
}

impl Extension {
    pub const CALENDAR_DAYS_MAX: u32 = 90;
}

/// A district's rules for referrals. Configuration, with the national defaults.
///
/// Journals written before the validity rule could be chosen hold the first shape
/// (`referral_validity_working_days`, `extension_calendar_days`); `PolicyPayload` reads both,
/// so an old journal replays to the same policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PolicyPayload")]
pub struct DistrictPolicy {
    pub validity: Validity,
    pub extension: Extension,
    /// A child whose referral lapsed takes no place for this many days.
    pub stop_list_days: u32,
    /// Astana's rule: first-priority and general children share places 1 : 3.
    pub interleave_first_priority: bool,
    /// A family that moves into the district keeps its original registration time (the
    /// Russian rules do); otherwise it queues from the day it moved.
    pub move_keeps_registration_time: bool,
    /// A priority verified in the old district carries over to this one; otherwise the
    /// claim waits for this district's officer again (in the general tier meanwhile).
    pub move_keeps_priority: bool,
    /// Transfer requests of enrolled children take a place before first-time applicants.
    /// Off (the default): a place goes to a transfer only when no first-time applicant
    /// fits it.
    pub transfers_before_first_time: bool,
    /// Declining a referral an intake round gave puts the child on the stop list as any
    /// decline does. Off (the default): the child goes back to its position at once, its
    /// higher choices still open to it (the round gave it the best choice left at its turn;
    /// declining it to wait for a better one is what the round's order already honours).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub round_decline_stop_list: bool,
    /// Days an ended application's personal data is kept before the daily sweep erases it
    /// (issue 16 §3; README "Personal data"). Absent from the payload at the default.
    #[serde(
        default = "default_retention_days",
        skip_serializing_if = "is_default_retention_days"
    )]
    pub retention_days: u32,
}

/// Three years: our reading of the retention of state-service records (README).
pub const RETENTION_DAYS_DEFAULT: u32 = 1096;

fn default_retention_days() -> u32 {
    RETENTION_DAYS_DEFAULT
}

fn is_default_retention_days(days: &u32) -> bool {
    *days == RETENTION_DAYS_DEFAULT
}

fn yes() -> bool {
    true
}

impl Default for DistrictPolicy {
    fn default() -> Self {
        DistrictPolicy {
            validity: Validity::WorkingDays { days: 5 },
            extension: Extension::Once {
                calendar_days_after_issue: 30,
            },
            stop_list_days: 10,
            interleave_first_priority: false,
            move_keeps_registration_time: true,
            move_keeps_priority: true,
            transfers_before_first_time: false,
            round_decline_stop_list: false,
            retention_days: RETENTION_DAYS_DEFAULT,
        }
    }
}

/// Why a district policy cannot be set: the one sentence the API shows beside its code.
pub const POLICY_OUT_OF_RANGE: &str = "validity 1-30 working days or 1-60 calendar days, \
     extension 1-90 calendar days after issue, stop list 0-90 days, retention 30-3653 days";

impl DistrictPolicy {
    pub const STOP_LIST_DAYS_MAX: u32 = 90;
    pub const RETENTION_DAYS: std::ops::RangeInclusive<u32> = 30..=3653;

    /// Checks the ranges; `Err` carries `POLICY_OUT_OF_RANGE`.
    pub fn check(&self) -> Result<(), &'static str> {
        let extension_valid = match self.extension {
            Extension::NotAllowed => true,
            Extension::Once {
                calendar_days_after_issue,
            } => (1..=Extension::CALENDAR_DAYS_MAX).contains(&calendar_days_after_issue),
        };
        let valid = self.validity.is_valid()
            && extension_valid
            && self.stop_list_days <= Self::STOP_LIST_DAYS_MAX
            && Self::RETENTION_DAYS.contains(&self.retention_days);
        if valid {
            Ok(())
        } else {
            Err(POLICY_OUT_OF_RANGE)
        }
    }

    /// When a referral issued at `issued_at` lapses: the end of its last day, local time.
    pub fn validity_end(&self, issued_at: DateTime<Utc>, calendar: &WorkCalendar) -> DateTime<Utc> {
        let last = self.validity.last_day(local_date(issued_at), calendar);
        end_of_local_day(last)
    }
}

/// Every shape a `PolicySet` payload has had: the current one, or the first (working days
/// only, always extensible; the move and transfer options came later, with defaults). Only
/// read; the current shape is what is written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyPayload {
    validity: Option<Validity>,
    extension: Option<Extension>,
    /// The first shape's validity in working days.
    referral_validity_working_days: Option<u32>,
    /// The first shape's extension, in calendar days after issue.
    extension_calendar_days: Option<u32>,
    stop_list_days: u32,
    interleave_first_priority: bool,
    #[serde(default = "yes")]
    move_keeps_registration_time: bool,
    #[serde(default = "yes")]
    move_keeps_priority: bool,
    #[serde(default)]
    transfers_before_first_time: bool,
    #[serde(default)]
    round_decline_stop_list: bool,
    #[serde(default = "default_retention_days")]
    retention_days: u32,
}

impl TryFrom<PolicyPayload> for DistrictPolicy {
    type Error = &'static str;

    fn try_from(payload: PolicyPayload) -> Result<Self, Self::Error> {
        let validity = match (payload.validity, payload.referral_validity_working_days) {
            (Some(validity), None) => validity,
            (None, Some(days)) => Validity::WorkingDays { days },
            _ => return Err("a policy has either `validity` or `referral_validity_working_days`"),
        };
        let extension = match (payload.extension, payload.extension_calendar_days) {
            (Some(extension), None) => extension,
            (None, Some(days)) => Extension::Once {
                calendar_days_after_issue: days,
            },
            _ => return Err("a policy has either `extension` or `extension_calendar_days`"),
        };
        Ok(DistrictPolicy {
            validity,
            extension,
            stop_list_days: payload.stop_list_days,
            interleave_first_priority: payload.interleave_first_priority,
            move_keeps_registration_time: payload.move_keeps_registration_time,
            move_keeps_priority: payload.move_keeps_priority,
            transfers_before_first_time: payload.transfers_before_first_time,
            round_decline_stop_list: payload.round_decline_stop_list,
            retention_days: payload.retention_days,
        })
    }
}

/// Where a district stands in the 1 : 3 cycle: how many general referrals followed the
/// last first-priority one. Three or more means a first-priority child is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InterleaveCycle(pub u8);

/// General referrals per first-priority referral.
pub const GENERAL_PER_FIRST: u8 = 3;

impl Default for InterleaveCycle {
    /// A new cycle starts with the first-priority slot.
    fn default() -> Self {
        InterleaveCycle(GENERAL_PER_FIRST)
    }
}

impl InterleaveCycle {
    pub fn first_priority_due(self) -> bool {
        self.0 >= GENERAL_PER_FIRST
    }

    /// How many referrals go before the child `split` describes if places keep coming that
    /// everyone in its set fits and nobody else joins: every out-of-turn child first, then
    /// first-priority and general children one to three from where the cycle stands, the
    /// other side alone once one side runs out (as `QueueState::choose_for` allocates).
    pub fn turns_before(self, split: &TierSplit) -> u32 {
        let [out_of_turn, first, general] = split.totals;
        let ahead = split.ahead_in_tier;
        // General referrals still due before the next first-priority one.
        let generals_first = u32::from(GENERAL_PER_FIRST - self.0.min(GENERAL_PER_FIRST));
        let per_first = u32::from(GENERAL_PER_FIRST);
        match split.tier {
            Tier::OutOfTurn => ahead,
            // The (ahead + 1)-th first-priority turn comes after `generals_first` general
            // turns and three more between each two first-priority ones.
            Tier::First => out_of_turn + ahead + general.min(generals_first + per_first * ahead),
            // First-priority turns come after `generals_first` general ones, then after
            // every three.
            Tier::General => {
                let firsts = if ahead >= generals_first {
                    (ahead - generals_first) / per_first + 1
                } else {
                    0
                };
                out_of_turn + ahead + first.min(firsts)
            }
        }
    }

    /// The turns `offset..offset + limit` of a set whose tiers hold `totals` children, as
    /// (tier, index within the tier in key order): the queue listed in the order places
    /// would go, so that the n-th listed is the child whose position is n. Each tier's
    /// first index at or after `offset` is found by bisection (`turns_before` rises within
    /// a tier), so a deep page costs O(log n), not O(offset).
    pub fn turns(self, totals: [u32; 3], offset: u32, limit: u32) -> Vec<(Tier, u32)> {
        let tiers = [Tier::OutOfTurn, Tier::First, Tier::General];
        let turn_of = |tier: Tier, index: u32| {
            self.turns_before(&TierSplit {
                tier,
                totals,
                ahead_in_tier: index,
            })
        };
        let mut next = [0usize, 1, 2].map(|t| {
            let (mut lo, mut hi) = (0, totals[t]);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if turn_of(tiers[t], mid) < offset {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            lo
        });
        let end = offset.saturating_add(limit).min(totals.iter().sum());
        let mut turns = Vec::with_capacity(end.saturating_sub(offset) as usize);
        for turn in offset..end {
            let t = (0..3)
                .find(|&t| next[t] < totals[t] && turn_of(tiers[t], next[t]) == turn)
                .expect("every turn belongs to exactly one tier's next child");
            turns.push((tiers[t], next[t]));
            next[t] += 1;
        }
        turns
    }

    /// The cycle after a referral to a child of `tier`. Out-of-turn children stand outside it.
    pub fn after(self, tier: Tier) -> InterleaveCycle {
        match tier {
            Tier::OutOfTurn => self,
            Tier::First => InterleaveCycle(0),
            Tier::General => InterleaveCycle((self.0 + 1).min(GENERAL_PER_FIRST)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// The cycle played step by step, as allocation goes when every child fits: out of turn
    /// first, then first priority when due or when no general child is left, else general.
    fn played_out(mut cycle: InterleaveCycle, totals: [u32; 3]) -> Vec<(Tier, u32)> {
        let mut taken = [0u32; 3];
        let mut order = Vec::new();
        while taken != totals {
            let left = |t: usize| taken[t] < totals[t];
            let t = if left(0) {
                0
            } else if left(1) && (cycle.first_priority_due() || !left(2)) {
                1
            } else {
                2
            };
            let tier = [Tier::OutOfTurn, Tier::First, Tier::General][t];
            order.push((tier, taken[t]));
            taken[t] += 1;
            cycle = cycle.after(tier);
        }
        order
    }

    proptest::proptest! {
        #[test]
        fn the_turns_are_the_cycle_played_out_step_by_step(
            state in 0u8..=GENERAL_PER_FIRST,
            totals in proptest::array::uniform3(0u32..12),
            offset in 0u32..40,
            limit in 0u32..40,
        ) {
            let cycle = InterleaveCycle(state);
            let played = played_out(cycle, totals);
            let whole = cycle.turns(totals, 0, u32::MAX);
            proptest::prop_assert_eq!(&whole, &played);
            let from = (offset as usize).min(played.len());
            let to = (offset as usize + limit as usize).min(played.len());
            proptest::prop_assert_eq!(cycle.turns(totals, offset, limit), played[from..to].to_vec());
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Friday 20 November 2026, 17:30 local.
    fn friday_evening() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 12, 30, 0).unwrap()
    }

    fn with_validity(validity: Validity) -> DistrictPolicy {
        DistrictPolicy {
            validity,
            ..DistrictPolicy::default()
        }
    }

    #[test]
    fn each_validity_rule_ends_at_the_end_of_its_last_local_day() {
        let calendar = WorkCalendar::shipped();
        let cases = [
            // Counted Mon 23 .. Fri 27 (national rules).
            (Validity::WorkingDays { days: 5 }, date(2026, 11, 27)),
            // Counted Sat 21 .. Wed 25 (seed 000).
            (Validity::CalendarDays { days: 5 }, date(2026, 11, 25)),
            // Seed 004: within a month.
            (Validity::CalendarMonth, date(2026, 12, 20)),
        ];
        for (validity, last_day) in cases {
            let end = with_validity(validity).validity_end(friday_evening(), &calendar);
            assert_eq!(end, end_of_local_day(last_day), "{validity:?}");
        }
    }

    #[test]
    fn a_month_from_the_thirty_first_ends_on_the_last_day_of_a_shorter_month() {
        let calendar = WorkCalendar::shipped();
        let last = Validity::CalendarMonth.last_day(date(2027, 1, 31), &calendar);
        assert_eq!(last, date(2027, 2, 28));
    }

    #[test]
    fn ranges_are_checked() {
        assert!(DistrictPolicy::default().check().is_ok());
        assert!(with_validity(Validity::WorkingDays { days: 0 })
            .check()
            .is_err());
        assert!(with_validity(Validity::WorkingDays { days: 31 })
            .check()
            .is_err());
        assert!(with_validity(Validity::CalendarDays { days: 61 })
            .check()
            .is_err());
        assert!(with_validity(Validity::CalendarMonth).check().is_ok());
        let no_extension = DistrictPolicy {
            extension: Extension::NotAllowed,
            ..DistrictPolicy::default()
        };
        assert!(no_extension.check().is_ok());
        let zero_extension = DistrictPolicy {
            extension: Extension::Once {
                calendar_days_after_issue: 0,
            },
            ..DistrictPolicy::default()
        };
        assert_eq!(zero_extension.check(), Err(POLICY_OUT_OF_RANGE));
    }

    /// A journal written before issue 12 holds the first shape; it must decode to the policy
    /// it meant, and a policy must round-trip through the current shape.
    #[test]
    fn the_first_payload_shape_still_decodes_and_the_current_one_round_trips() {
        let old = r#"{"referral_validity_working_days":7,"extension_calendar_days":20,"stop_list_days":10,"interleave_first_priority":true}"#;
        let policy: DistrictPolicy = serde_json::from_str(old).unwrap();
        assert_eq!(policy.validity, Validity::WorkingDays { days: 7 });
        assert_eq!(
            policy.extension,
            Extension::Once {
                calendar_days_after_issue: 20
            }
        );
        assert!(policy.interleave_first_priority);

        let month = DistrictPolicy {
            validity: Validity::CalendarMonth,
            extension: Extension::NotAllowed,
            ..DistrictPolicy::default()
        };
        let text = serde_json::to_string(&month).unwrap();
        assert_eq!(
            text,
            r#"{"validity":{"kind":"calendar_month"},"extension":{"kind":"not_allowed"},"stop_list_days":10,"interleave_first_priority":false,"move_keeps_registration_time":true,"move_keeps_priority":true,"transfers_before_first_time":false}"#
        );
        assert_eq!(
            serde_json::from_str::<DistrictPolicy>(&text).unwrap(),
            month
        );

        // The shape of the move and transfer options (issue 12, parts 2 and 4): still the
        // first validity fields.
        let moves = r#"{"referral_validity_working_days":5,"extension_calendar_days":30,"stop_list_days":10,"interleave_first_priority":false,"move_keeps_registration_time":false,"move_keeps_priority":true,"transfers_before_first_time":true}"#;
        let policy: DistrictPolicy = serde_json::from_str(moves).unwrap();
        assert_eq!(policy.validity, Validity::WorkingDays { days: 5 });
        assert!(!policy.move_keeps_registration_time && policy.transfers_before_first_time);
        assert!(
            serde_json::from_str::<DistrictPolicy>(old)
                .unwrap()
                .move_keeps_priority
        );

        let both = r#"{"validity":{"kind":"calendar_month"},"referral_validity_working_days":7,"extension_calendar_days":20,"stop_list_days":10,"interleave_first_priority":true}"#;
        assert!(serde_json::from_str::<DistrictPolicy>(both).is_err());
    }

    #[test]
    fn the_cycle_is_one_first_priority_then_three_general() {
        let mut cycle = InterleaveCycle::default();
        let mut due = Vec::new();
        for _ in 0..8 {
            let tier = if cycle.first_priority_due() {
                Tier::First
            } else {
                Tier::General
            };
            due.push(tier);
            cycle = cycle.after(tier);
        }
        use Tier::{First as F, General as G};
        assert_eq!(due, [F, G, G, G, F, G, G, G]);
        assert_eq!(cycle.after(Tier::OutOfTurn), cycle);
    }
}
