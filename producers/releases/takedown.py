"""Scheduled take-downs: penalty decisions leave every channel when their display ends.

Every day (the ``penalty_display_takedown`` DAG, 09:00 Asia/Shanghai) the release finds,
in the document catalog, each published penalty decision whose display period ended
before the day of the run — its ``display_until`` (written by the compliance gate), or
for a decision published without one the end of its configured period
(:mod:`producers.releases.display`) — and emits its withdrawal with the public reason
公示期满 and ``display_ended_on``. The withdrawal travels like any other: the same
publisher, compliance gate and version ledger; every channel takes the decision down.

Idempotence: a take-down is one event per decision and version, its id derived from
them and its date (``occurred_at``) the first day after the display period, so a
second run, a retry or a backfill of an earlier day yields the same event, which the
version ledger answers with its first acceptance, or finds the decision already
withdrawn in the catalog. A backfilled day takes down only what had ended by then; the
rest is for the runs after it.
"""

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from govpub.compliance.rules import never_publish
from govpub.errors import (
    TakedownRefused,
)
from govpub.settings import Settings
from govpub.store import Store
from producers.releases.display import DisplayPeriods
from producers.releases.quarters import RELEASE_TIMEZONE
from producers.releases.scheduled import Scheduled, ScheduledRun, emit_scheduled
from schemas import PenaltyPayload

log = logging.getLogger(__name__)

TAKEDOWN_NAMESPACE = uuid.UUID("c3b9f1d4-6a2e-4f0b-9d57-2e8a41c7b6f0")
"""Namespace of take-down event ids (UUID v5 of ``<document_id>:<version>:<last day>``)."""

TAKEDOWN_REASON = "公示期满"
"""The public reason of a take-down, shown where the decision was."""

UPCOMING_DAYS = 7
"""How far ahead operators see the take-downs that are due (``govpub status``)."""


class CatalogDocument(Protocol):
    """What a take-down reads about one document in the document catalog."""

    @property
    def document_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def department(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any] | None: ...
    @property
    def retracted(self) -> bool: ...
    @property
    def retract_reason(self) -> str | None: ...


class DisplayedPenalty(Protocol):
    """A published penalty decision that is not withdrawn, with its take-down date if it
    carries one."""

    @property
    def document_id(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def department(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def payload(self) -> PenaltyPayload: ...
    @property
    def display_until(self) -> date | None: ...


class TakedownCatalog(Protocol):
    """The document catalog as a take-down reads it (the ``catalog`` channel's state,
    handed in by the shell, ``govpub.app.releases``)."""

    def get(self, document_id: str) -> CatalogDocument | None:
        """The latest state of one document (``None`` if the catalog has not seen it)."""
        ...

    def displayed_penalties(self, *, ending_before: date) -> Sequence[DisplayedPenalty]:
        """Published penalty decisions, not withdrawn, whose display ends before
        ``ending_before``, and those without a take-down date."""
        ...


CatalogOpener = Callable[[Store], TakedownCatalog]
"""Opens the document catalog on a state store (the shell passes the catalog channel's)."""


class Takedown(BaseModel):
    """One decision to take down; travels between tasks as JSON."""

    model_config = ConfigDict(frozen=True)

    document_id: str
    version: int = Field(description="the version of the withdrawal")
    department: str
    title: str
    display_until: date = Field(description="the last day the decision was displayed")
    event: dict[str, Any] = Field(description="the withdrawal to emit")


class Upcoming(BaseModel):
    """A decision whose display ends soon."""

    model_config = ConfigDict(frozen=True)

    document_id: str
    department: str
    display_until: date

    @property
    def takedown_on(self) -> date:
        """The day of the run that takes it down (the day after its display ends)."""
        return self.display_until + timedelta(days=1)


class TakedownPlan(BaseModel):
    """What a run takes down on day ``on``, and what is due in the days after it."""

    model_config = ConfigDict(frozen=True)

    on: date
    takedowns: list[Takedown] = []
    upcoming: list[Upcoming] = []
    note: str = ""


TakedownRun = ScheduledRun
"""What :func:`emit_takedowns` did."""


def takedown_event(
    document_id: str, version: int, department: str, display_until: date
) -> dict[str, Any]:
    """The withdrawal of a decision whose display ended on ``display_until``: the same
    event whichever run builds it (its id and its date follow from the decision)."""
    ended = datetime.combine(display_until + timedelta(days=1), time(0), tzinfo=RELEASE_TIMEZONE)
    key = f"{document_id}:{version}:{display_until.isoformat()}"
    return {
        "event_id": str(uuid.uuid5(TAKEDOWN_NAMESPACE, key)),
        "kind": "penalty",
        "action": "retract",
        "document_id": document_id,
        "version": version,
        "department": department,
        "occurred_at": ended.isoformat(),
        "payload": {"reason": TAKEDOWN_REASON, "display_ended_on": display_until.isoformat()},
    }


def _takedown(
    document_id: str, version: int, department: str, title: str | None, until: date
) -> Takedown:
    return Takedown(
        document_id=document_id,
        version=version + 1,
        department=department,
        title=title or document_id,
        display_until=until,
        event=takedown_event(document_id, version + 1, department, until),
    )


def due_takedowns(
    catalog: TakedownCatalog, display: DisplayPeriods, *, ending_before: date
) -> list[tuple[DisplayedPenalty, date]]:
    """Every published decision whose display ends before ``ending_before``, with the
    last day it is displayed, soonest first (never-published decisions left out)."""
    found = []
    for entry in catalog.displayed_penalties(ending_before=ending_before):
        if never_publish(entry.payload):
            continue
        until = entry.display_until or display.display_until(entry.payload)
        if until < ending_before:
            found.append((entry, until))
    found.sort(key=lambda pair: (pair[1], pair[0].document_id))
    return found


def plan_takedowns(
    settings: Settings,
    on: date,
    *,
    catalog: CatalogOpener,
    document_id: str | None = None,
) -> TakedownPlan:
    """The decisions to take down on day ``on`` (local date in Asia/Shanghai): those whose
    display ended before it; with ``document_id``, only that one, refused with a clear
    :class:`TakedownRefused` when it is not a published penalty decision whose period
    has ended. Call it with a caught-up catalog."""
    display = DisplayPeriods.load(settings.penalty_display_config)
    with Store(settings.store) as store:
        opened = catalog(store)
        if document_id is not None:
            return _plan_one(opened, display, on, document_id)
        ending = due_takedowns(opened, display, ending_before=on + timedelta(days=UPCOMING_DAYS))
    takedowns = [
        _takedown(e.document_id, e.version, e.department, e.title, until)
        for e, until in ending
        if until < on
    ]
    upcoming = [
        Upcoming(document_id=e.document_id, department=e.department, display_until=until)
        for e, until in ending
        if until >= on
    ]
    note = (
        f"{len(takedowns)} penalty decision(s) to take down on {on} (display ended);"
        f" {len(upcoming)} more due in the next {UPCOMING_DAYS} days"
    )
    log.info("%s", note)
    return TakedownPlan(on=on, takedowns=takedowns, upcoming=upcoming, note=note)


def _plan_one(
    catalog: TakedownCatalog, display: DisplayPeriods, on: date, document_id: str
) -> TakedownPlan:
    entry = catalog.get(document_id)
    if entry is None:
        raise TakedownRefused(
            f"{document_id} is not published: the document catalog has not seen it"
            " (a typo, or its events have not reached the catalog yet)"
        )
    if entry.kind != "penalty":
        raise TakedownRefused(
            f"{document_id} is a {entry.kind} document, not a penalty decision: only penalty"
            " decisions are taken down when their display period ends; withdraw other"
            " documents with a retraction (govpub emit)"
        )
    if entry.retracted or entry.payload is None:
        note = f"{document_id} is already withdrawn ({entry.retract_reason or 'no reason'})"
        log.info("%s; nothing to take down", note)
        return TakedownPlan(on=on, note=note)
    penalty = PenaltyPayload.model_validate(entry.payload)
    if never_publish(penalty):
        raise TakedownRefused(
            f"{document_id} is flagged as never to be published (minor, secrets or security"
            " risk): no channel shows it, so there is nothing to take down"
        )
    until = display.display_until(penalty)
    if until >= on:
        raise TakedownRefused(
            f"the display period of {document_id} runs until {until}: it is taken down on"
            f" {until + timedelta(days=1)}, not on {on}. To withdraw it earlier, send a"
            " retraction with the reason (and revoked_on, if the decision was revoked)"
        )
    title = entry.payload.get("title")
    takedown = _takedown(
        document_id,
        entry.version,
        entry.department,
        title if isinstance(title, str) else None,
        until,
    )
    return TakedownPlan(on=on, takedowns=[takedown], note=f"{document_id}: display ended {until}")


def emit_takedowns(
    settings: Settings,
    plan: TakedownPlan,
    *,
    source: str,
    run_id: str,
    now: datetime | None = None,
) -> TakedownRun:
    """Emit the plan's withdrawals, each on its own (one refused never holds back the
    others); returns what the bus accepted, what it had accepted before, and what was
    skipped and why. Safe to repeat."""
    result = emit_scheduled(
        settings,
        [
            Scheduled(t.event, t.document_id, t.version, t.title, "penalty", "retract")
            for t in plan.takedowns
        ],
        source=source,
        run_id=run_id,
        now=now,
    )
    log.info(
        "take-downs of %s: %d emitted, %d emitted before, %d skipped",
        plan.on,
        len(result.emitted),
        len(result.already_emitted),
        len(result.skipped),
    )
    return result
