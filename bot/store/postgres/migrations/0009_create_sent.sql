-- Mirrors SQLite's 0009 (issue 13): when the submit step was about to send the create
-- request; a job left ``submitting`` without it is requeued instead of put in doubt.
ALTER TABLE jobs ADD COLUMN create_sent_at DOUBLE PRECISION;
