//! The live state of the queue: the catalog and the waiting list, as a fold over events.
//!
//! The service applies each committed event here; `verify` applies the whole journal to a
//! fresh value and compares. Both go through [`QueueState::apply`], so the state a running
//! service holds and the state a replay produces are computed by the same code.

use super::application::{Application, ApplicationId, ApplicationStatus};
use super::catalog::{Catalog, DistrictId, Tier};
use super::event::Event;
use super::waiting_list::{CompactChoices, Waiting, WaitingList, WaitingListError};

#[derive(Default)]
pub struct QueueState {
    pub catalog: Catalog,
    pub waiting: WaitingList,
}

/// An event that cannot follow the state it is applied to. In a journal this is corruption;
/// from the service it is a bug. Either way it is reported, never skipped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("unknown district {0:?}")]
    UnknownDistrict(DistrictId),
    #[error("{0:?} already exists")]
    Duplicate(String),
    #[error(transparent)]
    WaitingList(#[from] WaitingListError),
}

impl Waiting {
    pub fn of(application: &Application) -> Waiting {
        Waiting {
            key: application.key(),
            birth_date: application.child.birth_date,
            desired_start: application.desired_start,
            language: application.language,
            choices: CompactChoices::from_choices(&application.choices),
            held: false,
        }
    }
}

impl QueueState {
    pub fn apply(&mut self, event: &Event) -> Result<(), StateError> {
        match event {
            Event::DistrictCreated(_) | Event::KindergartenCreated(_) | Event::GroupCreated(_) => {
                apply_to_catalog(&mut self.catalog, event)?;
            }
            Event::ApplicationRegistered(application) => {
                if !self
                    .catalog
                    .districts
                    .contains_key(&application.id.district)
                {
                    return Err(StateError::UnknownDistrict(application.id.district));
                }
                if application.status == ApplicationStatus::Queued {
                    self.waiting
                        .insert(application.id.district, Waiting::of(application))?;
                }
            }
            Event::ApplicationWithdrawn { id } => {
                self.waiting.remove(*id)?;
            }
            Event::PriorityVerified { id, tier } => self.set_tier_if_waiting(*id, *tier)?,
            Event::PriorityRejected { id, .. } => self.set_tier_if_waiting(*id, Tier::General)?,
        }
        Ok(())
    }

    /// A priority decision about an application that is not waiting (say, it already holds
    /// a referral) changes its record but not the waiting list.
    fn set_tier_if_waiting(&mut self, id: ApplicationId, tier: Tier) -> Result<(), StateError> {
        if self.waiting.get(id).is_some() {
            self.waiting.set_tier(id, tier)?;
        }
        Ok(())
    }
}

/// Applies a catalog event; other events leave the catalog as it is. The writer also uses
/// this on its working copy, so later commands of a batch see earlier catalog changes.
pub fn apply_to_catalog(catalog: &mut Catalog, event: &Event) -> Result<(), StateError> {
    match event {
        Event::DistrictCreated(district) => {
            if catalog
                .districts
                .insert(district.id, district.clone())
                .is_some()
            {
                return Err(StateError::Duplicate(format!("{:?}", district.id)));
            }
        }
        Event::KindergartenCreated(kindergarten) => {
            if !catalog.districts.contains_key(&kindergarten.district) {
                return Err(StateError::UnknownDistrict(kindergarten.district));
            }
            if catalog
                .kindergartens
                .insert(kindergarten.id, kindergarten.clone())
                .is_some()
            {
                return Err(StateError::Duplicate(format!("{:?}", kindergarten.id)));
            }
        }
        Event::GroupCreated(group) => {
            if catalog.groups.insert(group.id, group.clone()).is_some() {
                return Err(StateError::Duplicate(format!("{:?}", group.id)));
            }
        }
        _ => {}
    }
    Ok(())
}
