-- A signed-in parent's list of applications is found in the in-memory state
-- (`QueueState::applicants`, rebuilt at every start from the table), not through this index.
-- An applicant's IIN is a random key: at scale each registration's insert into the index
-- dirtied a leaf page of its own, a 4 KB WAL frame per registration, and the writer is bound
-- by the bytes it writes (docs/PERFORMANCE.md, "Registration throughput").
DROP INDEX applications_by_applicant;
