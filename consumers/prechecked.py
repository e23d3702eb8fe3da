"""A replay's compliance re-check, run ahead in a forked process.

Every event a channel takes from the bus is made safe again (:mod:`consumers.safety`);
in a replay that is a third of the work of reading and applying the topics, and it
depends on nothing the channel does. So a replay that may fork (one thread, a POSIX
system) starts a child that reads the same records up to the same ends and checks
each event, and the replay's runner takes the child's verdict instead of checking the
event itself: the event unchanged, the event made safe, or the refusal with its rule
and fields. Whatever the child cannot answer (it died, or fell behind past a record)
is checked in the replay's own process, so the result never depends on the child.

The child checks every event it reads, also those the runner then skips as stale or
repeated, in the order they come; its register of the persons named in penalties
(whose names exposures citing them must mask) can therefore only hold more names
than the runner's own, never fewer.
"""

import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from multiprocessing.connection import Connection, Pipe
from typing import Any

from govpub.bus import Bus, TopicPartition
from govpub.errors import ComplianceRefusal, EventValidationError, FieldError, GovpubError
from schemas import AnyEvent, parse_event
from schemas.events import encode_event

log = logging.getLogger(__name__)

Guard = Callable[[AnyEvent], AnyEvent]
Verdict = tuple[str, Any]
"""``("same", None)``, ``("safe", json)``, ``("refused", (rule, [(path, message)]))``
or ``("failed", message)``."""

_CHUNK = 500


def can_fork() -> bool:
    """Whether this process may fork a checker now (one thread, a POSIX system)."""
    return hasattr(os, "fork") and threading.active_count() == 1


class PrecheckedGuard:
    """The guard of a replay's runner: the forked child's verdict for each event, or the
    ``fallback`` guard when there is none."""

    def __init__(self, fallback: Guard, pid: int, answers: Connection) -> None:
        self.fallback = fallback
        self._pid = pid
        self._answers: Connection | None = answers
        self._verdicts: dict[str, Verdict] = {}
        self.checked_ahead = 0
        self.checked_here = 0

    def __call__(self, event: AnyEvent) -> AnyEvent:
        verdict = self._verdict(event.event_id)
        if verdict is None:
            self.checked_here += 1
            return self.fallback(event)
        self.checked_ahead += 1
        kind, value = verdict
        if kind == "same":
            return event
        if kind == "safe":
            return parse_event(value)
        if kind == "refused":
            rule, errors = value
            raise ComplianceRefusal(rule, [FieldError(path, message) for path, message in errors])
        raise GovpubError(f"the compliance re-check failed: {value}")

    def _verdict(self, event_id: str) -> Verdict | None:
        while event_id not in self._verdicts:
            if self._answers is None:
                return None
            try:
                chunk: list[tuple[str, Verdict]] = self._answers.recv()
            except (EOFError, OSError):
                self._stop("the checker ended early")
                return None
            if not chunk:  # the child has checked everything it read
                self._stop(None)
                return None
            for key, verdict in chunk:
                self._verdicts.setdefault(key, verdict)  # the first record of an event counts
        return self._verdicts.pop(event_id)

    def _stop(self, problem: str | None) -> None:
        if self._answers is not None:
            self._answers.close()
            self._answers = None
        _, status = os.waitpid(self._pid, 0)
        if problem is not None or os.waitstatus_to_exitcode(status) != 0:
            log.warning(
                "replay: %s; the rest is checked in this process", problem or "the checker failed"
            )

    def close(self) -> None:
        """Stop the child if it is still running (a replay that ended early)."""
        if self._answers is not None:
            self._answers.close()
            self._answers = None
            os.waitpid(self._pid, 0)


def start(
    open_bus: Callable[[], Bus],
    topics: list[str],
    ends: Mapping[TopicPartition, int],
    guard: Callable[[], Guard],
    fallback: Guard,
    *,
    max_batch: int,
    poll_timeout: float,
) -> PrecheckedGuard:
    """Fork the checker (call :func:`can_fork` first); returns the runner's guard."""
    answers, questions = Pipe(duplex=False)
    pid = os.fork()
    if pid == 0:  # the child never returns
        answers.close()
        code = 1
        try:
            _check_all(open_bus(), topics, ends, guard(), questions, max_batch, poll_timeout)
            code = 0
        except BaseException:
            traceback.print_exc(file=sys.stderr)
        finally:
            sys.stderr.flush()
            os._exit(code)
    questions.close()
    return PrecheckedGuard(fallback, pid, answers)


def _check_all(
    bus: Bus,
    topics: list[str],
    ends: Mapping[TopicPartition, int],
    guard: Guard,
    out: Connection,
    max_batch: int,
    poll_timeout: float,
) -> None:
    chunk: list[tuple[str, Verdict]] = []
    for value in _values(bus, topics, ends, max_batch, poll_timeout):
        try:
            event = parse_event(value)
        except EventValidationError:
            continue  # a poison record: the runner dead-letters it without checking
        chunk.append((event.event_id, _verdict(guard, event)))
        if len(chunk) >= _CHUNK:
            out.send(chunk)
            chunk = []
    if chunk:
        out.send(chunk)
    out.send([])
    out.close()


def _verdict(guard: Guard, event: AnyEvent) -> Verdict:
    try:
        safe = guard(event)
    except ComplianceRefusal as refusal:
        return "refused", (refusal.rule, [(e.path, e.message) for e in refusal.errors])
    except Exception as exc:  # the runner dead-letters a failed check: say why
        return "failed", f"{type(exc).__name__}: {exc}"
    if safe is event:
        return "same", None
    return "safe", encode_event(safe)


def _values(
    bus: Bus,
    topics: list[str],
    ends: Mapping[TopicPartition, int],
    max_batch: int,
    poll_timeout: float,
) -> Iterator[bytes]:
    remaining = {tp for tp, end in ends.items() if end > 0}
    consumer = bus.consumer(topics, group=None)
    try:
        while remaining:
            records = consumer.poll(poll_timeout, max_batch)
            for record in records:
                if record.offset < ends.get(record.tp, 0):
                    if record.offset + 1 >= ends[record.tp]:
                        remaining.discard(record.tp)
                    yield record.value
            if not records:
                for tp, lag in consumer.lag().items():
                    if lag <= 0:
                        remaining.discard(tp)
    finally:
        consumer.close()
