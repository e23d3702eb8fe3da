"""The release steps that need channels: the catalog catch-up every release starts
with (it runs the ``catalog`` channel), the exposure release's planning and emission,
the take-downs' planning, the party register's retention and the annual report's counting
on the document catalog (the ``catalog`` channel's state), which the shell hands to
:mod:`producers.releases.exposure`, :mod:`producers.releases.takedown`,
:mod:`producers.releases.retention` and :mod:`producers.releases.annual_report`.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from channels.catalog import CatalogChannel
from channels.catalog.state import DocumentCatalog
from consumers.runner import RunStats
from govpub.app.channels import build_runner
from govpub.bus import open_bus
from govpub.errors import CatalogBehind
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from producers.releases import annual_report, consultations, exposure, retention, takedown

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogSync:
    """What :func:`sync_catalog` did."""

    stats: RunStats
    waited: float


def sync_catalog(
    settings: Settings,
    *,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CatalogSync:
    """Bring the document catalog up to the end of every content topic.

    Runs the ``catalog`` channel in this process until it is idle, then waits until
    the catalog's consumer group has committed everything: where a ``govpub consume
    --channel catalog`` service shares the group, it may own some partitions, and this
    returns only once it has caught up too. Raises :class:`CatalogBehind` after
    ``timeout`` seconds (default ``GOVPUB_CATALOG_SYNC_TIMEOUT``). Safe to repeat.
    """
    limit = settings.catalog_sync_timeout if timeout is None else timeout
    topics = Topics(settings.topic_prefix)
    with Store(settings.store) as store:
        runner = build_runner(settings, CatalogChannel.name, store)
        try:
            # This member ends on its own lag; the wait for the rest of the group below
            # has a timeout, and says why it gave up.
            stats = runner.run(until_idle=True, wait_for_group=False)
        finally:
            runner.channel.close()
            runner.bus.close()
    started = time.monotonic()
    with open_bus(settings) as bus:
        group = topics.channel_group(CatalogChannel.name)
        while True:
            behind = {
                tp: lag for tp, lag in bus.committed_lag(group, topics.content).items() if lag > 0
            }
            if not behind:
                break
            waited = time.monotonic() - started
            if waited >= limit:
                detail = ", ".join(f"{tp.topic}[{tp.partition}]: {n}" for tp, n in behind.items())
                raise CatalogBehind(
                    f"the document catalog is still behind the bus after {waited:.0f} s"
                    f" ({detail}); is the catalog consumer running?"
                )
            sleep(min(1.0, max(0.0, limit - waited)))
    waited = time.monotonic() - started
    log.info("document catalog caught up: %s (waited %.1f s for the group)", stats, waited)
    return CatalogSync(stats, waited)


plan_batch = partial(exposure.plan_batch, catalog=DocumentCatalog)
"""Plan an exposure batch on the document catalog (:func:`producers.releases.exposure.plan_batch`)."""

emit_batches = partial(exposure.emit_batches, catalog=DocumentCatalog)
"""Record the decisions and emit the plans they allow, checked on the document catalog
(:func:`producers.releases.exposure.emit_batches`)."""

plan_takedowns = partial(takedown.plan_takedowns, catalog=DocumentCatalog)
"""The penalty decisions to take down on a day, from the document catalog
(:func:`producers.releases.takedown.plan_takedowns`)."""

forget_party_names = partial(retention.forget_party_names, catalog=DocumentCatalog)
"""Forget the party register's names no document needs any more, on the document catalog
(:func:`producers.releases.retention.forget_party_names`)."""

plan_annual_report = partial(annual_report.plan_report, catalog=DocumentCatalog)
"""Count a year's Table 2 on the document catalog
(:func:`producers.releases.annual_report.plan_report`)."""

plan_lifecycle = partial(consultations.plan_lifecycle, catalog=DocumentCatalog)
"""The consultations to close on a day and the results overdue, from the document catalog
(:func:`producers.releases.consultations.plan_lifecycle`)."""
