//! The domain: pure rules and data structures of the queue.
//!
//! Architecture Invariant: nothing here does IO, reads a clock, or knows about SQL, HTTP or
//! JSON over the wire (serde derives only describe shapes). Time comes in as a parameter.

pub mod access;
pub mod access_log;
pub mod amendment;
pub mod application;
pub mod attachment;
pub mod calendar;
pub mod catalog;
pub mod contact;
pub mod deadline;
pub mod document;
pub mod document_request;
pub mod event;
pub mod family;
pub mod history;
pub mod iin;
pub mod import;
pub mod intake;
pub mod numbers;
pub mod personal;
pub mod referral;
pub mod replay;
pub mod reports;
pub mod staff;
pub mod state;
pub mod text;
pub mod transfer;
pub mod waiting_list;

/// Kazakhstan has kept one time zone, UTC+5, since 1 March 2024. Dates the rules speak of
/// ("today", "the end of the last day") are dates in this zone.
pub fn local_offset() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(5 * 3600).expect("UTC+5 is a valid offset")
}

/// The local calendar date of an instant.
pub fn local_date(instant: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
    instant.with_timezone(&local_offset()).date_naive()
}
