-- The reports' aggregates (issue 17) as the writer left them at its last clean close, and
-- the journal's sequence number they are valid at. A start whose files are as that close
-- sealed them, and whose journal ends at that number, reads them here instead of replaying
-- the journal (issue 12's start-up target); any other start replays. One row at most. No
-- personal data: counts by district, kindergarten, tier, birth year and day.
CREATE TABLE report_aggregates (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    body TEXT NOT NULL -- JSON of domain::reports::Reports
);
