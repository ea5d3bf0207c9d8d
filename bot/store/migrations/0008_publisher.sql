-- The publish lease (issue 13/16): which process's command posts the job's status message,
-- and until when that process counts as alive for it (renewed by its worker). A worker that
-- starts adopts unpublished jobs of no publisher, of its own previous run, or whose lease
-- expired; a running worker adopts only those of another publisher whose lease expired.
ALTER TABLE jobs ADD COLUMN publisher TEXT;
ALTER TABLE jobs ADD COLUMN publish_expires_at REAL;
-- The few jobs still waiting for their status message (a row leaves it once it is recorded
-- or the job has nothing left to tell): renewal and adoption by a running worker read it.
CREATE INDEX jobs_unpublished ON jobs(publish_expires_at)
    WHERE status_message_id IS NULL AND publisher IS NOT NULL
    AND (state IN ('queued', 'submitting', 'running') OR next_poll_at IS NOT NULL);
