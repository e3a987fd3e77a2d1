//! The three result documents (the registration notice, the referral, the motivated
//! refusal) as data: what is printed, what is signed, and whether a document is still in
//! force. Rendering and signing live elsewhere; this is the one definition of the content.
//!
//! The signed bytes are a domain tag and the canonical JSON of [`DocumentData`] (serde writes
//! fields in declaration order), so the same document always signs to the same bytes and a
//! verifier can rebuild them from the journal.

use super::application::RefusalReason;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// The registration notice: entered in the journal under № … on ….
    Notice,
    Referral,
    /// The motivated refusal.
    Refusal,
}

impl DocumentKind {
    pub fn code(self) -> &'static str {
        match self {
            DocumentKind::Notice => "notice",
            DocumentKind::Referral => "referral",
            DocumentKind::Refusal => "refusal",
        }
    }

    pub fn parse(code: &str) -> Option<DocumentKind> {
        [
            DocumentKind::Notice,
            DocumentKind::Referral,
            DocumentKind::Refusal,
        ]
        .into_iter()
        .find(|kind| kind.code() == code)
    }
}

/// A document's public identity: its kind and the number it is about (`ESL-17` for a notice
/// or refusal, `ESL-R5` for a referral), written `referral-ESL-R5`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DocumentId {
    pub kind: DocumentKind,
    pub number: String,
}

impl DocumentId {
    pub fn parse(text: &str) -> Option<DocumentId> {
        let (kind, number) = text.split_once('-')?;
        Some(DocumentId {
            kind: DocumentKind::parse(kind)?,
            number: number.to_string(),
        })
    }
}

impl std::fmt::Display for DocumentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.kind.code(), self.number)
    }
}

/// The issuing body: the district's education department.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issuer {
    pub district: String,
    pub name_kk: String,
    pub name_ru: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindergartenRef {
    pub id: u32,
    pub number: String,
    pub name_kk: String,
    pub name_ru: String,
    pub address: String,
}

/// Everything a document states, and all of it is signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentData {
    /// `referral-ESL-R5`
    pub id: String,
    pub kind: DocumentKind,
    /// 0 as issued; a referral extended once is version 1 (a new deadline, a new paper).
    pub version: u32,
    pub issued_at: DateTime<Utc>,
    pub issuer: Issuer,
    /// The application, `ESL-17`, and when it entered the registration journal.
    pub application: String,
    pub registered_at: DateTime<Utc>,
    pub child_full_name: String,
    pub child_birth_date: NaiveDate,
    /// The referral states the home address; the notice and refusal do not need it.
    pub home_address: Option<String>,
    pub kindergarten: Option<KindergartenRef>,
    /// The referral: `ESL-R5`, and the instant it lapses unless handed in (the end of its
    /// last working day; the page prints that day).
    pub referral: Option<String>,
    pub valid_until: Option<DateTime<Utc>>,
    /// Who issued it: the staff account, or "system" for the queue's own decision.
    pub officer: String,
    pub refusal_reason: Option<RefusalReason>,
    pub refusal_text: Option<String>,
    /// The notice names the applicant it was issued to (seed 000's form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applicant_full_name: Option<String>,
    /// The referral names the head of the district's education department on its day of
    /// issue, above the signature line; none until an administrator sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub education_head: Option<String>,
}

/// The domain tag in front of the JSON: a signature over a document can never be taken for
/// a signature over anything else this key signs.
pub const SIGNED_TAG: &[u8] = b"kezek document v1\n";

impl DocumentData {
    /// The document as signed before it named the applicant and the head (issue 12): papers
    /// printed then carry a signature over this shape, which still proves them authentic.
    /// The two fields are the last and left out when empty, so clearing them gives exactly
    /// the bytes signed then.
    pub fn first_shape(&self) -> DocumentData {
        DocumentData {
            applicant_full_name: None,
            education_head: None,
            ..self.clone()
        }
    }

    /// The exact bytes that are signed.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut bytes = SIGNED_TAG.to_vec();
        bytes.extend_from_slice(
            serde_json::to_string(self)
                .expect("document data serializes")
                .as_bytes(),
        );
        bytes
    }
}

/// Whether a document still has effect, as the verification page says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// It still has effect (a live referral; a notice of an application in the queue; a
    /// refusal, which stands).
    InForce,
    /// A newer version replaced it (a referral's extension).
    Superseded,
    /// The referral was handed in: it did its job.
    Used,
    /// The referral expired, was declined or revoked; or the application left the queue.
    Ended,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_back() {
        let id = DocumentId::parse("referral-ESL-R5").unwrap();
        assert_eq!(id.kind, DocumentKind::Referral);
        assert_eq!(id.number, "ESL-R5");
        assert_eq!(id.to_string(), "referral-ESL-R5");
        assert_eq!(DocumentId::parse("letter-ESL-5"), None);
        assert_eq!(DocumentId::parse("notice"), None);
    }
}
