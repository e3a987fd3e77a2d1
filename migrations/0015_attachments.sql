-- Documents attached to applications (issue 19). The bytes live in this table, inside the
-- database, not in files beside it: one fsync domain, so an attachment acknowledged is as
-- durable as its event (they commit together), the owner-only file modes, Litestream's
-- replication and the restore drill cover it with nothing new, and no orphan file can be
-- left by a crash between writing a file and committing its row.
--
-- The row is written by the writer with its `attachment_added` event (seq); the event
-- carries kind, type, size and SHA-256, never the bytes, and `kezek verify` recomputes each
-- row's SHA-256 against it. The bytes are the last column, so listing an application's
-- files reads none of their overflow pages. Erasure deletes the rows (secure_delete is on
-- for the writer's connection, so the freed pages are zeroed).
CREATE TABLE attachments (
    district_id INTEGER NOT NULL,
    registration_number INTEGER NOT NULL,
    ordinal INTEGER NOT NULL CHECK (ordinal >= 1),
    kind TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL CHECK (size > 0),
    sha256 BLOB NOT NULL CHECK (length(sha256) = 32),
    attached_at INTEGER NOT NULL,
    attached_by TEXT NOT NULL,
    seq INTEGER NOT NULL UNIQUE,
    bytes BLOB NOT NULL CHECK (length(bytes) = size)
);
CREATE UNIQUE INDEX attachments_of_application
    ON attachments (district_id, registration_number, ordinal);

-- A staff member's download or list of an application's files is a view of personal data
-- of its own kind in the staff access log: 'attachment'. SQLite cannot change a CHECK, so
-- the log's table is rebuilt with its rows, hashes and all, as they were (the chain covers
-- the kind's code, which no existing row changes).
CREATE TABLE staff_views_new (
    seq INTEGER PRIMARY KEY,
    viewed_at INTEGER NOT NULL, -- microseconds since 1970, UTC
    account TEXT NOT NULL,
    kind TEXT NOT NULL
        CHECK (kind IN ('application', 'search', 'referral', 'roster', 'attachment')),
    district_id INTEGER,
    application_number INTEGER,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    CHECK ((district_id IS NULL) = (application_number IS NULL))
);
INSERT INTO staff_views_new
    SELECT seq, viewed_at, account, kind, district_id, application_number, prev_hash, hash
    FROM staff_views;
DROP TABLE staff_views;
ALTER TABLE staff_views_new RENAME TO staff_views;
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

-- A category may say that its claim is verified only with its document attached
-- (`CategorySet` carries it; absent from earlier payloads, which meant no).
ALTER TABLE priority_categories
    ADD COLUMN attachment_required INTEGER NOT NULL DEFAULT 0
    CHECK (attachment_required IN (0, 1));
