-- An application's whole life: amendments, moves, families, transfers.

-- The position history's order key is now `tier << 61 | registered_at` with the registration
-- number beside it (it was `tier << 32 | number`, which ordered like the queue key only while
-- numbers and times rose together; moved and imported applications keep earlier times).
-- Both derived tables are refilled from the journal at open.
DELETE FROM queue_moves;
DELETE FROM application_events;
INSERT OR IGNORE INTO pending_rebuilds VALUES ('application_history');

-- A child enrolled through an application never queues again; registration looks it up.
CREATE INDEX enrolled_children ON applications(child_iin) WHERE status = 'enrolled';

-- District policies for moves and transfers (defaults as DistrictPolicy's).
ALTER TABLE district_policies ADD COLUMN move_keeps_registration_time INTEGER NOT NULL DEFAULT 1;
ALTER TABLE district_policies ADD COLUMN move_keeps_priority INTEGER NOT NULL DEFAULT 1;
ALTER TABLE district_policies ADD COLUMN transfers_before_first_time INTEGER NOT NULL DEFAULT 0;

-- A moved application names the one it continues (the old district's, now "moved").
ALTER TABLE applications ADD COLUMN moved_from_district INTEGER;
ALTER TABLE applications ADD COLUMN moved_from_number INTEGER;

-- Children registered together: a family, "together only" or "separately".
CREATE TABLE families (
    id INTEGER PRIMARY KEY,
    together INTEGER NOT NULL CHECK (together IN (0, 1))
);
CREATE TABLE family_members (
    family_id INTEGER NOT NULL REFERENCES families(id),
    position INTEGER NOT NULL,
    district_id INTEGER NOT NULL,
    registration_number INTEGER NOT NULL,
    PRIMARY KEY (family_id, position),
    UNIQUE (district_id, registration_number)
);

-- Transfers of enrolled children: the request, and referrals that are transfers.
ALTER TABLE referrals ADD COLUMN transfer INTEGER NOT NULL DEFAULT 0 CHECK (transfer IN (0, 1));
CREATE TABLE transfer_requests (
    district_id INTEGER NOT NULL,
    registration_number INTEGER NOT NULL,
    -- Microseconds since the Unix epoch: the transfer queue's order.
    requested_at INTEGER NOT NULL,
    from_kindergarten INTEGER NOT NULL REFERENCES kindergartens(id),
    -- JSON array of kindergarten ids, most wanted first.
    choices TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    language TEXT,
    -- waiting, referred, done, lapsed
    status TEXT NOT NULL,
    FOREIGN KEY (district_id, registration_number)
        REFERENCES applications(district_id, registration_number)
);
-- One request at a time per child.
CREATE UNIQUE INDEX one_open_transfer_per_child ON transfer_requests(district_id, registration_number)
    WHERE status IN ('waiting', 'referred');
