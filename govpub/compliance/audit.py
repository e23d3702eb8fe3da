"""The compliance audit log: every decision of the gate, in the state store.

One row per decision — what was masked (rule, field path, how many), what was
sanitised, flagged or refused — with who submitted the event (source, department,
key id, request id) and the SHA-256 of the event as it was sent. The personal
data itself is never stored: no values, no hashes of values (an identity or phone
number is easily recovered from a plain hash), only rule names, paths, counts and
fixed explanations.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from govpub.compliance.protect import Finding
from govpub.compliance.rules import Decision
from govpub.store import Schema, Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS compliance_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at REAL NOT NULL,
    source TEXT NOT NULL,
    department TEXT NOT NULL,
    key_id TEXT,
    request_id TEXT,
    event_id TEXT,
    document_id TEXT,
    kind TEXT,
    action TEXT,
    version INTEGER,
    decision TEXT NOT NULL,
    rule TEXT NOT NULL,
    field TEXT NOT NULL DEFAULT '',
    count INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '',
    event_digest TEXT
);
CREATE INDEX IF NOT EXISTS compliance_audit_event ON compliance_audit (event_id);
CREATE INDEX IF NOT EXISTS compliance_audit_department ON compliance_audit (department, recorded_at);
CREATE INDEX IF NOT EXISTS compliance_audit_decision ON compliance_audit (decision, rule)
"""
SCHEMA = Schema("compliance_audit", _SCHEMA)
"""The tables of this component, as versioned migrations."""

_COLUMNS = (
    "recorded_at, source, department, key_id, request_id, event_id, document_id, kind, action,"
    " version, decision, rule, field, count, detail, event_digest"
)


@dataclass(frozen=True)
class Submitter:
    """Who sent an event through the gate: ``source`` (ingest, emit, demo, sdk, dag), and for
    the ingest API the key id and request id of the signed request."""

    source: str = "sdk"
    key_id: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One decision about one event."""

    decision: Decision
    rule: str
    department: str
    submitter: Submitter
    event_id: str | None = None
    document_id: str | None = None
    kind: str | None = None
    action: str | None = None
    version: int | None = None
    field: str = ""
    count: int = 0
    detail: str = ""
    event_digest: str | None = None
    recorded_at: float = 0.0

    @property
    def finding(self) -> Finding:
        """The decision itself, without who sent what (as the gate reported it)."""
        return Finding(self.decision, self.rule, self.field, self.count, self.detail)


class AuditLog:
    """Appends decisions to ``compliance_audit`` and reads them back."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure_schema(SCHEMA)

    def record(self, entries: Sequence[AuditEntry]) -> None:
        """Append ``entries`` in one transaction."""
        if not entries:
            return
        now = time.time()
        with self.store.transaction("compliance_audit") as conn:
            conn.executemany(
                f"INSERT INTO compliance_audit ({_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        now,
                        e.submitter.source,
                        e.department,
                        e.submitter.key_id,
                        e.submitter.request_id,
                        e.event_id,
                        e.document_id,
                        e.kind,
                        e.action,
                        e.version,
                        e.decision.value,
                        e.rule,
                        e.field,
                        e.count,
                        e.detail,
                        e.event_digest,
                    )
                    for e in entries
                ],
            )

    def for_event(self, event_id: str) -> list[AuditEntry]:
        """Every decision recorded about ``event_id``, oldest first."""
        rows = self.store.conn.execute(
            f"SELECT {_COLUMNS} FROM compliance_audit WHERE event_id=? ORDER BY id", (event_id,)
        )
        return [_entry(r) for r in rows]

    def flagged(self, rule: str, *, limit: int) -> tuple[int, list[AuditEntry]]:
        """How many events ``rule`` flagged (each once, however often it was resubmitted),
        and the ``limit`` most recent of them, newest first."""
        count = self.store.conn.execute(
            "SELECT COUNT(DISTINCT event_id) FROM compliance_audit WHERE decision=? AND rule=?",
            (Decision.FLAGGED.value, rule),
        ).fetchone()[0]
        rows = self.store.conn.execute(
            f"SELECT {_COLUMNS} FROM compliance_audit WHERE id IN ("
            " SELECT MAX(id) FROM compliance_audit WHERE decision=? AND rule=?"
            " GROUP BY event_id) ORDER BY id DESC LIMIT ?",
            (Decision.FLAGGED.value, rule, limit),
        )
        return int(count), [_entry(r) for r in rows]


def _entry(r: Sequence[Any]) -> AuditEntry:
    return AuditEntry(
        recorded_at=r[0],
        submitter=Submitter(r[1], r[3], r[4]),
        department=r[2],
        event_id=r[5],
        document_id=r[6],
        kind=r[7],
        action=r[8],
        version=r[9],
        decision=Decision(r[10]),
        rule=r[11],
        field=r[12],
        count=r[13],
        detail=r[14],
        event_digest=r[15],
    )
