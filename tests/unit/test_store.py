"""The state store's SQLite connections, opened by several processes at once."""

import multiprocessing
import time
from pathlib import Path

from govpub.store import Store, connect_sqlite


def _open_at(path: str, start: float) -> None:
    while time.time() < start:
        pass
    connect_sqlite(Path(path)).close()


def test_many_processes_can_open_a_new_database_at_the_same_moment(tmp_path: Path) -> None:
    # Switching a new file to WAL answered "database is locked" at once to all but one.
    context = multiprocessing.get_context("fork")
    failures = 0
    for trial in range(15):
        start = time.time() + 0.2
        workers = [
            context.Process(target=_open_at, args=(str(tmp_path / f"{trial}.db"), start))
            for _ in range(8)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
        failures += sum(worker.exitcode != 0 for worker in workers)
    assert failures == 0


def test_nested_transactions_join_the_outer_one(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.ensure_schema("t", "CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        try:
            with store.transaction() as outer:
                outer.execute("INSERT INTO t VALUES (1)")
                with store.transaction() as inner:
                    inner.execute("INSERT INTO t VALUES (2)")
                raise RuntimeError("roll back both")
        except RuntimeError:
            pass
        assert store.conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0


def test_a_nested_transaction_that_fails_undoes_only_itself(tmp_path: Path) -> None:
    """A channel holds one transaction for its batch and applies each event in a nested
    one: an event that fails leaves the others of the batch in place."""
    with Store(tmp_path / "s.db") as store:
        store.ensure_schema("t", "CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        with store.transaction() as batch:
            batch.execute("INSERT INTO t VALUES (1)")
            try:
                with store.transaction() as event:
                    event.execute("INSERT INTO t VALUES (2)")
                    raise RuntimeError("this event fails")
            except RuntimeError:
                pass
            with store.transaction() as event:
                event.execute("INSERT INTO t VALUES (3)")
        assert [r[0] for r in store.conn.execute("SELECT x FROM t ORDER BY x")] == [1, 3]
