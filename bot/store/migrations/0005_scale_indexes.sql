-- Found by benchmarks/scale.py (1k -> 100k jobs, same live set): reads that walked the
-- history instead of the work in progress.

-- /jobs (active list) and the per-user active-job limit of every create: only the user's
-- queued, submitting and running jobs, not all the jobs they ever made.
CREATE INDEX jobs_user_active ON jobs(user_id, id) WHERE state IN ('queued', 'submitting', 'running');

-- Queue stats (every metrics scrape and /runway status): the count per state reads this
-- index instead of the table, and the "succeeded since that failure?" probe of the account
-- check is a lookup instead of a scan per failure.
CREATE INDEX jobs_state_finished ON jobs(state, finished_at);

-- The account check: jobs the provider refused for the bot's key or balance, newest first.
CREATE INDEX jobs_account_errors ON jobs(finished_at) WHERE error_code IN ('auth', 'balance');
