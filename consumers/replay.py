"""Rebuild a channel's output from the topics (``govpub replay --channel NAME``).

Every content topic is read from the beginning, without a consumer group, up to
the end it had when the replay started. The events go through the same runner
chain as live delivery (dedupe by ``event_id``, stale versions dropped), into a
fresh state store; the channel renders once, at the end (see
:class:`~channels.base.Rebuild`):

- over a live site, in place: each file whose bytes change is replaced atomically,
  the others are left alone (so a rebuild of an unchanged site writes nothing, and
  caches stay valid), then the channel's files it did not write are removed;
- with no site yet, into a new tree inside the output directory, whose paths are
  then moved into place.

Then the channel's state tables in the store are replaced by the rebuilt ones.

Because a channel's output is a function of the events it has taken in (not of
the order partitions were read in, nor of the clock), the rebuilt tree equals
the incrementally built one file for file. Use a replay after changing
templates, or to repair an output directory. Stop the channel's consumers while
it runs: events they take in during the replay are not in the rebuilt tree.

Only channels that write files and say which paths and tables they own (see
:class:`Rebuildable`) can be replayed; replaying a channel that posts to remote
accounts would post everything again.
"""

import gc
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol, runtime_checkable

from consumers import prechecked
from consumers.channel import Channel, Outcome, Rebuild
from consumers.deadletter import DeadLetter, DeadLetterSink
from consumers.retry import RetryPolicy
from consumers.runner import ChannelRunner, RunStats
from consumers.safety import ChannelGuard
from govpub.bus import Bus, Consumer, TopicPartition, open_bus
from govpub.compliance.policy import CompliancePolicy
from govpub.errors import BusError, ReplayUnsupported
from govpub.files import replace_path
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from schemas import AnyEvent

log = logging.getLogger(__name__)

PRECHECK_MIN_RECORDS = 2000
"""From this many records on, a replay checks the events in a forked process ahead of
applying them (:mod:`consumers.prechecked`)."""

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@runtime_checkable
class Rebuildable(Protocol):
    """A channel whose whole output is files under the output directory."""

    name: str
    state_tables: tuple[str, ...]
    """The store tables that hold the channel's state (replaced by a replay)."""

    def outputs(self) -> Sequence[PurePosixPath]:
        """Paths under the output root that the channel owns, files or directories."""
        ...

    def written(self) -> Collection[str]:
        """Built with :attr:`Rebuild.IN_PLACE`: every path (relative to the output root)
        written or found unchanged since the channel was built."""
        ...


@dataclass
class ReplayResult:
    """What a replay read and rebuilt."""

    channel: str
    records: int
    stats: RunStats
    outputs: list[PurePosixPath] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


class _KeptDeadLetters(DeadLetterSink):
    """Dead letters of a replay are kept in memory and reported, never sent again:
    the live consumer already dead-lettered them on the topic."""

    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    def send(self, letter: DeadLetter) -> None:
        """Keep ``letter``."""
        self.letters.append(letter)


class _FlushAtEnd:
    """Passes events to the channel but renders once, when the replay is complete,
    instead of after every batch."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.name = channel.name

    def apply(self, event: AnyEvent) -> Outcome | None:
        return self.channel.apply(event)

    def flush(self, *, backlog: bool = False) -> None:
        """Deferred: see :func:`replay`."""

    def idle(self) -> None:
        """A replay rebuilds output from the topics; it has no background work."""

    def close(self) -> None:
        self.channel.close()


def _read_all(
    runner: ChannelRunner,
    consumer: Consumer,
    ends: dict[TopicPartition, int],
    *,
    max_batch: int,
    poll_timeout: float,
    idle_timeout: float,
) -> int:
    """Deliver every record before ``ends``; returns how many were read."""
    remaining = {tp for tp, end in ends.items() if end > 0}
    count = 0
    last_progress = time.monotonic()
    while remaining:
        records = consumer.poll(poll_timeout, max_batch)
        wanted = [r for r in records if r.offset < ends.get(r.tp, 0)]
        for record in wanted:
            if record.offset + 1 >= ends[record.tp]:
                remaining.discard(record.tp)
        if wanted:
            count += len(wanted)
            runner.process(wanted)
            last_progress = time.monotonic()
            continue
        # Nothing new: a partition whose position reached its end is done too (its
        # last records may have been removed by retention).
        for tp, lag in consumer.lag().items():
            if lag <= 0:
                remaining.discard(tp)
        if remaining and time.monotonic() - last_progress > idle_timeout:
            names = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(remaining))
            raise BusError(f"replay: no records from {names} for {idle_timeout:.0f} s")
    return count


def _replace_tables(live: Store, rebuilt: Path, tables: Sequence[str]) -> None:
    for table in tables:
        if not _TABLE_NAME.match(table):
            raise ValueError(f"not a table name: {table!r}")
    live.replace_tables(rebuilt, tables)


def _remove_unwritten(root: Path, owned: Sequence[PurePosixPath], written: Collection[str]) -> int:
    """Remove every file under the ``owned`` paths of ``root`` that is not ``written``."""
    removed = 0
    for path in owned:
        top = root / path
        if top.is_file():
            if str(path) not in written:
                top.unlink()
                removed += 1
            continue
        for directory, _, files in os.walk(top):
            relative = Path(directory).relative_to(root).as_posix()
            for name in files:
                if f"{relative}/{name}" not in written:
                    os.unlink(os.path.join(directory, name))
                    removed += 1
    return removed


GC_THRESHOLD_FACTOR = 10
"""During a replay, the cyclic garbage collector runs this many times less often."""


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect cyclic garbage less often while the replay runs.

    A replay allocates millions of short-lived objects (decoded events, rows, pages)
    and holds a large heap of long-lived ones (the events of the batch, kept until
    their pages are rendered): each full collection walks all of them, and finds
    little. The objects alive when the replay starts are frozen out of the collector
    (forked render processes inherit that), and the youngest generation is collected
    every GC_THRESHOLD_FACTOR times its usual count. Both are undone at the end.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(thresholds[0] * GC_THRESHOLD_FACTOR, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


ChannelBuilder = Callable[[Settings, Store, Rebuild | None], Channel]
"""Builds the channel being replayed on the given settings and state store, to rebuild
its output as :class:`Rebuild` says, or for live delivery (``None``); the shell passes
one that looks the channel up in the registry."""


def replay(
    settings: Settings,
    name: str,
    build: ChannelBuilder,
    *,
    bus: Bus | None = None,
    idle_timeout: float = 60.0,
) -> ReplayResult:
    """Rebuild channel ``name``'s output and state from the beginning of the topics;
    ``build`` makes the channel (on a fresh store, then once on the live one)."""
    with _fewer_collections():
        return _replay(settings, name, build, bus=bus, idle_timeout=idle_timeout)


def _replay(
    settings: Settings,
    name: str,
    build: ChannelBuilder,
    *,
    bus: Bus | None,
    idle_timeout: float,
) -> ReplayResult:
    topics = Topics(settings.topic_prefix)
    output_dir = settings.output_dir
    output_dir.mkdir(parents=True, exist_ok=True)
    # Inside the output directory: on its file system (so the swap is a rename),
    # and hidden (dot-files are never served, nor owned by a channel).
    work = Path(tempfile.mkdtemp(prefix=f".replay-{name}-", dir=output_dir))
    bus = bus or open_bus(settings)
    try:
        rebuilt_store = work / "state.db"
        with Store(rebuilt_store) as store:
            probe = build(settings, store, None)
            try:
                if not isinstance(probe, Rebuildable):
                    raise ReplayUnsupported(
                        f"channel {name!r} does not write files it can name; it cannot be replayed"
                    )
                outputs = list(probe.outputs())
                tables = probe.state_tables
            finally:
                probe.close()
            # Over a live site, the outputs are rewritten in place (only the files whose
            # bytes change are replaced, each atomically); with none, a new tree is built
            # beside it and moved into place.
            in_place = any((output_dir / path).exists() for path in outputs)
            if in_place:
                rebuilt = settings.model_copy(update={"store": str(rebuilt_store)})
                channel = build(rebuilt, store, Rebuild.IN_PLACE)
            else:
                rebuilt = settings.model_copy(
                    update={"output_dir": work / "output", "store": str(rebuilt_store)}
                )
                channel = build(rebuilt, store, Rebuild.FRESH)
            try:
                assert isinstance(channel, Rebuildable)
                kept = _KeptDeadLetters()
                started = time.monotonic()
                ends = bus.end_offsets(topics.content)
                compliance = CompliancePolicy.from_settings(settings)
                guard: Callable[[AnyEvent], AnyEvent] = ChannelGuard(name, store, compliance)
                if sum(ends.values()) >= PRECHECK_MIN_RECORDS and prechecked.can_fork():
                    guard = prechecked.start(
                        lambda: open_bus(settings),
                        topics.content,
                        ends,
                        lambda: ChannelGuard(name, None, compliance),
                        guard,
                        max_batch=settings.max_batch,
                        poll_timeout=settings.poll_timeout,
                    )
                runner = ChannelRunner(
                    _FlushAtEnd(channel),
                    bus,
                    store,
                    topics,
                    policy=RetryPolicy.from_settings(settings),
                    dead_letters=kept,
                    guard=guard,
                )
                consumer = bus.consumer(topics.content, group=None)
                try:
                    count = _read_all(
                        runner,
                        consumer,
                        ends,
                        max_batch=settings.max_batch,
                        poll_timeout=settings.poll_timeout,
                        idle_timeout=idle_timeout,
                    )
                finally:
                    consumer.close()
                    if isinstance(guard, prechecked.PrecheckedGuard):
                        guard.close()
                        log.info(
                            "replay %s: %d events checked ahead by a forked process, %d here",
                            name,
                            guard.checked_ahead,
                            guard.checked_here,
                        )
                applied = time.monotonic()
                channel.flush()
                written = set(channel.written()) if in_place else set()
                log.info(
                    "replay %s: %d records read and applied in %.1f s, rendered in %.1f s",
                    name,
                    count,
                    applied - started,
                    time.monotonic() - applied,
                )
            finally:
                channel.close()
        with Store(settings.store) as live:
            # Building the channel on the live store creates its tables if it never ran.
            build(settings, live, None).close()
            if in_place:
                removed = _remove_unwritten(output_dir, outputs, written)
                log.info("replay %s: %d files no longer in the output removed", name, removed)
            else:
                for path in outputs:
                    replace_path(work / "output" / path, output_dir / path)
            _replace_tables(live, rebuilt_store, tables)
        for letter in kept.letters:
            log.warning(
                "replay %s: %s[%d]@%d was not applied (%s: %s)",
                name,
                letter.origin_topic,
                letter.origin_partition,
                letter.origin_offset,
                letter.error_type,
                letter.reason,
            )
        log.info("replay %s: %d records, %s", name, count, runner.stats)
        return ReplayResult(name, count, runner.stats, outputs, kept.letters)
    finally:
        shutil.rmtree(work, ignore_errors=True)
