"""The state store's SQLite connections, opened by several processes at once (the rest of
the store's contract runs on both backends: tests/contract/test_store_contract.py)."""

import multiprocessing
import time
from pathlib import Path

from govpub.store import connect_sqlite


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
