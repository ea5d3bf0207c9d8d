-- Mirrors SQLite's 0008 (issue 13/16): the publish lease, which process's command posts the
-- job's status message and until when that process counts as alive for it.
ALTER TABLE jobs ADD COLUMN publisher TEXT;
ALTER TABLE jobs ADD COLUMN publish_expires_at DOUBLE PRECISION;
CREATE INDEX jobs_unpublished ON jobs(publish_expires_at)
    WHERE status_message_id IS NULL AND publisher IS NOT NULL
    AND (state IN ('queued', 'submitting', 'running') OR next_poll_at IS NOT NULL);
