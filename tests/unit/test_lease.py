"""Leases in the state store: one holder at a time, taken over only once expired, and
fenced inside the transactions that commit a holder's work."""

from collections.abc import Iterator

import pytest

from consumers.lease import Lease
from govpub.errors import LeaseLost
from govpub.store import Schema, Store

WORK = Schema("lease_test_work", "CREATE TABLE IF NOT EXISTS t (x INTEGER)")
"""A table that a holder's transactions write."""


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stores(store_location: str) -> Iterator[tuple[Store, Store]]:
    """Two connections to one state store (SQLite, then PostgreSQL), as two processes have."""
    with Store(store_location) as first, Store(store_location) as second:
        yield first, second


def test_one_holder_at_a_time_and_a_takeover_only_after_expiry(
    stores: tuple[Store, Store],
) -> None:
    clock = Clock()
    first = Lease(stores[0], "channel:website", ttl=15, holder="first", clock=clock)
    second = Lease(stores[1], "channel:website", ttl=15, holder="second", clock=clock)
    assert first.acquire()
    assert not second.acquire()
    current = second.current()
    assert current is not None
    assert current.holder == "first"
    clock.now += 14
    assert not second.acquire()  # renewed or not, it lasts its 15 s
    clock.now += 2
    assert second.acquire()
    assert second.held
    with pytest.raises(LeaseLost, match="second"):
        first.check()  # the first process comes back: it learns it lost the lease


def test_check_renews_so_a_working_holder_keeps_the_lease(stores: tuple[Store, Store]) -> None:
    clock = Clock()
    holder = Lease(stores[0], "channel:website", ttl=15, holder="holder", clock=clock)
    standby = Lease(stores[1], "channel:website", ttl=15, holder="standby", clock=clock)
    assert holder.acquire()
    for _ in range(10):  # 60 s of work, checking every 6 s
        clock.now += 6
        holder.check()
        assert not standby.acquire()
    assert holder.held


def test_a_holder_that_did_not_renew_in_time_stops_by_itself(stores: tuple[Store, Store]) -> None:
    clock = Clock()
    holder = Lease(stores[0], "channel:website", ttl=15, holder="holder", clock=clock)
    assert holder.acquire()
    clock.now += 14  # past what it may count on (a margin short of the stored expiry)
    with pytest.raises(LeaseLost, match="not renewed in time"):
        holder.check()


def test_the_fence_refuses_a_transaction_of_a_process_that_lost_the_lease(
    stores: tuple[Store, Store],
) -> None:
    clock = Clock()
    stores[0].ensure_schema(WORK)
    old = Lease(stores[0], "channel:website", ttl=15, holder="old", clock=clock)
    new = Lease(stores[1], "channel:website", ttl=15, holder="new", clock=clock)
    assert old.acquire()
    clock.now += 20  # the old holder was gone (paused) longer than the lease
    assert new.acquire()

    def old_holder_commits() -> None:
        with stores[0].transaction() as conn:
            conn.execute("INSERT INTO t VALUES (1)")
            old.fence(conn)

    with pytest.raises(LeaseLost, match="new"):
        old_holder_commits()
    assert stores[0].conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0
    with stores[1].transaction() as conn:
        new.fence(conn)
        conn.execute("INSERT INTO t VALUES (2)")
    assert stores[0].conn.execute("SELECT x FROM t").fetchall() == [(2,)]


def test_release_hands_over_at_once(stores: tuple[Store, Store]) -> None:
    clock = Clock()
    first = Lease(stores[0], "channel:website", ttl=15, holder="first", clock=clock)
    second = Lease(stores[1], "channel:website", ttl=15, holder="second", clock=clock)
    assert first.acquire()
    first.release()
    assert not first.held
    assert second.acquire()
    other = Lease(stores[0], "channel:rss", ttl=15, holder="first", clock=clock)
    assert other.acquire()  # leases of other names are independent
