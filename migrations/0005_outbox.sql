-- Notifications to parents: an outbox filled in the transaction of the event that causes
-- each message (see src/notify/), emptied by the sender on its own connection.
--
-- Not derived from the journal by replay: a database that had events before this migration
-- gets no messages for them (nobody wants to be told today about a registration of last
-- year). From now on, a row is here if and only if its event is committed.
CREATE TABLE outbox (
    -- The message's identity: it names the file the file channel writes and the Message-ID
    -- an e-mail carries, so that a delivery repeated after a crash is recognised.
    id INTEGER PRIMARY KEY,
    -- The event that caused it. No REFERENCES clause: the row is written right after its
    -- event by the same code, and the foreign-key check (a statement journal per INSERT)
    -- cost the writer more than the rest of the insert.
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('registered', 'referral_issued', 'referral_expiring',
                                       'referral_expired', 'status_changed')),
    district_id INTEGER NOT NULL,
    registration_number INTEGER NOT NULL,
    -- The referral a message is about; a pending 'referral_expiring' reminder is found by it
    -- and cancelled when the referral is handed in, lapses, or is extended.
    referral_number INTEGER,
    -- 'mailto:<address>', or 'tel:<phone>' when the applicant gave no e-mail address.
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    -- Microseconds since the Unix epoch, UTC, as everywhere.
    created_at INTEGER NOT NULL,
    -- Not delivered before this instant (a reminder's time; otherwise created_at).
    not_before INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- When the sender tries next; NULL once it has given up (a permanent failure, kept with
    -- its last_error for a person to look at).
    next_attempt_at INTEGER,
    delivered_at INTEGER,
    -- Which channel took it ('file', 'smtp'), or 'skipped:smtp' for a message the channel
    -- cannot carry (a phone number over e-mail).
    delivered_by TEXT,
    -- A reminder that lost its reason before it was due.
    cancelled_at INTEGER,
    last_error TEXT
);

-- What the sender polls: the pending messages, by when they are due.
CREATE INDEX outbox_due ON outbox(next_attempt_at)
    WHERE delivered_at IS NULL AND cancelled_at IS NULL;

-- The pending reminder of a referral, for cancelling it.
CREATE INDEX outbox_reminders ON outbox(district_id, referral_number)
    WHERE kind = 'referral_expiring' AND delivered_at IS NULL AND cancelled_at IS NULL;
