"""The document catalog: the latest state of every document on the bus, and its history.

The ``catalog`` channel (:mod:`channels.catalog`) feeds it from its own consumer group,
so it sees every event in per-document order, at least once. Scheduled releases read
it (the shell, :mod:`govpub.app.releases`, hands it to :mod:`producers.releases`)
instead of channel output: which exposure candidates a quarter has, and whether the
penalty decision a case links to is still published; which penalty decisions reach the end
of their display period (the take-down DAG). One row per document in ``catalog_documents``:
kind, version, department, payload (JSON), retracted, and when it was first published and
last changed; and each penalty decision's take-down date (``catalog_display``).

``catalog_versions`` keeps every version the catalog took in (withdrawals too), with
its ``occurred_at`` and payload: what the annual report counts (a validity that
changed during the year, a withdrawal before 31 December). It is the log as the
catalog read it, so it is complete only from the first run of a catalog that keeps
it; ``govpub replay --channel catalog`` rebuilds the tables from the topics.
"""

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from govpub.store import Connection, Schema, Store
from schemas import AnyEvent, ExposureEvent, PenaltyPayload, RetractEvent

_SCHEMA = """
CREATE TABLE IF NOT EXISTS catalog_documents (
    document_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    version INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    action TEXT NOT NULL,
    department TEXT NOT NULL,
    title TEXT,
    domain TEXT,
    quarter TEXT,
    role TEXT,
    payload TEXT,
    retracted INTEGER NOT NULL DEFAULT 0,
    retract_reason TEXT,
    first_published_at TEXT,
    updated_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS catalog_exposure ON catalog_documents (kind, role, quarter, domain);
CREATE INDEX IF NOT EXISTS catalog_department ON catalog_documents (department, kind);
CREATE INDEX IF NOT EXISTS catalog_updated ON catalog_documents (updated_at)
"""

# Every version the catalog took in, for the annual report (migration 2: a store made
# before it gets the table on its next start; `govpub replay --channel catalog` fills it).
_VERSIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS catalog_versions (
    document_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    action TEXT NOT NULL,
    department TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (document_id, version)
);
CREATE INDEX IF NOT EXISTS catalog_versions_kind ON catalog_versions (kind, document_id, version)
"""
SCHEMA = Schema("catalog_documents", _SCHEMA, _VERSIONS_SCHEMA)
"""The tables of this component, as versioned migrations."""

# The take-down date of every penalty decision, so that the take-down DAG and `govpub
# status` find the decisions whose display ends by a day without reading every payload.
# ``display_until`` is NULL for a decision published without one (before the compliance
# gate wrote it into every decision): its reader computes it from the display periods.
_DISPLAY_SCHEMA = """
CREATE TABLE IF NOT EXISTS catalog_display (
    document_id TEXT PRIMARY KEY,
    display_until TEXT
);
CREATE INDEX IF NOT EXISTS catalog_display_until ON catalog_display (display_until)
"""
DISPLAY_SCHEMA = Schema("catalog_display", _DISPLAY_SCHEMA)
"""The take-down dates, as versioned migrations (written under the catalog's lock key)."""

CATALOG_TABLES = ("catalog_documents", "catalog_versions", "catalog_display")
"""The tables that hold the catalog (replaced as a whole by a replay)."""

_COLUMNS = (
    "document_id, kind, version, event_id, action, department, title, domain, quarter, role,"
    " payload, retracted, retract_reason, first_published_at, updated_at"
)


@dataclass(frozen=True)
class CatalogVersion:
    """One version of a document as the catalog took it in (a withdrawal too)."""

    version: int
    event_id: str
    action: str
    department: str
    occurred_at: datetime
    payload: dict[str, Any]
    """The content payload, or a withdrawal's ``{"reason": …}``."""


@dataclass(frozen=True)
class DocumentHistory:
    """Every version of one document the catalog took in, oldest first."""

    document_id: str
    kind: str
    versions: tuple[CatalogVersion, ...]


@dataclass(frozen=True)
class CatalogEntry:
    """The latest known state of one document."""

    document_id: str
    kind: str
    version: int
    event_id: str
    action: str
    department: str
    title: str | None
    domain: str | None
    quarter: str | None
    role: str | None
    payload: dict[str, Any] | None
    retracted: bool
    retract_reason: str | None
    first_published_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class DisplayedPenalty:
    """A published penalty decision that is not withdrawn, with its take-down date
    (``None``: the decision carries none; compute it from the display periods)."""

    document_id: str
    version: int
    department: str
    title: str | None
    payload: PenaltyPayload
    display_until: date | None


class PenaltyStanding(StrEnum):
    """Whether a penalty decision may be cited on a given day, and if not, why."""

    IN_EFFECT = "in_effect"
    NOT_PUBLISHED = "not_published"
    NOT_A_PENALTY = "not_a_penalty"
    RETRACTED = "retracted"
    NOT_PUBLISHABLE = "not_publishable"
    NOT_YET_DECIDED = "not_yet_decided"
    DISPLAY_ENDED = "display_ended"


@dataclass(frozen=True)
class PenaltyCheck:
    """The answer of :meth:`DocumentCatalog.penalty_standing`, with a reason operators can read."""

    document_id: str
    standing: PenaltyStanding
    reason: str
    display_until: date | None = None

    @property
    def in_effect(self) -> bool:
        """True when the decision is published, not withdrawn and within its display period."""
        return self.standing is PenaltyStanding.IN_EFFECT


def _role(event: AnyEvent) -> str | None:
    if isinstance(event, ExposureEvent):
        return "batch" if event.payload.is_batch else "candidate"
    return None


def _text(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return value if isinstance(value, str) else None


class DocumentCatalog:
    """The ``catalog_documents`` table of the state store: writes from the catalog
    channel, queries for scheduled releases."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure_schema(SCHEMA)
        store.ensure_schema(DISPLAY_SCHEMA)

    def record(self, event: AnyEvent, *, now: datetime) -> bool:
        """Take one event into the catalog; returns False if a newer version is already there.

        Idempotent: recording the same event twice leaves the same row. A retraction
        keeps the last payload (so a withdrawn decision can still be explained) and
        marks the document retracted.
        """
        # UTC, so that the text columns sort in time order whatever offset events carry.
        occurred = event.occurred_at.astimezone(UTC).isoformat()
        recorded = now.astimezone(UTC).isoformat()
        with self.store.transaction("catalog_documents") as conn:
            row = conn.execute(
                "SELECT version, event_id FROM catalog_documents WHERE document_id=?",
                (event.document_id,),
            ).fetchone()
            if row is not None and (
                row[0] > event.version or (row[0] == event.version and row[1] != event.event_id)
            ):
                return False
            conn.execute(
                "INSERT INTO catalog_versions (document_id, version, event_id, kind, action,"
                " department, occurred_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (document_id, version) DO NOTHING",
                (
                    event.document_id,
                    event.version,
                    event.event_id,
                    event.kind.value,
                    event.action.value,
                    event.department,
                    occurred,
                    json.dumps(
                        event.payload.model_dump(mode="json", exclude_none=True),
                        ensure_ascii=False,
                        sort_keys=True,
                    ),
                ),
            )
            if isinstance(event, RetractEvent):
                if row is None:
                    # Withdrawn before the catalog saw it published: remember the withdrawal.
                    conn.execute(
                        f"INSERT INTO catalog_documents ({_COLUMNS}, recorded_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, 1, ?, NULL, ?, ?)",
                        (
                            event.document_id,
                            event.kind.value,
                            event.version,
                            event.event_id,
                            event.action.value,
                            event.department,
                            event.payload.reason,
                            occurred,
                            recorded,
                        ),
                    )
                else:
                    conn.execute(
                        "UPDATE catalog_documents SET version=?, event_id=?, action=?,"
                        " retracted=1, retract_reason=?, updated_at=?, recorded_at=?"
                        " WHERE document_id=?",
                        (
                            event.version,
                            event.event_id,
                            event.action.value,
                            event.payload.reason,
                            occurred,
                            recorded,
                            event.document_id,
                        ),
                    )
                return True
            payload = event.payload.model_dump(mode="json", exclude_none=True)
            _record_display(conn, event.document_id, event.kind.value, payload)
            conn.execute(
                f"INSERT INTO catalog_documents ({_COLUMNS}, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, ?, ?)"
                " ON CONFLICT (document_id) DO UPDATE SET kind=excluded.kind,"
                " version=excluded.version, event_id=excluded.event_id, action=excluded.action,"
                " department=excluded.department, title=excluded.title, domain=excluded.domain,"
                " quarter=excluded.quarter, role=excluded.role, payload=excluded.payload,"
                " retracted=0, retract_reason=NULL,"
                " first_published_at=COALESCE(catalog_documents.first_published_at,"
                " excluded.first_published_at),"
                " updated_at=excluded.updated_at, recorded_at=excluded.recorded_at",
                (
                    event.document_id,
                    event.kind.value,
                    event.version,
                    event.event_id,
                    event.action.value,
                    event.department,
                    _text(payload, "title"),
                    _text(payload, "domain"),
                    _text(payload, "candidate_quarter"),
                    _role(event),
                    json.dumps(payload, ensure_ascii=False, sort_keys=True),
                    occurred,
                    occurred,
                    recorded,
                ),
            )
        return True

    def get(self, document_id: str) -> CatalogEntry | None:
        """The latest state of one document, or None if the catalog has not seen it."""
        row = self.store.conn.execute(
            f"SELECT {_COLUMNS} FROM catalog_documents WHERE document_id=?", (document_id,)
        ).fetchone()
        return None if row is None else _entry(row)

    def current_of_kind(self, kind: str) -> list[CatalogEntry]:
        """Every document of ``kind`` that is not withdrawn, in its latest version, by
        ``document_id``."""
        rows = self.store.conn.execute(
            f"SELECT {_COLUMNS} FROM catalog_documents WHERE kind=? AND retracted=0"
            " ORDER BY document_id",
            (kind,),
        )
        return [_entry(row) for row in rows]

    def exposure_candidates(self, quarter: str, domain: str) -> list[CatalogEntry]:
        """Exposure candidates of ``quarter`` in ``domain`` that are not withdrawn,
        oldest first (then by document_id), the order they are listed in a batch."""
        rows = self.store.conn.execute(
            f"SELECT {_COLUMNS} FROM catalog_documents WHERE kind='exposure' AND role='candidate'"
            " AND quarter=? AND domain=? AND retracted=0"
            " ORDER BY first_published_at, document_id",
            (quarter, domain),
        )
        return [_entry(row) for row in rows]

    def penalty_standing(
        self,
        document_id: str,
        *,
        on: date,
        display_until: Callable[[PenaltyPayload], date],
    ) -> PenaltyCheck:
        """Whether penalty decision ``document_id`` is published, not withdrawn, publishable
        and within its display period on day ``on``.

        ``display_until`` gives the last day a decision is displayed: its own
        ``display_until``, else the end of the period configured for it (the caller's
        display periods, ``producers.releases.display``).
        """
        entry = self.get(document_id)
        if entry is None:
            return PenaltyCheck(
                document_id,
                PenaltyStanding.NOT_PUBLISHED,
                f"penalty decision {document_id} is not published",
            )
        if entry.kind != "penalty":
            return PenaltyCheck(
                document_id,
                PenaltyStanding.NOT_A_PENALTY,
                f"{document_id} is a {entry.kind} document, not a penalty decision",
            )
        if entry.retracted or entry.payload is None:
            return PenaltyCheck(
                document_id,
                PenaltyStanding.RETRACTED,
                f"penalty decision {document_id} was withdrawn: {entry.retract_reason or '-'}",
            )
        penalty = PenaltyPayload.model_validate(entry.payload)
        if penalty.is_minor or penalty.involves_secrets or penalty.security_risk:
            return PenaltyCheck(
                document_id,
                PenaltyStanding.NOT_PUBLISHABLE,
                f"penalty decision {document_id} is flagged as never to be published"
                " (minor, secrets or security risk)",
            )
        until = display_until(penalty)
        if penalty.decided_on > on:
            return PenaltyCheck(
                document_id,
                PenaltyStanding.NOT_YET_DECIDED,
                f"penalty decision {document_id} is dated {penalty.decided_on}, after {on}",
                until,
            )
        if until < on:
            return PenaltyCheck(
                document_id,
                PenaltyStanding.DISPLAY_ENDED,
                f"the display period of penalty decision {document_id} ended on {until}",
                until,
            )
        return PenaltyCheck(
            document_id,
            PenaltyStanding.IN_EFFECT,
            f"penalty decision {document_id} is published until {until}",
            until,
        )

    def histories(self, kinds: Sequence[str]) -> Iterator[DocumentHistory]:
        """Every document of ``kinds`` with all its versions, by ``document_id``."""
        marks = ",".join("?" * len(kinds))
        rows = self.store.conn.execute(
            "SELECT document_id, kind, version, event_id, action, department, occurred_at,"
            f" payload FROM catalog_versions WHERE kind IN ({marks})"
            " ORDER BY document_id, version",
            list(kinds),
        )
        current: str | None = None
        kind = ""
        versions: list[CatalogVersion] = []
        for document_id, row_kind, version, event_id, action, department, at, payload in rows:
            if document_id != current:
                if current is not None:
                    yield DocumentHistory(current, kind, tuple(versions))
                current, kind, versions = document_id, row_kind, []
            versions.append(
                CatalogVersion(
                    version=int(version),
                    event_id=event_id,
                    action=action,
                    department=department,
                    occurred_at=datetime.fromisoformat(at),
                    payload=json.loads(payload),
                )
            )
        if current is not None:
            yield DocumentHistory(current, kind, tuple(versions))

    def without_history(self) -> list[str]:
        """Documents the catalog holds but has no version of: recorded before it kept
        versions (``govpub replay --channel catalog`` fills them in from the topics)."""
        rows = self.store.conn.execute(
            "SELECT d.document_id FROM catalog_documents d WHERE NOT EXISTS"
            " (SELECT 1 FROM catalog_versions v WHERE v.document_id = d.document_id)"
            " ORDER BY d.document_id"
        )
        return [str(row[0]) for row in rows]

    def displayed_penalties(self, *, ending_before: date) -> list[DisplayedPenalty]:
        """Published penalty decisions, not withdrawn, whose display ends before
        ``ending_before`` (their ``display_until`` is earlier), soonest first, and those
        without a take-down date (``display_until`` None), whose end the caller computes."""
        self._index_display()
        rows = self.store.conn.execute(
            "SELECT c.document_id, c.version, c.department, c.title, c.payload, d.display_until"
            " FROM catalog_display d JOIN catalog_documents c ON c.document_id = d.document_id"
            " WHERE c.kind='penalty' AND c.retracted=0 AND c.payload IS NOT NULL"
            " AND (d.display_until IS NULL OR d.display_until < ?)"
            " ORDER BY d.display_until NULLS FIRST, c.document_id",
            (ending_before.isoformat(),),
        )
        return [
            DisplayedPenalty(
                document_id=str(row[0]),
                version=int(row[1]),
                department=str(row[2]),
                title=row[3],
                payload=PenaltyPayload.model_validate(json.loads(row[4])),
                display_until=None if row[5] is None else date.fromisoformat(row[5]),
            )
            for row in rows
        ]

    def display_ends(self) -> dict[str, date]:
        """The last day each penalty decision the catalog has seen is (or was) displayed,
        withdrawn ones included; decisions published without a take-down date are left out."""
        self._index_display()
        rows = self.store.conn.execute(
            "SELECT document_id, display_until FROM catalog_display WHERE display_until IS NOT NULL"
        )
        return {str(row[0]): date.fromisoformat(row[1]) for row in rows}

    def _index_display(self) -> None:
        """Take-down dates of penalty decisions recorded before ``catalog_display`` existed."""
        if self.store.conn.execute(_UNINDEXED_PENALTIES + " LIMIT 1").fetchone() is None:
            return
        # Read again under the catalog's key: a decision recorded meanwhile keeps the
        # take-down date of its own version.
        with self.store.transaction("catalog_documents") as conn:
            for document_id, payload in conn.execute(_UNINDEXED_PENALTIES).fetchall():
                _record_display(conn, str(document_id), "penalty", json.loads(payload))

    def count(self, kinds: Sequence[str] = ()) -> int:
        """How many documents the catalog holds (of ``kinds``, if given)."""
        if kinds:
            marks = ",".join("?" * len(kinds))
            sql = f"SELECT COUNT(*) FROM catalog_documents WHERE kind IN ({marks})"
            return int(self.store.conn.execute(sql, list(kinds)).fetchone()[0])
        return int(self.store.conn.execute("SELECT COUNT(*) FROM catalog_documents").fetchone()[0])


_UNINDEXED_PENALTIES = (
    "SELECT c.document_id, c.payload FROM catalog_documents c"
    " LEFT JOIN catalog_display d ON d.document_id = c.document_id"
    " WHERE c.kind='penalty' AND c.payload IS NOT NULL AND d.document_id IS NULL"
)


def _record_display(conn: Connection, document_id: str, kind: str, payload: dict[str, Any]) -> None:
    """Keep a penalty decision's take-down date (a document of another kind has none)."""
    if kind != "penalty":
        conn.execute("DELETE FROM catalog_display WHERE document_id=?", (document_id,))
        return
    until = payload.get("display_until")
    conn.execute(
        "INSERT INTO catalog_display (document_id, display_until) VALUES (?, ?)"
        " ON CONFLICT (document_id) DO UPDATE SET display_until=excluded.display_until",
        (document_id, until if isinstance(until, str) else None),
    )


def _entry(row: tuple[Any, ...]) -> CatalogEntry:
    return CatalogEntry(
        document_id=row[0],
        kind=row[1],
        version=int(row[2]),
        event_id=row[3],
        action=row[4],
        department=row[5],
        title=row[6],
        domain=row[7],
        quarter=row[8],
        role=row[9],
        payload=None if row[10] is None else json.loads(row[10]),
        retracted=bool(row[11]),
        retract_reason=row[12],
        first_published_at=None if row[13] is None else datetime.fromisoformat(row[13]),
        updated_at=datetime.fromisoformat(row[14]),
    )
