"""One contract, two transports: every test here runs on the embedded SQLite log and
on the real Kafka broker, unchanged."""

import json
import threading
import time
import uuid

from channels.memory import MemoryChannel
from consumers import ChannelRunner, read_dead_letters
from govpub.bus import Bus, Consumer, Record, TopicPartition, open_bus
from govpub.errors import BusError, PublishFailed
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from schemas import encode_event, parse_event
from tests import factories


def _topic(settings: Settings, name: str = "contract") -> str:
    return f"{settings.topic_prefix}.{name}"


def _group(settings: Settings, name: str) -> str:
    return f"{settings.topic_prefix}.group.{name}"


def drain(consumer: Consumer, expected: int, timeout: float = 30.0) -> list[Record]:
    """Poll until ``expected`` records arrived (or time is up)."""
    records: list[Record] = []
    deadline = time.monotonic() + timeout
    while len(records) < expected and time.monotonic() < deadline:
        records.extend(consumer.poll(0.5, 500))
    return records


def settle(consumer: Consumer, seconds: float = 1.5) -> list[Record]:
    """Everything that arrives within ``seconds`` (used to prove nothing more comes)."""
    records: list[Record] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        records.extend(consumer.poll(0.3, 500))
    return records


def commit_all(consumer: Consumer, records: list[Record]) -> None:
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        offsets[record.tp] = max(offsets.get(record.tp, 0), record.offset + 1)
    consumer.commit(offsets)


def send(bus: Bus, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    producer = bus.producer()
    try:
        futures = [producer.send(topic, value, key=key) for key, value in messages]
        producer.flush()
        for future in futures:
            future.result(timeout=30)
    finally:
        producer.close()


def test_send_returns_its_position_and_keys_stay_on_one_partition(settings: Settings) -> None:
    bus = open_bus(settings)
    topic = _topic(settings)
    bus.ensure_topics([topic])
    producer = bus.producer()
    try:
        results = [
            producer.send(topic, f"v{i}".encode(), key=f"doc-{i % 4}".encode()).result(timeout=30)
            for i in range(40)
        ]
    finally:
        producer.close()
    by_key: dict[str, set[int]] = {}
    for i, result in enumerate(results):
        assert result.topic == topic
        by_key.setdefault(f"doc-{i % 4}", set()).add(result.partition)
    assert all(len(partitions) == 1 for partitions in by_key.values())
    per_partition: dict[int, list[int]] = {}
    for result in results:
        per_partition.setdefault(result.partition, []).append(result.offset)
    for offsets in per_partition.values():
        assert offsets == sorted(offsets)
        assert len(set(offsets)) == len(offsets)


def test_records_of_one_key_are_read_in_send_order(settings: Settings) -> None:
    bus = open_bus(settings)
    topic = _topic(settings)
    bus.ensure_topics([topic])
    messages = [(f"doc-{i % 5}".encode(), f"doc-{i % 5}:{i}".encode()) for i in range(200)]
    send(bus, topic, messages)
    with bus.consumer([topic], group=_group(settings, "order")) as consumer:
        records = drain(consumer, 200)
    assert len(records) == 200
    seen: dict[bytes, list[int]] = {}
    for record in records:
        assert record.key is not None
        seen.setdefault(record.key, []).append(int(record.value.split(b":")[1]))
    for key, sequence in seen.items():
        assert sequence == sorted(sequence), key
        assert len(sequence) == 40


def test_uncommitted_records_are_delivered_again_after_a_crash(settings: Settings) -> None:
    bus = open_bus(settings)
    topic = _topic(settings)
    group = _group(settings, "crash")
    bus.ensure_topics([topic])
    send(bus, topic, [(b"k%d" % i, b"m%d" % i) for i in range(30)])
    with bus.consumer([topic], group=group) as first:
        records = drain(first, 30)
        assert len(records) == 30
        processed = [r for r in records if r.offset < 3]
        commit_all(first, processed)
        # close without committing the rest: the member dies mid-way
    with bus.consumer([topic], group=group) as second:
        again = drain(second, 30 - len(processed))
    assert {r.value for r in again} == {r.value for r in records} - {r.value for r in processed}


def test_restart_resumes_from_the_committed_position(settings: Settings) -> None:
    bus = open_bus(settings)
    topic = _topic(settings)
    group = _group(settings, "resume")
    bus.ensure_topics([topic])
    send(bus, topic, [(b"k", b"first-%d" % i) for i in range(10)])
    with bus.consumer([topic], group=group) as consumer:
        records = drain(consumer, 10)
        commit_all(consumer, records)
    send(bus, topic, [(b"k", b"second-%d" % i) for i in range(5)])
    with bus.consumer([topic], group=group) as consumer:
        records = drain(consumer, 5)
        assert [r.value for r in records] == [b"second-%d" % i for i in range(5)]
        commit_all(consumer, records)
        assert settle(consumer) == []
    lag = bus.committed_lag(group, [topic])
    assert sum(lag.values()) == 0


def test_consumer_groups_are_independent(settings: Settings) -> None:
    bus = open_bus(settings)
    topic = _topic(settings)
    bus.ensure_topics([topic])
    send(bus, topic, [(b"k%d" % i, b"m%d" % i) for i in range(12)])
    with bus.consumer([topic], group=_group(settings, "a")) as a:
        got_a = drain(a, 12)
        commit_all(a, got_a)
    with bus.consumer([topic], group=_group(settings, "b")) as b:
        got_b = drain(b, 12)
    assert sorted(r.value for r in got_a) == sorted(r.value for r in got_b)
    assert sum(bus.committed_lag(_group(settings, "a"), [topic]).values()) == 0
    assert sum(bus.committed_lag(_group(settings, "b"), [topic]).values()) == 12


def test_values_are_opaque_so_a_broken_one_does_not_block_its_partition(settings: Settings) -> None:
    bus = open_bus(settings)
    topic = _topic(settings)
    bus.ensure_topics([topic])
    send(bus, topic, [(b"same", b"\xff\x00not json"), (b"same", b""), (b"same", b'{"ok": true}')])
    with bus.consumer([topic], group=_group(settings, "opaque")) as consumer:
        records = drain(consumer, 3)
    assert [r.value for r in records] == [b"\xff\x00not json", b"", b'{"ok": true}']


def test_headers_travel_with_the_record(settings: Settings) -> None:
    bus = open_bus(settings)
    topic = _topic(settings)
    bus.ensure_topics([topic])
    producer = bus.producer()
    try:
        producer.send(topic, b"v", key=b"k", headers=[("govpub-kind", b"policy")]).result(30)
    finally:
        producer.close()
    with bus.consumer([topic], group=None) as consumer:
        (record,) = drain(consumer, 1)
    assert record.headers == (("govpub-kind", b"policy"),)


def test_a_consumer_without_group_reads_everything_from_the_start(settings: Settings) -> None:
    bus = open_bus(settings)
    topic = _topic(settings)
    bus.ensure_topics([topic])
    send(bus, topic, [(str(uuid.uuid4()).encode(), b"x%d" % i) for i in range(9)])
    for _ in range(2):
        with bus.consumer([topic], group=None) as consumer:
            assert len(drain(consumer, 9)) == 9
            assert all(lag == 0 for lag in consumer.lag().values())


def test_end_offsets_count_what_was_stored(settings: Settings) -> None:
    bus = open_bus(settings)
    topic = _topic(settings)
    bus.ensure_topics([topic])
    send(bus, topic, [(b"k%d" % i, b"v") for i in range(7)])
    assert sum(bus.end_offsets([topic]).values()) == 7


def test_sending_to_a_missing_topic_raises(settings: Settings) -> None:
    bus = open_bus(settings)
    producer = bus.producer()
    try:
        future = producer.send(_topic(settings, "never-created"), b"v", key=b"k")
        try:
            future.result(timeout=5)
        except PublishFailed:
            return
        raise AssertionError("a send to a missing topic was acknowledged")
    except PublishFailed:
        return
    finally:
        producer.close()


def test_positions_tell_where_a_member_reads_next(settings: Settings) -> None:
    bus = open_bus(settings)
    topic = _topic(settings)
    group = _group(settings, "positions")
    bus.ensure_topics([topic])
    send(bus, topic, [(b"one-key", b"v%d" % i) for i in range(5)])
    with bus.consumer([topic], group=group) as consumer:
        records = drain(consumer, 5)
        (tp,) = {r.tp for r in records}
        assert consumer.positions()[tp] == 5
        commit_all(consumer, records[:2])
    committed = bus.committed_offsets(group, [topic])
    assert committed[tp] == 2
    assert sum(committed.values()) == 2
    assert bus.committed_offsets(_group(settings, "never"), [topic]) == dict.fromkeys(committed, 0)
    with bus.consumer([topic], group=group) as consumer:
        drain(consumer, 3)
        assert consumer.positions()[tp] == 5
        assert set(consumer.positions()) == consumer.assignment()


def _policy_json(document_id: str, **payload: object) -> str:
    return json.dumps(factories.policy(document_id, **payload), ensure_ascii=False)


HOSTILE_VALUES = {
    "nested arrays": b"[" * 3000 + b"]" * 3000,
    "nested objects": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "a nested payload": _policy_json("hostile-1")
    .replace('"title"', '"deep": ' + "[" * 3000 + "]" * 3000 + ', "title"', 1)
    .encode(),
    "a huge integer": b"1" * 5000,
    "a huge version": _policy_json("hostile-2")
    .replace('"version": 1', '"version": ' + "9" * 5000)
    .encode(),
    "a float overflow": _policy_json("hostile-3")
    .replace('"version": 1', '"version": 1e999999')
    .encode(),
    "a 1 MB string": _policy_json("hostile-4", title="政" * 330_000).encode(),
    "a 1 MB ASCII string": _policy_json("hostile-5", body="a" * 1_000_000).encode(),
    "NaN": b'{"version": NaN}',
    "a lone surrogate": _policy_json("hostile-6").replace("政策解读", "\\ud800").encode(),
    "bytes that are not UTF-8": b'{"event_id": "\xff\xfe"}',
}


def test_hostile_messages_are_dead_lettered_and_never_stop_a_channel(settings: Settings) -> None:
    """Whatever a message holds, the channel dead-letters it with a reason, delivers the
    events around it, and commits past it."""
    topics = Topics(settings.topic_prefix)
    bus = open_bus(settings)
    bus.ensure_topics(topics.all)
    before, after = factories.policy("before-hostile"), factories.policy("after-hostile")
    messages = [(b"hostile", encode_event(parse_event(before)))]
    messages += [(b"hostile", value) for value in HOSTILE_VALUES.values()]
    messages.append((b"hostile", encode_event(parse_event(after))))
    send(bus, topics.for_kind("policy"), messages)
    channel = MemoryChannel()
    with Store(settings.store) as store:
        runner = ChannelRunner(channel, bus, store, topics, poll_timeout=0.2)
        stats = runner.run(until_idle=True)
    assert [e.document_id for e in channel.applied] == ["before-hostile", "after-hostile"]
    assert stats.dead_lettered == len(HOSTILE_VALUES)
    letters = [letter for _, letter in read_dead_letters(bus, topics)]
    assert all(letter is not None and letter.failure == "invalid" for letter in letters)
    assert len(letters) == len(HOSTILE_VALUES)
    assert sum(bus.committed_lag(topics.channel_group("memory"), topics.content).values()) == 0


def test_a_group_is_described_with_who_holds_what(settings: Settings) -> None:
    bus = open_bus(settings)
    topic = _topic(settings)
    group = _group(settings, "described")
    bus.ensure_topics([topic])
    send(bus, topic, [(b"k%d" % i, b"v") for i in range(6)])
    with bus.consumer([topic], group=group) as consumer:
        drain(consumer, 6)
        described = bus.describe_group(group)
        assert described.state == "Stable"
        (member,) = described.members
        assert member.partitions == consumer.assignment() == set(bus.end_offsets([topic]))
        assert "1 member(s)" in described.explain()
    deadline = time.monotonic() + 30
    while bus.describe_group(group).members and time.monotonic() < deadline:
        time.sleep(0.2)
    assert bus.describe_group(group).members == ()


def test_members_that_pause_between_polls_settle_into_a_stable_group(settings: Settings) -> None:
    """Channels pause between polls while they deliver a batch (seconds under load).
    The group must still settle: each member ends up holding partitions, and the
    assignment then stays put instead of rebalancing again and again."""
    bus = open_bus(settings)
    topic = _topic(settings)
    group = _group(settings, "pausing")
    bus.ensure_topics([topic])
    partitions = set(bus.end_offsets([topic]))
    # The first member leads the group and assigns its partitions. Pauses longer than a
    # join takes here make joins end while members are between polls.
    pauses = (1.5, 0.3, 4.0)
    held: list[frozenset[TopicPartition]] = [frozenset()] * len(pauses)
    changed = [time.monotonic()]
    lock = threading.Lock()
    stop = threading.Event()

    def member(index: int, pause: float) -> None:
        while not stop.is_set():
            try:
                with bus.consumer([topic], group=group) as consumer:
                    while not stop.is_set():
                        consumer.poll(0.02, 100)
                        now = frozenset(consumer.assignment())
                        with lock:
                            if now != held[index]:
                                held[index] = now
                                changed[0] = time.monotonic()
                        stop.wait(pause)
            except BusError:
                # What a runner does when a join could not finish: join again as a new member.
                with lock:
                    held[index] = frozenset()
                    changed[0] = time.monotonic()

    threads = [
        threading.Thread(target=member, args=(i, pause), daemon=True)
        for i, pause in enumerate(pauses)
    ]
    threads[0].start()
    deadline = time.monotonic() + 60
    while held[0] != partitions and time.monotonic() < deadline:
        time.sleep(0.1)
    assert held[0] == partitions, "the first member got no partitions in 60 s"
    for thread in threads[1:]:
        thread.start()
    quiet_for = 20.0  # five of the slowest member's pauses without a change
    deadline = time.monotonic() + 240
    settled = False
    try:
        while time.monotonic() < deadline and not settled:
            time.sleep(0.5)
            with lock:
                snapshot = list(held)
                quiet = time.monotonic() - changed[0]
            settled = (
                all(snapshot)
                and set().union(*snapshot) == partitions
                and sum(len(s) for s in snapshot) == len(partitions)
                and quiet >= quiet_for
            )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert settled, f"no stable assignment in 240 s: {snapshot}, last change {quiet:.0f} s ago"
