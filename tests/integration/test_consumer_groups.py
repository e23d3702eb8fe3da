"""Several consumers of one channel, on both transports: the partitions of every topic
shared evenly, ``--until-idle`` ending only when the whole group is done, members that
leave cleanly, and the website's standby that takes over."""

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from channels.memory import MemoryChannel
from consumers.lease import Lease
from consumers.runner import ChannelRunner, RunStats
from govpub.app.channels import build_runner, run_channels
from govpub.bus import Bus, Consumer, Record, TopicPartition, open_bus
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from producers import Publisher
from tests import factories
from tests.faults.helpers import consume_until_idle
from tests.kafka_broker import KafkaBroker


def emit(settings: Settings, events: list[dict[str, Any]]) -> None:
    with Publisher(open_bus(settings), Topics(settings.topic_prefix)) as publisher:
        publisher.publish_many(events)


def every_kind(count: int, prefix: str = "g") -> list[dict[str, Any]]:
    """``count`` documents spread over five of the content topics."""
    makers: list[Callable[[str], dict[str, Any]]] = [
        lambda d: factories.policy(d),
        lambda d: factories.penalty(d),
        lambda d: factories.envelope(
            "meeting",
            d,
            1,
            {
                "title": "常务会议",
                "meeting_type": "常务会议",
                "held_on": "2023-06-16",
                "press_release": "<p>会议。</p>",
                "decisions": ["通过。"],
            },
        ),
        lambda d: factories.envelope(
            "campaign",
            d,
            1,
            {
                "title": "主题日",
                "theme": "主题",
                "day": "2023-07-05",
                "phase": "day",
                "body": "<p>活动。</p>",
            },
        ),
        lambda d: factories.envelope(
            "exposure",
            d,
            1,
            {
                "title": "典型案例",
                "domain": "安全生产",
                "candidate_quarter": "2023Q2",
                "case_summary": "案情。",
                "decision_ref": "pen-x",
            },
        ),
    ]
    return [makers[i % 5](f"{prefix}-{i:04d}") for i in range(count)]


def wait_for(condition: Callable[[], bool], failure: str, timeout: float = 120.0) -> None:
    """Return as soon as ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.05)


def test_members_share_the_partitions_of_every_topic_evenly(settings: Settings) -> None:
    """Ten topics of three partitions, two members: 15 partitions each (kafka-python's
    default assignor split each topic on its own and gave one member two of every
    topic's three: 20).

    Each member polls in a thread of its own, as each runs in a process of its own: a
    member waiting in a JoinGroup for the other would otherwise keep the other from
    rejoining, and the rebalance would only end when the request timed out."""
    topics = Topics(settings.topic_prefix)
    bus = open_bus(settings)
    bus.ensure_topics(topics.content)
    group = topics.channel_group("memory")
    everything = set(bus.end_offsets(topics.content))
    assert len(everything) == 3 * len(topics.content) == 30
    stop = threading.Event()
    lock = threading.Lock()
    assignments: dict[str, set[TopicPartition]] = {}
    errors: list[BaseException] = []

    def member(name: str) -> None:
        try:
            consumer = bus.consumer(topics.content, group=group)
            try:
                while not stop.is_set():
                    consumer.poll(0.05, 10)
                    with lock:
                        assignments[name] = set(consumer.assignment())
            finally:
                consumer.close()
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)

    settled: list[set[TopicPartition]] = []

    def shared() -> bool:
        assert errors == []
        with lock:
            mine, theirs = assignments.get("first", set()), assignments.get("second", set())
        if mine and theirs and not mine & theirs and mine | theirs == everything:
            settled[:] = [mine, theirs]
            return True
        return False

    members = [threading.Thread(target=member, args=(name,)) for name in ("first", "second")]
    for thread in members:
        thread.start()
    try:
        wait_for(shared, "the two members never shared the partitions")
    finally:
        stop.set()
        for thread in members:
            thread.join(timeout=120)
    assert errors == []
    assert sorted(len(assigned) for assigned in settled) == [15, 15]
    for assigned in settled:
        assert {tp.topic for tp in assigned} == set(topics.content)


class CountingBus:
    """The real bus, counting how often the group's committed lag is asked for."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self.lag_checks = 0

    def committed_lag(self, group: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
        self.lag_checks += 1
        return self._bus.committed_lag(group, topics)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bus, name)


def test_until_idle_ends_only_when_the_whole_group_is_done(settings: Settings) -> None:
    """A member that has delivered its own partitions keeps going while another member
    still holds records it has not committed (issue 21: a run ended with 20,142 events
    undelivered); it ends once that member has committed them."""
    settings = settings.model_copy(update={"session_timeout": 30.0})  # nobody times out here
    events = every_kind(40)
    emit(settings, events)
    topics = Topics(settings.topic_prefix)
    group = topics.channel_group("memory")
    lock = threading.Lock()
    stop = threading.Event()
    in_flight: list[Record] = []
    other: Consumer = open_bus(settings).consumer(topics.content, group=group)

    def keep_polling() -> None:
        # The other member is alive (it heartbeats by polling) but commits nothing yet.
        while not stop.is_set():
            with lock:
                in_flight.extend(other.poll(0.05, 500))
            time.sleep(0.05)

    poller = threading.Thread(target=keep_polling, daemon=True)
    poller.start()
    bus = CountingBus(open_bus(settings))
    channel = MemoryChannel()
    result: list[RunStats] = []
    try:
        wait_for(lambda: bool(in_flight), "the other member got no records")
        with Store(settings.store) as store:
            runner = ChannelRunner(channel, bus, store, topics, poll_timeout=0.2)  # type: ignore[arg-type]
            member = threading.Thread(
                target=lambda: result.append(runner.run(until_idle=True)), daemon=True
            )
            member.start()
            # This member delivers what it holds, then keeps asking whether the group is done.
            wait_for(
                lambda: bool(channel.applied) or not member.is_alive(),
                "the member got no partitions",
            )
            checks = bus.lag_checks
            wait_for(
                lambda: bus.lag_checks >= checks + 3 or not member.is_alive(),
                "the member stopped asking whether the group is done",
            )
            assert member.is_alive(), "it ended while the group still had records to deliver"
            with lock:
                held = other.assignment()
                offsets: dict[TopicPartition, int] = {}
                for record in in_flight:
                    if record.tp in held:
                        offsets[record.tp] = max(offsets.get(record.tp, 0), record.offset + 1)
                other.commit(offsets)  # the other member delivered its part
            member.join(timeout=120)
            assert not member.is_alive()
    finally:
        stop.set()
        poller.join()
        other.close()
    lag = open_bus(settings).committed_lag(group, topics.content)
    assert all(n <= 0 for n in lag.values())
    assert result[0].delivered == len(channel.applied)


def test_members_that_end_together_deliver_everything_once_and_leave_cleanly(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Three ``--until-idle`` members of one group: every event once, each ends when the
    group is done, and none is told on leaving that the group no longer knew it."""
    caplog.set_level(logging.INFO, logger="kafka")
    events = every_kind(300)
    emit(settings, events)
    topics = Topics(settings.topic_prefix)
    results = run_channels(settings, ["rss", "rss", "rss"], until_idle=True)
    assert [r.error for r in results] == [None, None, None]
    # A batch whose commit a rebalance refused is read again by the partition's next
    # owner, which finds it recorded: a duplicate, never a second delivery.
    delivered = sum(r.stats.delivered + r.stats.skipped for r in results if r.stats)
    assert delivered == len(events)
    with Store(settings.store) as store:
        recorded = store.conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM deliveries WHERE channel='rss'"
        ).fetchone()
    assert tuple(recorded) == (len(events), len(events))
    lag = open_bus(settings).committed_lag(topics.channel_group("rss"), topics.content)
    assert all(n <= 0 for n in lag.values())
    problems = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("kafka") and r.levelno >= logging.ERROR
    ]
    assert not [p for p in problems if "UnknownMember" in p or "LeaveGroup" in p], problems


def test_a_member_whose_polls_are_shorter_than_a_join_gets_its_partitions(
    make_settings: Callable[..., Settings], kafka_broker: KafkaBroker
) -> None:
    """Polls of 1 ms with work between them: the member is assigned its group's partitions.
    kafka-python threw away a join that ended between two polls and began a new one (a
    new rebalance): such a member went through 143 generations in 30 s and got nothing."""
    settings = make_settings(kafka_broker.url)
    topics = Topics(settings.topic_prefix)
    bus = open_bus(settings)
    bus.ensure_topics(topics.content)
    group = topics.channel_group("memory")
    with bus.consumer(topics.content, group=group) as member:
        polls = 0
        while not member.assignment():
            assert polls < 50, "the member was never assigned a partition"
            member.poll(0.001, 10)
            polls += 1
            time.sleep(0.2)  # the caller's work between two polls
        assert member.assignment() == set(bus.end_offsets(topics.content))
        assert bus.describe_group(group).state == "Stable"


def test_a_member_busy_after_a_rebalance_stays_in_the_group_and_leaves_cleanly(
    make_settings: Callable[..., Settings],
    kafka_broker: KafkaBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A member whose poll begins a rebalance and which then works for longer than the
    session timeout before it polls again (a batch, or the group's lag read over new
    connections on a loaded machine) is still in the group afterwards, and leaves it
    cleanly. kafka-python sends no heartbeat from the start of a join to the poll that
    finds it complete: a poll that returned half-way left the member silent, the
    coordinator dropped it, and on leaving it was told ``UnknownMemberIdError`` (the
    failure of the test above on a loaded machine)."""
    caplog.set_level(logging.INFO, logger="kafka")
    settings = make_settings(kafka_broker.url)
    topics = Topics(settings.topic_prefix)
    bus = open_bus(settings)
    bus.ensure_topics(topics.content)
    group = topics.channel_group("memory")
    busy = bus.consumer(topics.content, group=group)
    stop = threading.Event()
    errors: list[BaseException] = []

    def other_member() -> None:
        try:
            with bus.consumer(topics.content, group=group) as consumer:
                while not stop.is_set():
                    consumer.poll(0.05, 10)
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)

    other = threading.Thread(target=other_member)
    try:
        wait_for(lambda: not busy.poll(0.05, 10) and bool(busy.assignment()), "never joined")
        other.start()
        # The other member has asked to join: the coordinator waits for this one.
        wait_for(
            lambda: bus.describe_group(group).state == "PreparingRebalance",
            "the second member never asked to join",
        )

        def rejoined() -> bool:
            busy.poll(0.001, 10)  # a poll far shorter than a rebalance: it begins this
            # member's part (the coordinator stops waiting for it) and returns
            return bus.describe_group(group).state != "PreparingRebalance"

        wait_for(rejoined, "the busy member never rejoined")
        time.sleep(settings.session_timeout * 1.5)  # the work, with no poll
        members = bus.describe_group(group).members
        assert len(members) == 2, "the busy member was dropped from the group"
        # Its share of the partitions, not the whole of its assignment before the rebalance.
        assert 0 < len(busy.assignment()) < len(bus.end_offsets(topics.content))
    finally:
        stop.set()
        if other.is_alive():
            other.join(timeout=120)
        busy.close()
    assert errors == []
    problems = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("kafka") and r.levelno >= logging.ERROR
    ]
    assert not [p for p in problems if "UnknownMember" in p or "LeaveGroup" in p], problems


def test_a_second_website_consumer_waits_as_a_standby_and_takes_over(
    settings: Settings,
) -> None:
    """The website has one writer: a second runner waits outside the group while the
    first holds the lease, and takes over (joining the group) when the first stops."""
    settings = settings.model_copy(update={"writer_lease": 5.0})
    topics = Topics(settings.topic_prefix)
    group = topics.channel_group("website")
    emit(settings, [factories.penalty(f"first-{i}") for i in range(10)])
    runners: list[ChannelRunner] = []
    threads: list[threading.Thread] = []
    stats: dict[int, RunStats] = {}
    stores = [Store(settings.store).open(), Store(settings.store).open()]

    def start(index: int) -> None:
        runner = build_runner(settings, "website", stores[index])
        runners.append(runner)
        thread = threading.Thread(
            target=lambda: stats.__setitem__(index, runner.run()), daemon=True
        )
        threads.append(thread)
        thread.start()

    def delivered() -> int:
        return int(
            stores[0]
            .conn.execute("SELECT COUNT(*) FROM deliveries WHERE channel='website'")
            .fetchone()[0]
        )

    try:
        start(0)
        wait_for(lambda: delivered() == 10, "the first website consumer delivered nothing")
        start(1)
        probe = Lease(stores[1], "channel:website", ttl=5.0, holder="probe")
        holder = probe.current()
        assert holder is not None
        assert holder.holder == runners[0].lease_holder
        emit(settings, [factories.penalty(f"second-{i}") for i in range(10)])
        wait_for(lambda: delivered() == 20, "the writer stopped delivering")
        # The standby is not a member: it would take partitions it must not write.
        assert len(open_bus(settings).describe_group(group).members) == 1
        runners[0].stop()
        threads[0].join(timeout=60)
        emit(settings, [factories.penalty(f"third-{i}") for i in range(10)])
        wait_for(lambda: delivered() == 30, "the standby did not take over")
        runners[1].stop()
        threads[1].join(timeout=60)
    finally:
        for runner in runners:
            runner.stop()
        for thread in threads:
            thread.join(timeout=60)
        for runner in runners:
            runner.channel.close()
        for store in stores:
            store.close()
    assert stats[0].delivered == 20
    assert stats[1].delivered == 10
    listed = json.loads((settings.output_dir / "api" / "penalty.json").read_text("utf-8"))
    assert listed["total"] == 30


def test_one_command_forks_members_that_deliver_everything_once(
    settings: Settings,
) -> None:
    """``govpub consume --processes 3 --until-idle``: three members forked after one
    start-up, each reporting what it did; together every event once, and the group's
    lag 0 when the command ends."""
    events = every_kind(300)
    emit(settings, events)
    done = consume_until_idle(settings, "rss", processes=3)
    assert done.returncode == 0, done.stderr
    reports = re.findall(
        r"^member (\d) of 3: channel rss: (\d+) delivered, (\d+) skipped", done.stdout, re.M
    )
    assert sorted(number for number, _, _ in reports) == ["1", "2", "3"], done.stdout
    assert sum(int(d) + int(s) for _, d, s in reports) == len(events)
    with Store(settings.store) as store:
        recorded = store.conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM deliveries WHERE channel='rss'"
        ).fetchone()
    assert tuple(recorded) == (len(events), len(events))
    topics = Topics(settings.topic_prefix)
    lag = open_bus(settings).committed_lag(topics.channel_group("rss"), topics.content)
    assert all(n <= 0 for n in lag.values())
    assert "UnknownMember" not in done.stderr
