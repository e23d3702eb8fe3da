"""Helpers for release tests: the sample data on a bus, and what ended up on the bus."""

import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from govpub.app.demo import load_samples
from govpub.bus import open_bus
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from producers import Accepted, Publisher, VersionLedger
from producers.releases.quarters import Quarter
from schemas import AnyEvent, parse_event
from tests import factories

SAMPLE_BATCH = "exposure-2023Q2-work-safety"
"""The released 2023Q2 batch among the sample events."""


CASE_TITLES = ("示例建材有限公司有限空间作业违规案", "张某某非法储存危险化学品案")
"""The titles of the two candidates :func:`quarter_cases` makes."""


def batch_of(quarter: Quarter) -> str:
    """The work-safety batch of ``quarter`` (``exposure-2026Q3-work-safety``)."""
    return f"exposure-{quarter}-work-safety"


def quarter_cases(quarter: Quarter) -> list[dict[str, Any]]:
    """Two work-safety penalty decisions taken in ``quarter`` and an exposure candidate
    citing each: a batch a release can publish while the decisions are displayed (365
    days after each, the shipped default), so for the quarter just ended, today."""
    events = []
    for number, title in enumerate(CASE_TITLES, start=1):
        decided = quarter.first_day + timedelta(days=10 * number)
        decision = f"zzyj-cf-{quarter}-{number:04d}"
        events.append(
            factories.penalty(
                decision, decided_on=decided.isoformat(), title=f"{title}行政处罚决定"
            )
        )
        events[-1]["occurred_at"] = f"{decided.isoformat()}T16:00:00+08:00"
        events.append(
            factories.envelope(
                "exposure",
                f"exposure-candidate-{str(quarter).lower()}-{number:03d}",
                1,
                {
                    "title": title,
                    "domain": "安全生产",
                    "candidate_quarter": str(quarter),
                    "case_summary": f"{title}的案情摘要。",
                    "decision_ref": decision,
                },
                department="zz-yjj",
                occurred_at=f"{(decided + timedelta(days=5)).isoformat()}T09:00:00+08:00",
            )
        )
    return events


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
