//! An officer's request for a missing or unreadable document (issue 19 §5), and what it does
//! to the manual step's deadline.
//!
//! DOMAIN.md: a manual step (verifying a priority document) is done within 3 working days,
//! the day of receipt not counted. While the parent has been asked for a document, the
//! officer cannot decide: the deadline is paused. When every document asked for has arrived,
//! the step counts again, the full 3 working days from the day the last of them arrived
//! (that day not counted): the step is verifying a document received that day, so that day
//! is its day of receipt. "The remainder" would leave nothing when the officer asked on the
//! last day, which would make a late answer the officer's fault.
//!
//! Pure: the times are the journal's.

use super::attachment::AttachmentKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Manual steps are due within this many working days (DOMAIN: "within 3 working days").
pub const MANUAL_STEP_WORKING_DAYS: u32 = 3;

/// The longest reason an officer may give, in characters.
pub const REASON_CHARS_MAX: usize = 1000;

/// A request as the journal records it (`Event::DocumentRequested`); who asked and when are
/// the event's actor and time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRequest {
    /// 1, 2, 3, … within the application.
    pub number: u32,
    pub kind: AttachmentKind,
    /// Why, in words the parent reads on their page.
    pub reason: String,
}

/// A request's two moments: asked, and (once a document of its kind arrived) answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestTimes {
    pub requested_at: DateTime<Utc>,
    pub received_at: Option<DateTime<Utc>>,
}

/// The moment the manual step's working days count from: the registration, or the arrival
/// of the last document asked for; `None` while any request is open (the deadline is
/// paused).
pub fn step_counts_from(
    registered_at: DateTime<Utc>,
    requests: &[RequestTimes],
) -> Option<DateTime<Utc>> {
    let mut from = registered_at;
    for request in requests {
        from = from.max(request.received_at?);
    }
    Some(from)
}

/// The kind of the open request a newly attached file of `kind` answers, if any: the
/// oldest open request of that kind.
pub fn answered_by<'a>(
    open: impl IntoIterator<Item = &'a (u32, AttachmentKind)>,
    kind: AttachmentKind,
) -> Option<u32> {
    open.into_iter()
        .filter(|(_, asked)| *asked == kind)
        .map(|(number, _)| *number)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 6, 0, 0).unwrap()
    }

    #[test]
    fn without_requests_the_step_counts_from_the_registration() {
        assert_eq!(step_counts_from(at(2), &[]), Some(at(2)));
    }

    #[test]
    fn an_open_request_pauses_the_step() {
        let answered = RequestTimes {
            requested_at: at(3),
            received_at: Some(at(5)),
        };
        let open = RequestTimes {
            requested_at: at(6),
            received_at: None,
        };
        assert_eq!(step_counts_from(at(2), &[answered, open]), None);
        assert_eq!(step_counts_from(at(2), &[open, answered]), None);
    }

    #[test]
    fn the_step_restarts_from_the_last_arrival() {
        let first = RequestTimes {
            requested_at: at(3),
            received_at: Some(at(9)),
        };
        let second = RequestTimes {
            requested_at: at(4),
            received_at: Some(at(5)),
        };
        assert_eq!(step_counts_from(at(2), &[first, second]), Some(at(9)));
    }

    #[test]
    fn a_file_answers_the_oldest_open_request_of_its_kind() {
        let open = [
            (4, AttachmentKind::Other),
            (2, AttachmentKind::BirthCertificate),
            (3, AttachmentKind::BirthCertificate),
        ];
        assert_eq!(
            answered_by(&open, AttachmentKind::BirthCertificate),
            Some(2)
        );
        assert_eq!(answered_by(&open, AttachmentKind::Other), Some(4));
        assert_eq!(answered_by(&open, AttachmentKind::PriorityDocument), None);
    }
}
