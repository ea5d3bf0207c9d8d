-- Mirrors SQLite's 0005 (found by benchmarks/scale.py): reads of the work in progress, not the
-- history.

CREATE INDEX jobs_user_active ON jobs(user_id, id) WHERE state IN ('queued', 'submitting', 'running');
CREATE INDEX jobs_state_finished ON jobs(state, finished_at);
CREATE INDEX jobs_account_errors ON jobs(finished_at) WHERE error_code IN ('auth', 'balance');
