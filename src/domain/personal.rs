//! Personal data out of the hash chain (issue 16 §3): what the journal keeps of an event that
//! names people, and what it lets go when the data's retention ends.
//!
//! An event that carries personal fields (IINs, names, phone, e-mail, address, the priority
//! document's reference, an officer's free text about the family) is journaled in two parts:
//!
//! - its **public form**, the event's canonical JSON with those fields taken out and one
//!   field added, `"personal"`: the hex SHA-256 of a random salt followed by the fields'
//!   canonical JSON. The chain hashes this form and nothing else;
//! - its **personal part**, the salt and the fields, in the erasable `personal_data` table,
//!   one row per event, naming the application it belongs to.
//!
//! Replay joins the two (`join`). Erasure deletes the rows: the chain still verifies, because
//! it never hashed the values, and the commitment left behind reveals nothing, because the
//! salt went with them (without it, an IIN's 10^7 or so candidates could be tried one by
//! one against a bare hash). An erased event replays with placeholders (`Iin::ERASED`, empty
//! names), which nothing the queue decides depends on: order, choices, birth date, language,
//! tier and status stay public.

use super::application::{
    Applicant, Application, ApplicationId, ApplicationStatus, Channel, Child, Choices, ClaimStatus,
    PriorityClaim, Relation,
};
use super::catalog::{Language, Tier};
use super::iin::{Iin, Sex};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The personal part of one event, as the `personal_data` table keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonalPart {
    /// The application whose data it is: erasing that application deletes the row.
    pub owner: ApplicationId,
    pub salt: [u8; 16],
    /// A JSON object from each field's path (`child.iin`) to its value.
    pub fields: String,
}

impl PersonalPart {
    /// The commitment the public form carries.
    pub fn commitment(&self) -> String {
        commitment(&self.salt, &self.fields)
    }
}

fn commitment(salt: &[u8; 16], fields: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(fields.as_bytes());
    hex::encode(hasher.finalize())
}

/// The key of the commitment in a public form.
pub const COMMITMENT_KEY: &str = "personal";

/// The personal fields of the people an application names, relative to the application.
const APPLICATION_FIELDS: [&str; 8] = [
    "child.iin",
    "child.full_name",
    "applicant.iin",
    "applicant.full_name",
    "applicant.phone",
    "applicant.email",
    "applicant.address",
    "priority.document",
];

const APPLICANT_FIELDS: [&str; 5] = [
    "applicant.iin",
    "applicant.full_name",
    "applicant.phone",
    "applicant.email",
    "applicant.address",
];

/// Where an event kind keeps personal fields: the path of the application id it belongs to,
/// the prefix of the fields, and the fields. `None` for the kinds that name nobody.
fn layout(kind: &str) -> Option<(&'static str, &'static str, &'static [&'static str])> {
    Some(match kind {
        "application_registered" => ("id", "", &APPLICATION_FIELDS),
        "application_imported" => ("application.id", "application.", &APPLICATION_FIELDS),
        "application_moved" => ("to.id", "to.", &APPLICATION_FIELDS),
        "applicant_rebound" => ("id", "", &APPLICANT_FIELDS),
        "application_amended" => (
            "id",
            "",
            &["amendment.phone", "amendment.email", "amendment.address"],
        ),
        "application_refused" => ("id", "", &["text"]),
        "priority_rejected" => ("id", "", &["reason"]),
        "document_requested" => ("id", "", &["request.reason"]),
        // Only a revocation has a reason; a lapse declined or expired names nobody.
        "referral_lapsed" => ("application", "", &["lapse.reason"]),
        _ => return None,
    })
}

/// Whether events of `kind` carry personal fields.
pub fn names_people(kind: &str) -> bool {
    layout(kind).is_some()
}

/// The value an erased field replays with: an IIN no person has, otherwise empty.
fn placeholder(path: &str) -> Value {
    if path.ends_with("iin") {
        Value::String(super::iin::Iin::ERASED_TEXT.to_string())
    } else if path.ends_with("email") {
        Value::Null
    } else {
        Value::String(String::new())
    }
}

fn parent_mut<'a>(data: &'a mut Value, path: &str) -> Option<(&'a mut Map<String, Value>, String)> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop()?.to_string();
    let mut node = data;
    for part in parts {
        node = node.get_mut(part)?;
    }
    Some((node.as_object_mut()?, last))
}

fn pointer(path: &str) -> String {
    format!("/{}", path.replace('.', "/"))
}

/// Splits an event's canonical JSON (`{"type":..,"data":..}`) of `kind` into its public form
/// and personal part, salted with `salt`. Kinds that name nobody, and an event of a kind
/// that may that holds none of its personal fields (a lapse that is no revocation), come back
/// whole, with no commitment.
pub fn split(kind: &str, mut event: Value, salt: [u8; 16]) -> (Value, Option<PersonalPart>) {
    let Some((owner_path, prefix, fields)) = layout(kind) else {
        return (event, None);
    };
    let data = event.get_mut("data").expect("an event has data");
    let mut taken = Map::new();
    for field in fields {
        let path = format!("{prefix}{field}");
        if let Some((parent, key)) = parent_mut(data, &path) {
            if let Some(value) = parent.remove(&key) {
                taken.insert(path, value);
            }
        }
    }
    if taken.is_empty() {
        // Nothing was removed: the event is as it came.
        return (event, None);
    }
    let owner: ApplicationId = serde_json::from_value(
        data.pointer(&pointer(owner_path))
            .cloned()
            .expect("an event with personal fields names their owner"),
    )
    .expect("an application id decodes");
    let part = PersonalPart {
        owner,
        salt,
        fields: Value::Object(taken).to_string(),
    };
    event
        .as_object_mut()
        .expect("an event is an object")
        .insert(COMMITMENT_KEY.to_string(), Value::String(part.commitment()));
    (event, Some(part))
}

/// A registration's public form (as JSON text) and personal part, straight from the typed
/// application: the fields `split` takes out of its JSON tree, and the same part byte for
/// byte, without building the tree. A registration is the writer's commonest event, and
/// the tree, taken apart and printed, was a sixth of the writer's time. The public form's
/// keys come in the struct's order, not sorted: nothing reads it but `join`, which parses it.
pub fn split_registration(application: &Application, salt: [u8; 16]) -> (String, PersonalPart) {
    let (data, part) = split_application(application, &REGISTRATION_KEYS, salt);
    let public = serde_json::to_string(&PublicEvent {
        kind: "application_registered",
        data,
        personal: part.commitment(),
    })
    .expect("a public form serializes");
    (public, part)
}

/// An imported row's event (`application_imported`) split as `split_registration` splits a
/// registration: an import splits a million of them.
pub fn split_import(
    application: &Application,
    file_sha256: &str,
    line: u64,
    salt: [u8; 16],
) -> (String, PersonalPart) {
    let (application, part) = split_application(application, &IMPORT_KEYS, salt);
    let public = serde_json::to_string(&PublicEvent {
        kind: "application_imported",
        data: PublicImport {
            application,
            file_sha256,
            line,
        },
        personal: part.commitment(),
    })
    .expect("a public form serializes");
    (public, part)
}

/// The personal fields' keys, in the order `split`'s map keeps them (sorted by path), for an
/// application at the event's top (`APPLICATION_FIELDS`, sorted) and under `application.`.
const REGISTRATION_KEYS: [&str; 8] = [
    "applicant.address",
    "applicant.email",
    "applicant.full_name",
    "applicant.iin",
    "applicant.phone",
    "child.full_name",
    "child.iin",
    "priority.document",
];
const IMPORT_KEYS: [&str; 8] = [
    "application.applicant.address",
    "application.applicant.email",
    "application.applicant.full_name",
    "application.applicant.iin",
    "application.applicant.phone",
    "application.child.full_name",
    "application.child.iin",
    "application.priority.document",
];

/// The application's public part and its personal part keyed by `keys`. Every struct is
/// taken apart whole, so a field added to any of them does not compile here until this says
/// whether it is personal.
fn split_application<'a>(
    application: &'a Application,
    keys: &'static [&'static str; 8],
    salt: [u8; 16],
) -> (PublicApplication<'a>, PersonalPart) {
    let Application {
        id,
        registered_at,
        child:
            Child {
                iin: child_iin,
                full_name: child_full_name,
                birth_date,
                sex,
            },
        applicant:
            Applicant {
                iin: applicant_iin,
                full_name: applicant_full_name,
                phone,
                email,
                address,
                relation,
            },
        desired_start,
        choices,
        language,
        priority,
        tier,
        status,
        channel,
        entered_by,
        held_until,
        moved_from,
        legacy_number,
    } = application;
    let claim = priority.as_ref().map(|claim| {
        let PriorityClaim {
            category,
            document,
            status,
        } = claim;
        (PublicClaim { category, status }, document.as_str())
    });
    let fields = serde_json::to_string(&Fields {
        keys,
        applicant_address: address,
        applicant_email: email,
        applicant_full_name,
        applicant_iin,
        applicant_phone: phone,
        child_full_name,
        child_iin,
        priority_document: claim.as_ref().map(|(_, document)| *document),
    })
    .expect("personal fields serialize");
    let part = PersonalPart {
        owner: *id,
        salt,
        fields,
    };
    let public = PublicApplication {
        id,
        registered_at,
        child: PublicChild { birth_date, sex },
        applicant: PublicApplicant { relation },
        desired_start,
        choices,
        language,
        priority: claim.map(|(claim, _)| claim),
        tier,
        status,
        channel,
        entered_by,
        held_until,
        moved_from: moved_from.as_ref(),
        legacy_number: legacy_number.as_deref(),
    };
    (public, part)
}

/// An application's personal fields under `keys` (the order of `split`'s map); the claim's
/// document only where there is a claim.
struct Fields<'a> {
    keys: &'static [&'static str; 8],
    applicant_address: &'a str,
    applicant_email: &'a Option<String>,
    applicant_full_name: &'a str,
    applicant_iin: &'a Iin,
    applicant_phone: &'a str,
    child_full_name: &'a str,
    child_iin: &'a Iin,
    priority_document: Option<&'a str>,
}

impl Serialize for Fields<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let k = self.keys;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(k[0], self.applicant_address)?;
        map.serialize_entry(k[1], self.applicant_email)?;
        map.serialize_entry(k[2], self.applicant_full_name)?;
        map.serialize_entry(k[3], self.applicant_iin)?;
        map.serialize_entry(k[4], self.applicant_phone)?;
        map.serialize_entry(k[5], self.child_full_name)?;
        map.serialize_entry(k[6], self.child_iin)?;
        if let Some(document) = self.priority_document {
            map.serialize_entry(k[7], document)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct PublicEvent<T> {
    #[serde(rename = "type")]
    kind: &'static str,
    data: T,
    personal: String,
}

#[derive(Serialize)]
struct PublicImport<'a> {
    application: PublicApplication<'a>,
    file_sha256: &'a str,
    line: u64,
}

#[derive(Serialize)]
struct PublicApplication<'a> {
    id: &'a ApplicationId,
    registered_at: &'a DateTime<Utc>,
    child: PublicChild<'a>,
    applicant: PublicApplicant<'a>,
    desired_start: &'a NaiveDate,
    choices: &'a Choices,
    language: &'a Option<Language>,
    priority: Option<PublicClaim<'a>>,
    tier: &'a Tier,
    status: &'a ApplicationStatus,
    channel: &'a Channel,
    entered_by: &'a Option<String>,
    held_until: &'a Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    moved_from: Option<&'a ApplicationId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    legacy_number: Option<&'a str>,
}

#[derive(Serialize)]
struct PublicChild<'a> {
    birth_date: &'a NaiveDate,
    sex: &'a Sex,
}

#[derive(Serialize)]
struct PublicApplicant<'a> {
    relation: &'a Relation,
}

#[derive(Serialize)]
struct PublicClaim<'a> {
    category: &'a str,
    status: &'a ClaimStatus,
}

/// Why a public form and its personal part do not join.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JoinError {
    #[error("the personal part does not match the commitment the journal holds")]
    Commitment,
    #[error("the personal part is not a JSON object of fields")]
    Fields,
    #[error("a personal part for an event that carries no commitment")]
    Unexpected,
    #[error("the public form holds a personal field")]
    NotPublic,
    #[error("the personal part belongs to another application than the event")]
    Owner,
}

/// The event's whole JSON from its public form and, unless erased, its personal part.
/// Erased fields come back as placeholders (see the module's comment).
pub fn join(
    kind: &str,
    mut public: Value,
    part: Option<&PersonalPart>,
) -> Result<Value, JoinError> {
    let object = public.as_object_mut().ok_or(JoinError::Fields)?;
    let committed = object.remove(COMMITMENT_KEY);
    let Some((owner_path, prefix, fields)) = layout(kind) else {
        return match part {
            Some(_) => Err(JoinError::Unexpected),
            None => Ok(public),
        };
    };
    let committed = committed.and_then(|c| c.as_str().map(str::to_string));
    let data = public.get_mut("data").ok_or(JoinError::Fields)?;
    // A journal from before the split (its rewrite pending) has no commitment and every
    // field in place; after it, no personal field may be left in the public form.
    if committed.is_some() {
        for field in fields {
            if data
                .pointer(&pointer(&format!("{prefix}{field}")))
                .is_some()
            {
                return Err(JoinError::NotPublic);
            }
        }
    }
    match part {
        Some(part) => {
            if committed.as_deref() != Some(part.commitment().as_str()) {
                return Err(JoinError::Commitment);
            }
            let owner = data
                .pointer(&pointer(owner_path))
                .cloned()
                .ok_or(JoinError::Fields)?;
            if serde_json::from_value::<ApplicationId>(owner).ok() != Some(part.owner) {
                return Err(JoinError::Owner);
            }
            let Ok(Value::Object(values)) = serde_json::from_str::<Value>(&part.fields) else {
                return Err(JoinError::Fields);
            };
            for (path, value) in values {
                let (parent, key) = parent_mut(data, &path).ok_or(JoinError::Fields)?;
                parent.insert(key, value);
            }
        }
        // No commitment and no part: nothing was taken out (a journal before the split, or
        // an event that held no personal field), so nothing is put back.
        None if committed.is_none() => {}
        None => {
            for field in fields {
                let path = format!("{prefix}{field}");
                // `priority.document` only where the application claims a priority.
                if let Some((parent, key)) = parent_mut(data, &path) {
                    parent.entry(key).or_insert_with(|| placeholder(field));
                }
            }
        }
    }
    Ok(public)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn registered() -> Value {
        json!({"type": "application_registered", "data": {
            "id": {"district": 1, "number": 7},
            "child": {"iin": "180101600123", "full_name": "Әлия", "birth_date": "2018-01-01"},
            "applicant": {"iin": "850101300456", "full_name": "Айгүл", "phone": "+77011234567",
                          "email": null, "address": "Абай 1", "relation": "mother"},
            "priority": null,
            "tier": 0
        }})
    }

    #[test]
    fn the_public_form_holds_no_personal_value_and_joins_back_whole() {
        let (public, part) = split("application_registered", registered(), [9; 16]);
        let part = part.unwrap();
        let text = public.to_string();
        for value in [
            "180101600123",
            "Әлия",
            "850101300456",
            "+77011234567",
            "Абай 1",
        ] {
            assert!(!text.contains(value), "{value} in {text}");
            assert!(part.fields.contains(value));
        }
        assert!(text.contains("2018-01-01"), "the birth date stays public");
        assert_eq!(part.owner.number.0, 7);
        let whole = join("application_registered", public, Some(&part)).unwrap();
        assert_eq!(whole, registered());
    }

    #[test]
    fn another_salt_gives_another_commitment_and_a_changed_value_does_not_join() {
        let (a, part_a) = split("application_registered", registered(), [1; 16]);
        let (b, _) = split("application_registered", registered(), [2; 16]);
        assert_ne!(a[COMMITMENT_KEY], b[COMMITMENT_KEY]);
        let mut forged = part_a.unwrap();
        forged.fields = forged.fields.replace("Абай 1", "Абай 2");
        assert_eq!(
            join("application_registered", a, Some(&forged)),
            Err(JoinError::Commitment)
        );
    }

    #[test]
    fn an_erased_event_joins_with_placeholders() {
        let (public, _) = split("application_registered", registered(), [3; 16]);
        let whole = join("application_registered", public, None).unwrap();
        assert_eq!(
            whole["data"]["child"]["iin"],
            json!(crate::domain::iin::Iin::ERASED_TEXT)
        );
        assert_eq!(whole["data"]["applicant"]["phone"], json!(""));
        assert_eq!(whole["data"]["applicant"]["email"], Value::Null);
        assert_eq!(
            whole["data"]["priority"],
            Value::Null,
            "no claim, no document"
        );
        assert_eq!(whole["data"]["child"]["birth_date"], json!("2018-01-01"));
    }

    #[test]
    fn kinds_that_name_nobody_pass_through() {
        let event =
            json!({"type": "application_withdrawn", "data": {"id": {"district": 1, "number": 2}}});
        let (public, part) = split("application_withdrawn", event.clone(), [0; 16]);
        assert_eq!((public.clone(), part), (event.clone(), None));
        assert_eq!(join("application_withdrawn", public, None).unwrap(), event);
    }

    fn lapse(lapse: Value) -> Value {
        json!({"type": "referral_lapsed", "data": {
            "id": {"district": 1, "number": 3},
            "application": {"district": 1, "number": 7},
            "at": "2026-09-01T00:00:00Z",
            "lapse": lapse,
            "held_until": "2026-09-11T00:00:00Z"
        }})
    }

    /// A revocation's reason is an officer's words about the family: it leaves the public
    /// form as the application's personal part, and an erased one replays empty. A lapse
    /// with no reason names nobody and is journaled as it is, with no commitment.
    #[test]
    fn a_revocations_reason_is_personal_and_other_lapses_pass_through() {
        let revoked = lapse(json!({"kind": "revoked",
            "reason": "Мать, Айгүл Сейітова, отказалась по телефону",
            "priority_unconfirmed": false}));
        let (public, part) = split("referral_lapsed", revoked.clone(), [4; 16]);
        let part = part.expect("the reason is taken out");
        assert!(!public.to_string().contains("Айгүл"), "{public}");
        assert_eq!(part.owner.number.0, 7);
        assert!(public[COMMITMENT_KEY].is_string());
        assert_eq!(
            join("referral_lapsed", public.clone(), Some(&part)).unwrap(),
            revoked
        );
        let erased = join("referral_lapsed", public, None).unwrap();
        assert_eq!(erased["data"]["lapse"]["reason"], json!(""));
        assert_eq!(erased["data"]["lapse"]["kind"], json!("revoked"));

        let declined = lapse(json!({"kind": "declined"}));
        let (public, part) = split("referral_lapsed", declined.clone(), [5; 16]);
        assert_eq!((public.clone(), part), (declined.clone(), None));
        assert_eq!(
            join("referral_lapsed", public, None).unwrap(),
            declined,
            "no placeholder is put into a lapse that had no reason"
        );
    }

    /// A registration as the demo journals it, with a priority claim.
    fn application() -> Application {
        serde_json::from_value(json!({
            "id": {"district": 5, "number": 2},
            "registered_at": "2022-12-07T20:16:54.956457Z",
            "child": {"iin": "220311500019", "full_name": "Қасымов Тимур",
                      "birth_date": "2022-03-11", "sex": "male"},
            "applicant": {"iin": "860910400011", "full_name": "Қасымова Мадина",
                          "phone": "+77557367885", "email": null,
                          "address": "Астана, Республика даңғылы, 127", "relation": "mother"},
            "desired_start": "2023-06-25",
            "choices": {"listed": [388, 343]},
            "language": "ru",
            "priority": {"category": "military_family", "document": "№191-84187",
                         "status": "claimed"},
            "tier": "general",
            "status": "queued",
            "channel": "portal",
            "entered_by": null,
            "held_until": null
        }))
        .unwrap()
    }

    /// The typed split of a registration, and of an imported row, is `split` of its tree: the
    /// same public form (up to the keys' order), the same part byte for byte, and it joins
    /// back to the event, with and without a claim, an e-mail, a move and an old number.
    #[test]
    fn a_registration_split_from_its_type_is_the_trees_split() {
        let mut variants = vec![application()];
        let mut other = application();
        other.priority = None;
        other.applicant.email = Some("madina@example.kz".into());
        other.entered_by = Some("desk-1".into());
        variants.push(other);
        let mut moved = application();
        moved.moved_from = Some(ApplicationId {
            district: crate::domain::catalog::DistrictId(1),
            number: crate::domain::application::RegistrationNumber(9),
        });
        moved.legacy_number = Some("ОЧ-00017".into());
        moved.held_until = Some(moved.registered_at);
        variants.push(moved);
        use crate::domain::event::Event;
        // `typed` is `event`'s typed split with salt [6; 16]: it must be the tree's.
        let same_as_the_trees = |event: Event, (typed, typed_part): (String, PersonalPart)| {
            let tree = serde_json::to_value(&event).unwrap();
            let (public, part) = split(event.kind(), tree, [6; 16]);
            assert_eq!(Some(&typed_part), part.as_ref());
            let typed: Value = serde_json::from_str(&typed).unwrap();
            assert_eq!(typed, public);
            let whole = join(event.kind(), typed, Some(&typed_part)).unwrap();
            assert_eq!(serde_json::from_value::<Event>(whole).unwrap(), event);
        };
        let file = "ab".repeat(32);
        for application in variants {
            let typed = split_registration(&application, [6; 16]);
            same_as_the_trees(Event::ApplicationRegistered(application.clone()), typed);
            let typed = split_import(&application, &file, 17, [6; 16]);
            let imported = Event::ApplicationImported {
                application,
                file_sha256: file.clone(),
                line: 17,
            };
            same_as_the_trees(imported, typed);
        }
    }
}
