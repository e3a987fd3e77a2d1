//! Free places and referrals (жолдама / направление), and the district policies that govern
//! them. A kindergarten reports free places; each place goes, as a referral, to the
//! application whose turn it is; a referral is handed in, or it lapses (declined, expired,
//! revoked) and the place goes to the next child at once.

use super::application::ApplicationId;
use super::catalog::{AgeBand, DistrictId, GroupId, KindergartenId, Language, Tier};
use super::waiting_list::{Place, TierSplit};
use chrono::{DateTime, NaiveDate, Utc};
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

/// A district's rules for referrals. Configuration, with the national defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistrictPolicy {
    /// A referral must be handed in within this many working days (the day of issue is not
    /// counted); it lapses at the end of the last one.
    pub referral_validity_working_days: u32,
    /// On the parent's request, once, the validity may be extended up to this many calendar
    /// days after the day of issue.
    pub extension_calendar_days: u32,
    /// A child whose referral lapsed takes no place for this many days.
    pub stop_list_days: u32,
    /// Astana's rule: first-priority and general children share places 1 : 3.
    pub interleave_first_priority: bool,
    /// A family that moves into the district keeps its original registration time (the
    /// Russian rules do); otherwise it queues from the day it moved.
    #[serde(default = "yes")]
    pub move_keeps_registration_time: bool,
    /// A priority verified in the old district carries over to this one; otherwise the
    /// claim waits for this district's officer again (in the general tier meanwhile).
    #[serde(default = "yes")]
    pub move_keeps_priority: bool,
    /// Transfer requests of enrolled children take a place before first-time applicants.
    /// Off (the default): a place goes to a transfer only when no first-time applicant
    /// fits it.
    #[serde(default)]
    pub transfers_before_first_time: bool,
}

fn yes() -> bool {
    true
}

impl Default for DistrictPolicy {
    fn default() -> Self {
        DistrictPolicy {
            referral_validity_working_days: 5,
            extension_calendar_days: 30,
            stop_list_days: 10,
            interleave_first_priority: false,
            move_keeps_registration_time: true,
            move_keeps_priority: true,
            transfers_before_first_time: false,
        }
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
