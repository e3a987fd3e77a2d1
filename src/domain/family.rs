//! Families: several children of one applicant registered together (twins, triplets,
//! siblings), and the one rule that makes them more than separate applications.
//!
//! A family registers in one go: the children share the registration time and take
//! consecutive numbers, so they stand side by side in their cohort. It chooses "together
//! only" or "separately". Separately, each child is an ordinary application. Together, the
//! family takes places only when one kindergarten can give every waiting child of it a
//! fitting place in the same allocation (the places of one report, or places already open
//! there); otherwise it is passed over, keeping its position, and the pass is journaled as
//! the family's own choice, so nobody behind it was preferred to it.
//!
//! [`plan_together`] is that rule: a matching of the family's waiting children to open
//! places of one kindergarten that uses the place being allocated, or none.

use super::application::ApplicationId;
use super::referral::PlaceId;
use serde::{Deserialize, Serialize};

/// Families are numbered across the service, in the order they registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FamilyId(pub u32);

/// A family needs at least two children, and a registration carries at most this many.
pub const FAMILY_SIZE_MAX: usize = 6;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Family {
    pub id: FamilyId,
    /// The children's applications, in registration order (a move replaces an id).
    pub members: Vec<ApplicationId>,
    /// Places only together, in one kindergarten.
    pub together: bool,
}

/// Assigns each of `children` one of `places` so that `must_use` is among those taken;
/// `fits(child, place)` says which pairs may go together. Answers the pairs, in the
/// children's order, or `None` when no such assignment exists. A family has at most six
/// children, so trying each child on `must_use` and augmenting paths for the rest is small.
pub fn plan_together(
    children: &[ApplicationId],
    places: &[PlaceId],
    must_use: PlaceId,
    fits: impl Fn(ApplicationId, PlaceId) -> bool,
) -> Option<Vec<(ApplicationId, PlaceId)>> {
    if children.is_empty() || places.len() < children.len() || !places.contains(&must_use) {
        return None;
    }
    for (first, child) in children.iter().enumerate() {
        if !fits(*child, must_use) {
            continue;
        }
        let others: Vec<PlaceId> = places.iter().copied().filter(|p| *p != must_use).collect();
        let rest: Vec<ApplicationId> = children
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != first)
            .map(|(_, c)| *c)
            .collect();
        if let Some(matched) = perfect_matching(&rest, &others, &fits) {
            let mut plan: Vec<(ApplicationId, PlaceId)> = vec![(*child, must_use)];
            plan.extend(rest.iter().copied().zip(matched));
            plan.sort_by_key(|(c, _)| children.iter().position(|x| x == c));
            return Some(plan);
        }
    }
    None
}

/// A place for every child (Kuhn's augmenting paths), answered in the children's order.
fn perfect_matching(
    children: &[ApplicationId],
    places: &[PlaceId],
    fits: &impl Fn(ApplicationId, PlaceId) -> bool,
) -> Option<Vec<PlaceId>> {
    // holder[p] = the child (index) place p is given to.
    let mut holder: Vec<Option<usize>> = vec![None; places.len()];
    fn augment(
        child: usize,
        children: &[ApplicationId],
        places: &[PlaceId],
        fits: &impl Fn(ApplicationId, PlaceId) -> bool,
        seen: &mut [bool],
        holder: &mut [Option<usize>],
    ) -> bool {
        for p in 0..places.len() {
            if seen[p] || !fits(children[child], places[p]) {
                continue;
            }
            seen[p] = true;
            let free = match holder[p] {
                None => true,
                Some(other) => augment(other, children, places, fits, seen, holder),
            };
            if free {
                holder[p] = Some(child);
                return true;
            }
        }
        false
    }
    for child in 0..children.len() {
        let mut seen = vec![false; places.len()];
        if !augment(child, children, places, fits, &mut seen, &mut holder) {
            return None;
        }
    }
    let mut assigned = vec![PlaceId(0); children.len()];
    for (p, child) in holder.iter().enumerate() {
        if let Some(child) = child {
            assigned[*child] = places[p];
        }
    }
    Some(assigned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::application::RegistrationNumber;
    use crate::domain::catalog::DistrictId;

    fn child(n: u32) -> ApplicationId {
        ApplicationId {
            district: DistrictId(1),
            number: RegistrationNumber(n),
        }
    }

    #[test]
    fn a_plan_uses_the_place_in_hand_and_gives_each_child_a_fitting_place() {
        let (a, b) = (child(1), child(2));
        // Place 1 fits only b, place 2 only a: the plan must cross them.
        let fits = |c: ApplicationId, p: PlaceId| (c == a) == (p == PlaceId(2));
        let plan = plan_together(&[a, b], &[PlaceId(1), PlaceId(2)], PlaceId(1), fits);
        assert_eq!(plan, Some(vec![(a, PlaceId(2)), (b, PlaceId(1))]));
        // Too few places, or a place in hand nobody fits: none.
        assert_eq!(
            plan_together(&[a, b], &[PlaceId(1)], PlaceId(1), |_, _| true),
            None
        );
        let none_fits_three = |c: ApplicationId, p: PlaceId| p != PlaceId(3) && fits(c, p);
        assert_eq!(
            plan_together(
                &[a, b],
                &[PlaceId(1), PlaceId(2), PlaceId(3)],
                PlaceId(3),
                none_fits_three
            ),
            None
        );
    }
}
