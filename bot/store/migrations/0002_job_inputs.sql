-- Input files are kept in the database so queued jobs survive restarts and reruns work.

CREATE TABLE job_inputs (
    job_id           INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    position         INTEGER NOT NULL,
    role             TEXT    NOT NULL,
    mime             TEXT    NOT NULL,
    filename         TEXT    NOT NULL DEFAULT '',
    width            INTEGER,
    height           INTEGER,
    duration_seconds REAL,
    data             BLOB    NOT NULL,
    PRIMARY KEY (job_id, position)
) WITHOUT ROWID;

ALTER TABLE jobs ADD COLUMN inputs_purged_at REAL;

-- Retention sweep: finished jobs whose inputs are still kept.
CREATE INDEX jobs_inputs_kept ON jobs(finished_at) WHERE inputs_purged_at IS NULL AND finished_at IS NOT NULL;
