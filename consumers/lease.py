"""Leases: one writer at a time for a channel whose output cannot have two.

The website's home page and lists are shared by every document: two processes
rendering them at once would race, and the later write of an older render would
win. So the website is one writer by design: the runner of a channel that says
``single_writer`` holds a lease in the state store before it joins its consumer
group, and a second process waits as a standby (outside the group) until the
lease is free or has expired, then takes over.

The holder renews the lease as it works (at least every third of its length);
one that is gone, killed or hung for longer than the lease lasts loses it. Its
last writes are fenced: the channel checks the lease inside the transaction that
commits a batch's state and inside the one that marks outputs rendered, so a
process that lost its lease commits nothing more, and it checks the lease (cheaply,
against the time it was last renewed) before it renders each output.

The clock is the wall clock of the machine: every process that shares a state store
shares its machine (SQLite over a network file system is not supported).
"""

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from govpub.errors import LeaseLost
from govpub.store import Connection, Schema, Store

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS channel_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at REAL NOT NULL,
    acquired_at REAL NOT NULL
) WITHOUT ROWID
"""
SCHEMA = Schema("channel_leases", _SCHEMA)
"""The leases' table, as versioned migrations."""


@runtime_checkable
class SingleWriter(Protocol):
    """A channel that must have one writer at a time (its ``single_writer`` is true)."""

    name: str
    single_writer: bool

    def hold(self, lease: "Lease | None") -> None:
        """Write only while ``lease`` is held: :meth:`Lease.check` before each output,
        :meth:`Lease.fence` in each transaction that commits state."""
        ...


@dataclass(frozen=True)
class Holder:
    """Who holds a lease, and until when (seconds since the epoch)."""

    holder: str
    expires_at: float

    def __str__(self) -> str:
        left = self.expires_at - time.time()
        return f"{self.holder} (for {max(0.0, left):.0f} s more unless it renews)"


def new_holder_id() -> str:
    """``host-pid-random``: names this process in logs and in ``govpub status``."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Lease:
    """An expiring, exclusive claim on ``name`` in the state store."""

    def __init__(
        self,
        store: Store,
        name: str,
        *,
        ttl: float,
        holder: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl <= 0:
            raise ValueError("a lease must last more than 0 s")
        self.store = store
        self.name = name
        self.ttl = ttl
        self.holder = holder or new_holder_id()
        self._clock = clock
        self._valid_until = 0.0
        self._renewed_at = float("-inf")
        store.ensure_schema(SCHEMA)

    @property
    def held(self) -> bool:
        """Whether this process holds the lease, as far as it knows without asking."""
        return self._clock() < self._valid_until

    def current(self) -> Holder | None:
        """The holder on record (expired or not), or ``None``."""
        row = self.store.conn.execute(
            "SELECT holder, expires_at FROM channel_leases WHERE name=?", (self.name,)
        ).fetchone()
        return None if row is None else Holder(str(row[0]), float(row[1]))

    def acquire(self) -> bool:
        """Take the lease if it is free, expired or ours already; True if this process
        holds it now."""
        with self.store.transaction() as conn:
            now = self._clock()
            row = conn.execute(
                "SELECT holder, expires_at FROM channel_leases WHERE name=?", (self.name,)
            ).fetchone()
            if row is not None and row[0] != self.holder and float(row[1]) > now:
                return False
            conn.execute(
                "INSERT INTO channel_leases (name, holder, expires_at, acquired_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                " holder=excluded.holder, expires_at=excluded.expires_at,"
                " acquired_at=excluded.acquired_at",
                (self.name, self.holder, now + self.ttl, now),
            )
            if row is not None and row[0] != self.holder:
                log.warning(
                    "lease %s: taken over from %s, whose lease expired %.1f s ago",
                    self.name,
                    row[0],
                    now - float(row[1]),
                )
        self._renewed(now)
        return True

    def fence(self, conn: Connection) -> None:
        """Inside the caller's write transaction: raise :class:`LeaseLost` unless this
        process holds the lease; renew it. What the transaction commits is then written
        by the holder, whoever tried."""
        now = self._clock()
        updated = conn.execute(
            "UPDATE channel_leases SET expires_at=? WHERE name=? AND holder=? AND expires_at>?",
            (now + self.ttl, self.name, self.holder, now),
        ).rowcount
        if updated != 1:
            self._valid_until = 0.0
            raise LeaseLost(f"lease {self.name}: {self._lost_to()}")
        self._renewed(now)

    def check(self) -> None:
        """Raise :class:`LeaseLost` unless the lease is still held; renew it once a third
        of its length has passed since the last renewal (otherwise only the clock is
        read). Call it outside any transaction of this store, or inside one whose commit
        comes soon (a renewal inside it is seen by others only then)."""
        now = self._clock()
        if now >= self._valid_until:
            raise LeaseLost(f"lease {self.name}: not renewed in time; {self._lost_to()}")
        if now - self._renewed_at >= self.ttl / 3:
            with self.store.transaction() as conn:
                self.fence(conn)

    def release(self) -> None:
        """Give the lease up (a standby takes it at once)."""
        with self.store.transaction() as conn:
            conn.execute(
                "DELETE FROM channel_leases WHERE name=? AND holder=?", (self.name, self.holder)
            )
        self._valid_until = 0.0

    def _renewed(self, now: float) -> None:
        self._renewed_at = now
        # A little short of the stored expiry: a standby can take over only after it.
        self._valid_until = now + self.ttl * 0.9

    def _lost_to(self) -> str:
        current = self.current()
        if current is None:
            return "nobody holds it"
        if current.holder == self.holder:
            return "it expired"
        return f"{current} holds it now"
