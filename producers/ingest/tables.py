"""The ingest pipeline's answers table, apart from the pipeline (:mod:`.submit`): bringing
the store up to date does not load the gate and the publisher."""

from govpub.store import Schema

_ANSWERS = """
CREATE TABLE IF NOT EXISTS ingest_answers (
    event_id TEXT PRIMARY KEY,
    department TEXT NOT NULL,
    answer TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""
ANSWERS_SCHEMA = Schema("ingest_answers", _ANSWERS)
"""The tables of this component, as versioned migrations."""
