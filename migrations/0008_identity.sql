-- Issue 14: parents and staff sign in through an OpenID Connect provider.
--
-- A signed-in parent sees every application where they are the applicant: looked up by
-- the applicant's IIN, which the provider vouches for.
CREATE INDEX applications_by_applicant ON applications (applicant_iin);

-- A staff account may be bound to the provider's subject (`kezek staff bind`); signing in
-- at the provider as that subject opens the account's session, which ends when the account
-- is revoked, as a token's does. One account per subject.
ALTER TABLE staff_accounts ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX staff_accounts_by_subject ON staff_accounts (oidc_subject)
    WHERE oidc_subject IS NOT NULL;

-- Who tried to register whose child, when the child was already queued (the answer a
-- squatter's victim gets) or the person was past their quota of such refusals: signed-in
-- portal registrations only, so every row names a person the provider vouched for. Not
-- queue state and not an event: a record of refusals, written beside the writer like the
-- staff accounts, read by officers investigating a complaint.
CREATE TABLE registration_attempts (
    id INTEGER PRIMARY KEY,
    -- Microseconds since the Unix epoch, UTC.
    at INTEGER NOT NULL,
    -- The signed-in person: their IIN and the provider's subject.
    applicant_iin TEXT NOT NULL,
    subject TEXT NOT NULL,
    child_iin TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('already_queued', 'limited'))
);
CREATE INDEX registration_attempts_by_child ON registration_attempts (child_iin, at);
