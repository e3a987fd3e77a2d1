//! A full replay of the journal: every application as the events describe it, plus the live
//! state computed the way the service computes it. `kezek verify` compares both with what
//! the database and the start-up rebuild hold. It keeps every application in memory, which
//! is fine for an offline check and why the running service does not use it.

use super::application::{Application, ApplicationId, ApplicationStatus, ClaimStatus};
use super::catalog::{DistrictId, Tier};
use super::event::Event;
use super::state::{QueueState, StateError};
use std::collections::{BTreeMap, HashMap};

#[derive(Default)]
pub struct Replay {
    pub applications: BTreeMap<ApplicationId, Application>,
    pub next_number: HashMap<DistrictId, u32>,
    pub state: QueueState,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("application {0:?} registered out of journal order (expected number {1})")]
    NumberOutOfOrder(ApplicationId, u32),
    #[error("application {0:?} is not known")]
    UnknownApplication(ApplicationId),
    #[error("application {0:?} is not in a state that allows this event")]
    InvalidTransition(ApplicationId),
    #[error(transparent)]
    State(#[from] StateError),
}

impl Replay {
    pub fn apply(&mut self, event: &Event) -> Result<(), ReplayError> {
        match event {
            Event::ApplicationRegistered(application) => {
                let next = self.next_number.entry(application.id.district).or_insert(1);
                if application.id.number.0 != *next {
                    return Err(ReplayError::NumberOutOfOrder(application.id, *next));
                }
                *next += 1;
                self.applications
                    .insert(application.id, application.clone());
            }
            Event::ApplicationWithdrawn { id } => {
                let application = self.queued(*id)?;
                application.status = ApplicationStatus::Withdrawn;
            }
            Event::PriorityVerified { id, tier } => {
                let application = self.queued(*id)?;
                let claim = application
                    .priority
                    .as_mut()
                    .ok_or(ReplayError::InvalidTransition(*id))?;
                claim.status = ClaimStatus::Verified;
                application.tier = *tier;
            }
            Event::PriorityRejected { id, .. } => {
                let application = self.queued(*id)?;
                let claim = application
                    .priority
                    .as_mut()
                    .ok_or(ReplayError::InvalidTransition(*id))?;
                claim.status = ClaimStatus::Rejected;
                application.tier = Tier::General;
            }
            Event::DistrictCreated(_) | Event::KindergartenCreated(_) | Event::GroupCreated(_) => {}
        }
        self.state.apply(event)?;
        Ok(())
    }

    fn queued(&mut self, id: ApplicationId) -> Result<&mut Application, ReplayError> {
        let application = self
            .applications
            .get_mut(&id)
            .ok_or(ReplayError::UnknownApplication(id))?;
        if application.status != ApplicationStatus::Queued {
            return Err(ReplayError::InvalidTransition(id));
        }
        Ok(application)
    }
}
