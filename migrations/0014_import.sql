-- Applications brought in from a municipality's earlier system (`kezek import`, issue 16).
--
-- `legacy_number` is the number the application had there, shown beside the district's new
-- number; NULL for every application registered here. Within a district it names one
-- application: the unique index is what makes an import idempotent (a row whose old number
-- was already taken is skipped, so importing a file again, or what is left of a file after a
-- crash, never doubles an application). Partial: registrations never touch it.
ALTER TABLE applications ADD COLUMN legacy_number TEXT;
CREATE UNIQUE INDEX applications_by_legacy_number
    ON applications (district_id, legacy_number) WHERE legacy_number IS NOT NULL;
-- Start-up reads the time of each district's last application registered here (new
-- registrations never go back behind it): an imported or moved application keeps an earlier
-- time and does not count. Without this index that look-up walked back over every trailing
-- imported row (a million after a city's import). Each district's numbers only grow, so a
-- registration appends to its last page.
CREATE INDEX applications_registered_here
    ON applications (district_id, registration_number)
    WHERE moved_from_district IS NULL AND legacy_number IS NULL;
