-- Input files are kept in the database so queued jobs survive restarts and reruns work.

CREATE TABLE job_inputs (
    job_id           BIGINT  NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    position         INTEGER NOT NULL,
    role             TEXT    NOT NULL,
    mime             TEXT    NOT NULL,
    filename         TEXT    NOT NULL DEFAULT '',
    width            INTEGER,
    height           INTEGER,
    duration_seconds DOUBLE PRECISION,
    data             BYTEA   NOT NULL,
    PRIMARY KEY (job_id, position)
);

ALTER TABLE jobs ADD COLUMN inputs_purged_at DOUBLE PRECISION;

CREATE INDEX jobs_inputs_kept ON jobs(finished_at)
    WHERE inputs_purged_at IS NULL AND finished_at IS NOT NULL;
