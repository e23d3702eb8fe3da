"""The version ledger: which events and versions the producers have accepted.

It makes resubmitting an ``event_id`` harmless (the first answer is returned and
nothing is sent twice) and refuses a stale version before it reaches the bus. The
consumers enforce ordering on their own as well, so the ledger is an early,
clear answer for departments, not the last line of defence.
"""

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from govpub.errors import DuplicateEventConflict, StaleVersion
from govpub.store import Schema, Store
from schemas import AnyEvent, encode_event

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accepted_events (
    event_id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'acked')),
    topic TEXT,
    partition INTEGER,
    "offset" INTEGER,
    department TEXT NOT NULL,
    kind TEXT NOT NULL,
    accepted_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS accepted_events_document ON accepted_events (document_id, version)
"""
SCHEMA = Schema("accepted_events", _SCHEMA)
"""The tables of this component, as versioned migrations."""


def event_digest(event: AnyEvent) -> str:
    """SHA-256 of the event's canonical encoding."""
    return hashlib.sha256(encode_event(event)).hexdigest()


class LedgerState(StrEnum):
    """Where an event is in the ledger: reserved before the send, acknowledged after."""

    PENDING = "pending"
    ACKED = "acked"


@dataclass(frozen=True)
class LedgerRecord:
    """What the ledger knows about one event; ``state`` is ``acked`` once the bus stored it."""

    event_id: str
    document_id: str
    version: int
    digest: str
    state: LedgerState
    department: str
    kind: str
    accepted_at: float
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None


@dataclass(frozen=True)
class Reservation:
    """The ledger's answer for one event: new (send it) or already accepted (do not)."""

    event: AnyEvent
    digest: str
    previous: tuple[str, int, int] | None = None  # (topic, partition, offset) of the first send


class VersionLedger:
    """Accepted events and versions, kept in the state store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure_schema(SCHEMA)

    def reserve(self, events: Sequence[AnyEvent]) -> list[Reservation | Exception]:
        """Check each event and reserve its version; one result per event, in order.

        A result is a :class:`Reservation` or the error for that event
        (:class:`StaleVersion`, :class:`DuplicateEventConflict`).
        """
        results: list[Reservation | Exception] = []
        now = time.time()
        with self.store.transaction("accepted_events") as conn:
            for event in events:
                digest = event_digest(event)
                row = conn.execute(
                    'SELECT digest, state, topic, partition, "offset" FROM accepted_events'
                    " WHERE event_id=?",
                    (event.event_id,),
                ).fetchone()
                if row is not None:
                    if row[0] != digest:
                        results.append(DuplicateEventConflict(event.event_id))
                    elif row[1] == LedgerState.ACKED:
                        results.append(Reservation(event, digest, (row[2], row[3], row[4])))
                    else:
                        # A reservation whose send never finished: send again, consumers dedupe.
                        results.append(Reservation(event, digest))
                    continue
                current = conn.execute(
                    "SELECT MAX(version) FROM accepted_events WHERE document_id=?",
                    (event.document_id,),
                ).fetchone()[0]
                if current is not None and current >= event.version:
                    results.append(StaleVersion(event.document_id, event.version, current))
                    continue
                conn.execute(
                    "INSERT INTO accepted_events (event_id, document_id, version, digest, state,"
                    " department, kind, accepted_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
                    (
                        event.event_id,
                        event.document_id,
                        event.version,
                        digest,
                        event.department,
                        event.kind.value,
                        now,
                    ),
                )
                results.append(Reservation(event, digest))
        return results

    def acknowledge(self, acked: Sequence[tuple[str, str, int, int]]) -> None:
        """Mark events as stored on the bus: ``(event_id, topic, partition, offset)``."""
        if not acked:
            return
        with self.store.transaction("accepted_events") as conn:
            conn.executemany(
                "UPDATE accepted_events SET state='acked', topic=?, partition=?, \"offset\"=?"
                " WHERE event_id=?",
                [
                    (topic, partition, offset, event_id)
                    for event_id, topic, partition, offset in acked
                ],
            )

    def release(self, event_ids: Sequence[str]) -> None:
        """Forget reservations whose send failed, so the caller may try again."""
        if not event_ids:
            return
        with self.store.transaction("accepted_events") as conn:
            conn.executemany(
                "DELETE FROM accepted_events WHERE event_id=? AND state='pending'",
                [(event_id,) for event_id in event_ids],
            )

    def current_version(self, document_id: str) -> int | None:
        """The highest accepted version of a document."""
        row = self.store.conn.execute(
            "SELECT MAX(version) FROM accepted_events WHERE document_id=?", (document_id,)
        ).fetchone()
        return None if row[0] is None else int(row[0])

    def department_of(self, document_id: str) -> str | None:
        """The department whose event first reserved ``document_id`` (``None`` if unknown)."""
        row = self.store.conn.execute(
            "SELECT department FROM accepted_events WHERE document_id=? ORDER BY version LIMIT 1",
            (document_id,),
        ).fetchone()
        return None if row is None else str(row[0])

    def lookup(self, event_id: str) -> LedgerRecord | None:
        """The ledger's record of ``event_id`` (``None`` if it was never reserved)."""
        row = self.store.conn.execute(
            "SELECT event_id, document_id, version, digest, state, department, kind, accepted_at,"
            ' topic, partition, "offset" FROM accepted_events WHERE event_id=?',
            (event_id,),
        ).fetchone()
        if row is None:
            return None
        event_id, document_id, version, digest, state, *rest = row
        return LedgerRecord(event_id, document_id, version, digest, LedgerState(state), *rest)
