//! A full replay of the journal: every application and referral as the events describe
//! them, plus the live state computed the way the service computes it. `kezek verify`
//! compares both with what the database and the start-up rebuild hold. It keeps everything
//! in memory, which is fine for an offline check and why the running service does not.

use super::application::{
    Application, ApplicationId, ApplicationStatus, ClaimStatus, Satisfaction,
};
use super::attachment::AttachmentRecord;
use super::catalog::Tier;
use super::document_request::DocumentRequest;
use super::event::Event;
use super::referral::{FreePlace, Lapse, PlaceId, Referral, ReferralId, ReferralStatus};
use super::staff::{Role, Scope};
use super::state::{Effects, QueueState, StateError};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Default)]
pub struct Replay {
    pub applications: BTreeMap<ApplicationId, Application>,
    pub referrals: BTreeMap<ReferralId, Referral>,
    /// Every place ever reported, and whether a handed-in referral filled it.
    pub places: BTreeMap<PlaceId, (FreePlace, bool)>,
    /// The places their kindergarten withdrew.
    pub withdrawn: BTreeSet<PlaceId>,
    /// The staff accounts the journal knows (created, changed or revoked through the
    /// service; the first administrator comes from the command line and is not here):
    /// role and scope when the journal says them, and whether revoked.
    pub staff: BTreeMap<String, (Option<(Role, Scope)>, bool)>,
    pub state: QueueState,
    /// The hash of each application's current access code.
    pub access_codes: BTreeMap<ApplicationId, String>,
    pub surveys: BTreeMap<ApplicationId, (Satisfaction, Satisfaction)>,
    /// Every file attached, by application and ordinal.
    pub attachments: BTreeMap<(ApplicationId, u32), AttachmentRecord>,
    /// Every document asked for, by application and request number.
    pub document_requests: BTreeMap<(ApplicationId, u32), ReplayedRequest>,
    /// The applications whose personal data was erased.
    pub erased: BTreeSet<ApplicationId>,
    /// The latest time an event was recorded: the state's invariants hold as of then.
    pub last_recorded_at: Option<DateTime<Utc>>,
}

/// A document request as the journal tells it: asked when, answered by which file when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayedRequest {
    pub request: DocumentRequest,
    pub requested_at: DateTime<Utc>,
    /// The event's actor ("staff:<account>"); set by `kezek verify`, which reads it.
    pub requested_by: String,
    pub received: Option<(u32, DateTime<Utc>)>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("{0} is not known")]
    Unknown(String),
    #[error("{0} is not in a state that allows this event")]
    InvalidTransition(String),
    #[error(transparent)]
    State(#[from] StateError),
}

impl Replay {
    /// Applies `event`, recorded at `at`; returns what it did to applications.
    pub fn apply(&mut self, event: &Event, at: DateTime<Utc>) -> Result<Effects, ReplayError> {
        self.last_recorded_at = self.last_recorded_at.max(Some(at));
        let recorded_at = at;
        match event {
            Event::AccessCodeIssued { id, code_hash } => {
                if !self.applications.contains_key(id) {
                    return Err(ReplayError::Unknown(format!("{id:?}")));
                }
                self.access_codes.insert(*id, code_hash.clone());
            }
            Event::ApplicationRefused { id, .. } => {
                let application = self.application(*id, ApplicationStatus::Queued)?;
                application.status = ApplicationStatus::Refused;
                application.held_until = None;
            }
            Event::SurveyAnswered {
                id,
                process,
                information,
            } => {
                // Open from registration on (the notice completes the request); once.
                if !self.applications.contains_key(id) {
                    return Err(ReplayError::Unknown(format!("{id:?}")));
                }
                if self.surveys.insert(*id, (*process, *information)).is_some() {
                    return Err(ReplayError::InvalidTransition(format!("{id:?}")));
                }
            }
            Event::ApplicationRegistered(application)
            | Event::ApplicationImported { application, .. } => {
                let id = application.id;
                self.applications.insert(id, application.clone());
            }
            Event::ApplicationWithdrawn { id } => {
                let application = self.application(*id, ApplicationStatus::Queued)?;
                application.status = ApplicationStatus::Withdrawn;
                application.held_until = None;
            }
            Event::ApplicationAgedOut { id, .. } => {
                let application = self.application(*id, ApplicationStatus::Queued)?;
                application.status = ApplicationStatus::AgedOut;
                application.held_until = None;
            }
            Event::PriorityVerified { id, tier } => {
                self.decide_claim(*id, ClaimStatus::Verified, *tier)?
            }
            Event::PriorityRejected { id, .. } => {
                self.decide_claim(*id, ClaimStatus::Rejected, Tier::General)?
            }
            Event::PlacesReported { places } => {
                for place in places {
                    self.places.insert(place.id, (place.clone(), false));
                }
            }
            Event::ReferralIssued { referral, .. } => {
                let id = referral.id;
                if referral.transfer {
                    // The child stays enrolled where it is until the transfer is handed in.
                    self.application(referral.application, ApplicationStatus::Enrolled)?;
                } else {
                    self.application(referral.application, ApplicationStatus::Queued)?
                        .status = ApplicationStatus::Referred;
                }
                self.referrals.insert(id, referral.clone());
            }
            Event::ReferralExtended { id, valid_until } => {
                let referral = self.live_referral(*id)?;
                referral.valid_until = *valid_until;
                referral.extended = true;
            }
            Event::ReferralHandedIn { id, at } => {
                let referral = self.live_referral(*id)?;
                referral.status = ReferralStatus::HandedIn;
                referral.closed_at = Some(*at);
                let (application, place) = (referral.application, referral.place);
                let before = match referral.transfer {
                    true => ApplicationStatus::Enrolled,
                    false => ApplicationStatus::Referred,
                };
                self.application(application, before)?.status = ApplicationStatus::Enrolled;
                self.places
                    .get_mut(&place)
                    .ok_or_else(|| ReplayError::Unknown(format!("{place:?}")))?
                    .1 = true;
            }
            Event::ReferralLapsed {
                id,
                at,
                lapse,
                held_until,
                ..
            } => {
                let referral = self.live_referral(*id)?;
                referral.status = lapse.status();
                referral.closed_at = Some(*at);
                if let Lapse::Revoked { reason, .. } = lapse {
                    referral.reason = Some(reason.clone());
                }
                if referral.transfer {
                    // The request ends; the child keeps its place.
                    return Ok(self.state.apply_tracked(event, recorded_at)?);
                }
                let application = self.application(
                    referral_application(&self.referrals, id),
                    ApplicationStatus::Referred,
                )?;
                application.status = ApplicationStatus::Queued;
                application.held_until = Some(*held_until);
                if matches!(
                    lapse,
                    Lapse::Revoked {
                        priority_unconfirmed: true,
                        ..
                    }
                ) {
                    application.tier = Tier::General;
                    if let Some(claim) = application.priority.as_mut() {
                        claim.status = ClaimStatus::Rejected;
                    }
                }
            }
            Event::ApplicationMoved { from, to } => {
                let application = self.application(*from, ApplicationStatus::Queued)?;
                application.status = ApplicationStatus::Moved;
                application.held_until = None;
                self.applications.insert(to.id, to.clone());
            }
            Event::ApplicantRebound { id, applicant } => {
                let application = self
                    .applications
                    .get_mut(id)
                    .filter(|a| a.status.is_active())
                    .ok_or_else(|| ReplayError::InvalidTransition(format!("{id:?}")))?;
                application.applicant = applicant.clone();
            }
            Event::ApplicationAmended { id, amendment } => {
                let application = self
                    .applications
                    .get_mut(id)
                    .filter(|a| a.status.is_active())
                    .ok_or_else(|| ReplayError::InvalidTransition(format!("{id:?}")))?;
                amendment.applied_to(application);
            }
            Event::StopListEnded { id, .. } => {
                self.application(*id, ApplicationStatus::Queued)?.held_until = None;
            }
            Event::ChildLeft { id, .. } => {
                self.application(*id, ApplicationStatus::Enrolled)?.status =
                    ApplicationStatus::Left;
            }
            Event::PlaceWithdrawn { place, .. } => {
                let reported = self.places.get(place).is_some_and(|(_, filled)| !filled);
                if !reported || !self.withdrawn.insert(*place) {
                    return Err(ReplayError::InvalidTransition(format!("{place:?}")));
                }
            }
            // Families and transfer requests live in the state (compared by `verify`).
            Event::TransferRequested(_)
            | Event::FamilyRegistered(_)
            | Event::FamilyChoiceSet { .. }
            | Event::FamilyPassedOver { .. } => {}
            Event::DistrictCreated(_)
            | Event::KindergartenCreated(_)
            | Event::GroupCreated(_)
            | Event::PolicySet { .. }
            | Event::CalendarYearSet { .. }
            | Event::EducationHeadSet { .. }
            | Event::KindergartenChanged(_)
            | Event::GroupChanged(_)
            | Event::CategorySet(_) => {}
            Event::StaffAccountCreated {
                name, role, scope, ..
            } => {
                if self.staff.contains_key(name) {
                    return Err(ReplayError::InvalidTransition(name.clone()));
                }
                self.staff
                    .insert(name.clone(), (Some((*role, *scope)), false));
            }
            Event::StaffAccountChanged { name, role, scope } => {
                let entry = self.staff.entry(name.clone()).or_insert((None, false));
                if entry.1 {
                    return Err(ReplayError::InvalidTransition(name.clone()));
                }
                entry.0 = Some((*role, *scope));
            }
            // A round's outcome is its referrals, each replayed as its own event.
            Event::IntakeRoundOpened(_) | Event::IntakeRoundClosed { .. } => {}
            Event::AttachmentAdded { id, attachment } => {
                if !self.applications.contains_key(id) {
                    return Err(ReplayError::Unknown(format!("{id:?}")));
                }
                let key = (*id, attachment.ordinal);
                if self.attachments.insert(key, attachment.clone()).is_some() {
                    return Err(ReplayError::InvalidTransition(format!("{key:?}")));
                }
            }
            Event::AttachmentInfected { id: Some(id), .. } => {
                if !self.applications.contains_key(id) {
                    return Err(ReplayError::Unknown(format!("{id:?}")));
                }
            }
            Event::AttachmentInfected { id: None, .. } => {}
            Event::PersonalDataErased { ids } => {
                for id in ids {
                    let application = self
                        .applications
                        .get(id)
                        .ok_or_else(|| ReplayError::Unknown(format!("{id:?}")))?;
                    if !application.status.is_erasable() || !self.erased.insert(*id) {
                        return Err(ReplayError::InvalidTransition(format!("erasure of {id:?}")));
                    }
                    // The files and requests went with the personal data (store::erasure).
                    self.attachments.retain(|(of, _), _| of != id);
                    self.document_requests.retain(|(of, _), _| of != id);
                }
            }
            Event::DocumentRequested { id, request } => {
                if !self.applications.contains_key(id) {
                    return Err(ReplayError::Unknown(format!("{id:?}")));
                }
                let key = (*id, request.number);
                let replayed = ReplayedRequest {
                    request: request.clone(),
                    requested_at: recorded_at,
                    requested_by: String::new(),
                    received: None,
                };
                if self.document_requests.insert(key, replayed).is_some() {
                    return Err(ReplayError::InvalidTransition(format!("{key:?}")));
                }
            }
            Event::DocumentReceived {
                id,
                request,
                attachment,
            } => {
                let key = (*id, *request);
                let file = self.attachments.get(&(*id, *attachment)).map(|a| a.kind);
                match self.document_requests.get_mut(&key) {
                    Some(open) if open.received.is_none() && file == Some(open.request.kind) => {
                        open.received = Some((*attachment, recorded_at));
                    }
                    _ => return Err(ReplayError::InvalidTransition(format!("{key:?}"))),
                }
            }
            Event::StaffAccountRevoked { name } => {
                let entry = self.staff.entry(name.clone()).or_insert((None, false));
                if entry.1 {
                    return Err(ReplayError::InvalidTransition(name.clone()));
                }
                entry.1 = true;
            }
        }
        Ok(self.state.apply_tracked(event, at)?)
    }

    fn application(
        &mut self,
        id: ApplicationId,
        expected: ApplicationStatus,
    ) -> Result<&mut Application, ReplayError> {
        let application = self
            .applications
            .get_mut(&id)
            .ok_or_else(|| ReplayError::Unknown(format!("{id:?}")))?;
        if application.status != expected {
            return Err(ReplayError::InvalidTransition(format!("{id:?}")));
        }
        Ok(application)
    }

    fn live_referral(&mut self, id: ReferralId) -> Result<&mut Referral, ReplayError> {
        let referral = self
            .referrals
            .get_mut(&id)
            .ok_or_else(|| ReplayError::Unknown(format!("{id:?}")))?;
        if referral.status != ReferralStatus::Issued {
            return Err(ReplayError::InvalidTransition(format!("{id:?}")));
        }
        Ok(referral)
    }

    /// A claim is decided while the application waits or holds a referral.
    fn decide_claim(
        &mut self,
        id: ApplicationId,
        status: ClaimStatus,
        tier: Tier,
    ) -> Result<(), ReplayError> {
        let application = self
            .applications
            .get_mut(&id)
            .ok_or_else(|| ReplayError::Unknown(format!("{id:?}")))?;
        if !application.status.is_active() {
            return Err(ReplayError::InvalidTransition(format!("{id:?}")));
        }
        let claim = application
            .priority
            .as_mut()
            .ok_or_else(|| ReplayError::InvalidTransition(format!("{id:?}")))?;
        claim.status = status;
        application.tier = tier;
        Ok(())
    }
}

fn referral_application(
    referrals: &BTreeMap<ReferralId, Referral>,
    id: &ReferralId,
) -> ApplicationId {
    referrals[id].application
}
