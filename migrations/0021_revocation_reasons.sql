-- A revocation's reason is an officer's free text about the family: personal data of the
-- application whose referral was revoked, split from the chain and erased with the rest
-- (domain::personal). New lapses name their application; the journal's older revocations get
-- theirs from the referral's row and their reasons move to `personal_data` in the rewrite
-- store::erasure::rewrite_journal does once, at the next open (as 0019's did). The triggers
-- may already be gone when 0019 runs in the same step.
DROP TRIGGER IF EXISTS events_no_update;
DROP TRIGGER IF EXISTS events_no_delete;
INSERT INTO pending_rebuilds VALUES ('revocation_reasons');
