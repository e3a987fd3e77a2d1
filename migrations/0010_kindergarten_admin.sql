-- Issue 15, the kindergarten head's and the administrator's pages.
--
-- A place its kindergarten withdrew (reported by mistake) keeps its row, marked, so that the
-- journal's places and the table's stay one to one; the start-up rebuild skips it.
ALTER TABLE places ADD COLUMN withdrawn INTEGER NOT NULL DEFAULT 0 CHECK (withdrawn IN (0, 1));

-- When an enrolled child left its kindergarten (status 'left'): the group's roster lists it
-- apart from the children there now.
ALTER TABLE applications ADD COLUMN left_at INTEGER;

-- The catalog an administrator edits: a kindergarten's head (director), a closed group
-- (takes no new places; its live referrals stay valid), a retired priority category (takes
-- no new claims; the applications holding it keep it).
ALTER TABLE kindergartens ADD COLUMN head TEXT;
ALTER TABLE groups ADD COLUMN closed INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0, 1));
ALTER TABLE priority_categories ADD COLUMN retired INTEGER NOT NULL DEFAULT 0
    CHECK (retired IN (0, 1));
