"""The state store: delivery records, accepted versions, the document catalog, the release
log, ingest requests and answers, the compliance audit and party register, channel state.

``GOVPUB_STORE`` selects the backend: a file path (SQLite, the default: every process on
one host) or a ``postgresql://`` URL (PostgreSQL: processes on several hosts). Both keep
the same tables with the same semantics; each component declares its tables as a
versioned :class:`Schema`, applied by :meth:`Store.ensure_schema` (and for every
component at once when a command starts). A store migrated by a newer govpub is refused
(:class:`SchemaTooNew`) before anything is written.

A ``Store`` is used by one thread; open one per worker. Writes happen only inside
:meth:`Store.transaction`.
"""

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from govpub.errors import ConfigurationError
from govpub.store.base import Connection, Cursor, Schema, SchemaTooNew, statements
from govpub.store.postgresql import PostgresBackend, is_postgresql, redact, rows_of
from govpub.store.sqlite import SqliteBackend, connect_sqlite

__all__ = [
    "Connection",
    "Cursor",
    "Schema",
    "SchemaTooNew",
    "Store",
    "connect_sqlite",
    "describe_location",
]

VERSIONS_TABLE = "govpub_schema"
_VERSIONS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {VERSIONS_TABLE} ("
    " component TEXT PRIMARY KEY, version INTEGER NOT NULL, migrated_at TEXT NOT NULL)"
)


def describe_location(location: str | Path) -> str:
    """A ``GOVPUB_STORE`` value fit for messages (a URL's password hidden)."""
    text = str(location)
    return redact(text) if is_postgresql(text) else text


class Store:
    """The state store selected by ``location``: a SQLite file or a PostgreSQL URL."""

    def __init__(self, location: str | Path) -> None:
        text = str(location)
        self._location = text
        self._backend: SqliteBackend | PostgresBackend = (
            PostgresBackend(text) if is_postgresql(text) else SqliteBackend(Path(location))
        )
        self._conn: Connection | None = None
        self._schemas: set[str] = set()
        self._versions: dict[str, int] | None = None
        self._lock = threading.RLock()
        self._depth = 0
        self._held: frozenset[str] | None = None

    @property
    def kind(self) -> Literal["sqlite", "postgresql"]:
        """Which backend this store uses."""
        return "postgresql" if isinstance(self._backend, PostgresBackend) else "sqlite"

    @property
    def path(self) -> Path:
        """The SQLite file (a PostgreSQL store has none)."""
        if not isinstance(self._backend, SqliteBackend):
            raise ConfigurationError(f"GOVPUB_STORE: {self.describe()} is not a SQLite file")
        return self._backend.path

    @property
    def location(self) -> str:
        """What the store was opened on, a path or a URL with its password: for another
        connection to the same store (a forked process opens its own)."""
        return self._location

    def describe(self) -> str:
        """Where the store is, for messages (no password)."""
        return self._backend.describe()

    def open(self) -> Self:
        """Connect (idempotent); raises ``ConfigurationError`` naming ``GOVPUB_STORE``."""
        if self._conn is None:
            self._conn = self._backend.connect()
        return self

    @property
    def conn(self) -> Connection:
        """The open connection (for reads outside a transaction)."""
        if self._conn is None:
            self.open()
        assert self._conn is not None
        return self._conn

    @contextmanager
    def transaction(self, *keys: str) -> Iterator[Connection]:
        """A write transaction; a nested use is a savepoint of the outer one.

        ``keys`` name what the transaction reads and changes (usually its table, or
        ``table:channel``): transactions with a key in common run one after the other,
        and one without keys runs alone. On SQLite every write transaction runs alone
        (``BEGIN IMMEDIATE``); on PostgreSQL each key is an advisory lock.

        A nested transaction takes no lock: it may only use keys its outer one holds
        (any key when the outer one holds the whole store). It commits with the outer
        one, and an exception leaving it undoes only what was done inside it (``ROLLBACK
        TO`` its savepoint). So a channel can hold one transaction open for a whole batch
        (one commit instead of one per event) and still apply each event all or nothing.
        On PostgreSQL a failing *statement* may surface only at the outer commit (the
        statements are pipelined): it then rolls back the whole outer transaction.
        """
        with self._lock:
            conn = self.conn
            if self._depth:
                self._check_nested(keys)
                name = f"nested_{self._depth}"
                self._backend.savepoint(conn, name)
                self._depth += 1
                try:
                    yield conn
                except BaseException:
                    self._backend.rollback_to(conn, name)
                    raise
                else:
                    self._backend.release(conn, name)
                finally:
                    self._depth -= 1
                return
            held = frozenset(keys) if keys else None
            self._backend.begin(conn, sorted(held) if held is not None else None)
            self._depth, self._held = 1, held
            try:
                yield conn
            except BaseException:
                self._backend.end(conn, commit=False)
                raise
            else:
                self._backend.end(conn, commit=True)
            finally:
                self._depth, self._held = 0, None

    def _check_nested(self, keys: tuple[str, ...]) -> None:
        if self._held is None:
            return
        if not keys or not set(keys) <= self._held:
            wanted = ", ".join(keys) or "the whole store"
            raise RuntimeError(
                f"a nested transaction wants {wanted} but its outer one holds only"
                f" {', '.join(sorted(self._held))}: name every key in the outer transaction"
            )

    # --- schemas ----------------------------------------------------------------------

    def schema_versions(self) -> dict[str, int]:
        """The version of every component's schema recorded in the store."""
        conn = self.conn
        if not self._backend.has_table(conn, VERSIONS_TABLE):
            return {}
        rows = conn.execute(f"SELECT component, version FROM {VERSIONS_TABLE}").fetchall()
        return {str(name): int(version) for name, version in rows}

    def ensure_schema(self, schema: Schema) -> None:
        """Bring ``schema``'s tables to the version this code knows (once per store).

        Raises :class:`SchemaTooNew` when the store holds a newer version.
        """
        if schema.name in self._schemas:
            return
        if self._versions is None:
            self._versions = self.schema_versions()
        found = self._versions.get(schema.name, 0)
        if found > schema.version:
            raise SchemaTooNew(self.describe(), schema.name, found, schema.version)
        if found < schema.version:
            self._migrate(schema)
        self._schemas.add(schema.name)

    def _migrate(self, schema: Schema) -> None:
        if self._depth:
            # Inside the caller's transaction (a component built there): migrate in it,
            # with the whole store locked as for any migration.
            self._backend.lock_store(self.conn)
            self._apply(self.conn, schema)
        else:
            with self.transaction() as conn:
                self._apply(conn, schema)
        assert self._versions is not None
        self._versions[schema.name] = schema.version

    def _apply(self, conn: Connection, schema: Schema) -> None:
        conn.execute(self._backend.ddl(_VERSIONS_DDL))
        row = conn.execute(
            f"SELECT version FROM {VERSIONS_TABLE} WHERE component=?", (schema.name,)
        ).fetchone()
        found = 0 if row is None else int(row[0])
        if found > schema.version:
            raise SchemaTooNew(self.describe(), schema.name, found, schema.version)
        for script in schema.migrations[found:]:
            for statement in statements(script):
                conn.execute(self._backend.ddl(statement))
        conn.execute(
            f"INSERT INTO {VERSIONS_TABLE} (component, version, migrated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (component) DO UPDATE"
            " SET version=excluded.version, migrated_at=excluded.migrated_at",
            (schema.name, schema.version, datetime.now(UTC).isoformat(timespec="seconds")),
        )

    def migrate(self, schemas: Iterable[Schema]) -> dict[str, tuple[int, int]]:
        """Check every schema first (nothing is written if one is too new), then bring
        each up to date; returns ``{name: (version before, version now)}``."""
        wanted = list(schemas)
        found = self.schema_versions()
        for schema in wanted:
            if found.get(schema.name, 0) > schema.version:
                raise SchemaTooNew(self.describe(), schema.name, found[schema.name], schema.version)
        self._versions = dict(found)
        result = {}
        for schema in wanted:
            self.ensure_schema(schema)
            result[schema.name] = (found.get(schema.name, 0), schema.version)
        return result

    # --- whole tables -------------------------------------------------------------------

    def replace_tables(self, source: Path, tables: Iterable[str]) -> None:
        """Replace ``tables`` by their rows in the SQLite file ``source`` (a replay's
        rebuilt state), in one transaction; the tables must exist on both sides."""
        names = list(tables)
        conn = self.conn
        if isinstance(self._backend, SqliteBackend):
            conn.execute("ATTACH DATABASE ? AS rebuilt", (str(source),))
            try:
                with self.transaction():
                    for table in names:
                        conn.execute(f"DELETE FROM main.{table}")
                        conn.execute(f"INSERT INTO main.{table} SELECT * FROM rebuilt.{table}")
            finally:
                conn.execute("DETACH DATABASE rebuilt")
            return
        rebuilt = connect_sqlite(source)
        try:
            with self.transaction():
                for table in names:
                    columns = [str(r[1]) for r in rebuilt.execute(f"PRAGMA table_info({table})")]
                    listed = ", ".join(columns)
                    conn.execute(f"DELETE FROM {table}")
                    insert = (
                        f"INSERT INTO {table} ({listed}) VALUES ({', '.join('?' * len(columns))})"
                    )
                    for batch in rows_of(rebuilt.execute(f"SELECT {listed} FROM {table}")):
                        conn.executemany(insert, batch)
        finally:
            rebuilt.close()

    # --- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._backend.close(self._conn)
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
