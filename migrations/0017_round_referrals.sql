-- Round referrals and their decline rule (issue 18, §3): a referral says which intake round
-- gave it, and a district chooses whether declining one puts the child on the stop list
-- (0, the default: it keeps its position for its other choices at once).
ALTER TABLE referrals ADD COLUMN round_id INTEGER REFERENCES intake_rounds(id);
ALTER TABLE district_policies ADD COLUMN round_decline_stop_list INTEGER NOT NULL DEFAULT 0;
