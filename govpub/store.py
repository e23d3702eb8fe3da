"""The state store: one SQLite file for delivery records, accepted versions and
channel state.

Each component declares its own tables with :meth:`Store.ensure_schema`; the
store only owns the connection and the transaction discipline. A ``Store`` is
used by one thread; open one per worker.
"""

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

from govpub.errors import ConfigurationError


def connect_sqlite(path: Path, *, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """Open a SQLite database in WAL mode, safe for several processes on one machine."""
    if str(path) != ":memory:":
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot create the directory of {path}: {exc}") from None
    deadline = time.monotonic() + 30.0
    pause = 0.01
    while True:
        try:
            conn = sqlite3.connect(
                path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            try:
                # Switching to WAL takes an exclusive lock and SQLite answers "locked" at
                # once (no busy wait) while another process opens the same new file.
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"PRAGMA synchronous={synchronous}")
                conn.execute("PRAGMA busy_timeout=30000")
            except BaseException:
                conn.close()
                raise
            return conn
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise ConfigurationError(f"cannot open SQLite database {path}: {exc}") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
        except sqlite3.Error as exc:
            raise ConfigurationError(f"cannot open SQLite database {path}: {exc}") from None


CACHE_KIB = 64 * 1024
"""Page cache of a store connection, at most (SQLite allocates it as pages are read)."""
MMAP_BYTES = 1 << 30
"""How much of the store file a connection reads through a memory map."""


class Store:
    """A SQLite state store with explicit, immediate write transactions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._schemas: set[str] = set()
        self._lock = threading.RLock()
        self._depth = 0

    def open(self) -> Self:
        """Connect (idempotent)."""
        if self._conn is None:
            conn = connect_sqlite(self.path)
            # Channel state is read far more than it is written (a page reads tens of
            # rows): a larger page cache, filled as pages are read, and reads through a
            # memory map of the file rather than a system call per page.
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            self._conn = conn
        return self

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection."""
        if self._conn is None:
            self.open()
        assert self._conn is not None
        return self._conn

    def ensure_schema(self, name: str, ddl: str) -> None:
        """Run ``ddl`` (idempotent CREATE ... IF NOT EXISTS statements) once per store."""
        if name in self._schemas:
            return
        with self.transaction() as conn:
            for statement in ddl.split(";"):
                if statement.strip():
                    conn.execute(statement)
        self._schemas.add(name)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE).

        A nested use is a savepoint of the outer transaction: it commits with the outer
        one, and an exception leaving it undoes only what was done inside it. So a
        channel can hold one transaction open for a whole batch (one commit instead of
        one per event) and still apply each event all or nothing.
        """
        with self._lock:
            conn = self.conn
            if self._depth:
                name = f"nested_{self._depth}"
                conn.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield conn
                except BaseException:
                    conn.execute(f"ROLLBACK TO {name}")
                    conn.execute(f"RELEASE {name}")
                    raise
                else:
                    conn.execute(f"RELEASE {name}")
                finally:
                    self._depth -= 1
                return
            conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
            finally:
                self._depth = 0

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
