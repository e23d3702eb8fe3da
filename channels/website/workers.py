"""Rendering a large flush in several processes.

A replay or a catch-up renders tens of thousands of pages after one apply phase; the
work is CPU-bound (Jinja2) and each target is independent of the others, so the
channel shares it with worker processes, one fewer than ``GOVPUB_RENDER_PROCESSES``
(by default the cores this process may run on), and renders a share itself.

The workers are started with ``spawn`` (a channel runs in a thread of a process that
may hold locks; a forked child could inherit them held), once, the first time a flush
is large enough, and live as long as the channel. Each renders on its own connection
to the store, which the channel has committed before it hands out the targets.
"""

import functools
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from channels.urls import SiteUrls
from channels.website.outputs import Outputs
from channels.website.render import SiteRenderer
from channels.website.state import WebsiteState
from govpub.files import FileTree
from govpub.store import Store

log = logging.getLogger(__name__)

PARALLEL_MIN_TARGETS = 2000
"""A flush with fewer targets is rendered in the channel's process: starting workers
and handing out work would cost more than it saves."""

CHUNK = 400
"""Targets per piece of work handed to a worker: small enough to balance the load,
large enough that handing it out costs nothing next to rendering it."""


@dataclass(frozen=True)
class RenderJob:
    """What a worker needs to render targets of one output tree."""

    store: Path
    output_dir: Path
    fresh: bool
    reuse: Path | None
    site_url: str
    site_title: str
    page_size: int


@functools.lru_cache(maxsize=2)
def _outputs_for(job: RenderJob) -> Outputs:
    # One renderer and one store connection per worker process and tree, kept for the
    # worker's life (compiling the templates costs more than rendering a few pages).
    store = Store(job.store).open()
    state = WebsiteState(store, page_size=job.page_size)
    renderer = SiteRenderer(
        SiteUrls(job.site_url), site_title=job.site_title, page_size=job.page_size
    )
    return Outputs(state, renderer, FileTree(job.output_dir, fresh=job.fresh, reuse=job.reuse))


def render_targets(job: RenderJob, targets: Sequence[str]) -> tuple[int, int]:
    """Render ``targets`` in this (worker) process: ``(written, unchanged)`` files."""
    outputs = _outputs_for(job)
    tree = outputs.tree
    written, unchanged = tree.written, tree.unchanged
    for target in targets:
        outputs.render(target)
    return tree.written - written, tree.unchanged - unchanged


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class RenderPool:
    """Worker processes that render the targets of a large flush beside the channel."""

    def __init__(self, processes: int) -> None:
        self.processes = processes if processes > 0 else available_cores()
        self._executor: ProcessPoolExecutor | None = None

    def worth_it(self, targets: int) -> bool:
        """Whether a flush of ``targets`` outputs is rendered in several processes."""
        return self.processes > 1 and targets >= PARALLEL_MIN_TARGETS

    def render(
        self,
        job: RenderJob,
        targets: Sequence[str],
        render_here: Callable[[str], None],
        *,
        tick: Callable[[], None] = lambda: None,
    ) -> tuple[int, int]:
        """Render every target, in the workers and with ``render_here``; returns the
        files the workers wrote and left unchanged.

        The workers take pieces from the front; this process takes them from the back,
        each one it can still withdraw from the pool, until the two meet; then it waits
        for the workers, calling ``tick`` every second (the channel renews its lease).
        """
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.processes - 1, mp_context=multiprocessing.get_context("spawn")
            )
        pieces = [list(targets[start : start + CHUNK]) for start in range(0, len(targets), CHUNK)]
        futures: list[Future[tuple[int, int]]] = [
            self._executor.submit(render_targets, job, piece) for piece in pieces
        ]
        try:
            for piece, future in zip(reversed(pieces), reversed(futures), strict=True):
                if not future.cancel():
                    break  # a worker has it, and every piece before it
                for target in piece:
                    render_here(target)
            while True:
                done, not_done = wait(futures, timeout=1.0, return_when=FIRST_EXCEPTION)
                if not not_done or any(f.exception() for f in done if not f.cancelled()):
                    break
                tick()
            written = unchanged = 0
            for future in futures:
                if not future.cancelled():
                    w, u = future.result()
                    written, unchanged = written + w, unchanged + u
        except BaseException:
            # Let no worker write on behind the caller's back (it retries the flush).
            for future in futures:
                future.cancel()
            wait(futures)
            raise
        return written, unchanged

    def close(self) -> None:
        """Stop the workers."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
