//! The annual intake round: the places a district's kindergartens report for one date (e.g.
//! 1 September) are collected while the round is open and allocated together at its close,
//! instead of one by one as they come in.
//!
//! One by one, the outcome hangs on the order the kindergartens report in: the child first
//! in the queue takes its third choice on Monday and its first choice's places go on
//! Tuesday to children behind it. The round is serial dictatorship instead: children are
//! taken in the district's queue order (the order place-by-place allocation gives them,
//! with the 1 : 3 cycle played out when the district's policy has it), and each takes its
//! most preferred kindergarten, in the order of its choices, that still has a place fitting
//! it (`Waiting::fits`: age band, language, start date). With one common priority order
//! this is the unique stable matching: no child prefers a kindergarten that had a fitting
//! place left when its turn came (it would have taken it), or whose fitting place went to a
//! child behind it (that place was still there at its turn).
//!
//! - A child taking "any kindergarten" takes the first kindergarten with a fitting place in
//!   the order the district publishes (the catalog's order unless the administrator set
//!   another for the round).
//! - A family "together only" is taken at its first child's turn and gets places together in
//!   its most preferred kindergarten (its first child's choices) that has a fitting place for
//!   each waiting child, or none; with none it keeps its position and waits. A family is one
//!   turn, as place by place: the turn gives its first child (in key order) a place; each
//!   further place is the family's only if no child still waiting with a smaller key (a
//!   family passed over aside) fits it. Otherwise, with the 1 : 3 cycle, a general family's
//!   turn would take places a first-priority child ahead of it in key order fits and was
//!   still to have its turn for.
//! - Transfer requests of enrolled children come after every first-time applicant, in the
//!   order they were made, unless the district's policy puts them first (as place by place).
//! - Within a kindergarten a child takes the earliest reported fitting place; a family the
//!   assignment whose places, child by child, are the earliest possible. Places of one
//!   kindergarten that a child fits are alike to it, so this decides nothing about who gets
//!   which kindergarten; it only makes the round deterministic to the place.
//!
//! [`allocate`] is a pure function of a [`RoundInput`]; `QueueState::intake_input` builds
//! that from the live state, so the dry run, the close and `verify`'s replay compute the
//! same round from the same journal.

use super::application::{ApplicationId, QueueKey};
use super::catalog::{DistrictId, KindergartenId, Tier};
use super::family::FamilyId;
use super::referral::{InterleaveCycle, PlaceId};
use super::waiting_list::{Place, Waiting};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Rounds are numbered across the service, in the order they were opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoundId(pub u32);

/// An intake round as the administrator opened it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeRound {
    pub id: RoundId,
    pub district: DistrictId,
    /// The date the round's places are free from: places reported for this date while the
    /// round is open are the round's.
    pub places_for: NaiveDate,
    /// When the round closes and allocates.
    pub closes_at: DateTime<Utc>,
    /// The order "any kindergarten" children take kindergartens in; empty: the catalog's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any_order: Vec<KindergartenId>,
}

/// A first-time applicant the round considers: its entry of the waiting list, and its family
/// when the family takes places only together (and has at least two children waiting).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub id: ApplicationId,
    pub waiting: Waiting,
    pub together: Option<FamilyId>,
}

/// A place of the round with what it asks of a child on the day of the close (the place's
/// own conditions, narrowed by the school-age rule: `QueueState::fit_of`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundPlace {
    pub id: PlaceId,
    pub fit: Place,
}

/// Everything the round's outcome depends on.
#[derive(Clone, Debug, Default)]
pub struct RoundInput {
    /// First-time applicants in the district's key order (`QueueKey`).
    pub children: Vec<Candidate>,
    /// Enrolled children's transfer requests, in the order they were made; each `Waiting`
    /// as `Waiting::of_transfer` makes it.
    pub transfers: Vec<(ApplicationId, Waiting)>,
    pub places: Vec<RoundPlace>,
    /// The order "any kindergarten" children take kindergartens in.
    pub any_order: Vec<KindergartenId>,
    /// The district's 1 : 3 cycle where it stands, when its policy has the cycle.
    pub cycle: Option<InterleaveCycle>,
    pub transfers_first: bool,
}

/// Which of its choices a child got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "rank", rename_all = "snake_case")]
pub enum ChoiceRank {
    /// The n-th (from 1) of its listed kindergartens.
    Listed(u8),
    /// It takes any kindergarten of the district.
    Any,
}

impl ChoiceRank {
    /// The rank the figures count: a child that takes any kindergarten holds each its first.
    pub fn counted(self) -> u32 {
        match self {
            ChoiceRank::Listed(n) => u32::from(n),
            ChoiceRank::Any => 1,
        }
    }
}

/// One place of the round and the child that gets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub place: PlaceId,
    pub kindergarten: KindergartenId,
    pub child: ApplicationId,
    pub rank: ChoiceRank,
    pub transfer: bool,
    /// The district's 1 : 3 cycle after this referral, when the policy has the cycle (as
    /// `QueueState::referral_to` gives it).
    pub cycle: Option<InterleaveCycle>,
}

/// The round's result: the placements in the order their referrals are issued, the
/// together-families that could not be placed together (they keep their position), and the
/// places nobody fitted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundOutcome {
    pub placements: Vec<Placement>,
    pub passed: Vec<FamilyId>,
    pub unfilled: Vec<PlaceId>,
    /// For each family passed, the places given after its turn that one of its children
    /// would have taken (fits): the round's `FamilyPassedOver` records, as place by place
    /// records a pass for each place that went on down the queue past the family.
    pub passes: Vec<(FamilyId, PlaceId)>,
}

/// The figures an administrator reads beside a round's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RoundFigures {
    pub places: usize,
    pub placed: usize,
    /// Placed at their first choice (or taking any), as a share of those placed.
    pub first_choice_share: f64,
    pub mean_rank: f64,
    pub unfilled: usize,
}

impl RoundOutcome {
    pub fn figures(&self) -> RoundFigures {
        let placed = self.placements.len();
        let firsts = self
            .placements
            .iter()
            .filter(|p| p.rank.counted() == 1)
            .count();
        let ranks: u32 = self.placements.iter().map(|p| p.rank.counted()).sum();
        let share = |n: f64| if placed == 0 { 0.0 } else { n / placed as f64 };
        RoundFigures {
            places: placed + self.unfilled.len(),
            placed,
            first_choice_share: share(firsts as f64),
            mean_rank: share(f64::from(ranks)),
            unfilled: self.unfilled.len(),
        }
    }
}

/// Places of one kindergarten that ask the same of a child, the earliest reported last (so
/// the next to give is `pop`ped).
struct Slot {
    fit: Place,
    ids: Vec<PlaceId>,
}

/// The places not yet given, by kindergarten.
struct Shelf {
    slots: HashMap<KindergartenId, Vec<Slot>>,
}

impl Shelf {
    fn of(places: &[RoundPlace]) -> Shelf {
        let mut sorted: Vec<&RoundPlace> = places.iter().collect();
        sorted.sort_by_key(|p| std::cmp::Reverse(p.id));
        let mut slots: HashMap<KindergartenId, Vec<Slot>> = HashMap::new();
        for place in sorted {
            let list = slots.entry(place.fit.kindergarten).or_default();
            match list.iter_mut().find(|s| s.fit == place.fit) {
                Some(slot) => slot.ids.push(place.id),
                None => list.push(Slot {
                    fit: place.fit,
                    ids: vec![place.id],
                }),
            }
        }
        Shelf { slots }
    }

    /// Takes the earliest reported place of `kindergarten` that `waiting` fits.
    fn take(&mut self, kindergarten: KindergartenId, waiting: &Waiting) -> Option<PlaceId> {
        let slots = self.slots.get_mut(&kindergarten)?;
        slots
            .iter_mut()
            .filter(|s| !s.ids.is_empty() && waiting.fits(&s.fit))
            .min_by_key(|s| *s.ids.last().expect("not empty"))
            .and_then(|s| s.ids.pop())
    }

    /// Places for each of `children` at `kindergarten`, each child's the earliest it can
    /// have with the children before it placed so and every later child still placeable;
    /// `None` when the kindergarten cannot take them all. The family's turn gives its first
    /// child (the first in key order, whose referral comes first) any fitting place; every
    /// further place must be one that `ahead` does not claim (a waiting child with a smaller
    /// key fits it), as place by place (`QueueState::plan_together`). Only the
    /// `children.len()` earliest places of a slot can be needed: its places are alike.
    fn take_together(
        &mut self,
        kindergarten: KindergartenId,
        children: &[(ApplicationId, Waiting)],
        ahead: &impl Fn(&Place) -> bool,
    ) -> Option<Vec<PlaceId>> {
        let slots = self.slots.get(&kindergarten)?;
        let mut candidates: Vec<(PlaceId, usize)> = Vec::new();
        for (s, slot) in slots.iter().enumerate() {
            let earliest = slot.ids.iter().rev().take(children.len());
            candidates.extend(earliest.map(|id| (*id, s)));
        }
        candidates.sort();
        let claimed: Vec<bool> = slots.iter().map(|slot| ahead(&slot.fit)).collect();
        let fits = |c: usize, p: usize| {
            let s = candidates[p].1;
            children[c].1.fits(&slots[s].fit) && (c == 0 || !claimed[s])
        };
        let mut chosen: Vec<usize> = Vec::with_capacity(children.len());
        for c in 0..children.len() {
            let pick = (0..candidates.len()).find(|&p| {
                !chosen.contains(&p) && fits(c, p) && {
                    let mut taken = chosen.clone();
                    taken.push(p);
                    rest_placeable(c + 1, children.len(), candidates.len(), &taken, &fits)
                }
            })?;
            chosen.push(pick);
        }
        let slots = self.slots.get_mut(&kindergarten).expect("looked up above");
        let ids: Vec<PlaceId> = chosen.iter().map(|&p| candidates[p].0).collect();
        for &p in &chosen {
            let (id, s) = candidates[p];
            slots[s].ids.retain(|x| *x != id);
        }
        Some(ids)
    }

    fn unfilled(&self) -> Vec<PlaceId> {
        let mut ids: Vec<PlaceId> = self
            .slots
            .values()
            .flatten()
            .flat_map(|s| s.ids.iter().copied())
            .collect();
        ids.sort();
        ids
    }
}

/// Whether children `from..count` can each have a place of `0..places` not in `taken`
/// (Kuhn's augmenting paths; a family has at most six children).
fn rest_placeable(
    from: usize,
    count: usize,
    places: usize,
    taken: &[usize],
    fits: &impl Fn(usize, usize) -> bool,
) -> bool {
    fn augment(
        child: usize,
        places: usize,
        taken: &[usize],
        fits: &impl Fn(usize, usize) -> bool,
        seen: &mut [bool],
        holder: &mut [Option<usize>],
    ) -> bool {
        for p in 0..places {
            if seen[p] || taken.contains(&p) || !fits(child, p) {
                continue;
            }
            seen[p] = true;
            let free = match holder[p] {
                None => true,
                Some(other) => augment(other, places, taken, fits, seen, holder),
            };
            if free {
                holder[p] = Some(child);
                return true;
            }
        }
        false
    }
    let mut holder = vec![None; places];
    (from..count).all(|child| {
        let mut seen = vec![false; places];
        augment(child, places, taken, fits, &mut seen, &mut holder)
    })
}

/// The kindergartens a child wants, most preferred first, each with its rank.
fn preferences<'a>(
    waiting: &'a Waiting,
    any_order: &'a [KindergartenId],
) -> Box<dyn Iterator<Item = (KindergartenId, ChoiceRank)> + 'a> {
    if waiting.choices.is_any() {
        Box::new(any_order.iter().map(|k| (*k, ChoiceRank::Any)))
    } else {
        Box::new(
            waiting
                .choices
                .listed()
                .iter()
                .enumerate()
                .map(|(i, k)| (*k, ChoiceRank::Listed(i as u8 + 1))),
        )
    }
}

fn rank_of(waiting: &Waiting, kindergarten: KindergartenId) -> ChoiceRank {
    match waiting
        .choices
        .listed()
        .iter()
        .position(|k| *k == kindergarten)
    {
        Some(i) => ChoiceRank::Listed(i as u8 + 1),
        None => ChoiceRank::Any,
    }
}

/// The first-time applicants in the order they take their turns: out-of-turn children,
/// then first-priority and general children one to three from where the cycle stands
/// (whichever side is left once the other runs out), or plain key order without the
/// cycle. A turn that gives no place does not move the cycle, as place by place only a
/// referral does; so the order unfolds as the round goes, through `next`.
struct TurnOrder<'a> {
    queues: [std::collections::VecDeque<&'a Candidate>; 3],
    cycle: Option<InterleaveCycle>,
}

impl<'a> TurnOrder<'a> {
    fn new(children: &'a [Candidate], cycle: Option<InterleaveCycle>) -> TurnOrder<'a> {
        let mut queues: [std::collections::VecDeque<&Candidate>; 3] = Default::default();
        for child in children {
            let t = if cycle.is_some() {
                usize::from(child.waiting.key.tier.as_u8())
            } else {
                0
            };
            queues[t].push_back(child);
        }
        TurnOrder { queues, cycle }
    }

    fn next(&mut self) -> Option<&'a Candidate> {
        if let Some(child) = self.queues[0].pop_front() {
            return Some(child);
        }
        let due = self.cycle.is_some_and(|c| c.first_priority_due());
        if due || self.queues[2].is_empty() {
            if let Some(child) = self.queues[1].pop_front() {
                return Some(child);
            }
        }
        self.queues[2].pop_front()
    }

    /// The children still to have their turn whose key is smaller than `key`: each queue is
    /// in key order, so only its front can be.
    fn still_to_come(&self, key: QueueKey) -> impl Iterator<Item = &'a Candidate> + '_ {
        self.queues
            .iter()
            .flat_map(move |queue| queue.iter().take_while(move |c| c.waiting.key < key))
            .copied()
    }

    /// The cycle after a referral to a child of `tier`.
    fn placed(&mut self, tier: Tier) -> Option<InterleaveCycle> {
        self.cycle = self.cycle.map(|c| c.after(tier));
        self.cycle
    }
}

/// The round: see the module's documentation. Deterministic in its input.
pub fn allocate(input: &RoundInput) -> RoundOutcome {
    let mut shelf = Shelf::of(&input.places);
    let mut outcome = RoundOutcome::default();
    if input.transfers_first {
        place_transfers(input, input.cycle, &mut shelf, &mut outcome);
    }
    let (cycle, turns) = place_first_time(input, &mut shelf, &mut outcome);
    if !input.transfers_first {
        place_transfers(input, cycle, &mut shelf, &mut outcome);
    }
    outcome.unfilled = shelf.unfilled();
    outcome.passes = passes(input, &outcome.placements, &turns);
    outcome
}

/// The places given after each passed family's turn (`turns`: the family and how many
/// placements were made before it) that one of its children fits.
fn passes(
    input: &RoundInput,
    placements: &[Placement],
    turns: &[(FamilyId, usize)],
) -> Vec<(FamilyId, PlaceId)> {
    if turns.is_empty() {
        return Vec::new();
    }
    let fit: HashMap<PlaceId, Place> = input.places.iter().map(|p| (p.id, p.fit)).collect();
    let mut passes = Vec::new();
    for (family, before) in turns {
        let members: Vec<&Waiting> = input
            .children
            .iter()
            .filter(|c| c.together == Some(*family))
            .map(|c| &c.waiting)
            .collect();
        for placement in &placements[*before..] {
            if members.iter().any(|w| w.fits(&fit[&placement.place])) {
                passes.push((*family, placement.place));
            }
        }
    }
    passes
}

/// Places the first-time applicants; answers the cycle after the last of them, and each
/// family passed with the number of placements made before its turn.
fn place_first_time(
    input: &RoundInput,
    shelf: &mut Shelf,
    outcome: &mut RoundOutcome,
) -> (Option<InterleaveCycle>, Vec<(FamilyId, usize)>) {
    let mut turns_passed = Vec::new();
    let mut members: BTreeMap<FamilyId, Vec<(ApplicationId, Waiting)>> = BTreeMap::new();
    for child in &input.children {
        if let Some(family) = child.together {
            members
                .entry(family)
                .or_default()
                .push((child.id, child.waiting));
        }
    }
    let mut families_done: HashSet<FamilyId> = HashSet::new();
    let mut turns = TurnOrder::new(&input.children, input.cycle);
    while let Some(child) = turns.next() {
        match child.together {
            None => {
                let found = preferences(&child.waiting, &input.any_order).find_map(|(k, rank)| {
                    shelf.take(k, &child.waiting).map(|place| (place, k, rank))
                });
                if let Some((place, kindergarten, rank)) = found {
                    let cycle = turns.placed(child.waiting.key.tier);
                    outcome.placements.push(Placement {
                        place,
                        kindergarten,
                        child: child.id,
                        rank,
                        transfer: false,
                        cycle,
                    });
                }
            }
            Some(family) => {
                if !families_done.insert(family) {
                    continue;
                }
                let children = &members[&family];
                // A family is one turn: its further places are its own only where no child
                // still waiting with a smaller key (a family passed over aside) fits them.
                // A child that had its turn and still waits fits no place left (places only
                // go), so only those still to have their turn can: with the cycle, the
                // first-priority children behind a general turn. Siblings of a family that
                // had its turn wait in the queues for nothing: placed or passed.
                let first = children[0].1.key;
                let ahead = |fit: &Place| {
                    turns.still_to_come(first).any(|c| {
                        c.together.is_none_or(|f| !families_done.contains(&f))
                            && c.waiting.fits(fit)
                    })
                };
                let found = preferences(&child.waiting, &input.any_order).find_map(|(k, _)| {
                    shelf.take_together(k, children, &ahead).map(|ids| (k, ids))
                });
                let Some((kindergarten, ids)) = found else {
                    outcome.passed.push(family);
                    turns_passed.push((family, outcome.placements.len()));
                    continue;
                };
                for ((id, waiting), place) in children.iter().zip(ids) {
                    let cycle = turns.placed(waiting.key.tier);
                    outcome.placements.push(Placement {
                        place,
                        kindergarten,
                        child: *id,
                        rank: rank_of(waiting, kindergarten),
                        transfer: false,
                        cycle,
                    });
                }
            }
        }
    }
    (turns.cycle, turns_passed)
}

/// Transfer requests, in the order they were made: each its most preferred kindergarten
/// with a fitting place left. They stand outside the 1 : 3 cycle: each referral carries the
/// `cycle` unchanged, as `QueueState::referral_to` gives a transfer's.
fn place_transfers(
    input: &RoundInput,
    cycle: Option<InterleaveCycle>,
    shelf: &mut Shelf,
    outcome: &mut RoundOutcome,
) {
    for (id, waiting) in &input.transfers {
        let found = preferences(waiting, &input.any_order)
            .find_map(|(k, rank)| shelf.take(k, waiting).map(|place| (place, k, rank)));
        if let Some((place, kindergarten, rank)) = found {
            outcome.placements.push(Placement {
                place,
                kindergarten,
                child: *id,
                rank,
                transfer: true,
                cycle,
            });
        }
    }
}

impl super::state::QueueState {
    /// The round's input as the state stands on `today`: the district's waiting children in
    /// key order (those on the stop list too: they fit no place, and a together-family with
    /// one of them waits whole, as place by place), with their together-families; its transfer
    /// requests; `places` with what each asks of a child today (`fit_of`); the published
    /// order for "any kindergarten" (the catalog's unless the round sets one); the cycle.
    pub fn intake_input(
        &self,
        round: &IntakeRound,
        places: &[super::referral::FreePlace],
        today: NaiveDate,
    ) -> RoundInput {
        let district = round.district;
        let mut waiting: Vec<&Waiting> = self.waiting.in_district(district).collect();
        waiting.sort_unstable_by_key(|w| w.key);
        let children = waiting
            .into_iter()
            .map(|w| {
                let id = ApplicationId {
                    district,
                    number: w.key.number,
                };
                Candidate {
                    id,
                    waiting: *w,
                    together: self.together_family(id).map(|f| f.id),
                }
            })
            .collect();
        let transfers = self
            .transfers
            .get(&district)
            .into_iter()
            .flat_map(|queue| queue.values())
            .map(|request| (request.id, Waiting::of_transfer(request)))
            .collect();
        let places = places
            .iter()
            .map(|place| RoundPlace {
                id: place.id,
                fit: self.fit_of(place, today),
            })
            .collect();
        let any_order = if round.any_order.is_empty() {
            self.catalog
                .kindergartens
                .values()
                .filter(|k| k.district == district)
                .map(|k| k.id)
                .collect()
        } else {
            round.any_order.clone()
        };
        let policy = self.policy(district);
        RoundInput {
            children,
            transfers,
            places,
            any_order,
            cycle: policy
                .interleave_first_priority
                .then(|| self.cycle(district)),
            transfers_first: policy.transfers_before_first_time,
        }
    }
}

impl super::state::QueueState {
    /// What the open round `round` would give if it closed on `today` (the dry run): the
    /// same input and the same function as the close. `None` when no such round is open.
    pub fn dry_run(&self, round: RoundId, today: NaiveDate) -> Option<RoundOutcome> {
        let open = self.rounds.get(&round)?;
        let places = self.places_of_round(round);
        Some(allocate(&self.intake_input(open, &places, today)))
    }
}
