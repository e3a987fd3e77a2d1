-- One index on the child's IIN instead of three. Every registration inserted into each of
-- them, and an IIN is a random key: at a million applications each insert dirties a leaf
-- page of its own, so each index cost a 4 KB WAL frame per registration, and the writer is
-- bound by the bytes it writes (docs/PERFORMANCE.md, "Registration throughput"). Dropping two
-- of the three IIN indexes raised the 64-submitter rate by about half in one run.
--
-- The one left keeps the rule "a child has at most one active application" as a unique
-- index: its second key is 1 for an active application and NULL for an ended one, and NULLs
-- never collide in a unique index, so ended applications of the same child may be many. It
-- also answers every look-up by the child's IIN (the prefix): the active application, the
-- enrolled one (the old partial `enrolled_children`), the officer's search and the staff
-- access log's (the old `applications_by_child_iin`). It keeps the old unique index's name,
-- which integrity failures and the operators' runbooks use.
DROP INDEX one_active_application_per_child;
DROP INDEX enrolled_children;
DROP INDEX applications_by_child_iin;
CREATE UNIQUE INDEX one_active_application_per_child
    ON applications (child_iin, nullif(active, 0));
