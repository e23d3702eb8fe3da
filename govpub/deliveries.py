"""The delivery record: the state of every event on every channel (and target).

The runner writes one row per event and channel; channels that post to several
remote targets (accounts, endpoints) add rows with a ``target``. Together with
``channel_documents`` (the version each channel has applied per document) this
is what makes redelivery harmless and keeps older versions from overwriting newer.
"""

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from govpub.store import Schema, Store


class DeliveryState(StrEnum):
    """State of one event on one channel (and target)."""

    PENDING = "pending"
    SENT = "sent"
    CONFIRMED = "confirmed"
    RETRACTED = "retracted"
    SKIPPED = "skipped"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    channel TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    event_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    action TEXT NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    remote_ids TEXT NOT NULL DEFAULT '{}',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    origin TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (channel, event_id, target)
);
CREATE INDEX IF NOT EXISTS deliveries_document ON deliveries (document_id);
CREATE TABLE IF NOT EXISTS channel_documents (
    channel TEXT NOT NULL,
    document_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    version INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    retracted INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL,
    PRIMARY KEY (channel, document_id)
)
"""
# Unfinished withdrawals (`govpub status`) are found by action and state.
_ACTION_STATE_INDEX = (
    "CREATE INDEX IF NOT EXISTS deliveries_action_state ON deliveries (action, state)"
)
SCHEMA = Schema("deliveries", _SCHEMA, _ACTION_STATE_INDEX)
"""The tables of this component, as versioned migrations."""

FINISHED = (
    DeliveryState.SENT,
    DeliveryState.CONFIRMED,
    DeliveryState.RETRACTED,
    DeliveryState.SKIPPED,
    DeliveryState.DEAD_LETTERED,
)
"""States after which the runner does not deliver the event to the channel again."""


UNFINISHED = (
    DeliveryState.PENDING,
    DeliveryState.SENT,
    DeliveryState.FAILED,
    DeliveryState.DEAD_LETTERED,
)
"""States of a record whose work is not done: waiting for the platform, or failed."""


@dataclass(frozen=True)
class DeliveryRow:
    """One event on one channel and target."""

    channel: str
    event_id: str
    document_id: str
    kind: str
    action: str
    version: int
    state: DeliveryState
    target: str = ""
    detail: str = ""
    remote_ids: dict[str, str] = field(default_factory=dict)
    attempts: int = 0
    last_error: str | None = None
    origin: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class AppliedVersion:
    """The version of a document a channel has applied."""

    version: int
    event_id: str
    retracted: bool


def lock_key(channel: str) -> str:
    """The store lock of one channel's delivery records (and applied versions): their
    writers, the channel's consumers and its late confirmations, take turns."""
    return f"deliveries:{channel}"


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class DeliveryLog:
    """Reads and writes delivery records in the state store."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        store.ensure_schema(SCHEMA)

    def finished(
        self, channel: str, event_ids: Sequence[str], *, states: Sequence[DeliveryState] = FINISHED
    ) -> set[str]:
        """The subset of ``event_ids`` already finished on ``channel``."""
        return self._runner_records(channel, event_ids, states)

    def recorded(self, channel: str, event_ids: Sequence[str]) -> set[str]:
        """The subset of ``event_ids`` the runner has recorded on ``channel``, in any state
        (a channel waits for this before it settles what a platform answers later)."""
        return self._runner_records(channel, event_ids, tuple(DeliveryState))

    def _runner_records(
        self, channel: str, event_ids: Sequence[str], states: Sequence[DeliveryState]
    ) -> set[str]:
        done: set[str] = set()
        marks = ",".join("?" * len(states))
        for chunk in _chunks(list(event_ids)):
            rows = self.store.conn.execute(
                f"SELECT event_id FROM deliveries WHERE channel=? AND target=''"
                f" AND state IN ({marks}) AND event_id IN ({','.join('?' * len(chunk))})",
                [channel, *[s.value for s in states], *chunk],
            )
            done.update(row[0] for row in rows)
        return done

    def applied_versions(
        self, channel: str, document_ids: Sequence[str]
    ) -> dict[str, AppliedVersion]:
        """The version ``channel`` has applied for each of ``document_ids``."""
        found: dict[str, AppliedVersion] = {}
        for chunk in _chunks(sorted(set(document_ids))):
            rows = self.store.conn.execute(
                "SELECT document_id, version, event_id, retracted FROM channel_documents"
                f" WHERE channel=? AND document_id IN ({','.join('?' * len(chunk))})",
                [channel, *chunk],
            )
            for document_id, version, event_id, retracted in rows:
                found[document_id] = AppliedVersion(version, event_id, bool(retracted))
        return found

    def record(self, rows: Sequence[DeliveryRow]) -> None:
        """Write delivery rows; applied ones also move the channel's document version."""
        if not rows:
            return
        now = self.clock()
        with self.store.transaction(*{lock_key(r.channel) for r in rows}) as conn:
            conn.executemany(
                "INSERT INTO deliveries (channel, target, event_id, document_id, kind, action,"
                " version, state, detail, remote_ids, attempts, last_error, origin,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (channel, event_id, target) DO UPDATE SET state=excluded.state,"
                " detail=excluded.detail, remote_ids=excluded.remote_ids,"
                " attempts=deliveries.attempts + excluded.attempts,"
                " last_error=excluded.last_error, origin=excluded.origin,"
                " updated_at=excluded.updated_at",
                [
                    (
                        r.channel,
                        r.target,
                        r.event_id,
                        r.document_id,
                        r.kind,
                        r.action,
                        r.version,
                        r.state.value,
                        r.detail,
                        json.dumps(r.remote_ids, ensure_ascii=False, sort_keys=True),
                        r.attempts,
                        r.last_error,
                        r.origin,
                        now,
                        now,
                    )
                    for r in rows
                ],
            )
            applied = [
                r
                for r in rows
                if r.target == ""
                and r.state
                in (DeliveryState.SENT, DeliveryState.CONFIRMED, DeliveryState.RETRACTED)
            ]
            conn.executemany(
                "INSERT INTO channel_documents (channel, document_id, kind, version, event_id,"
                " retracted, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (channel, document_id) DO UPDATE SET version=excluded.version,"
                " event_id=excluded.event_id, retracted=excluded.retracted,"
                " kind=excluded.kind, updated_at=excluded.updated_at"
                " WHERE excluded.version >= channel_documents.version",
                [
                    (
                        r.channel,
                        r.document_id,
                        r.kind,
                        r.version,
                        r.event_id,
                        int(r.action == "retract"),
                        now,
                    )
                    for r in applied
                ],
            )

    def for_document(self, document_id: str) -> list[DeliveryRow]:
        """Every delivery record of one document, oldest first."""
        return self._select(
            "WHERE document_id=? ORDER BY created_at, channel, target", [document_id]
        )

    def for_event(self, event_id: str) -> list[DeliveryRow]:
        """Every delivery record of one event."""
        return self._select("WHERE event_id=? ORDER BY channel, target", [event_id])

    def counts(self) -> dict[str, dict[str, int]]:
        """``{channel: {state: count}}`` over the runner's records (one per event and channel)."""
        result: dict[str, dict[str, int]] = {}
        for channel, state, count in self.store.conn.execute(
            "SELECT channel, state, COUNT(*) FROM deliveries WHERE target=''"
            " GROUP BY channel, state"
        ):
            result.setdefault(channel, {})[state] = count
        return result

    def target_counts(self) -> dict[tuple[str, str], dict[str, int]]:
        """``{(channel, target): {state: count}}`` over the records of remote targets."""
        result: dict[tuple[str, str], dict[str, int]] = {}
        for channel, target, state, count in self.store.conn.execute(
            "SELECT channel, target, state, COUNT(*) FROM deliveries WHERE target<>''"
            " GROUP BY channel, target, state ORDER BY channel, target"
        ):
            result.setdefault((channel, target), {})[state] = count
        return result

    def unfinished(self, action: str, *, limit: int) -> tuple[int, list[DeliveryRow]]:
        """Records of ``action`` events (``retract``: withdrawals) that are not done on
        their channel or target — pending, sent and waiting, failed, dead-lettered — how
        many, and the ``limit`` most recently changed."""
        marks = ",".join("?" * len(UNFINISHED))
        states = [s.value for s in UNFINISHED]
        count = self.store.conn.execute(
            f"SELECT COUNT(*) FROM deliveries WHERE action=? AND state IN ({marks})",
            [action, *states],
        ).fetchone()[0]
        rows = self._select(
            f"WHERE action=? AND state IN ({marks}) ORDER BY updated_at DESC, channel, target"
            " LIMIT ?",
            [action, *states, limit],
        )
        return int(count), rows

    def latest_by_target(
        self, channel: str, state: DeliveryState, *, until: float
    ) -> dict[str, DeliveryRow]:
        """For each target of ``channel``, its publish or update record in ``state`` that
        changed last at or before ``until`` (Unix time); targets without one are absent."""
        rows = self._select(
            "WHERE channel=? AND target<>'' AND state=? AND action<>'retract' AND updated_at<=?"
            " ORDER BY target, updated_at, event_id",
            [channel, state.value, until],
        )
        return {row.target: row for row in rows}  # the newest of each target comes last

    def get(self, channel: str, event_id: str, target: str = "") -> DeliveryRow | None:
        """The record of one event on one channel and target, if any."""
        rows = self._select(
            "WHERE channel=? AND event_id=? AND target=?", [channel, event_id, target]
        )
        return rows[0] if rows else None

    def for_targets(self, channel: str, document_id: str) -> list[DeliveryRow]:
        """Every target record (``target`` not empty) of one document on one channel,
        oldest version first."""
        return self._select(
            "WHERE channel=? AND document_id=? AND target<>'' ORDER BY version, created_at, target",
            [channel, document_id],
        )

    def update(
        self,
        channel: str,
        event_id: str,
        target: str,
        *,
        state: DeliveryState,
        detail: str | None = None,
        remote_ids: dict[str, str] | None = None,
        last_error: str | None = None,
    ) -> bool:
        """Change the state of an existing record (a platform confirmed or removed a post
        later); keeps its attempts and origin. Returns whether a record was changed."""
        sets = ["state=?", "last_error=?", "updated_at=?"]
        params: list[Any] = [state.value, last_error, self.clock()]
        if detail is not None:
            sets.append("detail=?")
            params.append(detail)
        if remote_ids is not None:
            sets.append("remote_ids=?")
            params.append(json.dumps(remote_ids, ensure_ascii=False, sort_keys=True))
        with self.store.transaction(lock_key(channel)) as conn:
            cursor = conn.execute(
                f"UPDATE deliveries SET {', '.join(sets)}"
                " WHERE channel=? AND event_id=? AND target=?",
                [*params, channel, event_id, target],
            )
            return cursor.rowcount > 0

    def settle(
        self,
        channel: str,
        event_id: str,
        target: str,
        *,
        state: DeliveryState,
        detail: str,
        remote_ids: dict[str, str],
        last_error: str | None = None,
        all_confirmed: str = "confirmed on every target",
    ) -> None:
        """Record what a platform decided later about a post (or a removal) it had accepted
        (the runner recorded the event ``sent``): ``target``'s record takes ``state``; once
        every target of the event on ``channel`` is ``confirmed`` (or, for a withdrawal,
        ``retracted``), the runner's ``sent`` record takes that state too, with the detail
        ``all_confirmed``. One transaction: two workers settling two targets of one event
        at once cannot both miss the last one."""
        with self.store.transaction(lock_key(channel)):
            self.update(
                channel,
                event_id,
                target,
                state=state,
                detail=detail,
                remote_ids=remote_ids,
                last_error=last_error,
            )
            if state not in (DeliveryState.CONFIRMED, DeliveryState.RETRACTED):
                return
            targets = [r for r in self.for_event(event_id) if r.channel == channel and r.target]
            if not targets or any(r.state is not state for r in targets):
                return
            summary = self.get(channel, event_id)
            if summary is None or summary.state is not DeliveryState.SENT:
                return
            if state is DeliveryState.RETRACTED and summary.action != "retract":
                return  # a post the account deleted itself: its publication stays as recorded
            self.update(channel, event_id, "", state=state, detail=all_confirmed)

    def _select(self, where: str, params: list[Any]) -> list[DeliveryRow]:
        sql = (
            "SELECT channel, event_id, document_id, kind, action, version, state, target, detail,"
            " remote_ids, attempts, last_error, origin, created_at, updated_at"
            f" FROM deliveries {where}"
        )
        rows = self.store.conn.execute(sql, params)
        return [
            DeliveryRow(
                channel=r[0],
                event_id=r[1],
                document_id=r[2],
                kind=r[3],
                action=r[4],
                version=r[5],
                state=DeliveryState(r[6]),
                target=r[7],
                detail=r[8],
                remote_ids=json.loads(r[9]),
                attempts=r[10],
                last_error=r[11],
                origin=r[12],
                created_at=r[13],
                updated_at=r[14],
            )
            for r in rows
        ]
