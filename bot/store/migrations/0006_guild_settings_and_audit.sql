-- Per-server settings (daily budget, cost confirmation threshold, locale override), the
-- channels the bot answers in, and the audit log of quota and settings changes.

CREATE TABLE guild_settings (
    guild_id        INTEGER PRIMARY KEY,
    daily_budget    INTEGER CHECK (daily_budget IS NULL OR daily_budget >= 0),
    confirm_above   INTEGER CHECK (confirm_above IS NULL OR confirm_above >= 0),
    locale          TEXT,
    updated_at      REAL    NOT NULL
);

-- Empty for a guild: every channel is allowed.
CREATE TABLE guild_channels (
    guild_id    INTEGER NOT NULL,
    channel_id  INTEGER NOT NULL,
    added_at    REAL    NOT NULL,
    PRIMARY KEY (guild_id, channel_id)
) WITHOUT ROWID;

-- Who changed which quota or setting, when, from what to what. actor_id NULL: the
-- operator's command line.
CREATE TABLE quota_audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id    INTEGER NOT NULL,
    actor_id    INTEGER,
    action      TEXT    NOT NULL,
    subject_id  INTEGER,
    old_value   TEXT,
    new_value   TEXT,
    created_at  REAL    NOT NULL
);

CREATE INDEX quota_audit_guild ON quota_audit(guild_id, id);
CREATE INDEX quota_audit_subject ON quota_audit(guild_id, subject_id, id) WHERE subject_id IS NOT NULL;
