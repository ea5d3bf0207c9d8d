-- Mirrors SQLite's 0007 (issue 14): how a job derives from rerun_of, the input video's length
-- before trimming, the ratio chosen by 'auto', the quota left after the reservation, and
-- whether the status message carries the input's preview.
ALTER TABLE jobs ADD COLUMN origin TEXT;
ALTER TABLE jobs ADD COLUMN source_seconds DOUBLE PRECISION;
ALTER TABLE jobs ADD COLUMN ratio_auto INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN quota_left DOUBLE PRECISION;
ALTER TABLE jobs ADD COLUMN thumbnail INTEGER NOT NULL DEFAULT 0;
