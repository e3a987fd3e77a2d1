-- Personal data out of the hash chain (issue 16 §3; domain::personal). An event that names
-- people is journaled as its public form, which the chain hashes and which carries a salted
-- commitment, and its personal part here, one row per event, which erasure deletes.
CREATE TABLE personal_data (
    seq INTEGER PRIMARY KEY,
    -- The application whose data it is.
    district_id INTEGER NOT NULL,
    registration_number INTEGER NOT NULL,
    salt BLOB NOT NULL CHECK (length(salt) = 16),
    -- A JSON object from each field's path to its value.
    fields TEXT NOT NULL
);
CREATE INDEX personal_data_by_application ON personal_data(district_id, registration_number);

-- When the application's personal data was erased (microseconds UTC); its columns then hold
-- the journal's placeholders.
ALTER TABLE applications ADD COLUMN erased_at INTEGER;

-- How long an ended application's personal data is kept, per district (days from its end).
ALTER TABLE district_policies ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 1096
    CHECK (retention_days >= 30);

-- The journal's head before its events were rewritten into public forms and personal parts
-- (store::erasure::rewrite_journal), and the anchor it was checked against: an auditor who
-- holds the old head, or an anchor file written before the rewrite, is matched here.
CREATE TABLE journal_rewrites (
    old_seq INTEGER NOT NULL,
    old_hash BLOB NOT NULL CHECK (length(old_hash) = 32),
    new_hash BLOB NOT NULL CHECK (length(new_hash) = 32),
    anchor_seq INTEGER,
    anchor_hash BLOB,
    rewritten_at INTEGER NOT NULL
);

-- The rewrite updates every journaled row once, in Rust (SHA-256, random salts); the
-- append-only triggers come back in the same transaction as the rewrite.
DROP TRIGGER events_no_update;
DROP TRIGGER events_no_delete;
INSERT INTO pending_rebuilds VALUES ('personal_data');
