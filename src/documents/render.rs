//! The result documents as a parent holds them: a printable A4 page in Kazakh or in Russian,
//! as HTML (printed by the browser) and as PDF.
//!
//! What a page says is decided once, in `texts`, from the signed [`DocumentData`] alone and
//! the seal (the verification link and the key's id); `html` and `pdf` only draw that
//! [`texts::Page`]. So both formats say the same, and nothing is printed that the signature
//! does not cover, except how to check it. Rendering reads and fetches nothing: the font is
//! compiled into the binary and the QR code is drawn as vector squares.

mod html;
mod pdf;
mod qr;
mod texts;

use crate::domain::document::DocumentData;

/// The language of one page (the regulations' documents are issued in Kazakh and in Russian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Kazakh,
    Russian,
}

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Language::Kazakh => "kk",
            Language::Russian => "ru",
        }
    }

    pub fn parse(code: &str) -> Option<Language> {
        match code {
            "kk" => Some(Language::Kazakh),
            "ru" => Some(Language::Russian),
            _ => None,
        }
    }
}

/// How a printed document is checked: where the service is, the signature over the data,
/// and the id of the key that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seal {
    /// The service's public address, e.g. `https://kezek.example.kz`, without a trailing `/`.
    pub base_url: String,
    /// Ed25519 over the document's signed bytes, base64url.
    pub signature: String,
    pub key_id: String,
}

impl Seal {
    /// The verification link the QR code holds and the page prints.
    pub fn link(&self, data: &DocumentData) -> String {
        format!(
            "{}/api/v1/documents/{}/verify?v={}&sig={}",
            self.base_url.trim_end_matches('/'),
            data.id,
            data.version,
            self.signature
        )
    }
}

/// The document as an HTML page with print CSS, every text escaped.
pub fn html(data: &DocumentData, language: Language, seal: &Seal) -> String {
    html::render(&texts::compose(data, language, seal))
}

/// The document as a PDF with the font embedded and a text layer.
pub fn pdf(data: &DocumentData, language: Language, seal: &Seal) -> Vec<u8> {
    pdf::render(&texts::compose(data, language, seal))
}

pub mod samples {
    //! Documents as the journal would build them, for the renderers' tests and the
    //! renderings in `docs/documents/` (`scripts/render-documents`).
    use crate::domain::application::RefusalReason;
    use crate::domain::document::{DocumentData, DocumentKind, Issuer, KindergartenRef};
    use chrono::{NaiveDate, TimeZone, Utc};

    pub fn notice() -> DocumentData {
        DocumentData {
            id: "notice-ESL-17".into(),
            kind: DocumentKind::Notice,
            version: 0,
            issued_at: Utc.with_ymd_and_hms(2026, 11, 20, 4, 0, 0).unwrap(),
            issuer: Issuer {
                district: "ESL".into(),
                name_kk: "Есіл ауданы".into(),
                name_ru: "район Есиль".into(),
            },
            application: "ESL-17".into(),
            registered_at: Utc.with_ymd_and_hms(2026, 11, 20, 4, 0, 0).unwrap(),
            child_full_name: "Әбіғұлұлы Қаңөһүр".into(),
            child_birth_date: NaiveDate::from_ymd_opt(2022, 3, 15).unwrap(),
            home_address: None,
            kindergarten: None,
            referral: None,
            valid_until: None,
            officer: "system".into(),
            refusal_reason: None,
            refusal_text: None,
            applicant_full_name: Some("Сейітова Айгүл Маратқызы".into()),
            education_head: None,
        }
    }

    pub fn referral() -> DocumentData {
        DocumentData {
            id: "referral-ESL-R5".into(),
            kind: DocumentKind::Referral,
            issued_at: Utc.with_ymd_and_hms(2026, 11, 23, 5, 30, 0).unwrap(),
            home_address: Some("Астана, Қабанбай батыр даңғылы, 11, 45-пәтер".into()),
            kindergarten: Some(KindergartenRef {
                id: 12,
                number: "112".into(),
                name_kk: "№112 «Балдырған» бөбекжай-бақшасы".into(),
                name_ru: "Ясли-сад №112 «Балдырган»".into(),
                address: "Астана, Тұран даңғылы, 37".into(),
            }),
            referral: Some("ESL-R5".into()),
            // The end of 27.11.2026, local time.
            valid_until: Some(Utc.with_ymd_and_hms(2026, 11, 27, 19, 0, 0).unwrap()),
            applicant_full_name: None,
            education_head: Some("Жұмабеков Ерлан Асқарұлы".into()),
            ..notice()
        }
    }

    pub fn refusal() -> DocumentData {
        DocumentData {
            id: "refusal-ESL-17".into(),
            kind: DocumentKind::Refusal,
            issued_at: Utc.with_ymd_and_hms(2026, 11, 24, 6, 0, 0).unwrap(),
            officer: "a.sarsenova".into(),
            applicant_full_name: None,
            refusal_reason: Some(RefusalReason::DocumentsIncomplete),
            refusal_text: Some(
                "Көп балалы отбасы мәртебесін растайтын анықтама ұсынылмады; 20.11.2026 ж. \
                 сұрау салуға үш жұмыс күні ішінде жауап берілмеді.\nСправка, \
                 подтверждающая статус многодетной семьи, не представлена."
                    .into(),
            ),
            ..notice()
        }
    }
}
