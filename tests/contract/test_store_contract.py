"""One contract, two store backends: every test here runs on a SQLite file and on a real
PostgreSQL server, unchanged (as the bus contract runs on both transports).

What govpub relies on: the shared SQL dialect, writes only inside transactions, nested
transactions joining the outer one, writers that name a common key (or none) taking
turns while readers never wait, versioned migrations that refuse a newer schema, and
the components' read-modify-write steps staying exact when several processes (here:
several connections) run them at once.
"""

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from channels.newmedia.records import SharedState
from govpub.errors import ConfigurationError, DuplicateEventConflict
from govpub.store import Schema, SchemaTooNew, Store
from govpub.store.sqlite import connect_sqlite
from producers.ledger import Reservation, VersionLedger
from schemas import parse_event
from tests import factories
from tests.postgres_server import PostgresServer

COUNTER = Schema(
    "contract_counter",
    "CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)
ITEMS = Schema(
    "contract_items",
    """
    CREATE TABLE IF NOT EXISTS items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        label TEXT NOT NULL,
        big INTEGER,
        moment REAL,
        data BLOB
    );
    CREATE INDEX IF NOT EXISTS items_label ON items (label)
    """,
)


@pytest.fixture
def store(store_location: str) -> Iterator[Store]:
    with Store(store_location) as opened:
        opened.ensure_schema(COUNTER)
        opened.ensure_schema(ITEMS)
        yield opened


@pytest.fixture
def connect(store_location: str) -> Iterator[Callable[[], Store]]:
    """More stores on the same location (each its own connection, like another process)."""
    opened: list[Store] = []

    def make() -> Store:
        another = Store(store_location).open()
        opened.append(another)
        return another

    yield make
    for another in opened:
        another.close()


# --- the dialect ---------------------------------------------------------------------------


def test_placeholders_quotes_and_percent_signs(store: Store) -> None:
    with store.transaction() as conn:
        conn.execute("INSERT INTO items (label) VALUES (?)", ("50% done?",))
        conn.execute("INSERT INTO items (label) VALUES ('literal ? and 100%')")
    rows = store.conn.execute(
        "SELECT label FROM items WHERE label LIKE '%done%' OR label = ? ORDER BY id",
        ("literal ? and 100%",),
    ).fetchall()
    assert [r[0] for r in rows] == ["50% done?", "literal ? and 100%"]


def test_upserts_and_row_counts(store: Store) -> None:
    upsert = (
        "INSERT INTO counter (name, value) VALUES (?, ?) ON CONFLICT (name)"
        " DO UPDATE SET value = counter.value + excluded.value WHERE excluded.value > 0"
    )
    with store.transaction() as conn:
        assert conn.execute(upsert, ("a", 1)).rowcount == 1
        assert conn.execute(upsert, ("a", 2)).rowcount == 1
        assert conn.execute(upsert, ("a", -5)).rowcount == 0  # the WHERE refused it
        ignored = conn.execute(
            "INSERT INTO counter (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING", ("a", 9)
        )
        assert ignored.rowcount == 0
        many = conn.executemany(
            "INSERT INTO counter (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [("b", 1), ("c", 1), ("a", 1)],
        )
        assert many.rowcount == 2
    assert store.conn.execute("SELECT value FROM counter WHERE name=?", ("a",)).fetchone()[0] == 3


def test_text_sorts_by_code_point_as_in_sqlite(store: Store) -> None:
    labels = ["b", "B", "a-c", "ab", "株洲", "株", "Z", "2024-01-02T10:00", "2024-01-02 10:00", ""]
    with store.transaction() as conn:
        conn.executemany("INSERT INTO items (label) VALUES (?)", [(label,) for label in labels])
    ordered = [r[0] for r in store.conn.execute("SELECT label FROM items ORDER BY label")]
    assert ordered == sorted(labels)
    between = store.conn.execute(
        "SELECT COUNT(*) FROM items WHERE label >= 'a' AND label < 'b'"
    ).fetchone()[0]
    assert between == 2  # "a-c" and "ab", not "B"


def test_integers_floats_and_bytes_keep_their_values(store: Store) -> None:
    moment = time.time()
    big = 2**53 + 1  # a Kafka offset or a fine in fen can pass 32 bits
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO items (label, big, moment, data) VALUES (?, ?, ?, ?)",
            ("x", big, moment, b"\x00\xff"),
        )
        conn.execute("INSERT INTO items (label) VALUES (?)", ("y",))
    rows = store.conn.execute("SELECT id, big, moment, data FROM items ORDER BY id").fetchall()
    assert rows[0][1] == big
    assert isinstance(rows[0][1], int)
    assert rows[0][2] == moment
    assert bytes(rows[0][3]) == b"\x00\xff"
    assert rows[1][0] > rows[0][0]  # identity column
    assert store.conn.execute("SELECT MAX(big), COUNT(*) FROM items").fetchone() == (big, 2)


# --- transactions ----------------------------------------------------------------------------


def test_nested_transactions_join_the_outer_one(store: Store) -> None:
    def write_then_fail() -> None:
        with store.transaction("counter") as outer:
            outer.execute("INSERT INTO counter (name, value) VALUES ('x', 1)")
            with store.transaction("counter") as inner:
                inner.execute("INSERT INTO counter (name, value) VALUES ('y', 2)")
            raise RuntimeError("roll back both")

    with pytest.raises(RuntimeError, match="roll back both"):
        write_then_fail()
    assert store.conn.execute("SELECT COUNT(*) FROM counter").fetchone()[0] == 0


def test_a_nested_transaction_that_fails_undoes_only_itself(store: Store) -> None:
    """A channel holds one transaction for its batch and applies each event in a nested
    one (a savepoint): an event that fails leaves the others of the batch in place."""
    insert = "INSERT INTO counter (name, value) VALUES (?, ?)"
    with store.transaction("counter") as batch:
        batch.execute(insert, ("a", 1))

        def failing_event() -> None:
            with store.transaction("counter") as event:
                event.execute(insert, ("b", 2))
                raise RuntimeError("this event fails")

        with pytest.raises(RuntimeError, match="this event fails"):
            failing_event()
        with store.transaction("counter") as event:
            event.execute(insert, ("c", 3))
            with store.transaction("counter") as deeper:
                deeper.execute(insert, ("d", 4))
    rows = store.conn.execute("SELECT name, value FROM counter ORDER BY name").fetchall()
    assert [tuple(r) for r in rows] == [("a", 1), ("c", 3), ("d", 4)]


def test_a_nested_transaction_whose_statement_fails_undoes_only_itself(store: Store) -> None:
    """Even when the failing statement's error is read inside the nested transaction only
    (on PostgreSQL statements are pipelined: the error is received by a read), the outer
    transaction goes on and commits what it did before and after."""
    insert = "INSERT INTO counter (name, value) VALUES (?, ?)"
    with store.transaction("counter") as batch:
        batch.execute(insert, ("a", 1))

        def duplicate_key() -> None:
            with store.transaction("counter") as event:
                event.execute(insert, ("b", 2))
                event.execute(insert, ("a", 9))  # a duplicate key
                event.execute("SELECT COUNT(*) FROM counter").fetchone()

        with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):
            duplicate_key()
        with store.transaction("counter") as event:
            event.execute(insert, ("c", 3))
    rows = store.conn.execute("SELECT name, value FROM counter ORDER BY name").fetchall()
    assert [tuple(r) for r in rows] == [("a", 1), ("c", 3)]


def test_a_failed_statement_rolls_the_whole_transaction_back(store: Store) -> None:
    """On PostgreSQL, statements inside a transaction are pipelined: an error may surface
    at a later statement or at the commit, but it always surfaces, and nothing is kept."""

    def duplicate() -> None:
        with store.transaction("counter") as conn:
            conn.execute("INSERT INTO counter (name, value) VALUES ('a', 1)")
            conn.execute("INSERT INTO counter (name, value) VALUES ('a', 2)")
            conn.execute("INSERT INTO counter (name, value) VALUES ('b', 3)")

    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):
        duplicate()
    assert store.conn.execute("SELECT COUNT(*) FROM counter").fetchone()[0] == 0
    with store.transaction("counter") as conn:
        conn.execute("INSERT INTO counter (name, value) VALUES ('c', 1)")
    assert store.conn.execute("SELECT name FROM counter").fetchall() == [("c",)]


def test_a_nested_transaction_may_not_take_a_key_its_outer_one_lacks(store: Store) -> None:
    with store.transaction("counter"), pytest.raises(RuntimeError, match="outer one holds"):  # noqa: SIM117
        with store.transaction("items"):
            pass
    with store.transaction(), store.transaction("anything"):  # the whole store covers it
        pass


def _increment(store: Store, key: str, times: int) -> None:
    for _ in range(times):
        with store.transaction(key) as conn:
            row = conn.execute("SELECT value FROM counter WHERE name='n'").fetchone()
            value = 0 if row is None else int(row[0])
            conn.execute(
                "INSERT INTO counter (name, value) VALUES ('n', ?) ON CONFLICT (name)"
                " DO UPDATE SET value = excluded.value",
                (value + 1,),
            )


def test_writers_with_a_common_key_take_turns(connect: Callable[[], Store]) -> None:
    """A read-modify-write inside a transaction is exact with four writers at once."""
    first = connect()
    first.ensure_schema(COUNTER)
    workers = [
        threading.Thread(target=_increment, args=(connect(), "counter", 50)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert first.conn.execute("SELECT value FROM counter WHERE name='n'").fetchone()[0] == 200


def test_a_transaction_without_keys_runs_alone_and_readers_never_wait(
    connect: Callable[[], Store],
) -> None:
    holder, writer, reader = connect(), connect(), connect()
    holder.ensure_schema(COUNTER)
    inside, release, written = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        with holder.transaction() as conn:
            conn.execute("INSERT INTO counter (name, value) VALUES ('held', 1)")
            inside.set()
            release.wait(60)

    def write() -> None:
        with writer.transaction("counter") as conn:
            conn.execute("INSERT INTO counter (name, value) VALUES ('later', 1)")
        written.set()

    holding = threading.Thread(target=hold)
    holding.start()
    assert inside.wait(60)
    writing = threading.Thread(target=write)
    writing.start()
    # The reader answers at once, without what the open transaction wrote...
    assert reader.conn.execute("SELECT COUNT(*) FROM counter").fetchone()[0] == 0
    # ...while the keyed writer waits for the transaction that holds the whole store.
    assert not written.wait(1.0)
    release.set()
    holding.join(60)
    assert written.wait(60)
    writing.join(60)
    names = {r[0] for r in reader.conn.execute("SELECT name FROM counter")}
    assert names == {"held", "later"}


def test_writers_with_different_keys(connect: Callable[[], Store]) -> None:
    """On PostgreSQL, transactions with different keys (a DAG worker's release log, a
    consumer's catalog) do not wait for each other; SQLite has one write lock, so there
    the second waits until the first ends. Either way both commit."""
    holder, other = connect(), connect()
    holder.ensure_schema(COUNTER)
    inside, release, written = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        with holder.transaction("release_log") as conn:
            conn.execute("INSERT INTO counter (name, value) VALUES ('release', 1)")
            inside.set()
            release.wait(60)

    def write() -> None:
        with other.transaction("catalog_documents") as conn:
            conn.execute("INSERT INTO counter (name, value) VALUES ('catalog', 1)")
        written.set()

    holding = threading.Thread(target=hold)
    holding.start()
    assert inside.wait(60)
    writing = threading.Thread(target=write)
    writing.start()
    if holder.kind == "postgresql":
        assert written.wait(60)
    else:
        assert not written.wait(1.0)
    release.set()
    holding.join(60)
    writing.join(60)
    assert written.is_set()
    assert other.conn.execute("SELECT COUNT(*) FROM counter").fetchone()[0] == 2


# --- migrations ------------------------------------------------------------------------------


def test_migrations_run_once_in_order_and_are_recorded(connect: Callable[[], Store]) -> None:
    store = connect()
    v1 = Schema("contract_notes", "CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY)")
    v2 = Schema(
        "contract_notes",
        v1.migrations[0],
        "ALTER TABLE notes ADD COLUMN body TEXT NOT NULL DEFAULT ''",
    )
    store.ensure_schema(v1)
    with store.transaction() as conn:
        conn.execute("INSERT INTO notes (id) VALUES ('n1')")
    again = connect()
    again.ensure_schema(v2)
    again.ensure_schema(v2)  # once per store: no second ALTER
    assert connect().schema_versions()["contract_notes"] == 2
    assert again.conn.execute("SELECT id, body FROM notes").fetchall() == [("n1", "")]
    # Another process that starts later with the same code finds nothing to do.
    assert connect().migrate([v2]) == {"contract_notes": (2, 2)}


def test_a_schema_newer_than_the_code_is_refused_and_nothing_is_written(
    connect: Callable[[], Store],
) -> None:
    newer = Schema(
        "contract_notes",
        "CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY)",
        "ALTER TABLE notes ADD COLUMN body TEXT",
    )
    connect().ensure_schema(newer)
    older = Schema("contract_notes", newer.migrations[0])
    fresh = Schema("contract_other", "CREATE TABLE IF NOT EXISTS other (id TEXT)")
    store = connect()
    with pytest.raises(SchemaTooNew) as refused:
        store.migrate([fresh, older])
    message = str(refused.value)
    assert "GOVPUB_STORE" in message
    assert "contract_notes" in message
    assert "version 2, newer than this govpub knows (1)" in message
    assert "contract_other" not in connect().schema_versions()  # checked before writing
    with pytest.raises(SchemaTooNew):
        connect().ensure_schema(older)


def test_many_processes_migrate_a_new_store_at_once(connect: Callable[[], Store]) -> None:
    schemas = [
        Schema(f"contract_t{i}", f"CREATE TABLE IF NOT EXISTS t{i} (id TEXT PRIMARY KEY)")
        for i in range(5)
    ]
    stores = [connect() for _ in range(6)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def migrate(store: Store) -> None:
        try:
            start.wait(30)
            store.migrate(schemas)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=migrate, args=(s,)) for s in stores]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert errors == []
    versions = connect().schema_versions()
    assert all(versions[s.name] == 1 for s in schemas)


# --- whole tables, and bad locations ---------------------------------------------------------


def test_tables_are_replaced_from_a_rebuilt_sqlite_file(store: Store, tmp_path: Path) -> None:
    with store.transaction() as conn:
        conn.execute("INSERT INTO counter (name, value) VALUES ('old', 1)")
    rebuilt = tmp_path / "rebuilt.db"
    with Store(rebuilt) as source:
        source.ensure_schema(COUNTER)
        with source.transaction() as conn:
            conn.executemany(
                "INSERT INTO counter (name, value) VALUES (?, ?)",
                [(f"new-{i}", i) for i in range(2500)],
            )
    store.replace_tables(rebuilt, ["counter"])
    rows = store.conn.execute("SELECT COUNT(*), MIN(name), SUM(value) FROM counter").fetchone()
    assert (rows[0], rows[1], int(rows[2])) == (2500, "new-0", sum(range(2500)))
    connect_sqlite(rebuilt).close()


def test_an_unreachable_store_is_a_clear_configuration_error(store_location: str) -> None:
    if store_location.startswith("postgresql://"):
        from tests.postgres_server import free_port

        bad = f"postgresql://govpub:secret-word@127.0.0.1:{free_port()}/govpub"
    else:
        blocker = Path(store_location).parent / "not-a-directory"
        blocker.write_text("x")
        bad = str(blocker / "state.db")
    with pytest.raises(ConfigurationError) as refused:
        Store(bad).open()
    assert str(refused.value).startswith("GOVPUB_STORE:")
    assert "secret-word" not in str(refused.value)


# --- components: read-modify-write with several writers --------------------------------------


def test_two_ledgers_reserving_the_same_events_accept_each_once(
    connect: Callable[[], Store],
) -> None:
    """Two ``govpub ingest`` processes given the same batch: one reservation per event."""
    events = [parse_event(factories.policy(f"doc-{i}")) for i in range(40)]
    ledgers = [VersionLedger(connect()) for _ in range(2)]
    results: list[list[Reservation | Exception]] = [[], []]
    start = threading.Barrier(2)

    def reserve(index: int) -> None:
        start.wait(30)
        for event in events:
            results[index].extend(ledgers[index].reserve([event]))

    workers = [threading.Thread(target=reserve, args=(i,)) for i in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert len(results[0]) == len(results[1]) == len(events)
    for first, second in zip(*results, strict=True):
        assert isinstance(first, Reservation)
        assert isinstance(second, Reservation)
        assert first.previous is None
        assert second.previous is None
    assert connect().conn.execute("SELECT COUNT(*) FROM accepted_events").fetchone()[0] == 40
    conflicting = parse_event(
        {**factories.policy("doc-0", title="另一个标题"), "event_id": events[0].event_id}
    )
    assert isinstance(ledgers[0].reserve([conflicting])[0], DuplicateEventConflict)


def test_a_budget_shared_by_workers_is_never_overspent(connect: Callable[[], Store]) -> None:
    """Two consumers of one new-media channel taking from one daily budget."""
    states = [SharedState(connect()) for _ in range(3)]
    taken = [0, 0, 0]

    def take(index: int) -> None:
        for _ in range(30):
            if states[index].take("budget", "app:2026-11-28", 50):
                taken[index] += 1

    workers = [threading.Thread(target=take, args=(i,)) for i in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert sum(taken) == 50
    assert states[0].get("budget", "app:2026-11-28") == "50"


# --- PostgreSQL only: sessions that end -------------------------------------------------------


def _terminate(postgres_server: PostgresServer, store: Store) -> None:
    pid = store.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_session_ended_by_the_server_is_replaced_between_transactions(
    postgres_server: PostgresServer,
) -> None:
    with postgres_server.schema() as url, Store(url) as store:
        store.ensure_schema(COUNTER)
        _terminate(postgres_server, store)
        assert store.conn.execute("SELECT COUNT(*) FROM counter").fetchone()[0] == 0
        _terminate(postgres_server, store)
        with store.transaction("counter") as conn:  # BEGIN on a new session
            conn.execute("INSERT INTO counter (name, value) VALUES ('a', 1)")

        def ended_inside() -> None:
            with store.transaction("counter") as conn:
                conn.execute("INSERT INTO counter (name, value) VALUES ('b', 1)")
                _terminate(postgres_server, store)
                conn.execute("INSERT INTO counter (name, value) VALUES ('c', 1)")

        with pytest.raises(psycopg.OperationalError):
            ended_inside()  # a transaction that lost its session fails...
        # ...and leaves nothing; the store works on.
        names = [r[0] for r in store.conn.execute("SELECT name FROM counter ORDER BY name")]
        assert names == ["a"]
