"""Redrive: deliver a channel's dead letters again, each at most once per run.

A run takes the dead-letter topic's end offsets when it starts and stops there, so
the letters it writes itself (an event that fails again is dead-lettered anew, with
its attempts counted over every redrive) are left for the next run, and a run always
ends. Each channel has its own redrive group on the DLQ topic: a letter handled by
one run, delivered or not, is not read again by the next; the letter written when it
failed again is. Delivery records keep a redriven event from being published twice.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from consumers.channel import Channel
from consumers.deadletter import DeadLetter
from consumers.retry import RetryPolicy
from consumers.runner import ChannelRunner
from govpub.bus import Bus, Consumer, Record, TopicPartition
from govpub.errors import BusError, ChannelStalled
from govpub.store import Store
from govpub.topics import Topics
from schemas import AnyEvent

log = logging.getLogger(__name__)


@dataclass
class RedriveStats:
    """What a redrive did with the channel's dead letters."""

    redriven: int = 0
    """Letters whose event was given to the channel again."""
    delivered: int = 0
    failed_again: int = 0
    """Redriven and dead-lettered once more (with their attempts counted)."""
    already_done: int = 0
    """Redriven, but the channel had delivered the event since (or it was stale)."""
    not_redrivable: int = 0
    """Letters whose message was cut to fit the topic: the original is gone."""
    repeated: int = 0
    """A second letter of a message already tried in this run."""

    @property
    def skipped(self) -> int:
        """Letters not given to the channel, or given to it with nothing to do."""
        return self.already_done + self.not_redrivable + self.repeated

    def __str__(self) -> str:
        return (
            f"{self.redriven} redriven: {self.delivered} delivered, {self.failed_again}"
            f" dead-lettered again, {self.skipped} skipped ({self.already_done} already"
            f" delivered or stale, {self.not_redrivable} not redrivable, {self.repeated} repeated)"
        )


def read_dead_letters(
    bus: Bus, topics: Topics, *, timeout: float = 0.5, stall_timeout: float = 60.0
) -> list[tuple[Record, DeadLetter | None]]:
    """Every record on the DLQ topic up to its end when the call starts, decoded where
    possible, without joining a group."""
    bus.ensure_topics([topics.dlq])
    stop = bus.end_offsets([topics.dlq])
    found: list[tuple[Record, DeadLetter | None]] = []
    with bus.consumer([topics.dlq], group=None) as consumer:
        progress = time.monotonic()
        while not _reached(consumer, stop):
            records = consumer.poll(timeout, 1000)
            if records:
                progress = time.monotonic()
            elif time.monotonic() - progress > stall_timeout:
                raise BusError(f"reading {topics.dlq} made no progress in {stall_timeout:.0f} s")
            found.extend(
                (r, DeadLetter.decode(r.value)) for r in records if r.offset < stop.get(r.tp, 0)
            )
    return found


def _reached(consumer: Consumer, stop: dict[TopicPartition, int]) -> bool:
    """Whether ``consumer`` holds every partition that had records at ``stop`` and has
    read up to it."""
    positions = consumer.positions()
    return all(positions.get(tp, -1) >= end for tp, end in stop.items() if end > 0)


def redrive(
    channel: Channel,
    bus: Bus,
    store: Store,
    topics: Topics,
    *,
    policy: RetryPolicy | None = None,
    poll_timeout: float = 0.5,
    assignment_timeout: float = 60.0,
    guard: Callable[[AnyEvent], AnyEvent] | None = None,
) -> RedriveStats:
    """Deliver again the dead letters of ``channel`` written before this call and not
    redriven by an earlier one; returns what happened to them (``guard``: the runner's
    compliance re-check, built from the deployment's policy)."""
    stats = RedriveStats()
    bus.ensure_topics([topics.dlq])
    stop = bus.end_offsets([topics.dlq])
    tried: set[tuple[str, int, int]] = set()
    group = topics.redrive_group(channel.name)
    with (
        ChannelRunner(
            channel, bus, store, topics, policy=policy, poll_timeout=poll_timeout, guard=guard
        ) as runner,
        bus.consumer([topics.dlq], group=group) as consumer,
    ):
        runner.take_lease(assignment_timeout)  # the website: not while its consumer writes
        progress = time.monotonic()
        while not _reached(consumer, stop):
            polled = consumer.poll(poll_timeout, 500)
            records = [r for r in polled if r.offset < stop.get(r.tp, 0)]
            if polled:
                progress = time.monotonic()
            elif time.monotonic() - progress > assignment_timeout:
                held = len(consumer.assignment())
                raise ChannelStalled(
                    f"redrive of {channel.name}: group {group} holds {held} of the"
                    f" {len(stop)} partitions of {topics.dlq} and read nothing in"
                    f" {assignment_timeout:.0f} s (is another redrive of this channel running?)"
                )
            if not records:
                continue
            letters = _letters_to_redrive(channel.name, records, tried, stats)
            if letters:
                before = runner.stats.dead_lettered, runner.stats.delivered
                runner.process(list(letters), redriven=letters)
                stats.redriven += len(letters)
                stats.failed_again += runner.stats.dead_lettered - before[0]
                stats.delivered += runner.stats.delivered - before[1]
            offsets: dict[TopicPartition, int] = {}
            for record in records:
                offsets[record.tp] = max(offsets.get(record.tp, 0), record.offset + 1)
            consumer.commit(offsets)
    stats.already_done = stats.redriven - stats.delivered - stats.failed_again
    log.info("redrive of channel %s: %s", channel.name, stats)
    return stats


def _letters_to_redrive(
    channel: str,
    records: list[Record],
    tried: set[tuple[str, int, int]],
    stats: RedriveStats,
) -> dict[Record, DeadLetter]:
    """The original messages of ``channel``'s letters among ``records``, each with its letter."""
    letters: dict[Record, DeadLetter] = {}
    for record in records:
        letter = DeadLetter.decode(record.value)
        if letter is None or letter.channel != channel:
            continue
        if letter.value_truncated:
            stats.not_redrivable += 1
            log.warning(
                "dead letter %s[%d]@%d was truncated: not redrivable",
                record.topic,
                record.partition,
                record.offset,
            )
            continue
        origin = (letter.origin_topic, letter.origin_partition, letter.origin_offset)
        if origin in tried:
            stats.repeated += 1
            continue
        tried.add(origin)
        letters[letter.original()] = letter
    return letters
