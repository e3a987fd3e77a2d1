-- Issue 12: a district chooses how a referral's validity is counted (working days, calendar
-- days, or one calendar month) and whether it can be extended; the head of its education
-- department, who signs its referrals, is catalog data of the district.
--
-- A migration never drops a column, so the first policy columns keep their place with a
-- wider meaning: `referral_validity_working_days` is the count of days of the rule
-- `validity_kind` names (0 for a calendar month), and `extension_calendar_days` is how far an
-- extension reaches after the day of issue (0: the district does not extend). Rows written
-- before this migration were all counted in working days, which is the new column's default.
ALTER TABLE district_policies ADD COLUMN validity_kind TEXT NOT NULL DEFAULT 'working_days'
    CHECK (validity_kind IN ('working_days', 'calendar_days', 'calendar_month'));

-- The heads of the districts' education departments, every one that was set, keyed by the
-- sequence number of the event that set it: a referral names the head set before its own
-- event, so a new head does not rename the papers already issued.
CREATE TABLE education_heads (
    seq INTEGER PRIMARY KEY REFERENCES events(seq),
    district_id INTEGER NOT NULL REFERENCES districts(id),
    full_name TEXT NOT NULL
);
CREATE INDEX education_heads_by_district ON education_heads (district_id, seq);
