"""Several members of the channels' consumer groups from one command.

``govpub consume --processes N`` imports govpub, the transport and the channels once,
then forks N members. Each member is a whole consumer, with its own bus clients, store
connection and channels, and joins the groups as a separately started process would;
the parent only supervises. Forking after the imports spares each member the start-up
CPU it would otherwise spend (about 0.8 s a process, most of it imports), which on a
machine with fewer cores than members is taken from the members already delivering.
The members also start within milliseconds of each other, so they tend to join the
group in one rebalance instead of one each.

The parent forwards SIGTERM and SIGINT to the members and waits for them; each member
finishes its batch, commits and leaves its groups. A member that fails makes the parent
stop the others and exit 1, so a service manager restarts the command as it restarts a
single consumer.
"""

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from govpub.errors import ConfigurationError

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

Member = Callable[[int, threading.Event], int]
"""A member's work: given its number (1…N) and an event set when it is asked to stop,
it returns the exit status of its process."""


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGTERM or SIGINT while inside; the previous handlers come back
    afterwards."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _member_main(member: Member, number: int) -> None:
    """A forked member's process: its own stop handlers first, then the signals the
    parent held back while forking, then the work."""
    stop = threading.Event()
    with stop_on_signals(stop):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        status = member(number, stop)
    raise SystemExit(status)


def _describe(process: BaseProcess) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


def run_members(count: int, member: Member) -> int:
    """Fork ``count`` processes that each run ``member`` and wait for all of them.

    Returns 0 when every member ended with 0, else 1 (the first failure is logged and
    the other members are asked to stop). Raises :class:`ConfigurationError` on a
    platform without ``fork()``, and ``RuntimeError`` when called with other threads
    running: a forked child would inherit their locks in whatever state they were.
    """
    if count < 1:
        raise ConfigurationError(f"--processes must be at least 1, not {count}")
    if not hasattr(os, "fork"):
        raise ConfigurationError(
            "--processes needs fork(), which this platform does not have;"
            " start one `govpub consume` for each member instead"
        )
    if threading.active_count() > 1:
        raise RuntimeError("members are forked before any thread starts; threads are running")
    context = multiprocessing.get_context("fork")
    members = [
        context.Process(target=_member_main, args=(member, number), name=f"member-{number}")
        for number in range(1, count + 1)
    ]
    stopping = False

    def stop_members() -> None:
        for process in members:
            if process.pid is not None and process.exitcode is None:
                # One that ended since is collected below with its exit status.
                with suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        stop_members()

    # The stop signals are held back until every member is forked and has its own
    # handlers: a member must never run the parent's handler, and a signal that arrives
    # while forking still reaches every member.
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    previous = {sig: signal.signal(sig, forward) for sig in STOP_SIGNALS}
    try:
        try:
            for process in members:
                process.start()
        except BaseException:
            # A fork that fails (out of memory or processes) must not leave the members
            # already started running without a parent that watches them.
            members = [process for process in members if process.pid is not None]
            stop_members()
            for process in members:
                process.join()
            raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        failed = False
        running = list(members)
        while running:
            ended = wait([process.sentinel for process in running])
            for process in running:
                if process.sentinel not in ended:
                    continue
                process.join()
                if process.exitcode == 0:
                    continue
                failed = True
                log.error(
                    "member %s of %d (pid %s) %s%s",
                    process.name.removeprefix("member-"),
                    count,
                    process.pid,
                    _describe(process),
                    "" if stopping else "; stopping the others",
                )
                if not stopping:
                    stopping = True
                    stop_members()
            running = [process for process in running if process.exitcode is None]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 1 if failed else 0
