"""The embedded backend: one SQLite file in WAL mode, for every process on one host.

A write transaction is ``BEGIN IMMEDIATE``: it takes the database's one write lock at
its start, so writers run one after the other and a read inside a write transaction
sees the latest committed state. Readers never wait. Lock keys (see
:meth:`govpub.store.Store.transaction`) change nothing here: the one lock covers them all.
"""

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from govpub.errors import ConfigurationError
from govpub.store.base import Connection


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


class SqliteBackend:
    """The state store in one SQLite file."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> str:
        """The file, for messages."""
        return str(self.path)

    def connect(self) -> sqlite3.Connection:
        """A connection in autocommit mode (transactions are explicit)."""
        try:
            conn = connect_sqlite(self.path)
        except ConfigurationError as exc:
            raise ConfigurationError(f"GOVPUB_STORE: {exc}") from None
        # Channel state is read far more than it is written (a page reads tens of rows):
        # a larger page cache, filled as pages are read, and reads through a memory map
        # of the file rather than a system call per page.
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        # A savepoint (each event of a channel's batch is one) copies every page it
        # changes to a sub-journal first; in a temporary file that is a system call per
        # page (150,000 of them in a replay of 5,000 documents). In memory it is a copy,
        # dropped when the savepoint is released.
        conn.execute("PRAGMA temp_store=MEMORY")
        return conn

    def begin(self, conn: Connection, keys: Sequence[str] | None) -> None:
        """``BEGIN IMMEDIATE``: the database's write lock, whatever the keys."""
        conn.execute("BEGIN IMMEDIATE")

    def savepoint(self, conn: Connection, name: str) -> None:
        """Inside a transaction: mark where a nested transaction starts."""
        conn.execute(f"SAVEPOINT {name}")

    def release(self, conn: Connection, name: str) -> None:
        """Keep what the nested transaction did (it commits with the outer one)."""
        conn.execute(f"RELEASE {name}")

    def rollback_to(self, conn: Connection, name: str) -> None:
        """Undo what the nested transaction did; the outer one goes on."""
        conn.execute(f"ROLLBACK TO {name}")
        conn.execute(f"RELEASE {name}")

    def lock_store(self, conn: Connection) -> None:
        """Inside a transaction: the whole store is locked already."""

    def end(self, conn: Connection, *, commit: bool) -> None:
        """Commit or roll back the open transaction (a commit that fails rolls back, so
        that the connection is never left inside a transaction)."""
        if not commit:
            conn.execute("ROLLBACK")
            return
        try:
            conn.execute("COMMIT")
        except BaseException:
            assert isinstance(conn, sqlite3.Connection)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def ddl(self, statement: str) -> str:
        """Migrations are written in SQLite's spelling."""
        return statement

    def has_table(self, conn: Connection, name: str) -> bool:
        """Whether the table exists."""
        row = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)
        ).fetchone()
        return row is not None

    def close(self, conn: Connection) -> None:
        """Close the connection."""
        assert isinstance(conn, sqlite3.Connection)
        conn.close()
