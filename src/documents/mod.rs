//! The result documents built from the journal: the registration notice, the referral and
//! the motivated refusal, each as signed data ([`DocumentData`]) with its standing.
//!
//! A document is not stored: it is rebuilt from the application's rows and events whenever
//! asked for, and Ed25519 signatures are deterministic, so the same document always carries
//! the same signature. A verifier rebuilds the data the same way and checks the signature
//! it was shown (from the QR code) against it.

pub mod render;
pub mod signing;

use crate::domain::application::{Application, ApplicationId, ApplicationStatus};
use crate::domain::catalog::Catalog;
use crate::domain::document::{
    DocumentData, DocumentId, DocumentKind, Issuer, KindergartenRef, Standing,
};
use crate::domain::event::{Event, RecordedEvent};
use crate::domain::referral::{Referral, ReferralId, ReferralStatus};
use crate::store::{self, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::Connection;
pub use signing::{DocumentSigner, PublicKey};

/// A document as rebuilt now: its data (all signed) and whether it still has effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Built {
    pub data: DocumentData,
    pub standing: Standing,
    /// The newest version of this document (a referral extended once has two).
    pub latest_version: u32,
}

fn issuer(catalog: &Catalog, id: ApplicationId) -> Issuer {
    let district = catalog.districts.get(&id.district);
    Issuer {
        district: district.map_or_else(String::new, |d| d.code.clone()),
        name_kk: district.map_or_else(String::new, |d| d.names.kk.clone()),
        name_ru: district.map_or_else(String::new, |d| d.names.ru.clone()),
    }
}

fn officer(recorded: &RecordedEvent) -> String {
    match recorded.actor.0.strip_prefix("staff:") {
        Some(name) => name.to_string(),
        None => "system".to_string(),
    }
}

fn base(
    catalog: &Catalog,
    application: &Application,
    id: String,
    kind: DocumentKind,
    issued_at: DateTime<Utc>,
    officer: String,
) -> DocumentData {
    DocumentData {
        id,
        kind,
        version: 0,
        issued_at,
        issuer: issuer(catalog, application.id),
        application: crate::domain::numbers::application_number(catalog, application.id),
        registered_at: application.registered_at,
        child_full_name: application.child.full_name.clone(),
        child_birth_date: application.child.birth_date,
        home_address: None,
        kindergarten: None,
        referral: None,
        valid_until: None,
        officer,
        refusal_reason: None,
        refusal_text: None,
        applicant_full_name: None,
        education_head: None,
    }
}

/// The registration notice of an application (every application has one), as registered
/// (version 0) or as re-issued after its k-th amendment or rebinding to the real applicant
/// (version k); the latest when `version` is `None`. Neither changes the queue key the
/// notice states, but the parent gets a new paper dated the day of the change, and the older
/// ones read "superseded". Each version names the applicant in force when it was issued, so
/// an older paper rebuilds to the same data (and signature) after a rebinding.
pub fn notice(
    conn: &Connection,
    catalog: &Catalog,
    id: ApplicationId,
    version: Option<u32>,
) -> Result<Option<Built>, StoreError> {
    let Some(application) = store::application(conn, id)? else {
        return Ok(None);
    };
    let events = store::application_events(conn, id)?;
    // An imported application's notice is Kezek's own: its new number, its original time.
    let registered = events
        .iter()
        .find(|e| e.kind == "application_registered" || e.kind == "application_imported")
        .ok_or_else(|| StoreError::corrupt("application_events", id.number.0, "no registration"))?;
    let reissues: Vec<&RecordedEvent> = events
        .iter()
        .filter(|e| e.kind == "application_amended" || e.kind == REBOUND)
        .collect();
    let latest_version = reissues.len() as u32;
    let version = version.unwrap_or(latest_version);
    if version > latest_version {
        return Ok(None);
    }
    let (issued_at, by) = match version {
        0 => (application.registered_at, registered),
        k => {
            let reissue = reissues[k as usize - 1];
            (reissue.recorded_at, reissue)
        }
    };
    let applicant_full_name =
        applicant_name_at(&application, registered, &reissues, version as usize)?;
    let number = crate::domain::numbers::application_number(catalog, id);
    let mut data = base(
        catalog,
        &application,
        DocumentId {
            kind: DocumentKind::Notice,
            number,
        }
        .to_string(),
        DocumentKind::Notice,
        issued_at,
        officer(by),
    );
    data.version = version;
    data.applicant_full_name = Some(applicant_full_name);
    let standing = if version < latest_version {
        Standing::Superseded
    } else if application.status.is_active() {
        Standing::InForce
    } else {
        Standing::Ended
    };
    Ok(Some(Built {
        data,
        standing,
        latest_version,
    }))
}

/// The kind of the event that rebinds an application to its real applicant.
const REBOUND: &str = "applicant_rebound";

/// The applicant's name on the notice's `version`: the last rebinding's among the first
/// `version` re-issues, or, before any, the name registered (the application's own when it
/// was never rebound, which also covers an application that a move continued).
fn applicant_name_at(
    application: &Application,
    registered: &RecordedEvent,
    reissues: &[&RecordedEvent],
    version: usize,
) -> Result<String, StoreError> {
    let rebound = |recorded: &RecordedEvent| match recorded.event() {
        Ok(Event::ApplicantRebound { applicant, .. }) => Ok(applicant.full_name),
        _ => Err(StoreError::corrupt(
            "events",
            recorded.seq,
            "a rebinding without its applicant",
        )),
    };
    if let Some(last) = reissues[..version].iter().rev().find(|e| e.kind == REBOUND) {
        return rebound(last);
    }
    if !reissues.iter().any(|e| e.kind == REBOUND) {
        return Ok(application.applicant.full_name.clone());
    }
    match registered.event() {
        Ok(Event::ApplicationRegistered(as_registered))
        | Ok(Event::ApplicationImported {
            application: as_registered,
            ..
        }) => Ok(as_registered.applicant.full_name),
        _ => Err(StoreError::corrupt(
            "events",
            registered.seq,
            "a registration without its application",
        )),
    }
}

/// The motivated refusal, if the application was refused.
pub fn refusal(
    conn: &Connection,
    catalog: &Catalog,
    id: ApplicationId,
) -> Result<Option<Built>, StoreError> {
    let Some(application) = store::application(conn, id)? else {
        return Ok(None);
    };
    if application.status != ApplicationStatus::Refused {
        return Ok(None);
    }
    let events = store::application_events(conn, id)?;
    let Some((recorded, reason, text)) =
        events
            .iter()
            .find_map(|recorded| match recorded.event().ok()? {
                Event::ApplicationRefused { reason, text, .. } => Some((recorded, reason, text)),
                _ => None,
            })
    else {
        return Err(StoreError::corrupt(
            "application_events",
            id.number.0,
            "refused without a refusal",
        ));
    };
    let number = crate::domain::numbers::application_number(catalog, id);
    let mut data = base(
        catalog,
        &application,
        DocumentId {
            kind: DocumentKind::Refusal,
            number,
        }
        .to_string(),
        DocumentKind::Refusal,
        recorded.recorded_at,
        officer(recorded),
    );
    data.refusal_reason = Some(reason);
    data.refusal_text = Some(text);
    Ok(Some(Built {
        data,
        standing: Standing::InForce,
        latest_version: 0,
    }))
}

/// A referral as issued (version 0) or as extended (version 1); the latest when `version`
/// is `None`.
pub fn referral(
    conn: &Connection,
    catalog: &Catalog,
    id: ReferralId,
    version: Option<u32>,
    now: DateTime<Utc>,
) -> Result<Option<Built>, StoreError> {
    let Some(current) = store::referral(conn, id)? else {
        return Ok(None);
    };
    let Some(application) = store::application(conn, current.application)? else {
        return Err(StoreError::corrupt(
            "referrals",
            id.number.0,
            "no application",
        ));
    };
    let events = store::application_events(conn, current.application)?;
    let mut issued: Option<(Referral, u64)> = None;
    let mut extended: Option<DateTime<Utc>> = None;
    for recorded in &events {
        match recorded.event() {
            Ok(Event::ReferralIssued { referral, .. }) if referral.id == id => {
                issued = Some((referral, recorded.seq));
            }
            Ok(Event::ReferralExtended {
                id: which,
                valid_until,
            }) if which == id => {
                extended = Some(valid_until);
            }
            _ => {}
        }
    }
    let Some((as_issued, issued_seq)) = issued else {
        return Err(StoreError::corrupt(
            "application_events",
            id.number.0,
            "a referral without its issue",
        ));
    };
    let latest_version = u32::from(extended.is_some());
    let version = version.unwrap_or(latest_version);
    if version > latest_version {
        return Ok(None);
    }
    let valid_until = match (version, extended) {
        (1, Some(until)) => until,
        _ => as_issued.valid_until,
    };
    let number = crate::domain::numbers::referral_number(catalog, id);
    let mut data = base(
        catalog,
        &application,
        DocumentId {
            kind: DocumentKind::Referral,
            number: number.clone(),
        }
        .to_string(),
        DocumentKind::Referral,
        as_issued.issued_at,
        // Whoever's action freed or reported the place, who gets it is the queue's
        // decision, issued on the district's behalf.
        "system".to_string(),
    );
    data.version = version;
    data.home_address = Some(application.applicant.address.clone());
    data.kindergarten = catalog
        .kindergartens
        .get(&current.kindergarten)
        .map(|k| KindergartenRef {
            id: k.id.0,
            number: k.number.clone(),
            name_kk: k.names.kk.clone(),
            name_ru: k.names.ru.clone(),
            address: k.address.clone(),
        });
    data.referral = Some(number);
    data.valid_until = Some(valid_until);
    data.education_head = store::education_head_before(conn, id.district, issued_seq)?;
    let standing = if version < latest_version {
        Standing::Superseded
    } else {
        match current.status {
            ReferralStatus::Issued if now < current.valid_until => Standing::InForce,
            ReferralStatus::HandedIn => Standing::Used,
            _ => Standing::Ended,
        }
    };
    Ok(Some(Built {
        data,
        standing,
        latest_version,
    }))
}

/// What the verification page says of a document and a signature shown for it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verification {
    /// The application's personal data was erased (its retention ended): the document is
    /// known, its standing too, but its seal cannot be checked any more.
    #[serde(default)]
    pub erased: bool,
    pub document: String,
    pub version: u32,
    /// The signature was made by this deployment's key over exactly this document.
    pub authentic: bool,
    /// Authentic and still in force.
    pub valid: bool,
    pub standing: Standing,
    pub issued_at: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
}

/// Rebuilds the document and checks `signature` against it.
pub fn verify(
    conn: &Connection,
    catalog: &Catalog,
    signer: &DocumentSigner,
    id: &DocumentId,
    version: Option<u32>,
    signature: &str,
    now: DateTime<Utc>,
) -> Result<Option<Verification>, StoreError> {
    let (built, of) = match id.kind {
        DocumentKind::Notice => {
            match crate::domain::numbers::parse_application(catalog, &id.number) {
                Some(application) => (
                    notice(conn, catalog, application, version)?,
                    Some(application),
                ),
                None => (None, None),
            }
        }
        DocumentKind::Refusal => {
            match crate::domain::numbers::parse_application(catalog, &id.number) {
                Some(application) => (refusal(conn, catalog, application)?, Some(application)),
                None => (None, None),
            }
        }
        DocumentKind::Referral => match crate::domain::numbers::parse_referral(catalog, &id.number)
        {
            Some(referral_id) => (
                referral(conn, catalog, referral_id, version, now)?,
                store::referral(conn, referral_id)?.map(|r| r.application),
            ),
            None => (None, None),
        },
    };
    let Some(built) = built else {
        return Ok(None);
    };
    if version.is_some_and(|v| v != built.data.version) {
        return Ok(None);
    }
    // The names it was signed over are gone: the seal can no longer be checked, and the
    // answer says so rather than calling an authentic document forged.
    let erased = match of {
        Some(application) => crate::store::erasure::is_erased(conn, application)?,
        None => false,
    };
    let authentic = !erased
        && (signer.verify(&built.data, signature)
            || signer.verify(&built.data.first_shape(), signature));
    Ok(Some(Verification {
        erased,
        document: built.data.id.clone(),
        version: built.data.version,
        authentic,
        valid: authentic && built.standing == Standing::InForce,
        standing: built.standing,
        issued_at: built.data.issued_at,
        valid_until: built.data.valid_until,
    }))
}
