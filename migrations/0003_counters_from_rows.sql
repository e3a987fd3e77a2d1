-- The journal counters are no longer stored beside the rows they count: the next
-- registration number of a district is max(registration_number) + 1 (read through the
-- UNIQUE (district_id, registration_number) index), the next referral number likewise, and
-- the writer keeps them in memory, derived from the events. Updating a counter row with
-- every registration cost the single writer a tenth of its time and could drift from the
-- rows; a derived value cannot.
ALTER TABLE districts DROP COLUMN next_registration_number;
ALTER TABLE districts DROP COLUMN last_registered_at;
ALTER TABLE districts DROP COLUMN next_referral_number;
