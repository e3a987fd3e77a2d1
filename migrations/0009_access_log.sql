-- Issue 15: who looked at what. Every staff view of personal data is one row: who, when,
-- what kind of view, which application; never the data seen. Hash-chained like the journal
-- (see src/domain/access_log.rs), so a changed, removed or reordered row is found by
-- `kezek verify`. Rows are only ever inserted; the triggers refuse the rest.
CREATE TABLE staff_views (
    seq INTEGER PRIMARY KEY,
    viewed_at INTEGER NOT NULL, -- microseconds since 1970, UTC
    account TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('application', 'search', 'referral', 'roster')),
    district_id INTEGER,
    application_number INTEGER,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    CHECK ((district_id IS NULL) = (application_number IS NULL))
);
CREATE INDEX staff_views_by_application ON staff_views (district_id, application_number, seq);
CREATE INDEX staff_views_by_account ON staff_views (account, seq);

CREATE TRIGGER staff_views_no_update BEFORE UPDATE ON staff_views
BEGIN
    SELECT RAISE(ABORT, 'the staff access log is append-only');
END;
CREATE TRIGGER staff_views_no_delete BEFORE DELETE ON staff_views
BEGIN
    SELECT RAISE(ABORT, 'the staff access log is append-only');
END;

-- Officers search applications by the child's IIN whatever their status (the indexes of
-- 0001 and 0006 cover only active and enrolled ones).
CREATE INDEX applications_by_child_iin ON applications (child_iin);
