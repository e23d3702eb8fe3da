"""Redrive: deliver a channel's dead letters again, once each.

Each channel has its own redrive group on the DLQ topic, so every dead letter is
redriven at most once per run of ``govpub dlq redrive``; one that fails again is
dead-lettered anew (with its attempts) and can be redriven later. Delivery
records keep a redriven event from being published twice.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from channels.base import Channel
from consumers.deadletter import DeadLetter
from consumers.retry import RetryPolicy
from consumers.runner import ChannelRunner
from govpub.bus import Bus, Record, TopicPartition
from govpub.store import Store
from govpub.topics import Topics
from schemas import AnyEvent

log = logging.getLogger(__name__)


@dataclass
class RedriveStats:
    """What a redrive did."""

    read: int = 0
    redriven: int = 0
    delivered: int = 0
    failed_again: int = 0
    not_redrivable: int = 0


def read_dead_letters(
    bus: Bus, topics: Topics, *, timeout: float = 0.5
) -> list[tuple[Record, DeadLetter | None]]:
    """Every record on the DLQ topic, decoded where possible, without joining a group."""
    bus.ensure_topics([topics.dlq])
    found: list[tuple[Record, DeadLetter | None]] = []
    with bus.consumer([topics.dlq], group=None) as consumer:
        idle = 0
        while idle < 2:
            records = consumer.poll(timeout, 1000)
            found.extend((r, DeadLetter.decode(r.value)) for r in records)
            if records:
                idle = 0
            elif all(lag <= 0 for lag in consumer.lag().values()):
                idle += 1
    return found


def redrive(
    channel: Channel,
    bus: Bus,
    store: Store,
    topics: Topics,
    *,
    policy: RetryPolicy | None = None,
    poll_timeout: float = 0.5,
    guard: Callable[[AnyEvent], AnyEvent] | None = None,
) -> RedriveStats:
    """Deliver again the dead letters of ``channel`` not redriven before (``guard``: the
    runner's compliance re-check, built from the deployment's policy)."""
    stats = RedriveStats()
    with (
        ChannelRunner(
            channel, bus, store, topics, policy=policy, poll_timeout=poll_timeout, guard=guard
        ) as runner,
        bus.consumer([topics.dlq], group=topics.redrive_group(channel.name)) as consumer,
    ):
        idle = 0
        while idle < 2:
            records = consumer.poll(poll_timeout, 500)
            if not records:
                if consumer.assignment() and all(lag <= 0 for lag in consumer.lag().values()):
                    idle += 1
                continue
            idle = 0
            originals = []
            for record in records:
                stats.read += 1
                letter = DeadLetter.decode(record.value)
                if letter is None or letter.channel != channel.name:
                    continue
                if letter.value_truncated:
                    stats.not_redrivable += 1
                    log.warning(
                        "dead letter at offset %d was truncated: not redrivable", record.offset
                    )
                    continue
                originals.append(letter.original())
            if originals:
                before = runner.stats.dead_lettered, runner.stats.delivered
                runner.process(originals, redrive=True)
                stats.redriven += len(originals)
                stats.failed_again += runner.stats.dead_lettered - before[0]
                stats.delivered += runner.stats.delivered - before[1]
            offsets: dict[TopicPartition, int] = {}
            for record in records:
                offsets[record.tp] = max(offsets.get(record.tp, 0), record.offset + 1)
            consumer.commit(offsets)
    return stats
