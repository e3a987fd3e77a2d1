//! A portal registration when an identity provider is configured (issue 14): only a
//! signed-in person registers, as the applicant, with the IIN (and name, when the provider
//! gives one) from the provider's token, never from the form. The answer "this child is
//! already queued" goes only to such a person, each one is recorded (who tried to register
//! whose child, `registration_attempts`), and past a few an hour the person's
//! registrations are refused before they reach the queue. Staff at the desk register for a
//! parent as before (the identity document is checked there). Without a provider nothing
//! here applies: access codes, as before.

use super::auth::{Caller, Person};
use super::error::{self, ApiError, Lang};
use super::AppState;
use crate::domain::application::RegistrationForm;
use crate::store::identity::{self as table, Attempt, AttemptOutcome};

/// The person a portal registration is bound to: `None` for staff or without a provider;
/// refused when a provider is configured and no one is signed in, or the person is past
/// their quota of refusals (that attempt recorded too).
pub fn registrant(
    app: &AppState,
    caller: &Caller,
    child_iins: &[String],
    lang: Lang,
) -> Result<Option<Person>, ApiError> {
    if matches!(caller, Caller::Staff(_)) || app.oidc.is_none() {
        return Ok(None);
    }
    let Caller::Person(person) = caller else {
        return Err(ApiError::new(error::SIGNIN_REQUIRED, lang));
    };
    if let Some(seconds) = app.refusals.exhausted(&person.iin, app.service.now()) {
        record(app, person, child_iins, AttemptOutcome::Limited, lang)?;
        return Err(ApiError::new(error::ATTEMPTS_LIMITED, lang).retry_after(seconds));
    }
    Ok(Some(person.clone()))
}

/// The form's applicant, as the provider vouched for them.
pub fn bind(person: &Person, form: &mut RegistrationForm) {
    form.applicant_iin = person.iin.clone();
    if let Some(name) = &person.name {
        form.applicant_full_name = name.clone();
    }
}

/// After a refused registration: an `already_queued` answer is counted against the person
/// and recorded.
pub fn refused(
    app: &AppState,
    person: Option<&Person>,
    child_iins: &[String],
    refusal: error::ErrorKind,
    lang: Lang,
) -> Result<(), ApiError> {
    let Some(person) = person else {
        return Ok(());
    };
    if refusal != error::ALREADY_QUEUED {
        return Ok(());
    }
    app.refusals.refused(&person.iin, app.service.now());
    record(app, person, child_iins, AttemptOutcome::AlreadyQueued, lang)
}

fn record(
    app: &AppState,
    person: &Person,
    child_iins: &[String],
    outcome: AttemptOutcome,
    lang: Lang,
) -> Result<(), ApiError> {
    let at = app.service.now();
    let written = table::open_attempts_writer(&app.db).and_then(|conn| {
        for child in child_iins {
            table::record_attempt(
                &conn,
                &Attempt {
                    at,
                    applicant_iin: person.iin.clone(),
                    subject: person.subject.clone(),
                    child_iin: child.trim().to_string(),
                    outcome: outcome.code().to_string(),
                },
            )?;
        }
        Ok(())
    });
    written.map_err(|e| super::auth::internal(e, lang))
}
