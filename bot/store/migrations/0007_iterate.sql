-- Iterating on results, costs shown up front, and saying what changed (issue 14).
-- origin: how a job derives from rerun_of ('rerun', 'retry', 'edit', 'continue', 'restyle').
ALTER TABLE jobs ADD COLUMN origin TEXT;
-- The input video's length before it was trimmed to what the model reads (NULL: not trimmed).
ALTER TABLE jobs ADD COLUMN source_seconds REAL;
-- 1 when the ratio was chosen by 'auto' (closest to the input image).
ALTER TABLE jobs ADD COLUMN ratio_auto INTEGER NOT NULL DEFAULT 0;
-- What the member had left of their quota after this job's reservation (NULL: unlimited).
ALTER TABLE jobs ADD COLUMN quota_left REAL;
-- 1 once the status message carries a preview of the input (its embed's thumbnail).
ALTER TABLE jobs ADD COLUMN thumbnail INTEGER NOT NULL DEFAULT 0;
