CREATE INDEX jobs_remote_cancel ON jobs(model) WHERE remote_cancel = 1;
