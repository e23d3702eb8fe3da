"""The party register: which natural persons' names each document concerns.

An exposure case cites its penalty decision (``decision_ref``) and a withdrawal cites
the document it withdraws, but neither carries the party's name: it is in the
decision, and by the time anything reads the bus the decision's name is already
anonymised (李某某). So when the gate masks a penalty's party it records here the
names it masked, under the decision's ``document_id`` (and an exposure's under the
exposure's, the union of its cases'); an exposure candidate or batch, and a
withdrawal reason, are then masked with the names of the documents they cite.

The names are kept for nothing else: never published, never logged, never in the
audit log, and only for parties the gate anonymises (a department that publishes
names records none). They are kept no longer than a document may need them: the daily
take-down forgets them (``producers.releases.retention``). The channels' re-check reads the same table and adds to it
when it has to mask a penalty that reached the bus without passing the gate.

``compliance_parties`` in the state store (:class:`StoredPartyRegister`), or a dict
for a gate without a store (:class:`MemoryPartyRegister`).
"""

import json
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from govpub.store import Schema, Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS compliance_parties (
    document_id TEXT PRIMARY KEY,
    names TEXT NOT NULL,
    recorded_at REAL NOT NULL
)
"""
SCHEMA = Schema("compliance_parties", _SCHEMA)
"""The tables of this component, as versioned migrations."""


class PartyRegister(Protocol):
    """Names of the natural persons each document concerns."""

    def names(self, document_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """The names recorded for each of ``document_ids`` (absent: never recorded)."""
        ...

    def record(self, document_id: str, names: Sequence[str]) -> None:
        """Add ``names`` to those of ``document_id`` (an empty list records "no person")."""
        ...


class MemoryPartyRegister:
    """A register for one process (a gate without a state store)."""

    def __init__(self) -> None:
        self._names: dict[str, tuple[str, ...]] = {}

    def names(self, document_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """The names recorded for each of ``document_ids``."""
        return {d: self._names[d] for d in document_ids if d in self._names}

    def record(self, document_id: str, names: Sequence[str]) -> None:
        """Add ``names`` to those of ``document_id``."""
        known = self._names.get(document_id, ())
        self._names[document_id] = tuple(dict.fromkeys([*known, *names]))


class StoredPartyRegister:
    """The register in the state store, shared by the gate and the channels."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure_schema(SCHEMA)

    def names(self, document_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """The names recorded for each of ``document_ids``."""
        ids = list(dict.fromkeys(document_ids))
        found: dict[str, tuple[str, ...]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self.store.conn.execute(
                "SELECT document_id, names FROM compliance_parties"
                f" WHERE document_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for document_id, names in rows:
                found[document_id] = tuple(json.loads(names))
        return found

    def record(self, document_id: str, names: Sequence[str]) -> None:
        """Add ``names`` to those of ``document_id`` (in one transaction)."""
        with self.store.transaction("compliance_parties") as conn:
            row = conn.execute(
                "SELECT names FROM compliance_parties WHERE document_id=?", (document_id,)
            ).fetchone()
            known: list[str] = json.loads(row[0]) if row else []
            merged = list(dict.fromkeys([*known, *names]))
            if row is not None and merged == known:
                return
            conn.execute(
                "INSERT INTO compliance_parties (document_id, names, recorded_at) VALUES (?, ?, ?)"
                " ON CONFLICT (document_id) DO UPDATE SET names=excluded.names,"
                " recorded_at=excluded.recorded_at",
                (document_id, json.dumps(merged, ensure_ascii=False), time.time()),
            )

    def recorded(self) -> dict[str, datetime]:
        """When the names of each document were last recorded (UTC)."""
        rows = self.store.conn.execute("SELECT document_id, recorded_at FROM compliance_parties")
        return {str(d): datetime.fromtimestamp(float(at), UTC) for d, at in rows}

    def forget(self, document_ids: Iterable[str]) -> int:
        """Delete the names recorded for ``document_ids``; returns how many entries went."""
        ids = list(dict.fromkeys(document_ids))
        deleted = 0
        with self.store.transaction("compliance_parties") as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                cursor = conn.execute(
                    "DELETE FROM compliance_parties"
                    f" WHERE document_id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                deleted += cursor.rowcount
        return deleted
