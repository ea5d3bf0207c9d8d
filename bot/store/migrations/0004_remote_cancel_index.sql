-- A cancelled job whose DELETE has not reached Runway yet still holds one of the
-- model's concurrency slots there; the submit pass counts those through this index.

CREATE INDEX jobs_remote_cancel ON jobs(model) WHERE remote_cancel = 1;
