-- Files refused for malware (issue 19 §6) have no table: the journal's
-- `attachment_infected` events are their only record, and the officer's application page
-- lists an application's (`store::attachments::infected_of`). They are rare, so a partial
-- index of just those events lets the page find them without reading the whole journal
-- (2.1M events at a million applications).
CREATE INDEX events_attachment_infected ON events(kind) WHERE kind = 'attachment_infected';
