"""The release log: which events the scheduled releases (the DAGs) emitted, and the
decision behind each exposure batch, for operators and auditors.

``govpub status`` lists the latest entries of both; ``govpub status --document ID``
then shows where each one was delivered. Only events the bus accepted are logged as
releases, once each. A decision (approved, rejected, or auto-approved under
``GOVPUB_ALLOW_AUTO_APPROVE``) is recorded before anything is emitted, once per run and
batch version, in ``release_decisions`` and in the compliance audit log.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from govpub.compliance.audit import AuditEntry, AuditLog, Submitter
from govpub.compliance.rules import RELEASE_APPROVAL, Decision
from govpub.store import Schema, Store

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
CREATE INDEX IF NOT EXISTS release_log_emitted ON release_log (emitted_at DESC);
CREATE TABLE IF NOT EXISTS release_decisions (
    source TEXT NOT NULL,
    run_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    action TEXT NOT NULL,
    department TEXT NOT NULL,
    title TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('approved', 'rejected', 'auto_approved')),
    decided_by TEXT,
    decided_by_id TEXT,
    decided_at TEXT NOT NULL,
    triggered_by TEXT,
    basis TEXT NOT NULL,
    PRIMARY KEY (source, run_id, document_id, version)
);
CREATE INDEX IF NOT EXISTS release_decisions_event ON release_decisions (event_id);
CREATE INDEX IF NOT EXISTS release_decisions_decided ON release_decisions (decided_at DESC)
"""
SCHEMA = Schema("release_log", _SCHEMA)
"""The tables of this component, as versioned migrations."""

_DECISION_COLUMNS = (
    "source, run_id, document_id, version, event_id, kind, action, department, title, outcome,"
    " decided_by, decided_by_id, decided_at, triggered_by, basis"
)


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


class Outcome(StrEnum):
    """What was decided about a batch."""

    APPROVED = "approved"
    REJECTED = "rejected"
    AUTO_APPROVED = "auto_approved"

    @property
    def publishes(self) -> bool:
        """True if the batch may be emitted."""
        return self is not Outcome.REJECTED


_AUDIT_DECISION = {
    Outcome.APPROVED: Decision.APPROVED,
    Outcome.REJECTED: Decision.REJECTED,
    Outcome.AUTO_APPROVED: Decision.AUTO_APPROVED,
}


@dataclass(frozen=True)
class ReleaseDecision:
    """The decision about one batch version in one run, and who took it.

    ``decided_by`` and ``decided_by_id`` are the Airflow user's name and id (both None
    when auto-approved); ``decided_at`` is also the batch's publication date;
    ``triggered_by`` is who triggered the run as Airflow recorded it (None for the
    scheduler); ``basis`` says where the decision was taken.
    """

    source: str
    run_id: str
    document_id: str
    version: int
    event_id: str
    kind: str
    action: str
    department: str
    title: str
    outcome: Outcome
    decided_by: str | None
    decided_by_id: str | None
    decided_at: datetime
    triggered_by: str | None
    basis: str

    def summary(self) -> str:
        """One line: ``approved by alice at 2026-11-28T05:49:10+00:00``."""
        when = self.decided_at.astimezone(UTC).isoformat(timespec="seconds")
        if self.outcome is Outcome.AUTO_APPROVED:
            return f"auto-approved at {when} ({self.basis})"
        who = self.decided_by or "?"
        if self.decided_by_id and self.decided_by_id != self.decided_by:
            who += f" (id {self.decided_by_id})"
        return f"{self.outcome.value} by {who} at {when}"


class ReleaseLog:
    """The ``release_log`` and ``release_decisions`` tables of the state store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure_schema(SCHEMA)

    def record(self, releases: Sequence[Release]) -> None:
        """Log releases; an event already logged keeps its first entry (re-runs are harmless)."""
        if not releases:
            return
        with self.store.transaction("release_log") as conn:
            conn.executemany(
                "INSERT INTO release_log (event_id, source, run_id, document_id, kind,"
                " action, version, title, emitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
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

    def record_decisions(self, decisions: Sequence[ReleaseDecision]) -> list[ReleaseDecision]:
        """Put decisions on record, here and in the compliance audit log, in one transaction.

        A decision already recorded for the same run and batch version keeps its first
        entry (a retried task records nothing twice); returns the decisions that are new.
        """
        if not decisions:
            return []
        new: list[ReleaseDecision] = []
        with self.store.transaction("release_log", "compliance_audit") as conn:
            for d in decisions:
                cursor = conn.execute(
                    f"INSERT INTO release_decisions ({_DECISION_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (
                        d.source,
                        d.run_id,
                        d.document_id,
                        d.version,
                        d.event_id,
                        d.kind,
                        d.action,
                        d.department,
                        d.title,
                        d.outcome.value,
                        d.decided_by,
                        d.decided_by_id,
                        d.decided_at.astimezone(UTC).isoformat(),
                        d.triggered_by,
                        d.basis,
                    ),
                )
                if cursor.rowcount:
                    new.append(d)
            AuditLog(self.store).record([_audit_entry(d) for d in new])
        return new

    def decisions(self, limit: int = 10) -> list[ReleaseDecision]:
        """The most recent decisions, newest first."""
        rows = self.store.conn.execute(
            f"SELECT {_DECISION_COLUMNS} FROM release_decisions"
            " ORDER BY decided_at DESC, document_id LIMIT ?",
            (limit,),
        )
        return [_decision(row) for row in rows]

    def decisions_for(self, document_id: str) -> list[ReleaseDecision]:
        """Every decision about ``document_id``, oldest first."""
        rows = self.store.conn.execute(
            f"SELECT {_DECISION_COLUMNS} FROM release_decisions WHERE document_id=?"
            " ORDER BY decided_at, run_id",
            (document_id,),
        )
        return [_decision(row) for row in rows]

    def approvals_of(self, event_ids: Iterable[str]) -> dict[str, ReleaseDecision]:
        """The decision that let each of ``event_ids`` be emitted (the first on record)."""
        found: dict[str, ReleaseDecision] = {}
        for event_id in event_ids:
            row = self.store.conn.execute(
                f"SELECT {_DECISION_COLUMNS} FROM release_decisions"
                " WHERE event_id=? AND outcome != 'rejected' ORDER BY decided_at LIMIT 1",
                (event_id,),
            ).fetchone()
            if row is not None:
                found[event_id] = _decision(row)
        return found


def _decision(row: Sequence[object]) -> ReleaseDecision:
    return ReleaseDecision(
        source=str(row[0]),
        run_id=str(row[1]),
        document_id=str(row[2]),
        version=int(str(row[3])),
        event_id=str(row[4]),
        kind=str(row[5]),
        action=str(row[6]),
        department=str(row[7]),
        title=str(row[8]),
        outcome=Outcome(str(row[9])),
        decided_by=None if row[10] is None else str(row[10]),
        decided_by_id=None if row[11] is None else str(row[11]),
        decided_at=datetime.fromisoformat(str(row[12])),
        triggered_by=None if row[13] is None else str(row[13]),
        basis=str(row[14]),
    )


def _audit_entry(decision: ReleaseDecision) -> AuditEntry:
    detail = f"{decision.summary()}; run {decision.run_id}"
    if decision.triggered_by:
        detail += f" triggered by {decision.triggered_by}"
    return AuditEntry(
        decision=_AUDIT_DECISION[decision.outcome],
        rule=RELEASE_APPROVAL.id,
        department=decision.department,
        # The run stands in for the request; who decided is in the detail.
        submitter=Submitter(source="dag", request_id=decision.run_id),
        event_id=decision.event_id,
        document_id=decision.document_id,
        kind=decision.kind,
        action=decision.action,
        version=decision.version,
        detail=detail,
    )
