"""The embedded bus with several processes and several members of one group."""

import multiprocessing
import time
from pathlib import Path

from govpub.bus import Record
from govpub.bus.sqlite import SqliteBus
from tests.contract.test_bus_contract import commit_all


def _produce(path: str, topic: str, worker: int, count: int) -> None:
    bus = SqliteBus(Path(path), partitions=3)
    producer = bus.producer()
    for i in range(count):
        producer.send(topic, f"{worker}:{i}".encode(), key=f"w{worker}-d{i % 7}".encode())
        if i % 25 == 0:
            producer.flush()
    producer.close()


def test_several_processes_write_one_consistent_log(tmp_path: Path) -> None:
    path = tmp_path / "bus.db"
    bus = SqliteBus(path, partitions=3)
    bus.ensure_topics(["t"])
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_produce, args=(str(path), "t", w, 200)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    with bus.consumer(["t"], group=None) as consumer:
        records: list[Record] = []
        while len(records) < 800:
            batch = consumer.poll(1.0, 1000)
            assert batch, f"only {len(records)} of 800 records"
            records.extend(batch)
    assert len({r.value for r in records}) == 800
    for partition in range(3):
        offsets = [r.offset for r in records if r.partition == partition]
        assert offsets == list(range(len(offsets)))
    for worker in range(4):  # each producer's sends to one key stay in order
        for doc in range(7):
            key = f"w{worker}-d{doc}".encode()
            sequence = [int(r.value.split(b":")[1]) for r in records if r.key == key]
            assert sequence == sorted(sequence)


def test_members_of_one_group_share_partitions_without_overlap(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.db", partitions=4, session_timeout=3.0)
    bus.ensure_topics(["t"])
    producer = bus.producer()
    for i in range(40):
        producer.send("t", b"%d" % i, key=b"k%d" % i)
    producer.close()
    first = bus.consumer(["t"], group="g")
    second = bus.consumer(["t"], group="g")
    try:
        seen: dict[str, list[Record]] = {"first": [], "second": []}
        deadline = time.monotonic() + 15
        while sum(len(v) for v in seen.values()) < 40 and time.monotonic() < deadline:
            for name, consumer in (("first", first), ("second", second)):
                batch = consumer.poll(0.2, 100)
                seen[name].extend(batch)
                commit_all(consumer, batch)
        assert not first.assignment() & second.assignment()
        values = [r.value for v in seen.values() for r in v]
        assert sorted(values) == sorted(b"%d" % i for i in range(40))
    finally:
        first.close()
    # the survivor takes over every partition once the other has left
    deadline = time.monotonic() + 10
    while len(second.assignment()) < 4 and time.monotonic() < deadline:
        second.poll(0.2, 10)
    assert len(second.assignment()) == 4
    second.close()


def test_a_dead_member_loses_its_partitions_after_the_session_timeout(tmp_path: Path) -> None:
    bus = SqliteBus(tmp_path / "bus.db", partitions=2, session_timeout=1.5)
    bus.ensure_topics(["t"])
    producer = bus.producer()
    producer.send("t", b"x", key=b"k")
    producer.close()
    dead = bus.consumer(["t"], group="g")
    assert dead.poll(1.0, 10)  # reads, never commits, never leaves: a crash
    survivor = bus.consumer(["t"], group="g")
    deadline = time.monotonic() + 10
    records: list[Record] = []
    while not records and time.monotonic() < deadline:
        records = survivor.poll(0.3, 10)
    assert [r.value for r in records] == [b"x"]
    survivor.close()
