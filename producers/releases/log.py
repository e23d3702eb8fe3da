"""The release log: which events the scheduled releases (the DAGs) emitted, for operators.

``govpub status`` lists the latest entries; ``govpub status --document ID`` then shows
where each one was delivered. Only events the bus accepted are logged, once each.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from govpub.store import Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS release_log (
    event_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    run_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    action TEXT NOT NULL,
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    emitted_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS release_log_emitted ON release_log (emitted_at DESC)
"""


@dataclass(frozen=True)
class Release:
    """One event a scheduled release emitted."""

    event_id: str
    source: str  # the DAG id
    run_id: str
    document_id: str
    kind: str
    action: str
    version: int
    title: str
    emitted_at: datetime


class ReleaseLog:
    """The ``release_log`` table of the state store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure_schema("release_log", _SCHEMA)

    def record(self, releases: Sequence[Release]) -> None:
        """Log releases; an event already logged keeps its first entry (re-runs are harmless)."""
        if not releases:
            return
        with self.store.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO release_log (event_id, source, run_id, document_id, kind,"
                " action, version, title, emitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.event_id,
                        r.source,
                        r.run_id,
                        r.document_id,
                        r.kind,
                        r.action,
                        r.version,
                        r.title,
                        r.emitted_at.astimezone(UTC).isoformat(),
                    )
                    for r in releases
                ],
            )

    def latest(self, limit: int = 10) -> list[Release]:
        """The most recent releases, newest first."""
        rows = self.store.conn.execute(
            "SELECT event_id, source, run_id, document_id, kind, action, version, title,"
            " emitted_at FROM release_log ORDER BY emitted_at DESC, document_id LIMIT ?",
            (limit,),
        )
        return [
            Release(
                event_id=row[0],
                source=row[1],
                run_id=row[2],
                document_id=row[3],
                kind=row[4],
                action=row[5],
                version=int(row[6]),
                title=row[7],
                emitted_at=datetime.fromisoformat(row[8]),
            )
            for row in rows
        ]
