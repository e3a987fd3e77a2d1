//! The outbox's SQL. The writer side adds the messages an event causes, inside the event's
//! transaction (so a message exists if and only if its event is committed); the sender side
//! reads what is due and records each attempt, on a connection of its own.

use super::{Store, StoreError};
use crate::domain::application::ApplicationId;
use crate::domain::catalog::{DistrictId, KindergartenId};
use crate::domain::event::{Event, RecordedEvent};
use crate::domain::referral::{Lapse, ReferralId};
use crate::notify::texts::{self, Change, KindergartenNames, Texts};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::Path;

/// The message whose texts the outbox row leaves empty, to be written when it is due. A
/// registration's message says only its number and its registration time, which never
/// change, so writing it later gives the same words; and it is the one message on the
/// registration's path, where its 1.2 KB of Kazakh and Russian text doubled what each
/// registration wrote and halved the writer's rate (docs/PERFORMANCE.md). The other messages
/// name kindergartens and deadlines and keep their texts as they were at the event.
pub const RENDERED_WHEN_DUE: MessageKind = MessageKind::Registered;

/// How long before a referral lapses its reminder is due.
pub const REMINDER_BEFORE_HOURS: i64 = 24;

/// What a message is about (the `kind` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    Registered,
    ReferralIssued,
    ReferralExpiring,
    ReferralExpired,
    StatusChanged,
}

impl MessageKind {
    pub fn code(self) -> &'static str {
        match self {
            MessageKind::Registered => "registered",
            MessageKind::ReferralIssued => "referral_issued",
            MessageKind::ReferralExpiring => "referral_expiring",
            MessageKind::ReferralExpired => "referral_expired",
            MessageKind::StatusChanged => "status_changed",
        }
    }
}

/// The applicant's address for messages: the e-mail address if they gave one, else the
/// phone number (`tel:`), which the file channel records and e-mail cannot reach.
fn recipient(email: Option<&str>, phone: &str) -> String {
    match email.map(str::trim).filter(|e| !e.is_empty()) {
        Some(email) => format!("mailto:{email}"),
        None => format!("tel:{phone}"),
    }
}

struct NewMessage<'a> {
    seq: u64,
    kind: MessageKind,
    application: ApplicationId,
    referral: Option<ReferralId>,
    recipient: &'a str,
    texts: Texts,
    created_at: DateTime<Utc>,
    not_before: DateTime<Utc>,
}

impl Store {
    /// Adds to the outbox the messages `event` causes, and cancels the reminders it makes
    /// pointless, in the caller's transaction. Reads what the texts need (the applicant's
    /// address, the kindergarten) through the writer's connection, which sees the
    /// transaction's own rows.
    pub(super) fn enqueue_messages(
        &self,
        recorded: &RecordedEvent,
        event: &Event,
    ) -> Result<(), StoreError> {
        let now = recorded.recorded_at;
        let seq = recorded.seq;
        match event {
            Event::ApplicationRegistered(a) => {
                let to = recipient(a.applicant.email.as_deref(), &a.applicant.phone);
                // No texts: see `RENDERED_WHEN_DUE`.
                self.insert_message(&NewMessage {
                    seq,
                    kind: MessageKind::Registered,
                    application: a.id,
                    referral: None,
                    recipient: &to,
                    texts: Texts::default(),
                    created_at: now,
                    not_before: now,
                })?;
            }
            Event::ReferralIssued { referral: r, .. } => {
                let to = self.recipient_of(r.application)?;
                let kindergarten = self.kindergarten_names(r.kindergarten)?;
                let number = self.referral_number(r.id)?;
                let application = self.application_number(r.application)?;
                self.insert_message(&NewMessage {
                    seq,
                    kind: MessageKind::ReferralIssued,
                    application: r.application,
                    referral: Some(r.id),
                    recipient: &to,
                    texts: texts::referral_issued(
                        &number,
                        &application,
                        &kindergarten,
                        r.valid_until,
                    ),
                    created_at: now,
                    not_before: now,
                })?;
                self.insert_reminder(
                    seq,
                    now,
                    r.id,
                    r.application,
                    &to,
                    &kindergarten,
                    r.valid_until,
                )?;
            }
            Event::ReferralExtended { id, valid_until } => {
                self.cancel_reminders(*id, now)?;
                let (application, kindergarten) = self.referral_parties(*id)?;
                let to = self.recipient_of(application)?;
                let kindergarten = self.kindergarten_names(kindergarten)?;
                self.insert_reminder(seq, now, *id, application, &to, &kindergarten, *valid_until)?;
            }
            Event::ReferralHandedIn { id, .. } => {
                self.cancel_reminders(*id, now)?;
                let (application, _) = self.referral_parties(*id)?;
                let change = Change::Enrolled {
                    referral: self.referral_number(*id)?,
                };
                self.insert_status_change(seq, now, application, Some(*id), &change)?;
            }
            Event::ReferralLapsed {
                id,
                lapse,
                held_until,
                ..
            } => {
                self.cancel_reminders(*id, now)?;
                let (application, _) = self.referral_parties(*id)?;
                let referral = self.referral_number(*id)?;
                let held_until = *held_until;
                let change = match lapse {
                    Lapse::Expired => {
                        let to = self.recipient_of(application)?;
                        let number = self.application_number(application)?;
                        return self.insert_message(&NewMessage {
                            seq,
                            kind: MessageKind::ReferralExpired,
                            application,
                            referral: Some(*id),
                            recipient: &to,
                            texts: texts::referral_expired(&referral, &number, held_until),
                            created_at: now,
                            not_before: now,
                        });
                    }
                    Lapse::Declined => Change::Declined {
                        referral,
                        held_until,
                    },
                    Lapse::Revoked {
                        priority_unconfirmed,
                        ..
                    } => Change::Revoked {
                        referral,
                        held_until,
                        priority_unconfirmed: *priority_unconfirmed,
                    },
                };
                self.insert_status_change(seq, now, application, Some(*id), &change)?;
            }
            Event::ApplicationWithdrawn { id } => {
                self.insert_status_change(seq, now, *id, None, &Change::Withdrawn)?;
            }
            Event::ApplicationRefused { id, .. } => {
                self.insert_status_change(seq, now, *id, None, &Change::Refused)?;
            }
            Event::ApplicationAgedOut { id, .. } => {
                self.insert_status_change(seq, now, *id, None, &Change::AgedOut)?;
            }
            Event::DocumentRequested { id, request } => {
                let to = self.recipient_of(*id)?;
                let number = self.application_number(*id)?;
                // Kind `status_changed` (the outbox's CHECK knows no other fitting one): the
                // service request now waits for the parent.
                self.insert_message(&NewMessage {
                    seq,
                    kind: MessageKind::StatusChanged,
                    application: *id,
                    referral: None,
                    recipient: &to,
                    texts: texts::document_requested(&number, request.kind),
                    created_at: now,
                    not_before: now,
                })?;
            }
            Event::DistrictCreated(_)
            | Event::KindergartenCreated(_)
            | Event::GroupCreated(_)
            | Event::PriorityVerified { .. }
            | Event::PriorityRejected { .. }
            | Event::PolicySet { .. }
            | Event::CalendarYearSet { .. }
            | Event::PlacesReported { .. }
            | Event::StopListEnded { .. }
            | Event::AccessCodeIssued { .. }
            | Event::SurveyAnswered { .. }
            | Event::ApplicationAmended { .. }
            | Event::ApplicantRebound { .. }
            | Event::ApplicationMoved { .. }
            // The family knew of its application in the earlier system; a million messages
            // on the day of an import would only alarm them.
            | Event::ApplicationImported { .. }
            | Event::FamilyRegistered(_)
            | Event::FamilyChoiceSet { .. }
            | Event::FamilyPassedOver { .. }
            | Event::TransferRequested(_)
            | Event::EducationHeadSet { .. }
            | Event::PlaceWithdrawn { .. }
            | Event::ChildLeft { .. }
            | Event::KindergartenChanged(_)
            | Event::GroupChanged(_)
            | Event::CategorySet(_)
            | Event::StaffAccountCreated { .. }
            | Event::StaffAccountChanged { .. }
            | Event::StaffAccountRevoked { .. }
            | Event::IntakeRoundOpened(_)
            | Event::IntakeRoundClosed { .. }
            | Event::AttachmentAdded { .. }
            | Event::DocumentReceived { .. }
            | Event::AttachmentInfected { .. }
            | Event::PersonalDataErased { .. } => {}
        }
        Ok(())
    }

    fn insert_status_change(
        &self,
        seq: u64,
        now: DateTime<Utc>,
        application: ApplicationId,
        referral: Option<ReferralId>,
        change: &Change,
    ) -> Result<(), StoreError> {
        let to = self.recipient_of(application)?;
        let number = self.application_number(application)?;
        self.insert_message(&NewMessage {
            seq,
            kind: MessageKind::StatusChanged,
            application,
            referral,
            recipient: &to,
            texts: texts::status_changed(&number, change),
            created_at: now,
            not_before: now,
        })
    }

    /// The reminder a day before `valid_until`; none if that moment has already come (the
    /// message about the referral itself says the same, and just now).
    #[allow(clippy::too_many_arguments)]
    fn insert_reminder(
        &self,
        seq: u64,
        now: DateTime<Utc>,
        referral: ReferralId,
        application: ApplicationId,
        to: &str,
        kindergarten: &KindergartenNames,
        valid_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let due = valid_until - Duration::hours(REMINDER_BEFORE_HOURS);
        if due <= now {
            return Ok(());
        }
        let number = self.referral_number(referral)?;
        self.insert_message(&NewMessage {
            seq,
            kind: MessageKind::ReferralExpiring,
            application,
            referral: Some(referral),
            recipient: to,
            texts: texts::referral_expiring(&number, kindergarten, valid_until),
            created_at: now,
            not_before: due,
        })
    }

    fn insert_message(&self, m: &NewMessage<'_>) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare_cached(
            "INSERT INTO outbox (seq, kind, district_id, registration_number, referral_number, \
             recipient, subject, body, created_at, not_before, next_attempt_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        )?;
        statement.execute(params![
            m.seq as i64,
            m.kind.code(),
            m.application.district.0,
            m.application.number.0,
            m.referral.map(|r| r.number.0),
            m.recipient,
            m.texts.subject,
            m.texts.body,
            m.created_at.timestamp_micros(),
            m.not_before.timestamp_micros(),
        ])?;
        Ok(())
    }

    /// A referral's pending reminder will not be sent: the referral was handed in, lapsed,
    /// or got a new deadline (and a new reminder).
    fn cancel_reminders(&self, referral: ReferralId, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare_cached(
            "UPDATE outbox SET cancelled_at = ?1 \
             WHERE district_id = ?2 AND referral_number = ?3 AND kind = 'referral_expiring' \
               AND delivered_at IS NULL AND cancelled_at IS NULL",
        )?;
        statement.execute(params![
            now.timestamp_micros(),
            referral.district.0,
            referral.number.0
        ])?;
        Ok(())
    }

    fn district_code(&self, district: DistrictId) -> Result<String, StoreError> {
        if let Some(code) = self.district_codes.borrow().get(&district.0) {
            return Ok(code.clone());
        }
        let mut statement = self
            .conn
            .prepare_cached("SELECT code FROM districts WHERE id = ?1")?;
        let code: Option<String> = statement
            .query_row([district.0], |row| row.get(0))
            .optional()?;
        let code =
            code.ok_or_else(|| StoreError::corrupt("districts", district.0, "no such district"))?;
        self.district_codes
            .borrow_mut()
            .insert(district.0, code.clone());
        Ok(code)
    }

    /// "ESL-17", as the parent knows it.
    fn application_number(&self, id: ApplicationId) -> Result<String, StoreError> {
        Ok(format!(
            "{}-{}",
            self.district_code(id.district)?,
            id.number.0
        ))
    }

    /// "ESL-R5".
    fn referral_number(&self, id: ReferralId) -> Result<String, StoreError> {
        Ok(format!(
            "{}-R{}",
            self.district_code(id.district)?,
            id.number.0
        ))
    }

    fn recipient_of(&self, id: ApplicationId) -> Result<String, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT applicant_email, applicant_phone FROM applications \
             WHERE district_id = ?1 AND registration_number = ?2",
        )?;
        let found = statement
            .query_row(params![id.district.0, id.number.0], |row| {
                Ok(recipient(
                    row.get::<_, Option<String>>(0)?.as_deref(),
                    &row.get::<_, String>(1)?,
                ))
            })
            .optional()?;
        found.ok_or_else(|| {
            StoreError::corrupt(
                "applications",
                format!("{}/{}", id.district.0, id.number.0),
                "no such application",
            )
        })
    }

    fn kindergarten_names(&self, id: KindergartenId) -> Result<KindergartenNames, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT number, name_kk, name_ru, address FROM kindergartens WHERE id = ?1",
        )?;
        let found = statement
            .query_row([id.0], |row| {
                Ok(KindergartenNames {
                    number: row.get(0)?,
                    name_kk: row.get(1)?,
                    name_ru: row.get(2)?,
                    address: row.get(3)?,
                })
            })
            .optional()?;
        found.ok_or_else(|| StoreError::corrupt("kindergartens", id.0, "no such kindergarten"))
    }

    /// A referral's application and kindergarten.
    fn referral_parties(
        &self,
        id: ReferralId,
    ) -> Result<(ApplicationId, KindergartenId), StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT application_district_id, application_number, kindergarten_id \
             FROM referrals WHERE district_id = ?1 AND number = ?2",
        )?;
        let found = statement
            .query_row(params![id.district.0, id.number.0], |row| {
                Ok((
                    ApplicationId {
                        district: DistrictId(row.get(0)?),
                        number: crate::domain::application::RegistrationNumber(row.get(1)?),
                    },
                    KindergartenId(row.get(2)?),
                ))
            })
            .optional()?;
        found.ok_or_else(|| {
            StoreError::corrupt(
                "referrals",
                format!("{}/{}", id.district.0, id.number.0),
                "no such referral",
            )
        })
    }
}

/// A message as the sender reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: i64,
    pub kind: String,
    /// `mailto:<address>` or `tel:<phone>`.
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// The outcome of one attempt, as the sender records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Taken by the channel (`by`: "file", "smtp", or "skipped:smtp").
    Delivered { id: i64, by: String },
    /// Failed; tried again at `retry_at`, or never if `None` (a permanent failure).
    Failed {
        id: i64,
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// How many messages are in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Not yet delivered, still to be tried.
    pub pending: u64,
    pub delivered: u64,
    /// Given up after a permanent failure; see `last_error`.
    pub failed: u64,
    pub cancelled: u64,
}

/// The sender's own read-write connection to the database. Separate from the writer's:
/// WAL lets it read beside the writer, and its small transactions wait for the write lock
/// (busy timeout) between the writer's batches.
pub struct Outbox {
    conn: Connection,
}

impl Outbox {
    /// Deletes up to `limit` messages delivered before `before`, the oldest first, in one
    /// short transaction; answers how many. Never a message not delivered (waiting, given
    /// up or cancelled), and never the table's newest row: a message's id is its rowid, and
    /// without the highest row SQLite would give that id again, to a new message a channel
    /// could take for one it already delivered (the file channel names files by it).
    pub fn purge_delivered(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
               WHERE delivered_at IS NOT NULL AND delivered_at < ?1 \
                 AND id < (SELECT max(id) FROM outbox) \
               ORDER BY id LIMIT ?2)",
        )?;
        Ok(statement.execute(params![before.timestamp_micros(), limit as i64])?)
    }

    pub fn open(path: &Path) -> Result<Outbox, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Checkpoints are the checkpoint thread's work (see checkpoint.rs).
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(Outbox { conn })
    }

    /// Up to `limit` messages due at `now`, the longest-waiting first.
    pub fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxMessage>, StoreError> {
        // With what `RENDERED_WHEN_DUE` messages are written from: the application's number
        // and registration time.
        let mut statement = self.conn.prepare_cached(
            "SELECT o.id, o.kind, o.recipient, o.subject, o.body, o.created_at, o.attempts, \
                    d.code, o.registration_number, a.registered_at \
             FROM outbox o \
             LEFT JOIN districts d ON d.id = o.district_id \
             LEFT JOIN applications a ON a.district_id = o.district_id \
                                     AND a.registration_number = o.registration_number \
             WHERE o.delivered_at IS NULL AND o.cancelled_at IS NULL \
               AND o.next_attempt_at <= ?1 \
             ORDER BY o.next_attempt_at, o.id LIMIT ?2",
        )?;
        let rows = statement.query_map(params![now.timestamp_micros(), limit as i64], |row| {
            Ok((
                (
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, i64>(5)?,
                    row.get::<_, i64>(6)?,
                ),
                (
                    row.get::<_, Option<String>>(7)?,
                    row.get::<_, i64>(8)?,
                    row.get::<_, Option<i64>>(9)?,
                ),
            ))
        })?;
        let mut due = Vec::new();
        for row in rows {
            let ((id, kind, recipient, subject, body, created_at, attempts), application) = row?;
            let corrupt = |e: String| StoreError::corrupt("outbox", id, e);
            let created_at =
                super::codec::micros_to_time(created_at).map_err(|e| corrupt(e.to_string()))?;
            let (subject, body) = if kind == RENDERED_WHEN_DUE.code() && subject.is_empty() {
                let (Some(district), number, Some(registered_at)) = application else {
                    return Err(corrupt("its application is missing".into()));
                };
                let registered_at = super::codec::micros_to_time(registered_at)
                    .map_err(|e| corrupt(e.to_string()))?;
                let texts = texts::registered(&format!("{district}-{number}"), registered_at);
                (texts.subject, texts.body)
            } else {
                (subject, body)
            };
            due.push(OutboxMessage {
                id,
                kind,
                recipient,
                subject,
                body,
                created_at,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            });
        }
        Ok(due)
    }

    /// When the next pending message falls due, if any is still to be tried.
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let micros: Option<i64> = self.conn.query_row(
            "SELECT min(next_attempt_at) FROM outbox \
             WHERE delivered_at IS NULL AND cancelled_at IS NULL",
            [],
            |row| row.get(0),
        )?;
        Ok(micros.and_then(DateTime::from_timestamp_micros))
    }

    /// Records a pass's attempts in one small transaction.
    pub fn record(&mut self, attempts: &[Attempt], at: DateTime<Utc>) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut delivered = tx.prepare_cached(
                "UPDATE outbox SET delivered_at = ?1, delivered_by = ?2, \
                 attempts = attempts + 1, next_attempt_at = NULL \
                 WHERE id = ?3 AND delivered_at IS NULL",
            )?;
            let mut failed = tx.prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?1, \
                 next_attempt_at = ?2 WHERE id = ?3 AND delivered_at IS NULL",
            )?;
            let at = at.timestamp_micros();
            for attempt in attempts {
                match attempt {
                    Attempt::Delivered { id, by } => {
                        delivered.execute(params![at, by, id])?;
                    }
                    Attempt::Failed {
                        id,
                        error,
                        retry_at,
                    } => {
                        failed.execute(params![
                            error,
                            retry_at.map(|t| t.timestamp_micros()),
                            id
                        ])?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn counts(&self) -> Result<OutboxCounts, StoreError> {
        counts(&self.conn)
    }
}

/// A message as the outbox keeps it, for the subject-access export: what was sent, to
/// whom, and when (a registration's texts are written when due, so they are empty here).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StoredMessage {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub delivered_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

/// Every message the outbox still holds about an application (delivered ones are purged
/// after `[outbox] keep_delivered_days`), oldest first.
pub fn messages_of(conn: &Connection, id: ApplicationId) -> Result<Vec<StoredMessage>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT id, kind, recipient, subject, body, created_at, attempts, delivered_at, \
                cancelled_at FROM outbox \
         WHERE district_id = ?1 AND registration_number = ?2 ORDER BY id",
    )?;
    let time = |micros: i64| {
        DateTime::from_timestamp_micros(micros)
            .ok_or_else(|| StoreError::corrupt("outbox", micros, "a time out of range"))
    };
    let rows = statement.query_map(params![id.district.0, id.number.0], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, String>(4)?,
            row.get::<_, i64>(5)?,
            row.get::<_, u32>(6)?,
            row.get::<_, Option<i64>>(7)?,
            row.get::<_, Option<i64>>(8)?,
        ))
    })?;
    let mut messages = Vec::new();
    for row in rows {
        let (id, kind, recipient, subject, body, created, attempts, delivered, cancelled) = row?;
        messages.push(StoredMessage {
            id,
            kind,
            recipient,
            subject,
            body,
            created_at: time(created)?,
            attempts,
            delivered_at: delivered.map(time).transpose()?,
            cancelled_at: cancelled.map(time).transpose()?,
        });
    }
    Ok(messages)
}

/// Whether the database at `path` holds any application: `kezek demo` fills only an empty
/// one, since it cancels the undelivered messages it finds, and it cannot tell a real
/// parent's from its own.
pub fn holds_applications(path: &Path) -> Result<bool, StoreError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let schema: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE name = 'applications'",
        [],
        |row| row.get(0),
    )?;
    if schema == 0 {
        return Ok(false);
    }
    let any = conn
        .prepare("SELECT 1 FROM applications LIMIT 1")?
        .exists([])?;
    Ok(any)
}

/// Cancels every message not yet delivered (`kezek demo`: synthetic applicants are not to
/// be written to). Answers how many.
pub fn cancel_undelivered(path: &Path, at: DateTime<Utc>) -> Result<usize, StoreError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn.execute(
        "UPDATE outbox SET cancelled_at = ?1 WHERE delivered_at IS NULL AND cancelled_at IS NULL",
        [at.timestamp_micros()],
    )?)
}

/// The outbox's counts, on any connection.
pub fn counts(conn: &Connection) -> Result<OutboxCounts, StoreError> {
    let (pending, delivered, failed, cancelled): (i64, i64, i64, i64) = conn.query_row(
        "SELECT \
           count(*) FILTER (WHERE delivered_at IS NULL AND cancelled_at IS NULL \
                            AND next_attempt_at IS NOT NULL), \
           count(*) FILTER (WHERE delivered_at IS NOT NULL), \
           count(*) FILTER (WHERE delivered_at IS NULL AND cancelled_at IS NULL \
                            AND next_attempt_at IS NULL), \
           count(*) FILTER (WHERE cancelled_at IS NOT NULL AND delivered_at IS NULL) \
         FROM outbox",
        [],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
    )?;
    Ok(OutboxCounts {
        pending: pending as u64,
        delivered: delivered as u64,
        failed: failed as u64,
        cancelled: cancelled as u64,
    })
}
