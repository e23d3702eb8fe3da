"""What every state store backend offers: a DB-API-like connection, and schemas as
versioned migrations.

SQL is written once, in the dialect SQLite and PostgreSQL share: ``?`` placeholders,
``INSERT … ON CONFLICT … DO UPDATE/NOTHING``, ``excluded.``, ``RETURNING``, ``CASE``
instead of two-argument ``min``/``max``, columns qualified by their table inside
``ON CONFLICT … DO UPDATE``. The PostgreSQL backend translates the placeholders, and
the column types of migrations (see :mod:`govpub.store.postgresql`).
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from govpub.errors import ConfigurationError


class Cursor(Protocol):
    """The result of one statement: rows as tuples, and how many rows it changed."""

    @property
    def rowcount(self) -> int:
        """Rows inserted, changed or deleted by the statement (all of an ``executemany``)."""
        ...

    def fetchone(self) -> Any:
        """The next row, or ``None``."""
        ...

    def fetchall(self) -> list[Any]:
        """Every remaining row."""
        ...

    def __iter__(self) -> Iterator[Any]:
        """The remaining rows, one by one."""
        ...


class Connection(Protocol):
    """The subset of a DB-API connection that govpub uses (``sqlite3.Connection`` is one)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor:
        """Run one statement with ``?`` placeholders."""
        ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor:
        """Run one statement once per parameter row."""
        ...


@dataclass(frozen=True)
class Schema:
    """The tables of one component (the delivery log, the ledger, a channel…) as an
    ordered list of migrations: the schema's version is how many have been applied.

    Migration 1 is the first set of ``CREATE TABLE IF NOT EXISTS`` statements (so a store
    made before migrations were versioned takes it as a no-op); a change to a table is a
    new migration appended to the list, never an edit of an old one. Each migration is
    statements separated by ``;``, in SQLite's spelling of column types (``INTEGER``,
    ``REAL``, ``TEXT``, ``BLOB``, ``INTEGER PRIMARY KEY AUTOINCREMENT``).
    """

    name: str
    migrations: tuple[str, ...]

    def __init__(self, name: str, *migrations: str) -> None:
        if not migrations:
            raise ValueError(f"schema {name}: at least one migration")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "migrations", tuple(migrations))

    @property
    def version(self) -> int:
        """The version this code knows (the number of migrations)."""
        return len(self.migrations)


class SchemaTooNew(ConfigurationError):
    """The store was migrated by a newer govpub than this one: nothing is written."""

    def __init__(self, location: str, schema: str, found: int, known: int) -> None:
        self.schema = schema
        self.found = found
        self.known = known
        super().__init__(
            f"GOVPUB_STORE: the schema of {schema} in {location} is version {found}, newer"
            f" than this govpub knows ({known}); run the govpub version that migrated it"
            " (or a newer one), not an older one. Nothing was written."
        )


def statements(script: str) -> list[str]:
    """The statements of a migration script (``;`` never occurs inside our DDL literals)."""
    return [part.strip() for part in script.split(";") if part.strip()]
