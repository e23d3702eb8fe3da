"""The documents the gate has passed, and the links between them.

A consultation's result is an update of a consultation that was published; a policy
adopted from a consultation names it (``consultation_ref``) and the consultation names
the policy (``adopted_as``); a policy that is amended or replaced names its successor
(``superseded_by``). The gate refuses a link to a document nobody published and a
chain of ``superseded_by`` that comes back to where it started. It reads that from
here: ``compliance_documents`` in the state store (:class:`StoredDocumentRegister`),
one row per document the gate passed, with its kind and its ``superseded_by``, and
the version ledger for documents published before the register existed.

A document is recorded when it passes the gate, before it is sent: a later event of
the same batch or file may link to it. An event that passed the gate but whose send
failed stays recorded; a link to it is accepted, and the department sends it again.
"""

import time
from collections.abc import Iterator
from typing import Protocol

from govpub.store import Schema, Store
from producers.ledger import VersionLedger

_SCHEMA = """
CREATE TABLE IF NOT EXISTS compliance_documents (
    document_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    superseded_by TEXT,
    recorded_at REAL NOT NULL
)
"""
SCHEMA = Schema("compliance_documents", _SCHEMA)
"""The tables of this component, as versioned migrations."""

MAX_CHAIN = 1_000
"""Longest revision chain followed when looking for a loop."""


class DocumentRegister(Protocol):
    """Which documents exist, of which kind, and what supersedes each."""

    def kind_of(self, document_id: str) -> str | None:
        """The kind of ``document_id``; ``None`` when nobody published it."""

    def superseded_by(self, document_id: str) -> str | None:
        """The document recorded as superseding ``document_id``."""

    def record(self, document_id: str, kind: str, superseded_by: str | None) -> None:
        """Remember a document the gate passed."""


class MemoryDocumentRegister:
    """The register of a gate without a state store (it knows what it passed)."""

    def __init__(self) -> None:
        self._documents: dict[str, tuple[str, str | None]] = {}

    def kind_of(self, document_id: str) -> str | None:
        """The kind of ``document_id`` if this gate passed it."""
        found = self._documents.get(document_id)
        return None if found is None else found[0]

    def superseded_by(self, document_id: str) -> str | None:
        """What supersedes ``document_id``, as this gate saw it."""
        found = self._documents.get(document_id)
        return None if found is None else found[1]

    def record(self, document_id: str, kind: str, superseded_by: str | None) -> None:
        """Remember a document."""
        self._documents[document_id] = (kind, superseded_by)


class StoredDocumentRegister:
    """The register in the state store; falls back on the version ledger's
    ``accepted_events`` for the kind of documents accepted before it existed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure_schema(SCHEMA)
        self.ledger = VersionLedger(store)

    def kind_of(self, document_id: str) -> str | None:
        """The kind of ``document_id``, from the register or the version ledger."""
        row = self.store.conn.execute(
            "SELECT kind FROM compliance_documents WHERE document_id=?", (document_id,)
        ).fetchone()
        if row is not None:
            return str(row[0])
        return self.ledger.kind_of(document_id)

    def superseded_by(self, document_id: str) -> str | None:
        """What the register records as superseding ``document_id``."""
        row = self.store.conn.execute(
            "SELECT superseded_by FROM compliance_documents WHERE document_id=?", (document_id,)
        ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def record(self, document_id: str, kind: str, superseded_by: str | None) -> None:
        """Remember (or update) a document, in one transaction."""
        with self.store.transaction("compliance_documents") as conn:
            conn.execute(
                "INSERT INTO compliance_documents (document_id, kind, superseded_by, recorded_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (document_id) DO UPDATE SET"
                " kind=excluded.kind, superseded_by=excluded.superseded_by,"
                " recorded_at=excluded.recorded_at",
                (document_id, kind, superseded_by, time.time()),
            )


def revision_chain(register: DocumentRegister, start: str) -> Iterator[str]:
    """``start`` and the documents that supersede it in turn, as far as the register
    knows (stops at a loop or after :data:`MAX_CHAIN`)."""
    seen: set[str] = set()
    current: str | None = start
    while current is not None and current not in seen and len(seen) < MAX_CHAIN:
        seen.add(current)
        yield current
        current = register.superseded_by(current)
