"""The channel runner: one consumer group per channel, at-least-once, idempotent.

For each polled batch::

    decode ─► dedupe by event_id ─► drop stale versions ─► compliance re-check
    (:mod:`consumers.safety`; cannot be made safe → dead letter) ─► channel.apply
    (retry with backoff; permanent or exhausted → dead letter) ─► channel.flush ─►
    record deliveries ─► commit offsets

Nothing is committed before the channel's output and the delivery records are
written, so a crash replays the batch; the delivery records and the per-document
versions make the replay harmless. A slow or broken channel only holds back its
own group.
"""

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from typing import Self

from consumers.channel import Channel, Outcome
from consumers.deadletter import DeadLetter, DeadLetterSink
from consumers.lease import Lease, SingleWriter
from consumers.retry import RetryPolicy
from consumers.safety import ChannelGuard
from govpub.bus import Bus, Consumer, Producer, Record, TopicPartition
from govpub.deliveries import FINISHED, AppliedVersion, DeliveryLog, DeliveryRow, DeliveryState
from govpub.errors import (
    BusError,
    ChannelFlushFailed,
    ChannelParked,
    ChannelStalled,
    CommitFailed,
    EventValidationError,
    GovpubError,
    Interrupted,
    LeaseLost,
    PoisonMessage,
)
from govpub.store import Store
from govpub.topics import Topics
from schemas import AnyEvent, RetractEvent, parse_event

log = logging.getLogger(__name__)


@dataclass
class RunStats:
    """What a run did."""

    batches: int = 0
    delivered: int = 0
    skipped: int = 0
    duplicates: int = 0
    dead_lettered: int = 0

    def __str__(self) -> str:
        return (
            f"{self.delivered} delivered, {self.skipped} skipped, {self.duplicates} duplicates, "
            f"{self.dead_lettered} dead-lettered in {self.batches} batches"
        )


def decode(record: Record) -> AnyEvent:
    """The event in ``record``; raises :class:`PoisonMessage` if it is not a valid event.

    Whatever goes wrong while decoding is the record's fault, never the consumer's: a
    record's content must not be able to stop a channel.
    """
    try:
        return parse_event(record.value)
    except EventValidationError as exc:
        raise PoisonMessage(f"invalid event: {exc}") from None
    except Exception as exc:
        raise PoisonMessage(f"cannot decode the event ({type(exc).__name__}: {exc})") from None


def _close_quietly(consumer: Consumer) -> None:
    try:
        consumer.close()
    except Exception as exc:  # the consumer is being replaced or the run is ending anyway
        log.warning("closing a consumer failed: %s", exc)


def _origin(record: Record) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"


def _is_stale(applied: AppliedVersion | None, event: AnyEvent) -> bool:
    if applied is None:
        return False
    if applied.version != event.version:
        return applied.version > event.version
    return applied.event_id != event.event_id


class _BatchRamp:
    """The batch size for each poll: small while this member's assignment is new, then
    doubling up to ``largest``.

    Members of a group that start together join a few tenths of a second apart: the first
    is assigned every partition, and the others' join waits until its next poll, that is,
    until it has delivered its batch. With a full batch first (5,000 events, over a
    second of rendering) the others sat idle that long and the first kept a backlog twice
    theirs: three processes were slower than two. Starting small bounds that wait, and
    the doubling reaches the full batch within a few polls.
    """

    FIRST = 200

    def __init__(self, largest: int) -> None:
        self.largest = largest
        self._size = min(self.FIRST, largest)
        self._assignment: frozenset[TopicPartition] | None = None

    def next(self, assignment: Set[TopicPartition]) -> int:
        """The size of the batch to poll, given the member's assignment before the poll."""
        current = frozenset(assignment)
        if not current or current != self._assignment:
            self._size = min(self.FIRST, self.largest)
        else:
            self._size = min(self._size * 2, self.largest)
        self._assignment = current
        return self._size


class _GroupWait:
    """How long a member that has read its own partitions to their end polls before it
    looks at the group's lag again (``--until-idle``): 0.1 s at first, doubling up to the
    poll timeout. The group ends when its last member commits, so the others end within
    a tenth of a second of a short tail (a fixed poll timeout added up to half a second to
    every run of several processes), and a member that waits long for a large partition
    of another's does not open an admin connection ten times a second throughout.
    """

    FIRST = 0.1

    def __init__(self, longest: float) -> None:
        self.longest = longest
        self._wait: float | None = None

    def timeout(self) -> float:
        """The poll timeout: the configured one unless the member is waiting."""
        return self.longest if self._wait is None else self._wait

    def waiting(self) -> None:
        """The member's own partitions are read, the group's are not: wait briefly."""
        if self._wait is None:
            self._wait = min(self.FIRST, self.longest)
        else:
            self._wait = min(self._wait * 2, self.longest)

    def reading(self) -> None:
        """The member has records to deliver again."""
        self._wait = None


class ChannelRunner:
    """Delivers the content topics to one channel through its consumer group."""

    def __init__(
        self,
        channel: Channel,
        bus: Bus,
        store: Store,
        topics: Topics,
        *,
        policy: RetryPolicy | None = None,
        max_batch: int = 500,
        poll_timeout: float = 0.5,
        idle_interval: float = 5.0,
        assignment_timeout: float = 60.0,
        sleep: Callable[[float], None] | None = None,
        dead_letters: DeadLetterSink | None = None,
        guard: Callable[[AnyEvent], AnyEvent] | None = None,
        writer_lease: float = 15.0,
    ) -> None:
        self.channel = channel
        # Every event is made safe again before the channel sees it (the bus is not trusted).
        self.guard = guard or ChannelGuard(channel.name, store)
        self.bus = bus
        self.topics = topics
        self.policy = policy or RetryPolicy()
        self.max_batch = max_batch
        self.poll_timeout = poll_timeout
        self.idle_interval = idle_interval
        self._last_idle = time.monotonic()
        self.assignment_timeout = assignment_timeout
        self.deliveries = DeliveryLog(store)
        self.stats = RunStats()
        self._stop = threading.Event()
        self._sleep = sleep
        self._producer: Producer | None = None
        # A sink given here (a replay's) replaces the one on the dead-letter topic.
        self._own_dead_letters = dead_letters
        self._dead_letters: DeadLetterSink | None = dead_letters
        self._lease: Lease | None = None
        # The last flush was made with a backlog waiting: the channel may hold output back.
        self._held = False
        if isinstance(channel, SingleWriter) and channel.single_writer:
            self._lease = Lease(store, f"channel:{channel.name}", ttl=writer_lease)
            channel.hold(self._lease)

    @property
    def lease_holder(self) -> str | None:
        """This runner's name in the lease of a single-writer channel (else ``None``)."""
        return None if self._lease is None else self._lease.holder

    @property
    def group(self) -> str:
        """This channel's consumer group."""
        return self.topics.channel_group(self.channel.name)

    def stop(self) -> None:
        """Ask the run loop to finish its batch and return."""
        self._stop.set()

    def open(self) -> Self:
        """Create the topics and the dead-letter producer."""
        if self._own_dead_letters is not None:
            return self
        if self._producer is None:
            self.bus.ensure_topics(self.topics.all)
            self._producer = self.bus.producer()
            self._dead_letters = DeadLetterSink(self._producer, self.topics.dlq)
        return self

    def take_lease(self, timeout: float) -> None:
        """For a single-writer channel driven without :meth:`run` (a redrive): wait up to
        ``timeout`` seconds for its lease; raises :class:`LeaseLost` naming the holder."""
        lease = self._lease
        if lease is None or lease.held:
            return
        deadline = time.monotonic() + timeout
        while not lease.acquire():
            if time.monotonic() >= deadline:
                raise LeaseLost(
                    f"channel {self.channel.name} has one writer at a time, and"
                    f" {lease.current()} is writing: stop its consumer, or try again"
                )
            self._wait(min(1.0, lease.ttl / 3))

    def close(self) -> None:
        """Close the dead-letter producer and give up the lease of a single-writer channel
        (the channel is closed by its owner)."""
        if self._lease is not None and self._lease.held:
            self._lease.release()
        if self._producer is not None:
            self._producer.close()
            self._producer = None
            self._dead_letters = None

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, *, until_idle: bool = False, wait_for_group: bool = True) -> RunStats:
        """Consume until :meth:`stop` (or, with ``until_idle``, until nothing is left).

        ``until_idle`` ends the run when the whole group has nothing left: this member's
        partitions are read to their end and every partition's committed position is at
        its end (other members have delivered theirs). With ``wait_for_group=False`` a
        member with partitions ends on its own lag instead (a caller that waits for the
        group itself, with a timeout of its own). A group with nothing to deliver is seen
        before joining it, so such a run costs no rebalance.

        A member that gets no partitions (more members than partitions) stays in the group
        as a standby. A single-writer channel (the website) holds a lease before it joins
        the group; without it the process waits as a standby outside the group, and takes
        over when the holder stops or has not renewed it for ``GOVPUB_WRITER_LEASE``.

        A bus failure (broker gone, dead letter not acknowledged) does not end the run:
        the consumer is closed and rejoins from the committed positions after a backoff,
        so nothing read but not committed is skipped.
        """
        self.open()
        log.info("channel %s consuming as group %s", self.channel.name, self.group)
        try:
            if until_idle and self._group_caught_up():
                log.info("channel %s: nothing to deliver", self.channel.name)
                return self.stats
            while not self._stop.is_set():
                lease = self._lease
                if lease is not None and not lease.held and not self._standby(lease, until_idle):
                    break
                try:
                    self._consume(until_idle=until_idle, wait_for_group=wait_for_group)
                    break
                except LeaseLost as exc:
                    log.warning(
                        "channel %s: %s; nothing of the batch in progress was committed,"
                        " waiting as a standby",
                        self.channel.name,
                        exc,
                    )
        except Interrupted:
            log.info(
                "channel %s stopped mid-batch; the batch will be delivered again", self.channel.name
            )
        finally:
            self.close()
        log.info("channel %s: %s", self.channel.name, self.stats)
        return self.stats

    def _consume(self, *, until_idle: bool, wait_for_group: bool) -> None:
        consumer = self.bus.consumer(self.topics.content, group=self.group)
        started = time.monotonic()
        failures = 0
        batches = _BatchRamp(self.max_batch)
        group_wait = _GroupWait(self.poll_timeout)
        try:
            while not self._stop.is_set():
                try:
                    if self._lease is not None:
                        self._lease.check()
                    limit = batches.next(consumer.assignment())
                    records = consumer.poll(group_wait.timeout(), limit)
                    if records:
                        group_wait.reading()
                        full = len(records) >= limit
                        self._commit(consumer, self.process(records, backlog=full))
                        failures = 0
                        # Caught up after this batch? Then do not wait for another poll.
                        if (
                            until_idle
                            and not full
                            and self._caught_up(
                                consumer, started, group_wait, wait_for_group=wait_for_group
                            )
                        ):
                            return
                        continue
                    self._flush_held()
                    self._idle()
                    if until_idle and self._caught_up(
                        consumer, started, group_wait, wait_for_group=wait_for_group
                    ):
                        return
                except BusError as exc:
                    failures += 1
                    delay = self.policy.delay(failures)
                    log.error(
                        "channel %s: bus failure (%s); rejoining from the committed positions"
                        " in %.1f s",
                        self.channel.name,
                        exc,
                        delay,
                    )
                    _close_quietly(consumer)
                    self._wait(delay)
                    consumer = self.bus.consumer(self.topics.content, group=self.group)
            self._flush_held()
        finally:
            _close_quietly(consumer)

    def _standby(self, lease: Lease, until_idle: bool) -> bool:
        """Wait outside the group until this process holds ``lease``: True once it does;
        False when asked to stop, or, ``until_idle``, when the group has nothing left."""
        waiting = False
        while not self._stop.is_set():
            if lease.acquire():
                if waiting:
                    log.warning("channel %s: took over the lease; joining the group", lease.name)
                return True
            if not waiting:
                waiting = True
                log.info(
                    "channel %s: standby, %s holds the lease",
                    self.channel.name,
                    lease.current(),
                )
            if until_idle and self._group_caught_up():
                return False
            self._stop.wait(min(1.0, lease.ttl / 3))
        return False

    def _group_caught_up(self) -> bool:
        """Whether the group's committed position is at the end of every partition
        (False while the bus cannot tell: Kafka finds a new group's coordinator late)."""
        try:
            lags = self.bus.committed_lag(self.group, self.topics.content)
        except BusError as exc:
            log.debug("channel %s: group lag unknown (%s)", self.channel.name, exc)
            return False
        return all(lag <= 0 for lag in lags.values())

    def _caught_up(
        self, consumer: Consumer, started: float, group_wait: _GroupWait, *, wait_for_group: bool
    ) -> bool:
        """Whether there is nothing left to deliver (see :meth:`run`).

        A member with partitions knows its own part from its positions; once they are read
        it checks the group's lag more often (:class:`_GroupWait`). One that got none
        waits as a standby while other members hold them, and is done when the group's
        committed positions have caught up; if nobody holds the partitions after
        ``assignment_timeout``, it stops and says why.
        """
        if consumer.assignment():
            if any(lag > 0 for lag in consumer.lag().values()):
                return False
            if not wait_for_group or self._group_caught_up():
                return True
            group_wait.waiting()
            return False
        if self._group_caught_up():
            return True
        if time.monotonic() - started > self.assignment_timeout:
            group = self.bus.describe_group(self.group)
            if not any(member.partitions for member in group.members):
                partitions = len(self.bus.end_offsets(self.topics.content))
                raise ChannelStalled(
                    f"channel {self.channel.name} got none of the {partitions} partitions of"
                    f" its topics in {self.assignment_timeout:.0f} s, and no other member"
                    f" holds them: {group.explain()}"
                )
        return False

    def _commit(self, consumer: Consumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            consumer.commit(offsets)
        except CommitFailed as exc:
            # Another member owns the partition now; it will deliver these again, harmlessly.
            log.warning("channel %s: %s", self.channel.name, exc)

    def process(
        self,
        records: Sequence[Record],
        *,
        redriven: Mapping[Record, DeadLetter] | None = None,
        backlog: bool = False,
    ) -> dict[TopicPartition, int]:
        """Deliver one batch; returns the offsets to commit.

        ``backlog``: more records are waiting (the channel may hold output back: see
        :meth:`Channel.flush`). ``redriven`` maps records taken from dead letters to their letter: their events
        are tried again although they were dead-lettered, and one that fails again is
        dead-lettered with the attempts counted so far.
        """
        self.stats.batches += 1
        name = self.channel.name
        letters = redriven or {}
        decoded: list[tuple[Record, AnyEvent]] = []
        rows: list[DeliveryRow] = []
        for record in records:
            try:
                decoded.append((record, decode(record)))
            except PoisonMessage as exc:
                self._dead_letter(
                    record, None, exc, attempts=1, rows=rows, previous=letters.get(record)
                )
        states: tuple[DeliveryState, ...] = FINISHED
        if letters:
            states = tuple(s for s in FINISHED if s is not DeliveryState.DEAD_LETTERED)
        finished = self.deliveries.finished(name, [e.event_id for _, e in decoded], states=states)
        versions = self.deliveries.applied_versions(name, [e.document_id for _, e in decoded])
        for record, event in decoded:
            if event.event_id in finished:
                self.stats.duplicates += 1
                continue
            finished.add(event.event_id)
            applied = versions.get(event.document_id)
            if _is_stale(applied, event):
                assert applied is not None
                self.stats.skipped += 1
                rows.append(
                    self._row(
                        event,
                        record,
                        Outcome(DeliveryState.SKIPPED, f"stale: version {applied.version} applied"),
                        attempts=0,
                    )
                )
                continue
            try:
                event = self.guard(event)
            except GovpubError as exc:
                self._dead_letter(record, event, exc, attempts=1, rows=rows)
                continue
            outcome, attempts, error = self._apply(event, record)
            if error is not None:
                self._dead_letter(
                    record, event, error, attempts=attempts, rows=rows, previous=letters.get(record)
                )
                continue
            assert outcome is not None
            rows.append(self._row(event, record, outcome, attempts=attempts))
            if outcome.state in (DeliveryState.SKIPPED,):
                self.stats.skipped += 1
            else:
                self.stats.delivered += 1
                versions[event.document_id] = AppliedVersion(
                    event.version, event.event_id, isinstance(event, RetractEvent)
                )
        self._flush(backlog=backlog)
        self.deliveries.record(rows)
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            offsets[record.tp] = max(offsets.get(record.tp, 0), record.offset + 1)
        return offsets

    def _row(
        self, event: AnyEvent, record: Record, outcome: Outcome, *, attempts: int
    ) -> DeliveryRow:
        return DeliveryRow(
            channel=self.channel.name,
            event_id=event.event_id,
            document_id=event.document_id,
            kind=event.kind.value,
            action=event.action.value,
            version=event.version,
            state=outcome.state,
            detail=outcome.detail,
            remote_ids=outcome.remote_ids,
            attempts=attempts,
            origin=_origin(record),
        )

    def _wait(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
        elif self._stop.wait(seconds):
            raise Interrupted("stop requested during a retry backoff")

    def _apply(
        self, event: AnyEvent, record: Record
    ) -> tuple[Outcome | None, int, Exception | None]:
        attempt = 0
        while True:
            attempt += 1
            try:
                outcome = self.channel.apply(event)
            except ChannelParked as parked:
                self._park(event, record, parked)
                attempt -= 1  # waiting out a quota is not a failed attempt
                continue
            except LeaseLost:
                raise  # another process writes now: the batch is dropped, not the event
            except Exception as exc:  # every failure is retried, dead-lettered or raised
                if not self.policy.should_retry(exc, attempt):
                    return None, attempt, exc
                delay = self.policy.delay(attempt, exc)
                log.warning(
                    "channel %s: %s %s attempt %d failed (%s: %s); retrying in %.1f s",
                    self.channel.name,
                    event.document_id,
                    event.event_id,
                    attempt,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                self._wait(delay)
                continue
            if outcome is None:
                state = (
                    DeliveryState.RETRACTED
                    if isinstance(event, RetractEvent)
                    else DeliveryState.CONFIRMED
                )
                outcome = Outcome(state)
            return outcome, attempt, None

    def _park(self, event: AnyEvent, record: Record, parked: ChannelParked) -> None:
        """Alert, record the delivery as failed with the reason, and wait until ``parked.until``.

        On Kafka, a wait longer than ``max.poll.interval.ms`` makes this member leave
        its group: its partitions go to another member (which parks too, on the same
        quota) and it rejoins on its next poll. The batch was not committed, so its
        records are delivered again and the delivery records make that harmless.
        """
        seconds = max(0.0, parked.until.timestamp() - time.time())
        log.error(
            "ALERT channel %s parked for %.0f s: %s; %s %s waits, nothing is dead-lettered",
            self.channel.name,
            seconds,
            parked,
            event.document_id,
            event.event_id,
        )
        row = self._row(event, record, Outcome(DeliveryState.FAILED, str(parked)), attempts=0)
        self.deliveries.record([replace(row, last_error=f"ChannelParked: {parked.reason}")])
        self._wait(seconds)

    def _idle(self) -> None:
        """The channel's background work, at most every ``idle_interval`` seconds; a
        failure there is logged and never stops the consumer."""
        now = time.monotonic()
        if now - self._last_idle < self.idle_interval:
            return
        self._last_idle = now
        try:
            self.channel.idle()
        except Exception:
            log.exception(
                "channel %s: background work failed; trying again later", self.channel.name
            )

    def _flush_held(self) -> None:
        """Have the channel write what it held back during a backlog (nothing is waiting
        now, or the consumer stops)."""
        if self._held:
            self._flush()

    def _flush(self, *, backlog: bool = False) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                self.channel.flush(backlog=backlog)
                self._held = backlog
                return
            except LeaseLost:
                raise  # another process writes now: retrying would be fenced off again
            except Exception as exc:
                if attempt >= self.policy.max_attempts:
                    raise ChannelFlushFailed(
                        f"channel {self.channel.name} could not write its output: {exc}"
                    ) from exc
                delay = self.policy.delay(attempt, exc)
                log.warning(
                    "channel %s: flush attempt %d failed (%s); retrying in %.1f s",
                    self.channel.name,
                    attempt,
                    exc,
                    delay,
                )
                self._wait(delay)

    def _dead_letter(
        self,
        record: Record,
        event: AnyEvent | None,
        error: Exception,
        *,
        attempts: int,
        rows: list[DeliveryRow],
        previous: DeadLetter | None = None,
    ) -> None:
        if self._dead_letters is None:
            raise BusError("open the runner before processing: no dead-letter producer")
        letter = DeadLetter.for_record(
            record,
            channel=self.channel.name,
            error=error,
            attempts=attempts,
            event_id=event.event_id if event is not None else None,
            document_id=event.document_id if event is not None else None,
            previous=previous,
        )
        self._dead_letters.send(letter)
        self.stats.dead_lettered += 1
        log.error(
            "channel %s: dead-lettered %s (%s: %s) after %d attempt(s)",
            self.channel.name,
            _origin(record),
            letter.error_type,
            letter.reason,
            letter.attempts,
        )
        if event is not None:
            rows.append(
                DeliveryRow(
                    channel=self.channel.name,
                    event_id=event.event_id,
                    document_id=event.document_id,
                    kind=event.kind.value,
                    action=event.action.value,
                    version=event.version,
                    state=DeliveryState.DEAD_LETTERED,
                    attempts=letter.attempts,
                    last_error=f"{letter.error_type}: {letter.reason}"[:2000],
                    origin=_origin(record),
                )
            )
