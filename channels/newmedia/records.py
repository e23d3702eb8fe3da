"""Delivery records of remote targets, and the small state new-media channels share.

A target record (``deliveries`` row with a ``target``) is written *before* a remote
call (``pending``) and again after it (``sent``/``confirmed`` with the remote ids), so
a crash between the two leaves a ``pending`` record that the next attempt reconciles
with the platform instead of posting a second time.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from govpub.deliveries import DeliveryLog, DeliveryRow, DeliveryState
from govpub.store import Schema, Store
from schemas import AnyEvent

DONE = frozenset({DeliveryState.SENT, DeliveryState.CONFIRMED, DeliveryState.SKIPPED})
"""Target states after which an event is not posted again to that target."""

LIVE = frozenset({DeliveryState.PENDING, DeliveryState.SENT, DeliveryState.CONFIRMED})
"""States of a publish or update that may have a post on the platform."""

FINAL = "final"
"""Key set in ``remote_ids`` of a ``failed`` record that must not be retried (the platform
decided, e.g. its review refused the article)."""

QUEUED = "queued"
"""Key in the ids a withdrawal returns when some of its deletions wait in a queue (a
platform's daily limit): the withdrawal is recorded ``sent`` until they are done."""


@dataclass(frozen=True)
class Posted:
    """What a post (or a reconciliation that found one) achieved."""

    state: DeliveryState
    ids: dict[str, str] = field(default_factory=dict)
    detail: str = ""


class TargetRecords:
    """The records of one channel's targets (accounts, endpoints)."""

    def __init__(self, store: Store, channel: str) -> None:
        self.log = DeliveryLog(store)
        self.channel = channel

    def get(self, event: AnyEvent, target: str) -> DeliveryRow | None:
        """The record of ``event`` on ``target``."""
        return self.log.get(self.channel, event.event_id, target)

    def write(
        self,
        event: AnyEvent,
        target: str,
        state: DeliveryState,
        ids: dict[str, str],
        *,
        detail: str = "",
        error: str | None = None,
        attempt: bool = False,
    ) -> None:
        """Create or replace the record of ``event`` on ``target``; ``attempt`` counts one."""
        self.log.record(
            [
                DeliveryRow(
                    channel=self.channel,
                    target=target,
                    event_id=event.event_id,
                    document_id=event.document_id,
                    kind=event.kind.value,
                    action=event.action.value,
                    version=event.version,
                    state=state,
                    detail=detail,
                    remote_ids=dict(ids),
                    attempts=int(attempt),
                    last_error=error[:2000] if error else None,
                )
            ]
        )

    def live(self, document_id: str) -> dict[str, list[DeliveryRow]]:
        """Publish and update records of a document that may have a post, by target."""
        found: dict[str, list[DeliveryRow]] = {}
        for row in self.log.for_targets(self.channel, document_id):
            if row.action != "retract" and row.state in LIVE:
                found.setdefault(row.target, []).append(row)
        return found

    def mark(
        self,
        row: DeliveryRow,
        state: DeliveryState,
        detail: str,
        ids: dict[str, str] | None = None,
        error: str | None = None,
    ) -> None:
        """Change an existing record (an earlier version's post was removed, say)."""
        self.log.update(
            row.channel,
            row.event_id,
            row.target,
            state=state,
            detail=detail,
            remote_ids=ids if ids is not None else row.remote_ids,
            last_error=error,
        )


_KV_SCHEMA = """
CREATE TABLE IF NOT EXISTS newmedia_state (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (scope, key)
)
"""
STATE_SCHEMA = Schema("newmedia_state", _KV_SCHEMA)
"""The tables of this component, as versioned migrations."""


class SharedState:
    """Small values shared by every worker using the same store: uploaded media ids,
    parked quotas, daily budgets."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        store.ensure_schema(STATE_SCHEMA)

    def get(self, scope: str, key: str) -> str | None:
        """The value of ``scope``/``key``, if set."""
        row = self.store.conn.execute(
            "SELECT value FROM newmedia_state WHERE scope=? AND key=?", (scope, key)
        ).fetchone()
        return None if row is None else str(row[0])

    def put(self, scope: str, key: str, value: str) -> None:
        """Set ``scope``/``key``."""
        with self.store.transaction("newmedia_state") as conn:
            conn.execute(
                "INSERT INTO newmedia_state (scope, key, value, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (scope, key) DO UPDATE SET value=excluded.value,"
                " updated_at=excluded.updated_at",
                (scope, key, value, self.clock()),
            )

    def take(self, scope: str, key: str, limit: int) -> bool:
        """Use one unit of a budget (``limit`` per key, e.g. per account and day); False
        when it is spent. Atomic across workers."""
        with self.store.transaction("newmedia_state") as conn:
            row = conn.execute(
                "SELECT value FROM newmedia_state WHERE scope=? AND key=?", (scope, key)
            ).fetchone()
            used = int(row[0]) if row else 0
            if used >= limit:
                return False
            conn.execute(
                "INSERT INTO newmedia_state (scope, key, value, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (scope, key) DO UPDATE SET value=excluded.value,"
                " updated_at=excluded.updated_at",
                (scope, key, str(used + 1), self.clock()),
            )
            return True
