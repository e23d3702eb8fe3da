"""Emitting a scheduled release's events one by one: what the daily DAGs share.

A scheduled release (a take-down, a consultation's closing) builds its events from the
document catalog, then sends each on its own through the publisher, so that one refused
never holds back the others. An event the ledger accepted before is reported as such
(the run is a repeat or a backfill); one that a newer version overtook is left to the
next run, which decides on that version.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from govpub.errors import (
    ComplianceRefusal,
    DuplicateEventConflict,
    EventValidationError,
    StaleVersion,
)
from govpub.settings import Settings
from govpub.store import Store
from producers.factory import open_publisher
from producers.ledger import VersionLedger
from producers.publisher import Publisher
from producers.releases.log import Release, ReleaseLog

log = logging.getLogger(__name__)


@dataclass
class ScheduledRun:
    """What one run emitted, found emitted by an earlier run, and skipped (with why)."""

    emitted: list[Release] = field(default_factory=list)
    already_emitted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for XCom and logs."""
        return {
            "emitted": [f"{r.document_id} v{r.version} {r.event_id}" for r in self.emitted],
            "already_emitted": self.already_emitted,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class Scheduled:
    """One event a scheduled release sends, with what its release log entry says."""

    event: dict[str, Any]
    document_id: str
    version: int
    title: str
    kind: str
    action: str


def emit_scheduled(
    settings: Settings,
    events: Sequence[Scheduled],
    *,
    source: str,
    run_id: str,
    now: datetime | None = None,
) -> ScheduledRun:
    """Send ``events`` each on its own through the publisher (gate and ledger), and log
    the accepted ones in the release log; returns what happened to each. Safe to repeat."""
    run = ScheduledRun()
    if not events:
        return run
    emitted_at = now or datetime.now(UTC)
    with Store(settings.store) as store:
        ledger = VersionLedger(store)
        with open_publisher(settings, store, source="dag") as publisher:
            for scheduled in events:
                emit_one(
                    publisher,
                    ledger,
                    scheduled,
                    run,
                    source=source,
                    run_id=run_id,
                    emitted_at=emitted_at,
                )
        ReleaseLog(store).record(run.emitted)
    return run


def emit_one(
    publisher: Publisher,
    ledger: VersionLedger,
    scheduled: Scheduled,
    run: ScheduledRun,
    *,
    source: str,
    run_id: str,
    emitted_at: datetime,
) -> str | None:
    """Send one event and note the outcome in ``run``; returns the id of a newly
    accepted event (``None``: emitted before, or skipped)."""
    document_id = scheduled.document_id
    try:
        accepted = publisher.publish(scheduled.event)
    except StaleVersion:
        current = ledger.current_version(document_id)
        run.skipped.append(
            f"{document_id}: version {current} was accepted after the catalog was"
            " read; the next run decides on it"
        )
        log.warning("%s", run.skipped[-1])
        return None
    except (DuplicateEventConflict, ComplianceRefusal, EventValidationError) as exc:
        run.skipped.append(f"{document_id}: refused: {exc}")
        log.error("%s", run.skipped[-1])
        return None
    if accepted.duplicate:
        run.already_emitted.append(document_id)
        return None
    log.info("%s %s v%d: %s", scheduled.action, document_id, scheduled.version, accepted.event_id)
    run.emitted.append(
        Release(
            event_id=accepted.event_id,
            source=source,
            run_id=run_id,
            document_id=document_id,
            kind=scheduled.kind,
            action=scheduled.action,
            version=scheduled.version,
            title=scheduled.title,
            emitted_at=emitted_at,
        )
    )
    return accepted.event_id
