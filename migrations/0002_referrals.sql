-- Free places, referrals and their deadlines; district policies; the calendar as data.

ALTER TABLE applications ADD COLUMN held_until INTEGER;  -- stop list: microseconds UTC

ALTER TABLE districts ADD COLUMN next_referral_number INTEGER NOT NULL DEFAULT 1;
-- The 1 : 3 cycle: general referrals since the last first-priority one (3 = first due).
ALTER TABLE districts ADD COLUMN interleave_cycle INTEGER NOT NULL DEFAULT 3;

CREATE TABLE district_policies (
    district_id INTEGER PRIMARY KEY REFERENCES districts(id),
    referral_validity_working_days INTEGER NOT NULL,
    extension_calendar_days INTEGER NOT NULL,
    stop_list_days INTEGER NOT NULL,
    interleave_first_priority INTEGER NOT NULL CHECK (interleave_first_priority IN (0, 1))
);

CREATE TABLE calendar_years (
    year INTEGER PRIMARY KEY,
    source TEXT NOT NULL
);

CREATE TABLE places (
    id INTEGER PRIMARY KEY,
    district_id INTEGER NOT NULL REFERENCES districts(id),
    kindergarten_id INTEGER NOT NULL REFERENCES kindergartens(id),
    group_id INTEGER REFERENCES groups(id),
    born_from TEXT NOT NULL,
    born_to TEXT NOT NULL,
    language TEXT NOT NULL,
    available_from TEXT NOT NULL,
    reported_at INTEGER NOT NULL,
    filled INTEGER NOT NULL DEFAULT 0 CHECK (filled IN (0, 1))
);

CREATE TABLE referrals (
    district_id INTEGER NOT NULL REFERENCES districts(id),
    number INTEGER NOT NULL CHECK (number > 0),
    place_id INTEGER NOT NULL REFERENCES places(id),
    application_district_id INTEGER NOT NULL,
    application_number INTEGER NOT NULL,
    kindergarten_id INTEGER NOT NULL REFERENCES kindergartens(id),
    issued_at INTEGER NOT NULL,
    -- The deadline: the referral lapses at this instant (end of the last local day).
    valid_until INTEGER NOT NULL,
    extended INTEGER NOT NULL CHECK (extended IN (0, 1)),
    status TEXT NOT NULL,
    closed_at INTEGER,
    reason TEXT,
    PRIMARY KEY (district_id, number),
    FOREIGN KEY (application_district_id, application_number)
        REFERENCES applications(district_id, registration_number)
);
-- A place is held by at most one live referral, and a child holds at most one.
CREATE UNIQUE INDEX one_live_referral_per_place ON referrals(place_id) WHERE status = 'issued';
CREATE UNIQUE INDEX one_live_referral_per_application
    ON referrals(application_district_id, application_number) WHERE status = 'issued';
-- The deadline queue, for the timer task and for start-up.
CREATE INDEX live_referrals_by_deadline ON referrals(valid_until) WHERE status = 'issued';
