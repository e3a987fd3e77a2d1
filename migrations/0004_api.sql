-- The HTTP API: staff accounts, parents' access codes, the history an application can show
-- its parent, idempotent retries, and the quality survey.

-- Staff accounts. Kept beside the journal, not in it: an account is a credential, not a
-- decision about the queue, and `kezek staff add` must work while the service runs (a second
-- process may insert a row; it must not append to the hash chain the writer owns). What a
-- staff member does is in the journal, attributed "staff:<name>".
CREATE TABLE staff_accounts (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('admin', 'officer', 'operator', 'kindergarten')),
    district_id INTEGER REFERENCES districts(id),
    kindergarten_id INTEGER REFERENCES kindergartens(id),
    -- SHA-256 of the bearer token; the token itself is shown once and never stored.
    token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    CHECK (
        (role = 'admin' AND district_id IS NULL AND kindergarten_id IS NULL)
        OR (role IN ('officer', 'operator') AND district_id IS NOT NULL AND kindergarten_id IS NULL)
        OR (role = 'kindergarten' AND kindergarten_id IS NOT NULL AND district_id IS NULL)
    )
);

-- The hash of the parent's access code (salted with the application's number); NULL for an
-- application registered before codes existed, until staff issue one.
ALTER TABLE applications ADD COLUMN access_code_hash TEXT;

-- Which events concern which application: its status history, read without scanning the
-- journal.
CREATE TABLE application_events (
    district_id INTEGER NOT NULL,
    registration_number INTEGER NOT NULL,
    seq INTEGER NOT NULL REFERENCES events(seq),
    PRIMARY KEY (district_id, registration_number, seq)
) WITHOUT ROWID;

-- Every entry into and exit from a district's birth-year cohort of the waiting list, with
-- the entry's place in the order (`tier << 32 | registration number`, which orders like the
-- queue key because numbers and times rise together within a district). A position at any
-- past moment is a count over these rows, so the position history needs no snapshots.
CREATE TABLE queue_moves (
    seq INTEGER NOT NULL REFERENCES events(seq),
    district_id INTEGER NOT NULL,
    cohort INTEGER NOT NULL,
    order_key INTEGER NOT NULL,
    registration_number INTEGER NOT NULL,
    delta INTEGER NOT NULL CHECK (delta IN (-1, 1)),
    at INTEGER NOT NULL
);
CREATE INDEX queue_moves_by_cohort ON queue_moves(district_id, cohort, seq);

-- The first answer to a POST carrying an Idempotency-Key, stored in the transaction of the
-- command it answers, so a retry can neither repeat the command nor miss its answer.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint BLOB NOT NULL CHECK (length(fingerprint) = 32),
    outcome TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;

CREATE TABLE surveys (
    district_id INTEGER NOT NULL,
    registration_number INTEGER NOT NULL,
    process TEXT NOT NULL,
    information TEXT NOT NULL,
    answered_at INTEGER NOT NULL,
    PRIMARY KEY (district_id, registration_number),
    FOREIGN KEY (district_id, registration_number)
        REFERENCES applications(district_id, registration_number)
);

-- Derived tables that a program, not SQL, must fill from the journal (the store replays the
-- events once at open, then deletes the row).
CREATE TABLE pending_rebuilds (name TEXT PRIMARY KEY);
INSERT INTO pending_rebuilds VALUES ('application_history');
