//! The write side: appending events and keeping the tables in step, in the caller's
//! transaction. Nothing here commits.

use super::codec::{self, APPLICATION_COLUMNS, REFERRAL_COLUMNS};
use super::{Store, StoreError};
use crate::domain::amendment::Amendment;
use crate::domain::application::{
    Applicant, Application, ApplicationId, ApplicationStatus, ClaimStatus, RegistrationNumber,
};
use crate::domain::catalog::{DistrictId, Tier};
use crate::domain::event::{Event, Hash, RecordedEvent, GENESIS_HASH};
use crate::domain::referral::{
    DistrictPolicy, FreePlace, Lapse, PlaceId, Referral, ReferralId, ReferralStatus,
};
use crate::domain::state::Effects;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

impl Store {
    /// The last event's sequence number and hash: where the next event links on.
    pub fn journal_head(&self) -> Result<(u64, Hash), StoreError> {
        Ok(super::journal_head_of(&self.conn)?.unwrap_or((0, GENESIS_HASH)))
    }

    /// Whether the child has an active application (any district), and whether it holds a
    /// place through one (enrolled): one look-up through the child's index, which a
    /// registration and each imported row make.
    pub fn child_standing(&self, child_iin: &str) -> Result<ChildStanding, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT coalesce(max(active), 0), coalesce(max(status = 'enrolled'), 0) \
             FROM applications WHERE child_iin = ?1",
        )?;
        Ok(statement.query_row([child_iin], |row| {
            Ok(ChildStanding {
                active: row.get(0)?,
                enrolled: row.get(1)?,
            })
        })?)
    }

    /// Whether an application of `district` was imported under this old number.
    pub fn legacy_number_taken(
        &self,
        district: DistrictId,
        legacy_number: &str,
    ) -> Result<bool, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT 1 FROM applications INDEXED BY applications_by_legacy_number \
             WHERE district_id = ?1 AND legacy_number = ?2 AND legacy_number IS NOT NULL",
        )?;
        Ok(statement.exists(params![district.0, legacy_number])?)
    }

    pub fn application(&self, id: ApplicationId) -> Result<Option<Application>, StoreError> {
        super::api::application(&self.conn, id)
    }

    /// Appends `recorded` to the journal and applies `event` to the tables.
    pub fn record(
        &self,
        recorded: &RecordedEvent,
        event: &Event,
        effects: &Effects,
    ) -> Result<(), StoreError> {
        debug_assert_eq!(recorded.kind, event.kind());
        debug_assert_eq!(recorded.hash, recorded.expected_hash());
        let mut statement = self.conn.prepare_cached(
            "INSERT INTO events (seq, recorded_at, actor, kind, payload, prev_hash, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        statement.execute(params![
            recorded.seq as i64,
            recorded.recorded_at.timestamp_micros(),
            recorded.actor.0,
            recorded.kind,
            recorded.payload,
            &recorded.prev_hash[..],
            &recorded.hash[..],
        ])?;
        if let Some(part) = &recorded.personal {
            super::erasure::insert_part(&self.conn, recorded.seq, part)?;
        }
        self.project(event, recorded.seq, recorded.recorded_at)?;
        // A request's row names who asked, which `project` is not given.
        self.project_document_request(recorded, event)?;
        // The messages it causes, in the same transaction: none without the event.
        self.enqueue_messages(recorded, event)?;
        record_effects(&self.conn, recorded.seq, effects)
    }

    fn project(
        &self,
        event: &Event,
        seq: u64,
        recorded_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match event {
            Event::DistrictCreated(district) => {
                let languages: Vec<&str> = district.languages.iter().map(|l| l.code()).collect();
                self.conn.execute(
                    "INSERT INTO districts (id, code, name_kk, name_ru, languages) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        district.id.0,
                        district.code,
                        district.names.kk,
                        district.names.ru,
                        languages.join(",")
                    ],
                )?;
            }
            Event::KindergartenCreated(k) => {
                self.conn.execute(
                    "INSERT INTO kindergartens (id, district_id, number, name_kk, name_ru, address, \
                     head) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![k.id.0, k.district.0, k.number, k.names.kk, k.names.ru, k.address, k.head],
                )?;
            }
            Event::KindergartenChanged(k) => {
                let changed = self.conn.execute(
                    "UPDATE kindergartens SET number = ?2, name_kk = ?3, name_ru = ?4, \
                     address = ?5, head = ?6 WHERE id = ?1",
                    params![k.id.0, k.number, k.names.kk, k.names.ru, k.address, k.head],
                )?;
                expect_one(changed, "kindergartens", k.id.0.to_string())?;
            }
            Event::GroupChanged(g) => {
                let changed = self.conn.execute(
                    "UPDATE groups SET name = ?2, language = ?3, born_from = ?4, born_to = ?5, \
                     capacity = ?6, closed = ?7 WHERE id = ?1",
                    params![
                        g.id.0,
                        g.name,
                        g.language.code(),
                        codec::date_text(g.age_band.born_from),
                        codec::date_text(g.age_band.born_to),
                        g.capacity,
                        g.closed
                    ],
                )?;
                expect_one(changed, "groups", g.id.0.to_string())?;
            }
            Event::CategorySet(c) => {
                self.conn.execute(
                    "INSERT INTO priority_categories (code, tier, name_kk, name_ru, document_kk, \
                     document_ru, retired, attachment_required) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                     ON CONFLICT (code) DO UPDATE SET tier = excluded.tier, \
                     name_kk = excluded.name_kk, name_ru = excluded.name_ru, \
                     document_kk = excluded.document_kk, document_ru = excluded.document_ru, \
                     retired = excluded.retired, \
                     attachment_required = excluded.attachment_required",
                    params![
                        c.code,
                        c.tier.as_u8(),
                        c.names.kk,
                        c.names.ru,
                        c.document.kk,
                        c.document.ru,
                        c.retired,
                        c.attachment_required
                    ],
                )?;
            }
            Event::StaffAccountCreated {
                name,
                role,
                scope,
                token_hash,
            } => {
                let hash: [u8; 32] = hex::decode(token_hash)
                    .ok()
                    .and_then(|h| h.try_into().ok())
                    .ok_or_else(|| StoreError::corrupt("events", seq, "a token hash"))?;
                let account = crate::domain::staff::StaffAccount {
                    name: name.clone(),
                    role: *role,
                    scope: *scope,
                };
                super::staff::insert(&self.conn, &account, &hash, recorded_at)?;
            }
            Event::StaffAccountChanged { name, role, scope } => {
                let (district, kindergarten) = super::staff::scope_columns(*scope);
                let changed = self.conn.execute(
                    "UPDATE staff_accounts SET role = ?2, district_id = ?3, kindergarten_id = ?4 \
                     WHERE name = ?1 AND revoked_at IS NULL",
                    params![name, role.code(), district, kindergarten],
                )?;
                expect_one(changed, "staff_accounts", name.clone())?;
            }
            Event::IntakeRoundOpened(round) => {
                let any_order: Vec<String> =
                    round.any_order.iter().map(|k| k.0.to_string()).collect();
                self.conn.execute(
                    "INSERT INTO intake_rounds (id, district_id, places_for, closes_at, \
                     any_order, opened_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        round.id.0,
                        round.district.0,
                        codec::date_text(round.places_for),
                        round.closes_at.timestamp_micros(),
                        any_order.join(","),
                        recorded_at.timestamp_micros(),
                    ],
                )?;
            }
            Event::IntakeRoundClosed { round, at } => {
                let changed = self.conn.execute(
                    "UPDATE intake_rounds SET closed_at = ?2 WHERE id = ?1 AND closed_at IS NULL",
                    params![round.0, at.timestamp_micros()],
                )?;
                expect_one(changed, "intake_rounds", round.0.to_string())?;
            }
            // The row needs the bytes, which the event does not carry: the writer inserts it
            // right after this event (`Tx::emit_attachment`, `Store::insert_attachment`).
            Event::AttachmentAdded { .. } => {}
            // `Store::project_document_request` (store/document_requests.rs).
            Event::DocumentRequested { .. } | Event::DocumentReceived { .. } => {}
            // The journal is its only record (no table): staff find it by its kind, through
            // migration 0020's partial index (`attachments::infected_of`).
            Event::AttachmentInfected { .. } => {}
            Event::PersonalDataErased { ids } => {
                for id in ids {
                    super::erasure::erase(&self.conn, *id, recorded_at)?;
                }
            }
            Event::StaffAccountRevoked { name } => {
                let revoked = super::staff::revoke(&self.conn, name, recorded_at)?;
                if !revoked {
                    expect_one(0, "staff_accounts", name.clone())?;
                }
            }
            Event::GroupCreated(g) => {
                self.conn.execute(
                    "INSERT INTO groups (id, kindergarten_id, name, language, born_from, born_to, \
                     capacity, closed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        g.id.0,
                        g.kindergarten.0,
                        g.name,
                        g.language.code(),
                        codec::date_text(g.age_band.born_from),
                        codec::date_text(g.age_band.born_to),
                        g.capacity,
                        g.closed
                    ],
                )?;
            }
            Event::ApplicationRegistered(application)
            | Event::ApplicationImported { application, .. } => {
                self.insert_application(application, recorded_at)?
            }
            Event::ApplicationWithdrawn { id } => {
                self.set_status(*id, ApplicationStatus::Withdrawn, recorded_at)?;
            }
            Event::ApplicationAgedOut { id, .. } => {
                self.set_status(*id, ApplicationStatus::AgedOut, recorded_at)?;
            }
            Event::PolicySet { district, policy } => self.project_policy(*district, policy)?,
            Event::CalendarYearSet { year, text } => {
                self.conn.execute(
                    "INSERT OR REPLACE INTO calendar_years (year, source) VALUES (?1, ?2)",
                    params![year, text],
                )?;
            }
            Event::PlacesReported { places } => {
                for place in places {
                    self.insert_place(place)?;
                }
            }
            Event::ReferralIssued { referral, cycle } => {
                self.insert_referral(referral)?;
                if referral.transfer {
                    self.set_transfer_status(referral.application, "referred")?;
                } else {
                    self.set_status(
                        referral.application,
                        ApplicationStatus::Referred,
                        recorded_at,
                    )?;
                }
                if let Some(cycle) = cycle {
                    self.conn.execute(
                        "UPDATE districts SET interleave_cycle = ?1 WHERE id = ?2",
                        params![cycle.0, referral.id.district.0],
                    )?;
                }
            }
            Event::ReferralExtended { id, valid_until } => {
                let changed = self.conn.execute(
                    "UPDATE referrals SET valid_until = ?1, extended = 1 \
                     WHERE district_id = ?2 AND number = ?3 AND status = 'issued'",
                    params![valid_until.timestamp_micros(), id.district.0, id.number.0],
                )?;
                expect_one(
                    changed,
                    "referrals",
                    format!("{}/{}", id.district.0, id.number.0),
                )?;
            }
            Event::ReferralHandedIn { id, at } => {
                let referral = self.close_referral(*id, ReferralStatus::HandedIn, *at, None)?;
                if referral.2 {
                    self.set_transfer_status(referral.0, "done")?;
                }
                self.set_status(referral.0, ApplicationStatus::Enrolled, recorded_at)?;
                self.conn.execute(
                    "UPDATE places SET filled = 1 WHERE id = ?1",
                    [referral.1 .0 as i64],
                )?;
            }
            Event::ReferralLapsed {
                id,
                at,
                lapse,
                held_until,
                ..
            } => {
                let reason = match lapse {
                    Lapse::Revoked { reason, .. } => Some(reason.as_str()),
                    _ => None,
                };
                let (application, _, transfer) =
                    self.close_referral(*id, lapse.status(), *at, reason)?;
                if transfer {
                    // The request ends; the child stays enrolled where it is.
                    return self.set_transfer_status(application, "lapsed");
                }
                self.set_status(application, ApplicationStatus::Queued, recorded_at)?;
                self.set_held_until(application, Some(*held_until))?;
                if matches!(
                    lapse,
                    Lapse::Revoked {
                        priority_unconfirmed: true,
                        ..
                    }
                ) {
                    self.conn.execute(
                        "UPDATE applications SET tier = 2, priority_status = \
                         CASE WHEN priority_category IS NULL THEN NULL ELSE 'rejected' END \
                         WHERE district_id = ?1 AND registration_number = ?2",
                        params![application.district.0, application.number.0],
                    )?;
                }
            }
            Event::StopListEnded { id, .. } => self.set_held_until(*id, None)?,
            Event::PriorityVerified { id, tier } => {
                self.set_priority(*id, ClaimStatus::Verified, *tier)?;
            }
            Event::PriorityRejected { id, .. } => {
                self.set_priority(*id, ClaimStatus::Rejected, Tier::General)?;
            }
            Event::ApplicationRefused { id, .. } => {
                self.set_status(*id, ApplicationStatus::Refused, recorded_at)?;
            }
            Event::AccessCodeIssued { id, code_hash } => {
                // Cached: every registration runs it (compiling it each time cost the
                // writer ~10 % of its time).
                let mut statement = self.conn.prepare_cached(
                    "UPDATE applications SET access_code_hash = ?1 \
                     WHERE district_id = ?2 AND registration_number = ?3",
                )?;
                let changed = statement.execute(params![code_hash, id.district.0, id.number.0])?;
                expect_one_row(changed, *id)?;
            }
            Event::ApplicationAmended { id, amendment } => self.amend(*id, amendment)?,
            Event::ApplicantRebound { id, applicant } => self.rebind(*id, applicant)?,
            Event::FamilyRegistered(family) => {
                self.conn.execute(
                    "INSERT INTO families (id, together) VALUES (?1, ?2)",
                    params![family.id.0, family.together],
                )?;
                for (position, member) in family.members.iter().enumerate() {
                    self.conn.execute(
                        "INSERT INTO family_members (family_id, position, district_id, \
                         registration_number) VALUES (?1, ?2, ?3, ?4)",
                        params![family.id.0, position, member.district.0, member.number.0],
                    )?;
                }
            }
            Event::FamilyChoiceSet { family, together } => {
                let changed = self.conn.execute(
                    "UPDATE families SET together = ?1 WHERE id = ?2",
                    params![together, family.0],
                )?;
                expect_one(changed, "families", family.0.to_string())?;
            }
            Event::FamilyPassedOver { .. } => {}
            Event::TransferRequested(request) => {
                let choices: Vec<u32> = request.choices.iter().map(|k| k.0).collect();
                self.conn.execute(
                    "INSERT INTO transfer_requests (district_id, registration_number, \
                     requested_at, from_kindergarten, choices, birth_date, language, status) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'waiting')",
                    params![
                        request.id.district.0,
                        request.id.number.0,
                        request.requested_at.timestamp_micros(),
                        request.from.0,
                        serde_json::to_string(&choices).expect("numbers serialize"),
                        codec::date_text(request.birth_date),
                        request.language.map(|l| l.code().to_string()),
                    ],
                )?;
            }
            Event::ApplicationMoved { from, to } => {
                // A family member moves within its family.
                self.conn.execute(
                    "UPDATE family_members SET district_id = ?1, registration_number = ?2 \
                     WHERE district_id = ?3 AND registration_number = ?4",
                    params![
                        to.id.district.0,
                        to.id.number.0,
                        from.district.0,
                        from.number.0
                    ],
                )?;
                // The old row first: the child's one active application moves with it.
                self.set_status(*from, ApplicationStatus::Moved, recorded_at)?;
                self.insert_application(to, recorded_at)?;
            }
            Event::SurveyAnswered {
                id,
                process,
                information,
            } => {
                self.conn.execute(
                    "INSERT INTO surveys (district_id, registration_number, process, \
                     information, answered_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        id.district.0,
                        id.number.0,
                        codec::enum_text(process),
                        codec::enum_text(information),
                        recorded_at.timestamp_micros(),
                    ],
                )?;
            }
            Event::EducationHeadSet {
                district,
                full_name,
            } => {
                self.conn.execute(
                    "INSERT INTO education_heads (seq, district_id, full_name) VALUES (?1, ?2, ?3)",
                    params![seq as i64, district.0, full_name],
                )?;
            }
            Event::PlaceWithdrawn { place, .. } => {
                let changed = self.conn.execute(
                    "UPDATE places SET withdrawn = 1 WHERE id = ?1 AND filled = 0 AND withdrawn = 0",
                    [place.0 as i64],
                )?;
                expect_one(changed, "places", place.0.to_string())?;
            }
            Event::ChildLeft { id, at } => {
                self.set_status(*id, ApplicationStatus::Left, recorded_at)?;
                self.conn.execute(
                    "UPDATE applications SET left_at = ?1 \
                     WHERE district_id = ?2 AND registration_number = ?3",
                    params![at.timestamp_micros(), id.district.0, id.number.0],
                )?;
            }
        }
        Ok(())
    }

    /// `at`: the event's time, the application's end if it enters the table ended.
    fn insert_application(&self, a: &Application, at: DateTime<Utc>) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO applications ({APPLICATION_COLUMNS}, active, ended_at) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
              ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)"
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let priority = a.priority.as_ref();
        statement.execute(params![
            a.id.district.0,
            a.id.number.0,
            a.registered_at.timestamp_micros(),
            a.child.iin.as_string(),
            a.child.full_name,
            codec::date_text(a.child.birth_date),
            codec::enum_text(&a.child.sex),
            a.applicant.iin.as_string(),
            a.applicant.full_name,
            a.applicant.phone,
            a.applicant.email,
            a.applicant.address,
            codec::enum_text(&a.applicant.relation),
            codec::date_text(a.desired_start),
            codec::choices_text(&a.choices),
            a.language.map(|l| l.code().to_string()),
            priority.map(|p| p.category.as_str()),
            priority.map(|p| p.document.as_str()),
            priority.map(|p| codec::enum_text(&p.status)),
            a.tier.as_u8(),
            codec::enum_text(&a.status),
            codec::enum_text(&a.channel),
            a.entered_by,
            a.held_until.map(|t| t.timestamp_micros()),
            a.moved_from.map(|id| id.district.0),
            a.moved_from.map(|id| id.number.0),
            a.legacy_number,
            a.status.is_active(),
            (!a.status.is_active()).then(|| at.timestamp_micros()),
        ])?;
        Ok(())
    }

    /// Moves the child's waiting transfer request on (referred, then done or lapsed).
    fn set_transfer_status(&self, id: ApplicationId, status: &str) -> Result<(), StoreError> {
        let changed = self.conn.execute(
            "UPDATE transfer_requests SET status = ?1 WHERE district_id = ?2 \
             AND registration_number = ?3 AND status IN ('waiting', 'referred')",
            params![status, id.district.0, id.number.0],
        )?;
        expect_one(
            changed,
            "transfer_requests",
            format!("{}/{}", id.district.0, id.number.0),
        )
    }

    fn amend(&self, id: ApplicationId, a: &Amendment) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare_cached(
            "UPDATE applications SET choices = ?1, language = ?2, desired_start = ?3, \
             applicant_phone = ?4, applicant_email = ?5, applicant_address = ?6 \
             WHERE district_id = ?7 AND registration_number = ?8 AND active = 1",
        )?;
        let changed = statement.execute(params![
            codec::choices_text(&a.choices),
            a.language.map(|l| l.code().to_string()),
            codec::date_text(a.desired_start),
            a.phone,
            a.email,
            a.address,
            id.district.0,
            id.number.0
        ])?;
        expect_one_row(changed, id)
    }

    /// The whole applicant replaced (the IIN too: the person's signed-in pages follow it).
    fn rebind(&self, id: ApplicationId, a: &Applicant) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare_cached(
            "UPDATE applications SET applicant_iin = ?1, applicant_full_name = ?2, \
             applicant_phone = ?3, applicant_email = ?4, applicant_address = ?5, \
             applicant_relation = ?6 \
             WHERE district_id = ?7 AND registration_number = ?8 AND active = 1",
        )?;
        let changed = statement.execute(params![
            a.iin.as_string(),
            a.full_name,
            a.phone,
            a.email,
            a.address,
            codec::enum_text(&a.relation),
            id.district.0,
            id.number.0
        ])?;
        expect_one_row(changed, id)
    }

    /// Sets the status at `at`; an application that leaves the queue for good leaves the
    /// stop list, and `ended_at` says since when it is ended (the erasure sweep's index).
    fn set_status(
        &self,
        id: ApplicationId,
        status: ApplicationStatus,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare_cached(
            "UPDATE applications SET status = ?1, active = ?2, \
                 held_until = CASE WHEN ?2 THEN held_until ELSE NULL END, \
                 ended_at = CASE WHEN ?2 THEN NULL ELSE ?5 END \
             WHERE district_id = ?3 AND registration_number = ?4",
        )?;
        let changed = statement.execute(params![
            codec::enum_text(&status),
            status.is_active(),
            id.district.0,
            id.number.0,
            at.timestamp_micros()
        ])?;
        expect_one_row(changed, id)
    }

    fn set_priority(
        &self,
        id: ApplicationId,
        claim: ClaimStatus,
        tier: Tier,
    ) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare_cached(
            "UPDATE applications SET priority_status = ?1, tier = ?2 \
             WHERE district_id = ?3 AND registration_number = ?4 AND priority_category IS NOT NULL",
        )?;
        let changed = statement.execute(params![
            codec::enum_text(&claim),
            tier.as_u8(),
            id.district.0,
            id.number.0
        ])?;
        expect_one_row(changed, id)
    }
}

/// An event about an application that has no row is a bug in the caller, not an input error.
fn expect_one_row(changed: usize, id: ApplicationId) -> Result<(), StoreError> {
    expect_one(
        changed,
        "applications",
        format!("{}/{}", id.district.0, id.number.0),
    )
}

fn expect_one(changed: usize, table: &'static str, key: String) -> Result<(), StoreError> {
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::corrupt(
            table,
            key,
            format!("an event changed {changed} rows instead of 1"),
        ))
    }
}

impl Store {
    /// Whether `place` was ever reported (open, taken or withdrawn).
    pub fn place_exists(
        &self,
        place: crate::domain::referral::PlaceId,
    ) -> Result<bool, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT 1 FROM places WHERE id = ?1")?;
        Ok(statement.exists([place.0 as i64])?)
    }

    pub fn referral(&self, id: ReferralId) -> Result<Option<Referral>, StoreError> {
        let sql = format!(
            "SELECT {REFERRAL_COLUMNS} FROM referrals WHERE district_id = ?1 AND number = ?2"
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        let mut rows = statement.query(params![id.district.0, id.number.0])?;
        match rows.next()? {
            None => Ok(None),
            Some(row) => Ok(Some(codec::referral_from_row(row)?)),
        }
    }

    fn project_policy(
        &self,
        district: DistrictId,
        policy: &DistrictPolicy,
    ) -> Result<(), StoreError> {
        let (validity_kind, validity_days) = codec::validity_columns(policy.validity);
        self.conn.execute(
            "INSERT OR REPLACE INTO district_policies (district_id, referral_validity_working_days, \
             extension_calendar_days, stop_list_days, interleave_first_priority, \
             move_keeps_registration_time, move_keeps_priority, transfers_before_first_time, \
             validity_kind, round_decline_stop_list, retention_days) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                district.0,
                validity_days,
                codec::extension_column(policy.extension),
                policy.stop_list_days,
                policy.interleave_first_priority,
                policy.move_keeps_registration_time,
                policy.move_keeps_priority,
                policy.transfers_before_first_time,
                validity_kind,
                policy.round_decline_stop_list,
                policy.retention_days,
            ],
        )?;
        Ok(())
    }

    fn insert_place(&self, place: &FreePlace) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare_cached(
            "INSERT INTO places (id, district_id, kindergarten_id, group_id, born_from, born_to, \
             language, available_from, reported_at, round_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, \
             ?7, ?8, ?9, (SELECT id FROM intake_rounds WHERE district_id = ?2 \
             AND places_for = ?8 AND closed_at IS NULL))",
        )?;
        statement.execute(params![
            place.id.0 as i64,
            place.district.0,
            place.kindergarten.0,
            place.group.map(|g| g.0),
            codec::date_text(place.age_band.born_from),
            codec::date_text(place.age_band.born_to),
            place.language.code(),
            codec::date_text(place.available_from),
            place.reported_at.timestamp_micros(),
        ])?;
        Ok(())
    }

    fn insert_referral(&self, r: &Referral) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO referrals ({REFERRAL_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        );
        let mut statement = self.conn.prepare_cached(&sql)?;
        statement.execute(params![
            r.id.district.0,
            r.id.number.0,
            r.place.0 as i64,
            r.application.district.0,
            r.application.number.0,
            r.kindergarten.0,
            r.issued_at.timestamp_micros(),
            r.valid_until.timestamp_micros(),
            r.extended,
            codec::enum_text(&r.status),
            r.closed_at.map(|t| t.timestamp_micros()),
            r.reason,
            r.transfer,
            r.round.map(|r| r.0),
        ])?;
        Ok(())
    }

    /// Ends a live referral; returns its application and place.
    fn close_referral(
        &self,
        id: ReferralId,
        status: ReferralStatus,
        at: DateTime<Utc>,
        reason: Option<&str>,
    ) -> Result<(ApplicationId, PlaceId, bool), StoreError> {
        let mut statement = self.conn.prepare_cached(
            "UPDATE referrals SET status = ?1, closed_at = ?2, reason = ?3 \
             WHERE district_id = ?4 AND number = ?5 AND status = 'issued' \
             RETURNING application_district_id, application_number, place_id, transfer",
        )?;
        let closed = statement
            .query_row(
                params![
                    codec::enum_text(&status),
                    at.timestamp_micros(),
                    reason,
                    id.district.0,
                    id.number.0
                ],
                |row| {
                    let application = ApplicationId {
                        district: DistrictId(row.get(0)?),
                        number: RegistrationNumber(row.get(1)?),
                    };
                    Ok((
                        application,
                        PlaceId(row.get::<_, i64>(2)? as u64),
                        row.get(3)?,
                    ))
                },
            )
            .optional()?;
        closed.ok_or_else(|| {
            StoreError::corrupt(
                "referrals",
                format!("{}/{}", id.district.0, id.number.0),
                "not live",
            )
        })
    }

    fn set_held_until(
        &self,
        id: ApplicationId,
        until: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let mut statement = self.conn.prepare_cached(
            "UPDATE applications SET held_until = ?1 WHERE district_id = ?2 AND registration_number = ?3",
        )?;
        let changed = statement.execute(params![
            until.map(|t| t.timestamp_micros()),
            id.district.0,
            id.number.0
        ])?;
        expect_one_row(changed, id)
    }
}

/// Which applications an event concerns, and how it moved them in the waiting list: the
/// rows behind status and position histories.
pub(crate) fn record_effects(
    conn: &rusqlite::Connection,
    seq: u64,
    effects: &Effects,
) -> Result<(), StoreError> {
    let mut touched = conn.prepare_cached(
        "INSERT INTO application_events (district_id, registration_number, seq) \
         VALUES (?1, ?2, ?3)",
    )?;
    for id in &effects.touched {
        touched.execute(params![id.district.0, id.number.0, seq as i64])?;
    }
    let mut moved = conn.prepare_cached(
        "INSERT INTO queue_moves (seq, district_id, cohort, order_key, registration_number, \
         delta, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for m in &effects.moves {
        moved.execute(params![
            seq as i64,
            m.id.district.0,
            m.cohort,
            m.order_key,
            m.id.number.0,
            m.delta,
            m.at.timestamp_micros()
        ])?;
    }
    Ok(())
}

/// What the queue system holds for a child already (`Store::child_standing`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildStanding {
    /// An application of the child's is active (queued, referred, held): it waits already.
    pub active: bool,
    /// The child holds a place through an application: it asks for a transfer instead.
    pub enrolled: bool,
}
