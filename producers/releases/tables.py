"""The campaigns' table of missed phases, apart from the campaigns
(:mod:`.campaigns`): bringing the store up to date does not load the calendar's models."""

from govpub.store import Schema

_MISSED_SCHEMA = """
CREATE TABLE IF NOT EXISTS campaign_missed (
    document_id TEXT PRIMARY KEY,
    reported_at TEXT NOT NULL,
    source TEXT NOT NULL,
    run_id TEXT NOT NULL
)
"""
MISSED_SCHEMA = Schema("campaign_missed", _MISSED_SCHEMA)
"""The tables of this component, as versioned migrations."""
