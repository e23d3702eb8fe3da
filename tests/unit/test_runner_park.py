"""The runner's handling of ChannelParked: alert, record failed, wait, retry without
counting an attempt and without dead-lettering (embedded bus, in-memory channel)."""

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from channels.memory import MemoryChannel
from consumers.redrive import read_dead_letters
from consumers.retry import RetryPolicy
from consumers.runner import ChannelRunner
from govpub.bus import open_bus
from govpub.deliveries import DeliveryLog, DeliveryState
from govpub.errors import ChannelParked, TransientDeliveryError
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from producers import Publisher, VersionLedger
from schemas import AnyEvent
from tests import factories

pytestmark = pytest.mark.usefixtures("store_location")


def _emit(settings: Settings, events: list[dict[str, Any]]) -> None:
    with (
        Store(settings.store) as store,
        Publisher(
            open_bus(settings), Topics(settings.topic_prefix), ledger=VersionLedger(store)
        ) as publisher,
    ):
        publisher.publish_many(events)


def _runner(
    settings: Settings, store: Store, channel: MemoryChannel, **kwargs: Any
) -> ChannelRunner:
    return ChannelRunner(
        channel,
        open_bus(settings),
        store,
        Topics(settings.topic_prefix),
        policy=RetryPolicy(max_attempts=2, min_backoff=0.01, max_backoff=0.02),
        poll_timeout=0.2,
        **kwargs,
    )


def _parking(times: int, until: datetime) -> Callable[[AnyEvent], Exception | None]:
    left = {"n": times}

    def fail(event: AnyEvent) -> Exception | None:
        if left["n"] > 0:
            left["n"] -= 1
            return ChannelParked(until, "daily quota reached (45009)")
        return None

    return fail


def test_parked_channel_waits_then_delivers_without_counting_or_dead_lettering(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings()
    event = factories.policy()
    _emit(settings, [event])
    until = datetime.now(UTC) + timedelta(hours=3)
    waits: list[float] = []
    observed: list[DeliveryState] = []
    channel = MemoryChannel(fail=_parking(3, until))  # more parks than max_attempts
    with Store(settings.store) as store:
        deliveries = DeliveryLog(store)

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            observed.append(deliveries.for_event(event["event_id"])[0].state)

        caplog.set_level(logging.ERROR, logger="consumers.runner")
        stats = _runner(settings, store, channel, sleep=sleep).run(until_idle=True)
        rows = deliveries.for_event(event["event_id"])

    assert stats.delivered == 1
    assert stats.dead_lettered == 0
    assert [e.event_id for e in channel.applied] == [event["event_id"]]
    # It waited until the time it was given, three times, and never backed off in between.
    assert len(waits) == 3
    assert all(3 * 3600 - 60 < w <= 3 * 3600 for w in waits)
    # While it waited, the delivery was recorded as failed with the reason.
    assert observed == [DeliveryState.FAILED] * 3
    assert rows[0].state is DeliveryState.CONFIRMED
    assert rows[0].attempts == 1  # parks are not attempts
    assert rows[0].last_error is None
    alerts = [r for r in caplog.records if "ALERT" in r.getMessage()]
    assert len(alerts) == 3
    assert "45009" in alerts[0].getMessage()
    assert read_dead_letters(open_bus(settings), Topics(settings.topic_prefix)) == []


def test_park_wait_is_interrupted_by_stop_and_nothing_is_committed(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    event = factories.policy()
    _emit(settings, [event])
    until = datetime.now(UTC) + timedelta(hours=1)
    # The runner's thread has its own store connection, as in `govpub consume`.
    with Store(settings.store) as store, Store(settings.store) as reader:
        runner = _runner(settings, store, MemoryChannel(fail=_parking(100, until)))
        thread = threading.Thread(target=runner.run, kwargs={"until_idle": True})
        thread.start()
        deliveries = DeliveryLog(reader)
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while not deliveries.for_event(event["event_id"]) and datetime.now(UTC) < deadline:
            threading.Event().wait(0.05)
        runner.stop()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the park wait did not end on stop()"
        row = deliveries.for_event(event["event_id"])[0]
        assert row.state is DeliveryState.FAILED
        assert row.last_error is not None
        assert "45009" in row.last_error

        # A restarted runner gets the uncommitted event again and delivers it once.
        channel = MemoryChannel()
        stats = _runner(settings, store, channel).run(until_idle=True)
    assert stats.delivered == 1
    assert [e.event_id for e in channel.applied] == [event["event_id"]]


def test_parked_until_the_past_retries_at_once(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    _emit(settings, [factories.policy()])
    channel = MemoryChannel(fail=_parking(1, datetime.now(UTC) - timedelta(seconds=5)))
    with Store(settings.store) as store:
        stats = _runner(settings, store, channel).run(until_idle=True)
    assert stats.delivered == 1


def test_channel_parked_needs_an_aware_time_and_is_transient() -> None:
    with pytest.raises(ValueError, match="aware"):
        ChannelParked(datetime(2023, 1, 1), "x")
    parked = ChannelParked(datetime(2023, 1, 1, tzinfo=UTC), "quota")
    assert isinstance(parked, TransientDeliveryError)
    assert "quota" in str(parked)
    assert "2023-01-01T00:00:00+00:00" in str(parked)
