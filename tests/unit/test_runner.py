"""The channel runner: at-least-once delivery, dedupe, versions, retries, dead letters."""

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from channels.memory import MemoryChannel
from consumers import ChannelRunner, DeadLetter, RetryPolicy, read_dead_letters
from consumers.redrive import redrive
from consumers.runner import _BatchRamp, _GroupWait
from govpub.bus import TopicPartition, open_bus
from govpub.deliveries import DeliveryLog, DeliveryState
from govpub.errors import (
    ChannelFlushFailed,
    LeaseLost,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from producers import Publisher
from schemas import AnyEvent, encode_event, parse_event
from tests import factories

pytestmark = pytest.mark.usefixtures("store_location")

FAST = RetryPolicy(max_attempts=3, min_backoff=0.001, max_backoff=0.002)


def emit(settings: Settings, *events: dict[str, Any]) -> None:
    with Publisher(open_bus(settings), Topics(settings.topic_prefix)) as publisher:
        publisher.publish_many(list(events))


def emit_raw(settings: Settings, kind: str, value: bytes, key: bytes = b"raw") -> None:
    bus = open_bus(settings)
    topics = Topics(settings.topic_prefix)
    bus.ensure_topics(topics.all)
    producer = bus.producer()
    try:
        producer.send(topics.for_kind(kind), value, key=key).result(timeout=30)
    finally:
        producer.close()


def run(
    settings: Settings, channel: MemoryChannel, store: Store, policy: RetryPolicy = FAST
) -> ChannelRunner:
    runner = ChannelRunner(
        channel,
        open_bus(settings),
        store,
        Topics(settings.topic_prefix),
        policy=policy,
        poll_timeout=0.2,
    )
    runner.run(until_idle=True)
    return runner


@pytest.fixture
def local(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


def test_delivers_in_document_order_and_resumes_after_restart(local: Settings) -> None:
    emit(local, *(factories.policy(f"doc-{i % 3}", version=1 + i // 3) for i in range(9)))
    channel = MemoryChannel()
    with Store(local.store) as store:
        runner = run(local, channel, store)
        assert runner.stats.delivered == 9
        for doc in ("doc-0", "doc-1", "doc-2"):
            versions = [e.version for e in channel.applied if e.document_id == doc]
            assert versions == [1, 2, 3]
        again = MemoryChannel()
        assert run(local, again, store).stats.delivered == 0
        assert again.applied == []


def test_an_event_delivered_twice_reaches_the_channel_once(local: Settings) -> None:
    event = factories.policy()
    emit_raw(local, "policy", encode_event(parse_event(event)), key=b"doc-policy-1")
    emit_raw(local, "policy", encode_event(parse_event(event)), key=b"doc-policy-1")
    channel = MemoryChannel()
    with Store(local.store) as store:
        runner = run(local, channel, store)
    assert len(channel.applied) == 1
    assert runner.stats.duplicates == 1


def test_an_older_version_never_overwrites_a_newer_one(local: Settings) -> None:
    newer = parse_event(factories.policy(version=2, title="第二版"))
    older = parse_event(factories.policy(version=1, title="第一版"))
    for event in (newer, older):
        emit_raw(local, "policy", encode_event(event), key=b"doc-policy-1")
    channel = MemoryChannel()
    with Store(local.store) as store:
        runner = run(local, channel, store)
        rows = {r.event_id: r for r in DeliveryLog(store).for_document("doc-policy-1")}
    assert [e.version for e in channel.applied] == [2]
    assert runner.stats.skipped == 1
    assert rows[older.event_id].state is DeliveryState.SKIPPED
    assert "stale" in rows[older.event_id].detail


def test_transient_failures_are_retried(local: Settings) -> None:
    failures = iter([TransientDeliveryError("timeout"), TransientDeliveryError("503")])

    def fail(event: AnyEvent) -> Exception | None:
        return next(failures, None)

    emit(local, factories.policy())
    channel = MemoryChannel(fail=fail)
    with Store(local.store) as store:
        run(local, channel, store)
        (row,) = DeliveryLog(store).for_document("doc-policy-1")
    assert len(channel.applied) == 1
    assert row.state is DeliveryState.CONFIRMED
    assert row.attempts == 3


def test_permanent_failure_is_dead_lettered_and_the_runner_carries_on(local: Settings) -> None:
    def fail(event: AnyEvent) -> Exception | None:
        return (
            PermanentDeliveryError("account not verified") if event.document_id == "bad" else None
        )

    emit(local, factories.policy("bad"), factories.policy("good"))
    channel = MemoryChannel(fail=fail)
    with Store(local.store) as store:
        runner = run(local, channel, store)
        (row,) = DeliveryLog(store).for_document("bad")
    assert [e.document_id for e in channel.applied] == ["good"]
    assert runner.stats.dead_lettered == 1
    assert row.state is DeliveryState.DEAD_LETTERED
    ((record, letter),) = read_dead_letters(open_bus(local), Topics(local.topic_prefix))
    assert letter is not None
    assert letter.channel == "memory"
    assert letter.reason == "account not verified"
    assert letter.error_type == "PermanentDeliveryError"
    assert letter.attempts == 1
    assert letter.origin_topic == f"{local.topic_prefix}.policy"
    assert letter.document_id == "bad"
    assert record.key == b"bad"


def test_exhausted_retries_are_dead_lettered_with_their_attempts(local: Settings) -> None:
    emit(local, factories.policy())
    channel = MemoryChannel(fail=lambda e: ConnectionError("refused"))
    with Store(local.store) as store:
        run(local, channel, store)
    ((_, letter),) = read_dead_letters(open_bus(local), Topics(local.topic_prefix))
    assert letter is not None
    assert letter.attempts == FAST.max_attempts
    assert letter.error_type == "ConnectionError"


def test_poison_goes_to_the_dead_letter_topic_and_the_next_event_is_delivered(
    settings: Settings,
) -> None:
    """Runs on both transports: a malformed message never blocks its partition."""
    emit_raw(settings, "policy", b"\x00not json at all", key=b"doc-policy-1")
    emit_raw(settings, "policy", b'{"kind": "policy"}', key=b"doc-policy-1")
    emit(settings, factories.policy())
    channel = MemoryChannel()
    with Store(settings.store) as store:
        runner = run(settings, channel, store)
    assert [e.document_id for e in channel.applied] == ["doc-policy-1"]
    assert runner.stats.dead_lettered == 2
    letters = [
        letter for _, letter in read_dead_letters(open_bus(settings), Topics(settings.topic_prefix))
    ]
    assert all(letter is not None and letter.error_type == "PoisonMessage" for letter in letters)
    reasons = sorted(letter.reason for letter in letters if letter is not None)
    assert "not valid JSON" in reasons[0] or "not valid JSON" in reasons[1]
    assert any("event_id: Field required" in r for r in reasons)
    assert {letter.original().value for letter in letters if letter is not None} == {
        b"\x00not json at all",
        b'{"kind": "policy"}',
    }


def test_redrive_delivers_each_dead_letter_once(local: Settings) -> None:
    broken = threading.Event()
    broken.set()

    def fail(event: AnyEvent) -> Exception | None:
        return PermanentDeliveryError("platform down") if broken.is_set() else None

    emit(local, factories.policy("a"), factories.policy("b"))
    channel = MemoryChannel(fail=fail)
    bus, topics = open_bus(local), Topics(local.topic_prefix)
    with Store(local.store) as store:
        run(local, channel, store)
        assert channel.applied == []
        broken.clear()
        stats = redrive(channel, bus, store, topics, policy=FAST, poll_timeout=0.2)
        assert (stats.redriven, stats.delivered) == (2, 2)
        assert sorted(e.document_id for e in channel.applied) == ["a", "b"]
        again = redrive(channel, bus, store, topics, policy=FAST, poll_timeout=0.2)
        assert again.redriven == 0
        assert len(channel.applied) == 2
        states = {r.document_id: r.state for r in DeliveryLog(store).for_document("a")}
    assert states == {"a": DeliveryState.CONFIRMED}


def test_redrive_ends_and_counts_letters_that_fail_again(settings: Settings) -> None:
    """Runs on both transports. Letters that fail again are dead-lettered once more per
    run, with their attempts counted, and left for the next run: a run always ends."""
    emit_raw(settings, "policy", b"\x00not json at all", key=b"doc-policy-1")
    emit_raw(settings, "policy", b'{"event_id": "01J000000000000000000000AA", "kind": "policy"}')
    emit(settings, factories.policy("refused"), factories.policy("fine"))
    channel = MemoryChannel(
        fail=lambda e: PermanentDeliveryError("no") if e.document_id == "refused" else None
    )
    bus, topics = open_bus(settings), Topics(settings.topic_prefix)
    with Store(settings.store) as store:
        run(settings, channel, store)
        assert [e.document_id for e in channel.applied] == ["fine"]
        for round_number in (1, 2, 3):
            stats = redrive(channel, bus, store, topics, policy=FAST, poll_timeout=0.2)
            assert (stats.redriven, stats.delivered, stats.failed_again) == (3, 0, 3)
            letters = [letter for _, letter in read_dead_letters(bus, topics)]
            assert len(letters) == 3 * (round_number + 1)
        newest = [letter for letter in letters if letter is not None and letter.redrives == 3]
        assert len({(x.origin_topic, x.origin_partition, x.origin_offset) for x in newest}) == 3
        assert [letter.attempts for letter in newest] == [4, 4, 4]
    assert [e.document_id for e in channel.applied] == ["fine"]


def test_a_crash_after_recording_but_before_commit_is_harmless(local: Settings) -> None:
    emit(local, factories.policy())
    bus, topics = open_bus(local), Topics(local.topic_prefix)
    channel = MemoryChannel()
    with Store(local.store) as store:
        with (
            ChannelRunner(channel, bus, store, topics, policy=FAST) as runner,
            bus.consumer(topics.content, group=runner.group) as consumer,
        ):
            records = []
            while not records:
                records = consumer.poll(0.5, 10)
            runner.process(records)  # delivered and recorded; the commit never happens
        second = MemoryChannel()
        runner2 = run(local, second, store)
    assert len(channel.applied) == 1
    assert second.applied == []
    assert runner2.stats.duplicates == 1


def test_flush_failures_are_retried_then_raised_without_commit(local: Settings) -> None:
    class BrokenDisk(MemoryChannel):
        def flush(self, *, backlog: bool = False) -> None:
            raise OSError("disk full")

    emit(local, factories.policy())
    with Store(local.store) as store:
        with pytest.raises(ChannelFlushFailed, match="disk full"):
            run(local, BrokenDisk(), store)
        assert DeliveryLog(store).for_document("doc-policy-1") == []
        healthy = MemoryChannel()
        run(local, healthy, store)
    assert len(healthy.applied) == 1


def test_stop_ends_a_running_consumer(local: Settings) -> None:
    channel = MemoryChannel()
    with Store(local.store) as store:
        runner = ChannelRunner(channel, open_bus(local), store, Topics(local.topic_prefix))
        thread = threading.Thread(target=runner.run)
        thread.start()
        runner.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_dead_letters_round_trip() -> None:
    from govpub.bus import Record

    record = Record("t.policy", 1, 42, b"k", b"\xffvalue", 1000)
    letter = DeadLetter.for_record(record, channel="rss", error=ValueError("bad"), attempts=2)
    decoded = DeadLetter.decode(letter.encode())
    assert decoded == letter
    assert decoded.original() == record
    assert DeadLetter.decode(b"{}") is None


def test_a_lease_lost_while_applying_drops_the_batch_not_the_event(local: Settings) -> None:
    """A single-writer channel that finds its lease gone in the middle of a batch raises
    LeaseLost from ``apply``: the runner gives the batch up, uncommitted, and delivers it
    again once it holds the channel; the event is neither retried as a failure nor
    dead-lettered."""
    lost: list[str] = []

    def fail(event: AnyEvent) -> Exception | None:
        if not lost:
            lost.append(event.document_id)
            return LeaseLost("lease channel:memory: another process holds it now")
        return None

    emit(local, factories.policy("p1"))
    channel = MemoryChannel(fail=fail)
    with Store(local.store) as store:
        runner = run(local, channel, store)
        (row,) = DeliveryLog(store).for_document("p1")
    assert lost == ["p1"]
    assert [e.document_id for e in channel.applied] == ["p1"]
    assert runner.stats.dead_lettered == 0
    assert row.state is DeliveryState.CONFIRMED
    assert row.attempts == 1
    assert read_dead_letters(open_bus(local), Topics(local.topic_prefix)) == []


class IdleChannel(MemoryChannel):
    """Counts the runner's calls between events; the first one fails."""

    def __init__(self) -> None:
        super().__init__()
        self.idle_calls = 0

    def idle(self) -> None:
        self.idle_calls += 1
        if self.idle_calls == 1:
            raise RuntimeError("the platform did not answer")


def test_the_channel_works_between_events_and_its_failures_stop_nothing(
    local: Settings,
) -> None:
    channel = IdleChannel()
    with Store(local.store) as store:
        runner = ChannelRunner(
            channel,
            open_bus(local),
            store,
            Topics(local.topic_prefix),
            poll_timeout=0.05,
            idle_interval=0.0,
        )
        thread = threading.Thread(target=runner.run)
        thread.start()
        try:
            emit(local, factories.policy("p1"))
            deadline = time.monotonic() + 20
            while (channel.idle_calls < 3 or not channel.applied) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            runner.stop()
            thread.join(timeout=10)
    assert channel.idle_calls >= 3  # the first call raised; the runner went on
    assert [e.document_id for e in channel.applied] == ["p1"]
    assert not thread.is_alive()


def test_a_new_assignment_starts_with_small_batches_that_double() -> None:
    ramp = _BatchRamp(1000)
    first = {TopicPartition("t", 0), TopicPartition("t", 1)}
    assert [ramp.next(set()) for _ in range(3)] == [200, 200, 200]
    assert [ramp.next(first) for _ in range(5)] == [200, 400, 800, 1000, 1000]
    # A rebalance that takes a partition away starts over, as a join does.
    assert [ramp.next({TopicPartition("t", 0)}) for _ in range(2)] == [200, 400]
    assert _BatchRamp(50).next(first) == 50


def test_a_member_done_with_its_partitions_checks_the_group_soon_then_less_often() -> None:
    wait = _GroupWait(0.5)
    assert wait.timeout() == 0.5
    timeouts = []
    for _ in range(5):
        wait.waiting()
        timeouts.append(wait.timeout())
    assert timeouts == [0.1, 0.2, 0.4, 0.5, 0.5]
    # Records again (a rebalance gave it another member's partitions): the usual poll.
    wait.reading()
    assert wait.timeout() == 0.5
    wait.waiting()
    assert wait.timeout() == 0.1
    assert _GroupWait(0.05).timeout() == 0.05
    short = _GroupWait(0.05)
    short.waiting()
    assert short.timeout() == 0.05


def test_the_runner_delivers_a_backlog_in_batches_that_grow(local: Settings) -> None:
    emit(local, *(factories.policy(f"doc-{i}") for i in range(700)))
    channel = MemoryChannel()
    with Store(local.store) as store:
        runner = ChannelRunner(
            channel, open_bus(local), store, Topics(local.topic_prefix), max_batch=500
        )
        runner.run(until_idle=True)
    assert runner.stats.delivered == 700
    # 200, then 400, then the 100 left: a full batch only once the assignment is settled.
    assert runner.stats.batches == 3
    assert channel.flushes == 3


class _FlushLog(MemoryChannel):
    """Records, for each flush, how many events it follows and whether a backlog waited."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[int, bool]] = []

    def flush(self, *, backlog: bool = False) -> None:
        super().flush(backlog=backlog)
        self.log.append((len(self.applied), backlog))


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # 200 (full: more are waiting), then the 100 left.
        (300, [(200, True), (300, False)]),
        # 200, 200 (the assignment is new at the first poll), then 400: all full. The poll
        # after them finds nothing: the channel writes what it held back, no new event.
        (800, [(200, True), (400, True), (800, True), (800, False)]),
    ],
    ids=["ends with a batch that is not full", "ends with a full batch"],
)
def test_a_full_batch_is_flushed_with_a_backlog_and_the_last_flush_never_is(
    local: Settings, events: int, expected: list[tuple[int, bool]]
) -> None:
    emit(local, *(factories.policy(f"doc-{i}") for i in range(events)))
    channel = _FlushLog()
    with Store(local.store) as store:
        runner = ChannelRunner(
            channel,
            open_bus(local),
            store,
            Topics(local.topic_prefix),
            max_batch=400,
            poll_timeout=0.2,
        )
        runner.run(until_idle=True)
    assert runner.stats.delivered == events
    assert channel.log == expected


def test_a_consumer_asked_to_stop_after_a_full_batch_writes_what_the_channel_held_back(
    local: Settings,
) -> None:
    emit(local, *(factories.policy(f"doc-{i}") for i in range(200)))
    with Store(local.store) as store:
        runner: ChannelRunner | None = None

        class StopAfterFirst(_FlushLog):
            def flush(self, *, backlog: bool = False) -> None:
                super().flush(backlog=backlog)
                assert runner is not None
                runner.stop()

        channel = StopAfterFirst()
        runner = ChannelRunner(
            channel, open_bus(local), store, Topics(local.topic_prefix), max_batch=400
        )
        runner.run()
    assert channel.log == [(200, True), (200, False)]
