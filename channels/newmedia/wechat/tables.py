"""The WeChat channel's tables: the access tokens (:mod:`.api`) and the publish jobs
(:mod:`.channel`). Apart from the code that uses them, so that bringing the store up to
date does not load the WeChat client."""

from govpub.store import Schema

_TOKENS = """
CREATE TABLE IF NOT EXISTS wechat_tokens (
    app_id TEXT PRIMARY KEY,
    access_token TEXT NOT NULL,
    expires_at REAL NOT NULL,
    forced_day TEXT NOT NULL DEFAULT '',
    forced_count INTEGER NOT NULL DEFAULT 0,
    forced_at REAL NOT NULL DEFAULT 0
)
"""
TOKENS_SCHEMA = Schema("wechat_tokens", _TOKENS)
"""The tables of this component, as versioned migrations."""

_JOBS = """
CREATE TABLE IF NOT EXISTS wechat_publish_jobs (
    publish_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    event_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    due_at REAL NOT NULL,
    polls INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS wechat_publish_jobs_due ON wechat_publish_jobs (done, due_at)
"""
JOBS_SCHEMA = Schema("wechat_publish_jobs", _JOBS)
"""The tables of this component, as versioned migrations."""
