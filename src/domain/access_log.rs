//! Who looked at what: every staff view of personal data (an application, a search's
//! results, a referral's details, a roster) is one entry, recording who, when, what kind of
//! view and which application, never the data seen (nor a search's words: an IIN typed
//! into a search is personal data itself).
//!
//! The log is append-only and tamper-evident in the journal's way: each entry's hash covers
//! the previous entry's hash and the entry's fields, so that changing, removing or
//! reordering an entry breaks every link after it. Views change nothing in the queue, so
//! they are not events: they have their own chain beside the journal.

use super::application::ApplicationId;
use super::catalog::DistrictId;
use super::event::{Hash, GENESIS_HASH};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// The kinds of staff view, as the log's `kind` column spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewKind {
    /// One application, opened by number.
    Application,
    /// An application listed among a search's results or on a work list page (both show
    /// the child's name; one kind, so the log's table needs no new one).
    Search,
    /// A referral's details (the child and the applicant it names).
    Referral,
    /// A kindergarten group's roster.
    Roster,
    /// An application's attached files: their list, or one file downloaded (issue 19).
    Attachment,
}

impl ViewKind {
    pub const ALL: [ViewKind; 5] = [
        ViewKind::Application,
        ViewKind::Search,
        ViewKind::Referral,
        ViewKind::Roster,
        ViewKind::Attachment,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ViewKind::Application => "application",
            ViewKind::Search => "search",
            ViewKind::Referral => "referral",
            ViewKind::Roster => "roster",
            ViewKind::Attachment => "attachment",
        }
    }

    pub fn parse(code: &str) -> Option<ViewKind> {
        ViewKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// One entry of the log, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffView {
    /// 1, 2, 3, … without gaps.
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// The staff account's name.
    pub account: String,
    pub kind: ViewKind,
    /// The application seen; none for a search that found nothing.
    pub application: Option<ApplicationId>,
    pub prev_hash: Hash,
    pub hash: Hash,
}

impl StaffView {
    /// The entry after `(seq, hash)`, sealed into the chain.
    pub fn seal(
        (prev_seq, prev_hash): (u64, Hash),
        at: DateTime<Utc>,
        account: &str,
        kind: ViewKind,
        application: Option<ApplicationId>,
    ) -> StaffView {
        let mut view = StaffView {
            seq: prev_seq + 1,
            at,
            account: account.to_string(),
            kind,
            application,
            prev_hash,
            hash: GENESIS_HASH,
        };
        view.hash = view.expected_hash();
        view
    }

    /// The hash this entry must carry: of its predecessor's hash and its own fields, each
    /// length-prefixed so that no two different entries hash alike.
    pub fn expected_hash(&self) -> Hash {
        let mut hasher = Sha256::new();
        hasher.update(b"kezek staff view v1");
        hasher.update(self.prev_hash);
        hasher.update(self.seq.to_be_bytes());
        hasher.update(self.at.timestamp_micros().to_be_bytes());
        for text in [self.account.as_str(), self.kind.code()] {
            hasher.update((text.len() as u64).to_be_bytes());
            hasher.update(text.as_bytes());
        }
        match self.application {
            None => hasher.update([0u8]),
            Some(id) => {
                hasher.update([1u8]);
                hasher.update(id.district.0.to_be_bytes());
                hasher.update(id.number.0.to_be_bytes());
            }
        }
        hasher.finalize().into()
    }
}

/// Where the log's chain breaks.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("staff access log, entry {seq}: {reason}")]
pub struct BrokenLink {
    pub seq: u64,
    pub reason: &'static str,
}

/// Checks the entries one by one, in `seq` order, from the first.
#[derive(Debug)]
pub struct LogChecker {
    head: (u64, Hash),
}

impl Default for LogChecker {
    fn default() -> LogChecker {
        LogChecker {
            head: (0, GENESIS_HASH),
        }
    }
}

impl LogChecker {
    pub fn check(&mut self, view: &StaffView) -> Result<(), BrokenLink> {
        let broken = |reason| {
            Err(BrokenLink {
                seq: view.seq,
                reason,
            })
        };
        if view.seq != self.head.0 + 1 {
            return broken("an entry before it is missing");
        }
        if view.prev_hash != self.head.1 {
            return broken("does not link to the entry before it");
        }
        if view.hash != view.expected_hash() {
            return broken("its fields do not match its hash");
        }
        self.head = (view.seq, view.hash);
        Ok(())
    }

    /// The last entry checked: `(0, GENESIS_HASH)` for an empty log.
    pub fn head(&self) -> (u64, Hash) {
        self.head
    }
}

/// Which entries a reader asks for.
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    pub account: Option<String>,
    pub application: Option<ApplicationId>,
    /// The district an application belongs to (an officer's own district's entries).
    pub district: Option<DistrictId>,
    /// Entries after this `seq` (paging, oldest first).
    pub after: u64,
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::application::RegistrationNumber;
    use chrono::TimeZone;

    fn chain(n: u64) -> Vec<StaffView> {
        let at = Utc.with_ymd_and_hms(2026, 12, 5, 8, 0, 0).unwrap();
        let id = ApplicationId {
            district: DistrictId(1),
            number: RegistrationNumber(7),
        };
        let mut head = (0, GENESIS_HASH);
        (0..n)
            .map(|i| {
                let view =
                    StaffView::seal(head, at, "officer", ViewKind::ALL[i as usize % 4], Some(id));
                head = (view.seq, view.hash);
                view
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_checks() {
        let mut checker = LogChecker::default();
        for view in chain(6) {
            checker.check(&view).unwrap();
        }
        assert_eq!(checker.head().0, 6);
    }

    #[test]
    fn a_changed_removed_or_reordered_entry_is_found() {
        let mut views = chain(5);
        views[2].account = "someone-else".into();
        let mut checker = LogChecker::default();
        let error = views.iter().try_for_each(|v| checker.check(v)).unwrap_err();
        assert_eq!(error.seq, 3);

        let mut views = chain(5);
        views.remove(1);
        let mut checker = LogChecker::default();
        let error = views.iter().try_for_each(|v| checker.check(v)).unwrap_err();
        assert_eq!(error.seq, 3);

        let mut views = chain(5);
        views[3].application = None;
        views[3].hash = views[3].expected_hash();
        let mut checker = LogChecker::default();
        let error = views.iter().try_for_each(|v| checker.check(v)).unwrap_err();
        assert_eq!(
            (error.seq, error.reason),
            (5, "does not link to the entry before it")
        );
    }

    #[test]
    fn kinds_read_back_from_their_codes() {
        for kind in ViewKind::ALL {
            assert_eq!(ViewKind::parse(kind.code()), Some(kind));
        }
        assert_eq!(ViewKind::parse("data"), None);
    }
}
