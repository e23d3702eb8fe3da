"""The producer SDK and the version ledger on the embedded bus."""

import time
from collections.abc import Callable

import pytest

from govpub.bus import Bus, open_bus
from govpub.errors import BatchRejected, EventValidationError, PublishFailed, StaleVersion
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from producers import PartialPublish, Publisher, VersionLedger
from schemas import AnyEvent, parse_event
from tests import factories
from tests.contract.test_bus_contract import drain


@pytest.fixture
def local(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


def test_publish_returns_where_the_event_is_stored(local: Settings) -> None:
    event = factories.policy()
    with (
        Store(local.store) as store,
        Publisher(
            open_bus(local), Topics(local.topic_prefix), ledger=VersionLedger(store)
        ) as publisher,
    ):
        accepted = publisher.publish(event)
    assert accepted.event_id == event["event_id"]
    assert accepted.topic == f"{local.topic_prefix}.policy"
    assert not accepted.duplicate
    with open_bus(local).consumer([accepted.topic], group=None) as consumer:
        (record,) = drain(consumer, 1)
    assert record.key == b"doc-policy-1"
    assert parse_event(record.value).event_id == event["event_id"]
    assert ("govpub-kind", b"policy") in record.headers


def test_the_same_event_again_is_harmless(local: Settings) -> None:
    event = factories.policy()
    with (
        Store(local.store) as store,
        Publisher(
            open_bus(local), Topics(local.topic_prefix), ledger=VersionLedger(store)
        ) as publisher,
    ):
        first = publisher.publish(event)
        again = publisher.publish(event)
    assert again.duplicate
    assert (again.partition, again.offset) == (first.partition, first.offset)
    assert sum(open_bus(local).end_offsets([first.topic]).values()) == 1


def test_a_reused_event_id_with_other_content_is_refused(local: Settings) -> None:
    event = factories.policy()
    changed = {**event, "payload": {**event["payload"], "title": "另一个标题"}}
    with (
        Store(local.store) as store,
        Publisher(
            open_bus(local), Topics(local.topic_prefix), ledger=VersionLedger(store)
        ) as publisher,
    ):
        publisher.publish(event)
        with pytest.raises(Exception, match="already accepted with different content"):
            publisher.publish(changed)


def test_stale_versions_are_refused(local: Settings) -> None:
    with (
        Store(local.store) as store,
        Publisher(
            open_bus(local), Topics(local.topic_prefix), ledger=VersionLedger(store)
        ) as publisher,
    ):
        publisher.publish(factories.policy(version=2))
        with pytest.raises(StaleVersion, match="version 2 is already accepted"):
            publisher.publish(factories.policy(version=2))
        with pytest.raises(StaleVersion):
            publisher.publish(factories.policy(version=1))
        assert publisher.publish(factories.policy(version=3)).offset == 1


def test_a_batch_with_one_bad_event_sends_nothing(local: Settings) -> None:
    bad = factories.policy(document_id="doc-2", title="")
    with (
        Store(local.store) as store,
        Publisher(
            open_bus(local), Topics(local.topic_prefix), ledger=VersionLedger(store)
        ) as publisher,
    ):
        with pytest.raises(BatchRejected) as info:
            publisher.publish_many([factories.policy(), bad, factories.penalty()])
        assert list(info.value.errors) == [1]
        assert isinstance(info.value.errors[1], EventValidationError)
        # the good ones were not reserved: they can still be sent
        assert len(publisher.publish_many([factories.policy(), factories.penalty()])) == 2
    assert sum(open_bus(local).end_offsets(Topics(local.topic_prefix).content).values()) == 2


def test_the_gate_sees_every_event_and_can_refuse(local: Settings) -> None:
    seen: list[str] = []

    def gate(event: AnyEvent) -> AnyEvent:
        seen.append(event.event_id)
        if event.kind.value == "penalty":
            raise EventValidationError([])
        return event

    with Publisher(open_bus(local), Topics(local.topic_prefix), gate=gate) as publisher:
        publisher.publish(factories.policy())
        with pytest.raises(EventValidationError):
            publisher.publish(factories.penalty())
    assert len(seen) == 2


def test_an_unacknowledged_send_raises_and_releases_the_reservation(
    local: Settings, tmp_path: object
) -> None:
    event = factories.policy()
    bus = open_bus(local)
    topics = Topics(local.topic_prefix)
    with Store(local.store) as store:
        ledger = VersionLedger(store)
        publisher = Publisher(bus, topics, ledger=ledger).open()
        # the topic disappears under the producer: the embedded bus refuses the write
        conn = bus.connect()  # type: ignore[attr-defined]
        conn.execute("DELETE FROM bus_topics WHERE name=?", (topics.for_kind("policy"),))
        conn.close()
        with pytest.raises(PartialPublish) as info:
            publisher.publish(event)
        assert isinstance(info.value, PublishFailed)
        assert event["event_id"] in info.value.failed
        assert ledger.current_version("doc-policy-1") is None
        publisher.close()
        publisher = Publisher(bus, topics, ledger=ledger)
        with publisher:
            assert not publisher.publish(event).duplicate


class _StuckFuture:
    """A message the client never resolves (as kafka-python can after a broker restart)."""

    def result(self, timeout: float | None = None) -> object:
        time.sleep(timeout or 0)
        raise PublishFailed("Kafka did not acknowledge the message: timed out")


class _StuckProducer:
    def __init__(self) -> None:
        self.closed = False

    def send(self, topic: str, value: bytes, **_: object) -> _StuckFuture:
        return _StuckFuture()

    def flush(self, timeout: float | None = None) -> None:
        time.sleep(timeout or 0)
        raise PublishFailed("Kafka flush failed: Timeout waiting for future")

    def close(self) -> None:
        self.closed = True


class _BusWithStuckProducer:
    """The embedded bus, except that its first producer never delivers anything."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.producers: list[object] = []

    def ensure_topics(self, topics: list[str]) -> None:
        self.bus.ensure_topics(topics)

    def producer(self) -> object:
        made = _StuckProducer() if not self.producers else self.bus.producer()
        self.producers.append(made)
        return made


def test_a_stuck_producer_costs_one_timeout_per_batch_and_is_replaced(local: Settings) -> None:
    events = [factories.policy(f"doc-{i}") for i in range(50)]
    bus = _BusWithStuckProducer(open_bus(local))
    publisher = Publisher(bus, Topics(local.topic_prefix), ack_timeout=0.2)  # type: ignore[arg-type]
    with publisher:
        started = time.monotonic()
        with pytest.raises(PartialPublish) as info:
            publisher.publish_many(events)
        waited = time.monotonic() - started
        assert set(info.value.failed) == {e["event_id"] for e in events}
        assert waited < 5, f"waited {waited:.1f} s: one timeout per message, not per batch"
        stuck = bus.producers[0]
        assert isinstance(stuck, _StuckProducer)
        assert stuck.closed
        accepted = publisher.publish_many(events)  # on a fresh producer
    assert len(accepted) == 50
    assert len(bus.producers) == 2
