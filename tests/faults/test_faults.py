"""No event lost and none published twice, under consumer, broker and bus failures.

Each test reports: events sent, faults injected, events lost, duplicates seen (the
same item twice in any feed or delivery record), and recovery time.
"""

import itertools
import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from channels.memory import MemoryChannel
from consumers import ChannelRunner, read_dead_letters
from consumers.service import build_runner
from govpub.bus import open_bus
from govpub.bus.sqlite import SqliteBus
from govpub.errors import BusError, PublishFailed
from govpub.settings import Settings
from govpub.store import Store
from govpub.testing.kafka_broker import KafkaBroker
from govpub.topics import Topics
from producers import PartialPublish, Publisher
from schemas import parse_event
from tests import factories
from tests.faults.helpers import (
    delivered_events,
    documents,
    feed_duplicates,
    kill,
    report,
    spawn_consumer,
    wait_caught_up,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(400)]


def rss_documents(settings: Settings) -> dict[str, int]:
    with Store(settings.store) as store:
        build_runner(settings, "rss", store).channel.close()  # ensures the tables exist
        rows = store.conn.execute("SELECT document_id, version FROM rss_items").fetchall()
    return dict(rows)


def run_until_idle(settings: Settings, channel: str = "rss") -> ChannelRunner:
    with Store(settings.store) as store:
        runner = build_runner(settings, channel, store)
        try:
            runner.run(until_idle=True)
        finally:
            runner.channel.close()
    return runner


def test_consumer_killed_five_times(
    make_settings: Callable[..., Settings], kafka_broker: KafkaBroker, seed: int, tmp_path: Path
) -> None:
    rng = random.Random(seed)
    settings = make_settings(kafka_broker.url, max_batch=50, session_timeout=3.0)
    events = documents(5000)
    sent: list[str] = []

    def send() -> None:
        with Publisher(open_bus(settings), Topics(settings.topic_prefix)) as publisher:
            for start in range(0, len(events), 250):
                chunk = events[start : start + 250]
                publisher.publish_many(chunk)
                sent.extend(e["event_id"] for e in chunk)
                time.sleep(0.2)

    sender = threading.Thread(target=send)
    sender.start()
    log = tmp_path / "consumer.log"
    consumer = spawn_consumer(settings, ["rss"], log=log)
    kills = 0
    try:
        for _ in range(5):
            time.sleep(rng.uniform(0.5, 3.0))
            kill(consumer)
            kills += 1
            consumer = spawn_consumer(settings, ["rss"], log=log)
        sender.join(timeout=120)
        recovery = wait_caught_up(settings, "rss", timeout=180)
    finally:
        kill(consumer)
        sender.join(timeout=5)
    assert len(sent) == 5000
    delivered = delivered_events(settings, "rss")
    published = rss_documents(settings)
    lost = 5000 - len(set(sent) & set(delivered))
    duplicates = feed_duplicates(settings.output_dir)
    report(
        "consumer crash",
        events=5000,
        faults=f"{kills} SIGKILLs of the consumer",
        lost=lost,
        duplicates=duplicates,
        recovery_s=round(recovery, 1),
        seed=seed,
    )
    assert lost == 0
    assert duplicates == 0
    assert len(published) == 5000


def test_broker_killed_three_times_while_sending(
    make_settings: Callable[..., Settings], own_broker: KafkaBroker, seed: int
) -> None:
    rng = random.Random(seed)
    settings = make_settings(own_broker.url, session_timeout=6.0)
    events = documents(10_000)
    acked: set[str] = set()
    failed: set[str] = set()
    stop = threading.Event()

    def send() -> None:
        with Publisher(
            open_bus(settings), Topics(settings.topic_prefix), ack_timeout=60
        ) as publisher:
            for start in range(0, len(events), 100):
                chunk = events[start : start + 100]
                try:
                    accepted = publisher.publish_many(chunk)
                    acked.update(a.event_id for a in accepted)
                except PartialPublish as exc:
                    acked.update(a.event_id for a in exc.accepted)
                    failed.update(exc.failed)
                except (PublishFailed, BusError):
                    failed.update(e["event_id"] for e in chunk)
                time.sleep(0.08)

    sender = threading.Thread(target=send)
    sender.start()
    kills = 0
    try:
        for _ in range(3):
            time.sleep(rng.uniform(1.0, 4.0))
            own_broker.kill()
            kills += 1
            time.sleep(rng.uniform(0.5, 3.0))
            own_broker.start()
        sender.join(timeout=240)
        assert not sender.is_alive(), "the sender hung"
    finally:
        stop.set()
        if own_broker.process is None or own_broker.process.poll() is not None:
            own_broker.start()
    started = time.monotonic()
    run_until_idle(settings)
    recovery = time.monotonic() - started
    delivered = delivered_events(settings, "rss")
    everything = {e["event_id"] for e in events}
    lost = len(acked - set(delivered))
    unaccounted = everything - acked - failed
    duplicates = feed_duplicates(settings.output_dir)
    report(
        "broker crash",
        events=10_000,
        faults=f"{kills} SIGKILLs of the broker",
        acknowledged=len(acked),
        raised_to_caller=len(failed),
        lost=lost,
        duplicates=duplicates,
        recovery_s=round(recovery, 1),
        seed=seed,
    )
    assert not unaccounted, "every send is either acknowledged or raised"
    assert set(delivered) <= everything
    assert lost == 0
    assert duplicates == 0


def test_broker_paused_for_twenty_seconds(
    make_settings: Callable[..., Settings], own_broker: KafkaBroker, seed: int
) -> None:
    settings = make_settings(own_broker.url, session_timeout=6.0)
    with Publisher(open_bus(settings), Topics(settings.topic_prefix)) as publisher:
        publisher.publish_many(documents(200, prefix="before"))
    store = Store(settings.store).open()
    runner = build_runner(settings, "rss", store)
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        wait_caught_up(settings, "rss", timeout=60)

        def send_during_pause() -> None:
            with Publisher(open_bus(settings), Topics(settings.topic_prefix)) as publisher:
                publisher.publish_many(documents(300, prefix="during"))

        sender = threading.Thread(target=send_during_pause)
        own_broker.pause()
        try:
            sender.start()
            time.sleep(20)
        finally:
            own_broker.resume()
        resumed = time.monotonic()
        sender.join(timeout=120)
        wait_caught_up(settings, "rss", timeout=120)
        recovery = time.monotonic() - resumed
        assert thread.is_alive(), "the consumer died instead of recovering"
    finally:
        runner.stop()
        thread.join(timeout=60)
        runner.channel.close()
        store.close()
    delivered = delivered_events(settings, "rss")
    lost = 500 - len(delivered)
    report(
        "broker pause",
        events=500,
        faults="SIGSTOP of the broker for 20 s, then SIGCONT",
        lost=lost,
        duplicates=feed_duplicates(settings.output_dir),
        recovery_s=round(recovery, 1),
        seed=seed,
    )
    assert lost == 0


def test_ten_poison_messages_among_a_thousand(
    make_settings: Callable[..., Settings], kafka_broker: KafkaBroker, seed: int
) -> None:
    rng = random.Random(seed)
    settings = make_settings(kafka_broker.url)
    topics = Topics(settings.topic_prefix)
    open_bus(settings).ensure_topics(topics.all)
    good = [parse_event(e).model_dump_json().encode() for e in documents(990)]
    oversized = factories.policy("too-big", body="字" * 400_000)
    poison: list[tuple[str, bytes]] = [
        ("bad JSON", b"{not json"),
        ("bad JSON", b"\xff\xfe\x00"),
        ("bad JSON", b""),
        ("wrong schema", b'{"kind": "policy", "action": "publish"}'),
        ("wrong schema", b'{"event_id": 1}'),
        ("wrong schema", b"[1, 2, 3]"),
        ("unknown kind", b'{"kind": "notice", "action": "update", "payload": {}}'),
        ("unknown kind", b'{"kind": "poem", "action": "publish"}'),
        ("oversized", json.dumps(oversized).encode()),
        ("oversized", b'{"pad": "' + b"x" * 1_200_000 + b'"}'),
    ]
    messages: list[tuple[str | None, bytes]] = [(None, value) for value in good]
    for label, value in poison:
        messages.insert(rng.randrange(len(messages) + 1), (label, value))
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, max_request_size=4_194_304)
    positions: dict[tuple[int, int], str] = {}
    try:
        for label, value in messages:
            meta = producer.send(
                topics.for_kind("policy"), value=value, key=b"k%d" % rng.randrange(50)
            ).get(30)
            if label is not None:
                positions[(meta.partition, meta.offset)] = label
    finally:
        producer.close()
    started = time.monotonic()
    runner = run_until_idle(settings)
    elapsed = time.monotonic() - started
    letters = [letter for _, letter in read_dead_letters(open_bus(settings), topics)]
    assert all(letter is not None for letter in letters)
    origins = {(d.origin_partition, d.origin_offset) for d in letters if d is not None}
    report(
        "poison messages",
        events=1000,
        faults="10 malformed (bad JSON, wrong schema, unknown kind, oversized)",
        published=runner.stats.delivered,
        dead_lettered=len(letters),
        lost=990 - runner.stats.delivered,
        duplicates=feed_duplicates(settings.output_dir),
        recovery_s=round(elapsed, 1),
        seed=seed,
    )
    assert runner.stats.delivered == 990
    assert len(letters) == 10
    assert origins == set(positions)
    for letter in letters:
        assert letter is not None
        assert letter.origin_topic == topics.for_kind("policy")
        assert letter.error_type == "PoisonMessage"
        assert letter.reason.startswith("invalid event:")
    truncated = [d for d in letters if d is not None and d.value_truncated]
    assert len(truncated) == 2


def test_versions_sent_shuffled_by_several_producers(
    make_settings: Callable[..., Settings], kafka_broker: KafkaBroker, seed: int
) -> None:
    rng = random.Random(seed)
    settings = make_settings(kafka_broker.url)
    events = [
        factories.policy(f"ordered-{d:02d}", version=v, title=f"文件{d} 第{v}版")
        for d in range(50)
        for v in range(1, 21)
    ]
    rng.shuffle(events)
    shares = [events[i::4] for i in range(4)]

    def send(share: list[dict[str, Any]]) -> None:
        with Publisher(open_bus(settings), Topics(settings.topic_prefix)) as publisher:
            for start in range(0, len(share), 25):
                publisher.publish_many(share[start : start + 25])

    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    run_until_idle(settings)
    memory = MemoryChannel("ordering-probe")
    with Store(settings.store) as store:
        ChannelRunner(memory, open_bus(settings), store, Topics(settings.topic_prefix)).run(
            until_idle=True
        )
    final = rss_documents(settings)
    regressions = 0
    for doc in {e.document_id for e in memory.applied}:
        versions = [e.version for e in memory.applied if e.document_id == doc]
        regressions += sum(1 for a, b in itertools.pairwise(versions) if b <= a)
    report(
        "ordering",
        events=1000,
        faults="50 documents × 20 versions, shuffled, 4 producers",
        lost=sum(1 for v in final.values() if v != 20) + (50 - len(final)),
        duplicates=feed_duplicates(settings.output_dir),
        older_over_newer=regressions,
        seed=seed,
    )
    assert final == {f"ordered-{d:02d}": 20 for d in range(50)}
    assert {doc: e.version for doc, e in memory.documents.items()} == final
    assert regressions == 0


_WRITER = """
import sys, json, uuid
from pathlib import Path
from govpub.bus.sqlite import SqliteBus
bus = SqliteBus(Path(sys.argv[1]), partitions=3)
producer = bus.producer()
base = json.loads(sys.argv[2])
n = 0
while True:
    for _ in range(500):
        event = dict(base, event_id=str(uuid.uuid4()), document_id=f"w-{uuid.uuid4().hex[:12]}")
        producer.send(sys.argv[3], json.dumps(event, ensure_ascii=False).encode(), key=event["document_id"].encode())
    producer.flush()
    n += 1
    print(n, flush=True)
"""


def test_embedded_bus_writer_killed_mid_batch(
    make_settings: Callable[..., Settings], seed: int, tmp_path: Path
) -> None:
    rng = random.Random(seed)
    settings = make_settings()
    bus = open_bus(settings)
    assert isinstance(bus, SqliteBus)
    topics = Topics(settings.topic_prefix)
    bus.ensure_topics(topics.all)
    store = Store(settings.store).open()
    runner = build_runner(settings, "rss", store)
    reader = threading.Thread(target=runner.run)
    reader.start()
    kills = 0
    try:
        for _ in range(3):
            writer = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _WRITER,
                    str(bus.path),
                    json.dumps(factories.policy()),
                    topics.for_kind("policy"),
                ],
                stdout=subprocess.DEVNULL,
            )
            try:
                time.sleep(rng.uniform(0.5, 2.5))
            finally:
                kill(writer)
                kills += 1
        recovery = wait_caught_up(settings, "rss", timeout=120)
    finally:
        runner.stop()
        reader.join(timeout=60)
        runner.channel.close()
        store.close()
    conn = bus.connect()
    try:
        rows = conn.execute(
            "SELECT partition, offset, value FROM bus_log WHERE topic=? ORDER BY partition, offset",
            (topics.for_kind("policy"),),
        ).fetchall()
    finally:
        conn.close()
    total = len(rows)
    for partition in range(3):
        offsets = [o for p, o, _ in rows if p == partition]
        assert offsets == list(range(len(offsets))), "offsets have a gap"
    partial = 0
    for _, _, value in rows:
        try:
            parse_event(value)
        except Exception:
            partial += 1
    delivered = delivered_events(settings, "rss")
    report(
        "embedded bus writer crash",
        events=total,
        faults=f"{kills} SIGKILLs of a writer mid-batch",
        lost=total - len(delivered),
        duplicates=feed_duplicates(settings.output_dir),
        partial_records=partial,
        recovery_s=round(recovery, 1),
        seed=seed,
    )
    assert total > 0
    assert total % 500 == 0, "a batch was half written"
    assert partial == 0
    assert len(delivered) == total
