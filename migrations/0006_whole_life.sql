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
