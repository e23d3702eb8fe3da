"""Helpers for release tests: the sample data on a bus, and what ended up on the bus."""

import time
from collections.abc import Iterable
from typing import Any

from govpub.bus import open_bus
from govpub.demo import load_samples
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from producers import Accepted, Publisher, VersionLedger
from schemas import AnyEvent, parse_event

SAMPLE_BATCH = "exposure-2023Q2-work-safety"
"""The released 2023Q2 batch among the sample events."""


def samples(*, without: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The shipped sample events, leaving out the documents in ``without``."""
    skip = set(without)
    return [event for event in load_samples() if event["document_id"] not in skip]


def emit(settings: Settings, events: Iterable[dict[str, Any]]) -> list[Accepted]:
    """Send events the way departments do (validated, through the version ledger)."""
    with (
        Store(settings.store) as store,
        Publisher(
            open_bus(settings), Topics(settings.topic_prefix), ledger=VersionLedger(store)
        ) as publisher,
    ):
        return publisher.publish_many(list(events))


def bus_events(settings: Settings, kind: str, *, timeout: float = 10.0) -> list[AnyEvent]:
    """Every event on the topic of ``kind``, read from the start without a group."""
    topics = Topics(settings.topic_prefix)
    bus = open_bus(settings)
    topic = topics.for_kind(kind)
    bus.ensure_topics([topic])
    expected = sum(bus.end_offsets([topic]).values())
    consumer = bus.consumer([topic], group=None)
    records = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            records.extend(consumer.poll(0.2, 500))
    finally:
        consumer.close()
    assert len(records) == expected, f"read {len(records)} of {expected} records on {topic}"
    records.sort(key=lambda r: (r.timestamp_ms, r.partition, r.offset))
    return [parse_event(record.value) for record in records]


def documents(events: Iterable[AnyEvent], document_id: str) -> list[AnyEvent]:
    """The events of one document, in bus order."""
    return [event for event in events if event.document_id == document_id]
