"""Rendering a large flush in several processes.

A replay renders every page of the site in one flush, after its apply phase; the
work is CPU-bound (Jinja2) and each output is independent of the others. So the
flush forks: each child renders an interleaved share of the targets on a store
connection of its own (the batch is committed before), with the templates, the
compiled chrome and the events of the batch it inherits from the parent, which
renders a share itself and then waits for them. Nothing is imported or compiled
again, so it pays from a few thousand outputs on.

Forking is safe only in a process with one thread (a child inherits the locks other
threads hold at that moment, held), so a flush forks only then: a replay does; a
``govpub consume`` process, which runs each channel in a thread, renders in its own
process.
"""

import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable, Sequence

from govpub.errors import RenderFailed

log = logging.getLogger(__name__)

PARALLEL_MIN_TARGETS = 2000
"""A flush with fewer outputs is rendered in the channel's process only."""


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def processes_for(setting: int) -> int:
    """``GOVPUB_RENDER_PROCESSES``: 0 means the cores this process may run on."""
    return setting if setting > 0 else available_cores()


def can_fork() -> bool:
    """Whether this process may fork render processes now (one thread, a POSIX system)."""
    return hasattr(os, "fork") and threading.active_count() == 1


Share = Callable[[Sequence[str]], set[str]]
"""Renders a share of the targets, waits until its files are written, and returns the
paths it wrote or found unchanged (when they are recorded; else an empty set)."""


def render_forked(targets: Sequence[str], processes: int, here: Share, child: Share) -> set[str]:
    """Render ``targets`` in ``processes`` processes: this one with ``here``, each fork
    with ``child`` (which must open its own connections); returns the paths all wrote.

    Raises :class:`RenderFailed` if a child failed (its traceback is on stderr); the
    caller then keeps its outputs pending and flushes again.
    """
    children: list[tuple[int, int]] = []
    try:
        for index in range(1, processes):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: never returns
                os.close(read_end)
                _run_child(child, targets[index::processes], write_end)
            os.close(write_end)
            children.append((pid, read_end))
        paths = here(targets[0::processes])
    except BaseException:
        for pid, read_end in children:
            os.close(read_end)
            os.waitpid(pid, 0)
        raise
    failed = 0
    for pid, read_end in children:
        with os.fdopen(read_end, "rb") as answer:
            data = answer.read()
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            failed += 1
            continue
        paths.update(json.loads(data))
    if failed:
        raise RenderFailed(f"{failed} of {processes - 1} render processes failed (see stderr)")
    return paths


def _run_child(child: Share, share: Sequence[str], answer: int) -> None:
    code = 1
    try:
        paths = child(share)
        with os.fdopen(answer, "wb") as out:
            out.write(json.dumps(sorted(paths)).encode())
        code = 0
    except BaseException:
        traceback.print_exc(file=sys.stderr)
    finally:
        sys.stderr.flush()
        os._exit(code)  # no atexit handler, no finaliser of the parent's objects
