-- Intake rounds (issue 18): while a district's round is open, the places reported for its
-- date are collected (places.round_id) instead of allocated one by one; at its close they
-- are allocated together and their referrals issued in the same transaction.
CREATE TABLE intake_rounds (
    id INTEGER PRIMARY KEY,
    district_id INTEGER NOT NULL REFERENCES districts(id),
    places_for TEXT NOT NULL,
    closes_at INTEGER NOT NULL,
    -- The published order for "any kindergarten": kindergarten ids, comma-separated; empty
    -- means the catalog's order.
    any_order TEXT NOT NULL DEFAULT '',
    opened_at INTEGER NOT NULL,
    closed_at INTEGER
);

-- At most one open round per district (overlapping rounds are refused).
CREATE UNIQUE INDEX intake_rounds_open ON intake_rounds (district_id) WHERE closed_at IS NULL;

ALTER TABLE places ADD COLUMN round_id INTEGER REFERENCES intake_rounds(id);
