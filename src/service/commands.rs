//! What each command does inside the writer's transaction: check, then produce the events.
//! Decisions read the database (inside the transaction, so earlier commands of the same
//! batch are visible) and the catalog; they never read the waiting list, which only changes
//! after COMMIT.

use super::CommandError;
use crate::domain::application::{
    Application, ApplicationId, ApplicationStatus, Channel, ClaimStatus, NewApplication, Refusal,
    RegistrationForm, RegistrationNumber,
};
use crate::domain::catalog::{
    AgeBand, Catalog, District, DistrictId, Group, GroupId, Kindergarten, KindergartenId, Language,
    Names, Tier,
};
use crate::domain::event::{Actor, Event};
use crate::domain::local_date;
use crate::store::Store;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug)]
pub enum Command {
    Register {
        form: RegistrationForm,
        channel: Channel,
    },
    Withdraw {
        id: ApplicationId,
    },
    VerifyPriority {
        id: ApplicationId,
    },
    RejectPriority {
        id: ApplicationId,
        reason: String,
    },
    CreateDistrict(NewDistrict),
    CreateKindergarten(NewKindergarten),
    CreateGroup(NewGroup),
}

#[derive(Clone, Debug)]
pub struct NewDistrict {
    pub code: String,
    pub names: Names,
    pub languages: Vec<Language>,
}

#[derive(Clone, Debug)]
pub struct NewKindergarten {
    pub district: DistrictId,
    pub number: String,
    pub names: Names,
    pub address: String,
}

#[derive(Clone, Debug)]
pub struct NewGroup {
    pub kindergarten: KindergartenId,
    pub name: String,
    pub language: Language,
    pub age_band: AgeBand,
    pub capacity: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Registered(Box<Application>),
    DistrictCreated(DistrictId),
    KindergartenCreated(KindergartenId),
    GroupCreated(GroupId),
    Done,
}

/// The inputs of one command's decision.
pub struct Context<'a> {
    pub store: &'a Store,
    pub catalog: &'a Catalog,
    pub now: DateTime<Utc>,
    pub actor: &'a Actor,
}

pub fn decide(command: Command, cx: &Context<'_>) -> Result<(Outcome, Event), CommandError> {
    match command {
        Command::Register { form, channel } => register(&form, channel, cx),
        Command::Withdraw { id } => {
            queued(cx.store, id)?;
            Ok((Outcome::Done, Event::ApplicationWithdrawn { id }))
        }
        Command::VerifyPriority { id } => {
            let application = queued(cx.store, id)?;
            let claim = application
                .priority
                .ok_or(CommandError::Conflict("the application claims no priority"))?;
            if claim.status != ClaimStatus::Claimed {
                return Err(CommandError::Conflict(
                    "the priority claim was already decided",
                ));
            }
            let category = cx.catalog.categories.get(&claim.category).ok_or_else(|| {
                CommandError::Invalid(format!(
                    "category {} is no longer configured",
                    claim.category
                ))
            })?;
            Ok((
                Outcome::Done,
                Event::PriorityVerified {
                    id,
                    tier: category.tier,
                },
            ))
        }
        Command::RejectPriority { id, reason } => {
            let application = queued(cx.store, id)?;
            let claim = application
                .priority
                .ok_or(CommandError::Conflict("the application claims no priority"))?;
            if claim.status == ClaimStatus::Rejected {
                return Err(CommandError::Conflict(
                    "the priority claim was already rejected",
                ));
            }
            let reason = reason.trim().to_string();
            if reason.is_empty() {
                return Err(CommandError::Invalid("a rejection needs a reason".into()));
            }
            Ok((Outcome::Done, Event::PriorityRejected { id, reason }))
        }
        Command::CreateDistrict(new) => create_district(new, cx.catalog),
        Command::CreateKindergarten(new) => create_kindergarten(new, cx.catalog),
        Command::CreateGroup(new) => create_group(new, cx.catalog),
    }
}

fn queued(store: &Store, id: ApplicationId) -> Result<Application, CommandError> {
    let application = store.application(id)?.ok_or(CommandError::NotFound)?;
    if application.status != ApplicationStatus::Queued {
        return Err(CommandError::Conflict(
            "the application is no longer in the queue",
        ));
    }
    Ok(application)
}

fn register(
    form: &RegistrationForm,
    channel: Channel,
    cx: &Context<'_>,
) -> Result<(Outcome, Event), CommandError> {
    let new = NewApplication::parse(form, cx.catalog, local_date(cx.now))?;
    if cx
        .store
        .child_has_active_application(&new.child.iin.as_string())?
    {
        return Err(Refusal::AlreadyQueued.into());
    }
    let (number, registered_at_micros) = cx
        .store
        .take_registration_number(new.district, cx.now.timestamp_micros())?;
    let registered_at = DateTime::from_timestamp_micros(registered_at_micros)
        .expect("a time read back from the clock is in range");
    let entered_by = match channel {
        Channel::Portal => None,
        Channel::ServiceCentre | Channel::Office => Some(cx.actor.0.clone()),
    };
    let application = Application {
        id: ApplicationId {
            district: new.district,
            number: RegistrationNumber(number),
        },
        registered_at,
        child: new.child,
        applicant: new.applicant,
        desired_start: new.desired_start,
        choices: new.choices,
        language: new.language,
        priority: new.priority,
        // A claim counts only once verified.
        tier: Tier::General,
        status: ApplicationStatus::Queued,
        channel,
        entered_by,
    };
    let event = Event::ApplicationRegistered(application.clone());
    Ok((Outcome::Registered(Box::new(application)), event))
}

fn next_id<K: Copy + Ord, V>(
    map: &std::collections::BTreeMap<K, V>,
    raw: impl Fn(&K) -> u32,
) -> u32 {
    map.keys().next_back().map_or(1, |k| raw(k) + 1)
}

fn check_names(names: &Names) -> Result<(), CommandError> {
    if names.kk.trim().is_empty() || names.ru.trim().is_empty() {
        return Err(CommandError::Invalid(
            "names in Kazakh and Russian are required".into(),
        ));
    }
    Ok(())
}

fn create_district(new: NewDistrict, catalog: &Catalog) -> Result<(Outcome, Event), CommandError> {
    check_names(&new.names)?;
    let code_ok = !new.code.is_empty()
        && new.code.len() <= 8
        && new
            .code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !code_ok {
        return Err(CommandError::Invalid(
            "a district code is 1 to 8 capital letters or digits".into(),
        ));
    }
    if catalog.district_by_code(&new.code).is_some() {
        return Err(CommandError::Invalid(format!(
            "district code {} is taken",
            new.code
        )));
    }
    if new.languages.is_empty() {
        return Err(CommandError::Invalid(
            "a district runs at least one language".into(),
        ));
    }
    let id = DistrictId(next_id(&catalog.districts, |k| k.0));
    let district = District {
        id,
        code: new.code,
        names: new.names,
        languages: new.languages,
    };
    Ok((
        Outcome::DistrictCreated(id),
        Event::DistrictCreated(district),
    ))
}

fn create_kindergarten(
    new: NewKindergarten,
    catalog: &Catalog,
) -> Result<(Outcome, Event), CommandError> {
    check_names(&new.names)?;
    if !catalog.districts.contains_key(&new.district) {
        return Err(CommandError::Invalid("unknown district".into()));
    }
    if new.address.trim().is_empty() || new.number.trim().is_empty() {
        return Err(CommandError::Invalid(
            "a kindergarten needs a number and an address".into(),
        ));
    }
    let id = KindergartenId(next_id(&catalog.kindergartens, |k| k.0));
    let kindergarten = Kindergarten {
        id,
        district: new.district,
        number: new.number,
        names: new.names,
        address: new.address,
    };
    Ok((
        Outcome::KindergartenCreated(id),
        Event::KindergartenCreated(kindergarten),
    ))
}

fn create_group(new: NewGroup, catalog: &Catalog) -> Result<(Outcome, Event), CommandError> {
    let kindergarten = catalog
        .kindergartens
        .get(&new.kindergarten)
        .ok_or_else(|| CommandError::Invalid("unknown kindergarten".into()))?;
    let district = &catalog.districts[&kindergarten.district];
    if !district.languages.contains(&new.language) {
        return Err(CommandError::Invalid(
            "the district does not run that language".into(),
        ));
    }
    let id = GroupId(next_id(&catalog.groups, |k| k.0));
    let group = Group {
        id,
        kindergarten: new.kindergarten,
        name: new.name,
        language: new.language,
        age_band: new.age_band,
        capacity: new.capacity,
    };
    Ok((Outcome::GroupCreated(id), Event::GroupCreated(group)))
}
