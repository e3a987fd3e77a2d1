-- Documents an officer or operator asked the parent for (issue 19 §5). Projected from the
-- `document_requested` event (seq) and answered by the `document_received` event that
-- follows the file of that kind (received_seq, received_ordinal: the answering file). An
-- open request (received_at NULL) pauses the priority claim's manual-step deadline; the
-- work list reads the rows of the applications it lists. No earlier event concerns them:
-- the table starts empty.
CREATE TABLE document_requests (
    district_id INTEGER NOT NULL,
    registration_number INTEGER NOT NULL,
    number INTEGER NOT NULL CHECK (number >= 1),
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    requested_at INTEGER NOT NULL, -- microseconds since 1970, UTC
    requested_by TEXT NOT NULL,
    seq INTEGER NOT NULL UNIQUE,
    received_at INTEGER,
    received_seq INTEGER UNIQUE,
    received_ordinal INTEGER,
    CHECK ((received_at IS NULL) = (received_seq IS NULL)
       AND (received_at IS NULL) = (received_ordinal IS NULL))
);
CREATE UNIQUE INDEX document_requests_of_application
    ON document_requests (district_id, registration_number, number);
