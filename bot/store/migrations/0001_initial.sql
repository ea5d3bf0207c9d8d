-- Jobs, quota limits, quota counters and the usage ledger.
-- Times are UNIX epoch seconds (REAL, UTC).

CREATE TABLE jobs (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                TEXT    NOT NULL,
    state               TEXT    NOT NULL,
    user_id             INTEGER NOT NULL,
    guild_id            INTEGER,
    channel_id          INTEGER NOT NULL,
    thread_id           INTEGER,
    status_message_id   INTEGER,
    prompt              TEXT    NOT NULL,
    model               TEXT    NOT NULL,
    ratio               TEXT,
    duration            INTEGER,
    seed                INTEGER,
    audio               INTEGER NOT NULL DEFAULT 0,
    input_summary       TEXT    NOT NULL DEFAULT '',
    input_seconds       REAL,
    fair_seq            INTEGER NOT NULL DEFAULT 0,
    provider_task_id    TEXT,
    provider_status     TEXT,
    progress            REAL,
    estimated_credits   REAL    NOT NULL DEFAULT 0,
    charged_credits     REAL,
    quota_key           TEXT,
    quota_guild         INTEGER NOT NULL DEFAULT 0,
    quota_amount        REAL    NOT NULL DEFAULT 0,
    cap_key             TEXT,
    quota_state         TEXT    NOT NULL DEFAULT 'none',  -- none | reserved | settled | refunded
    attempts            INTEGER NOT NULL DEFAULT 0,
    poll_errors         INTEGER NOT NULL DEFAULT 0,
    created_at          REAL    NOT NULL,
    updated_at          REAL    NOT NULL,
    submit_after        REAL,
    submitted_at        REAL,
    finished_at         REAL,
    last_polled_at      REAL,
    next_poll_at        REAL,   -- when the worker next has something to do for this job
    lease_owner         TEXT,
    lease_expires_at    REAL,
    remote_cancel       INTEGER NOT NULL DEFAULT 0,
    output_url          TEXT,
    error_code          TEXT,
    error_text          TEXT,
    delivery_attempts   INTEGER NOT NULL DEFAULT 0,
    delivered_message_id INTEGER,
    delivered_at        REAL,
    rerun_of            INTEGER REFERENCES jobs(id)
);

-- The worker: queued jobs per model in fair order.
CREATE INDEX jobs_queue ON jobs(model, fair_seq, id) WHERE state = 'queued';
-- The worker: the next thing due (poll, delivery, remote cancel).
CREATE INDEX jobs_due ON jobs(next_poll_at) WHERE next_poll_at IS NOT NULL;
-- The worker: tasks in flight per model; recovery of 'submitting'.
CREATE INDEX jobs_in_flight ON jobs(state, model) WHERE state IN ('submitting', 'running');
-- /jobs, per-user active limit.
CREATE INDEX jobs_user ON jobs(user_id, id);

CREATE TABLE quota_limits (
    guild_id    INTEGER NOT NULL,
    scope       TEXT    NOT NULL CHECK (scope IN ('user', 'role', 'guild')),
    subject_id  INTEGER NOT NULL,          -- user or role id; 0 for the guild default
    mode        TEXT    NOT NULL CHECK (mode IN ('limit', 'unlimited', 'blocked')),
    amount      INTEGER,
    updated_at  REAL    NOT NULL,
    PRIMARY KEY (guild_id, scope, subject_id)
) WITHOUT ROWID;

-- Running totals per user per guild per period (quota_key = unit:period:YYYY-MM-DD etc.).
-- guild_id -1 / user_id 0 holds the bot-wide daily credit counter.
CREATE TABLE quota_usage (
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    quota_key   TEXT    NOT NULL,
    used        REAL    NOT NULL DEFAULT 0,
    reserved    REAL    NOT NULL DEFAULT 0,
    bonus       REAL    NOT NULL DEFAULT 0,
    PRIMARY KEY (guild_id, quota_key, user_id)
) WITHOUT ROWID;

CREATE INDEX quota_usage_top ON quota_usage(guild_id, quota_key, used);

-- Every change to quota_usage, for audit.
CREATE TABLE usage_ledger (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    quota_key   TEXT    NOT NULL,
    entry       TEXT    NOT NULL CHECK (entry IN ('reserve', 'settle', 'refund', 'grant', 'reset')),
    amount      REAL    NOT NULL,
    job_id      INTEGER,
    created_at  REAL    NOT NULL
);

CREATE INDEX usage_ledger_job ON usage_ledger(job_id) WHERE job_id IS NOT NULL;
