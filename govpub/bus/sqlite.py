"""The embedded bus: a durable log in one SQLite file (WAL).

Same semantics as Kafka where govpub relies on them: topics with partitions
chosen by key, offsets, committed positions per consumer group, and partitions
shared among the members of a group by leases, so several processes on one
machine can produce and consume safely. A batch of sends is one transaction, so
a writer killed mid-batch leaves nothing half-written.
"""

import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Self

from govpub.bus.base import GroupDescription, GroupMember, Record, SendResult, TopicPartition
from govpub.errors import BusError, CommitFailed, ConfigurationError, PublishFailed
from govpub.store import connect_sqlite

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bus_topics (
    name TEXT PRIMARY KEY,
    partitions INTEGER NOT NULL CHECK (partitions > 0)
);
CREATE TABLE IF NOT EXISTS bus_log (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    key BLOB,
    value BLOB NOT NULL,
    headers TEXT NOT NULL DEFAULT '[]',
    timestamp_ms INTEGER NOT NULL,
    PRIMARY KEY (topic, partition, offset)
);
CREATE TABLE IF NOT EXISTS bus_group_offsets (
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
);
CREATE TABLE IF NOT EXISTS bus_group_members (
    group_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    heartbeat_at REAL NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE TABLE IF NOT EXISTS bus_partition_owners (
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    member_id TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
)
"""

_TOPIC_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def check_topic_name(name: str) -> None:
    """Refuse names Kafka would refuse, so both transports accept the same topics."""
    if not 1 <= len(name) <= 249 or not set(name) <= _TOPIC_CHARS or name in (".", ".."):
        raise ConfigurationError(
            f"topic: {name!r} is not a legal topic name ([A-Za-z0-9._-], ≤ 249)"
        )


def _encode_headers(headers: Sequence[tuple[str, bytes]]) -> str:
    return json.dumps([[name, value.hex()] for name, value in headers])


def _decode_headers(text: str) -> tuple[tuple[str, bytes], ...]:
    return tuple((name, bytes.fromhex(value)) for name, value in json.loads(text))


class SqliteBus:
    """The embedded transport (``GOVPUB_BUS=sqlite:///PATH``)."""

    def __init__(self, path: Path, *, partitions: int = 3, session_timeout: float = 10.0) -> None:
        self.path = path
        self.partitions = partitions
        self.session_timeout = session_timeout

    def connect(self) -> sqlite3.Connection:
        """A new connection with the log's tables in place (one per producer or consumer)."""
        conn = connect_sqlite(self.path, synchronous="FULL")
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                conn.execute(statement)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.close()
            raise BusError(f"cannot prepare the embedded bus at {self.path}: {exc}") from None
        return conn

    def ensure_topics(self, topics: Iterable[str]) -> None:
        """Create missing topics with ``partitions`` partitions; existing ones are kept."""
        names = list(topics)
        for name in names:
            check_topic_name(name)
        conn = self.connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT OR IGNORE INTO bus_topics (name, partitions) VALUES (?, ?)",
                [(name, self.partitions) for name in names],
            )
            conn.execute("COMMIT")
        finally:
            conn.close()

    def producer(self) -> "SqliteProducer":
        """A new producer with its own connection."""
        return SqliteProducer(self.connect())

    def consumer(self, topics: Sequence[str], *, group: str | None) -> "SqliteConsumer":
        """A new consumer with its own connection."""
        return SqliteConsumer(self.connect(), list(topics), group, self.session_timeout)

    def committed_lag(self, group: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
        """Records after ``group``'s committed position, per partition."""
        conn = self.connect()
        try:
            committed = _committed(conn, group, topics)
            return {tp: _end_offset(conn, tp) - offset for tp, offset in committed.items()}
        finally:
            conn.close()

    def committed_offsets(self, group: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
        """``group``'s committed position per partition (0 where it has none)."""
        conn = self.connect()
        try:
            return _committed(conn, group, topics)
        finally:
            conn.close()

    def end_offsets(self, topics: Sequence[str]) -> dict[TopicPartition, int]:
        """The offset the next record of each partition will get."""
        conn = self.connect()
        try:
            return {tp: _end_offset(conn, tp) for tp in _partitions(conn, topics)}
        finally:
            conn.close()

    def describe_group(self, group: str) -> GroupDescription:
        """The group's live members (heartbeat within the session timeout) and the
        partitions each holds."""
        conn = self.connect()
        try:
            now = time.time()
            members = [
                row[0]
                for row in conn.execute(
                    "SELECT member_id FROM bus_group_members WHERE group_id=? AND heartbeat_at>=?"
                    " ORDER BY member_id",
                    (group, now - self.session_timeout),
                )
            ]
            held: dict[str, set[TopicPartition]] = {m: set() for m in members}
            for topic, partition, member in conn.execute(
                "SELECT topic, partition, member_id FROM bus_partition_owners"
                " WHERE group_id=? AND expires_at>=?",
                (group, now),
            ):
                held.setdefault(member, set()).add(TopicPartition(topic, partition))
        finally:
            conn.close()
        return GroupDescription(
            group,
            "Stable" if held else "Empty",
            tuple(
                GroupMember(member, member.rsplit("-", 2)[0], frozenset(parts))
                for member, parts in sorted(held.items())
            ),
        )

    def close(self) -> None:
        """Nothing to release: every producer and consumer owns its connection."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _partitions(conn: sqlite3.Connection, topics: Sequence[str]) -> list[TopicPartition]:
    rows = conn.execute(
        f"SELECT name, partitions FROM bus_topics WHERE name IN ({','.join('?' * len(topics))})",
        list(topics),
    ).fetchall()
    return sorted(TopicPartition(name, p) for name, count in rows for p in range(count))


def _committed(
    conn: sqlite3.Connection, group: str, topics: Sequence[str]
) -> dict[TopicPartition, int]:
    committed = dict.fromkeys(_partitions(conn, topics), 0)
    for topic, partition, offset in conn.execute(
        "SELECT topic, partition, offset FROM bus_group_offsets WHERE group_id=?", (group,)
    ):
        tp = TopicPartition(topic, partition)
        if tp in committed:
            committed[tp] = offset
    return committed


def _end_offset(conn: sqlite3.Connection, tp: TopicPartition) -> int:
    row = conn.execute(
        "SELECT MAX(offset) FROM bus_log WHERE topic=? AND partition=?", (tp.topic, tp.partition)
    ).fetchone()
    return 0 if row[0] is None else int(row[0]) + 1


class _SqliteSendFuture:
    def __init__(self, producer: "SqliteProducer") -> None:
        self._producer = producer
        self._done = threading.Event()
        self._result: SendResult | None = None
        self._error: PublishFailed | None = None

    def _resolve(self, result: SendResult | None, error: PublishFailed | None = None) -> None:
        self._result, self._error = result, error
        self._done.set()

    def result(self, timeout: float | None = None) -> SendResult:
        if not self._done.is_set():
            self._producer.flush()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


_Pending = tuple[str, bytes | None, bytes, Sequence[tuple[str, bytes]], _SqliteSendFuture]


class SqliteProducer:
    """Buffers sends and writes each buffer in one transaction (fsync'd: synchronous=FULL)."""

    max_buffer = 1000

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._round_robin = 0

    def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> _SqliteSendFuture:
        """Queue a message; it is stored at the next flush (or when the buffer is full)."""
        future = _SqliteSendFuture(self)
        with self._lock:
            self._pending.append((topic, key, value, headers, future))
            if len(self._pending) >= self.max_buffer:
                self._flush_locked()
        return future

    def flush(self, timeout: float | None = None) -> None:
        """Store every queued message; raises ``PublishFailed`` if the write failed."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        conn = self._conn
        results: list[tuple[_SqliteSendFuture, SendResult | None, PublishFailed | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            counts: dict[str, int | None] = {}
            heads: dict[TopicPartition, int] = {}
            rows = []
            now_ms = int(time.time() * 1000)
            for topic, key, value, headers, future in batch:
                if topic not in counts:
                    row = conn.execute(
                        "SELECT partitions FROM bus_topics WHERE name=?", (topic,)
                    ).fetchone()
                    counts[topic] = row[0] if row else None
                count = counts[topic]
                if count is None:
                    results.append((future, None, PublishFailed(f"topic {topic!r} does not exist")))
                    continue
                if key is None:
                    partition = self._round_robin % count
                    self._round_robin += 1
                else:
                    partition = zlib.crc32(key) % count
                tp = TopicPartition(topic, partition)
                if tp not in heads:
                    heads[tp] = _end_offset(conn, tp)
                offset = heads[tp]
                heads[tp] = offset + 1
                rows.append(
                    (topic, partition, offset, key, value, _encode_headers(headers), now_ms)
                )
                results.append((future, SendResult(topic, partition, offset), None))
            conn.executemany(
                "INSERT INTO bus_log (topic, partition, offset, key, value, headers, timestamp_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failure = PublishFailed(f"embedded bus write failed: {exc}")
            for _, _, _, _, future in batch:
                future._resolve(None, failure)
            raise failure from None
        for future, result, error in results:
            future._resolve(result, error)

    def close(self) -> None:
        """Flush what is queued and close the connection."""
        try:
            self.flush()
        finally:
            self._conn.close()


class SqliteConsumer:
    """Reads a group's share of partitions; leases keep two members off one partition."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        topics: list[str],
        group: str | None,
        session_timeout: float,
    ) -> None:
        self._conn = conn
        self._topics = topics
        self._group = group
        self._session_timeout = session_timeout
        self._heartbeat_interval = min(1.0, session_timeout / 3)
        self._member_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._positions: dict[TopicPartition, int] = {}
        self._last_rebalance = float("-inf")
        self._rotation = 0
        self._closed = False

    def assignment(self) -> set[TopicPartition]:
        """Partitions this member reads now."""
        return set(self._positions)

    def poll(self, timeout: float, max_records: int) -> list[Record]:
        """Up to ``max_records`` records; waits up to ``timeout`` seconds for the first."""
        deadline = time.monotonic() + timeout
        pause = 0.005
        while True:
            if time.monotonic() - self._last_rebalance >= self._heartbeat_interval:
                self._rebalance()
            records = self._fetch(max_records)
            remaining = deadline - time.monotonic()
            if records or remaining <= 0:
                return records
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.1)

    def _fetch(self, max_records: int) -> list[Record]:
        assigned = sorted(self._positions)
        if not assigned:
            return []
        self._rotation = (self._rotation + 1) % len(assigned)
        records: list[Record] = []
        for tp in assigned[self._rotation :] + assigned[: self._rotation]:
            want = max_records - len(records)
            if want <= 0:
                break
            rows = self._conn.execute(
                "SELECT offset, key, value, headers, timestamp_ms FROM bus_log"
                " WHERE topic=? AND partition=? AND offset>=? ORDER BY offset LIMIT ?",
                (tp.topic, tp.partition, self._positions[tp], want),
            ).fetchall()
            for offset, key, value, headers, ts in rows:
                records.append(
                    Record(tp.topic, tp.partition, offset, key, value, ts, _decode_headers(headers))
                )
            if rows:
                self._positions[tp] = rows[-1][0] + 1
        return records

    def _rebalance(self) -> None:
        self._last_rebalance = time.monotonic()
        partitions = _partitions(self._conn, self._topics)
        if self._group is None:
            for tp in partitions:
                self._positions.setdefault(tp, 0)
            return
        group, me, now = self._group, self._member_id, time.time()
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO bus_group_members (group_id, member_id, heartbeat_at) VALUES (?, ?, ?)"
                " ON CONFLICT (group_id, member_id) DO UPDATE SET heartbeat_at=excluded.heartbeat_at",
                (group, me, now),
            )
            conn.execute(
                "DELETE FROM bus_group_members WHERE group_id=? AND heartbeat_at<?",
                (group, now - self._session_timeout),
            )
            members = [
                row[0]
                for row in conn.execute(
                    "SELECT member_id FROM bus_group_members WHERE group_id=? ORDER BY member_id",
                    (group,),
                )
            ]
            index = members.index(me)
            desired = {tp for i, tp in enumerate(partitions) if i % len(members) == index}
            owners = {
                TopicPartition(topic, partition): (member, expires)
                for topic, partition, member, expires in conn.execute(
                    "SELECT topic, partition, member_id, expires_at FROM bus_partition_owners"
                    " WHERE group_id=?",
                    (group,),
                )
            }
            owned: set[TopicPartition] = set()
            for tp, (member, _expires) in owners.items():
                if member == me and tp not in desired:
                    conn.execute(
                        "DELETE FROM bus_partition_owners WHERE group_id=? AND topic=? AND partition=?"
                        " AND member_id=?",
                        (group, tp.topic, tp.partition, me),
                    )
            for tp in desired:
                holder = owners.get(tp)
                if holder is None or holder[0] == me or holder[1] < now:
                    conn.execute(
                        "INSERT INTO bus_partition_owners"
                        " (group_id, topic, partition, member_id, expires_at) VALUES (?, ?, ?, ?, ?)"
                        " ON CONFLICT (group_id, topic, partition) DO UPDATE"
                        " SET member_id=excluded.member_id, expires_at=excluded.expires_at",
                        (group, tp.topic, tp.partition, me, now + self._session_timeout),
                    )
                    owned.add(tp)
            committed = {
                TopicPartition(topic, partition): offset
                for topic, partition, offset in conn.execute(
                    "SELECT topic, partition, offset FROM bus_group_offsets WHERE group_id=?",
                    (group,),
                )
            }
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            log.warning("embedded bus rebalance of group %s failed: %s", group, exc)
            return
        gained = owned - set(self._positions)
        for tp in set(self._positions) - owned:
            del self._positions[tp]
        for tp in gained:
            self._positions[tp] = committed.get(tp, 0)
        if gained:
            log.debug("group %s member %s took %s", group, me, sorted(gained))

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit positions; raises ``CommitFailed`` if another member took a partition."""
        if self._group is None:
            raise BusError("a consumer without a group cannot commit")
        if not offsets:
            return
        conn, group, me, now = self._conn, self._group, self._member_id, time.time()
        try:
            conn.execute("BEGIN IMMEDIATE")
            for tp, offset in offsets.items():
                row = conn.execute(
                    "SELECT member_id FROM bus_partition_owners"
                    " WHERE group_id=? AND topic=? AND partition=?",
                    (group, tp.topic, tp.partition),
                ).fetchone()
                if row is None or row[0] != me:
                    conn.execute("ROLLBACK")
                    self._positions.pop(tp, None)
                    raise CommitFailed(
                        f"{tp.topic}[{tp.partition}] now belongs to another member of {group}"
                    )
                conn.execute(
                    "INSERT INTO bus_group_offsets (group_id, topic, partition, offset)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (group_id, topic, partition)"
                    " DO UPDATE SET offset=excluded.offset",
                    (group, tp.topic, tp.partition, offset),
                )
                conn.execute(
                    "UPDATE bus_partition_owners SET expires_at=?"
                    " WHERE group_id=? AND topic=? AND partition=?",
                    (now + self._session_timeout, group, tp.topic, tp.partition),
                )
            conn.execute(
                "UPDATE bus_group_members SET heartbeat_at=? WHERE group_id=? AND member_id=?",
                (now, group, me),
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise CommitFailed(f"embedded bus commit failed: {exc}") from None

    def lag(self) -> dict[TopicPartition, int]:
        """Records not yet read on each assigned partition."""
        return {tp: _end_offset(self._conn, tp) - pos for tp, pos in self._positions.items()}

    def positions(self) -> dict[TopicPartition, int]:
        """The offset of the next record to read on each assigned partition."""
        return dict(self._positions)

    def close(self) -> None:
        """Leave the group (releasing partitions) without committing."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._group is not None:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute(
                    "DELETE FROM bus_partition_owners WHERE group_id=? AND member_id=?",
                    (self._group, self._member_id),
                )
                self._conn.execute(
                    "DELETE FROM bus_group_members WHERE group_id=? AND member_id=?",
                    (self._group, self._member_id),
                )
                self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.warning("leaving group %s failed: %s", self._group, exc)
        finally:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
