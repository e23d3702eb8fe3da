"""The life of a consultation (征求意见) after it is published: closing, and its result.

Every day (the ``consultation_lifecycle`` DAG, 00:30 Asia/Shanghai) the release finds, in
the document catalog, each consultation still open whose ``closes_on`` is before the day
of the run and emits an update marking it closed (``closed: true``, the rest of its
payload unchanged). The update travels like any other — the same publisher, compliance
gate and version ledger — and every channel shows the consultation as 已截止.

It also lists the consultations whose result (意见征集结果) is overdue: closed more than
``GOVPUB_CONSULTATION_RESULT_DAYS`` working days ago (Asia/Shanghai, holiday calendar of
the compliance gate) and still without ``result``. ``govpub status`` shows the same list.

Idempotence: a closure is one event per consultation and version, its id derived from
them and its date the day after ``closes_on``; a second run, a retry or a backfill yields
the same event, which the version ledger answers with its first acceptance, or finds the
consultation closed in the catalog already.
"""

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from govpub.settings import Settings
from govpub.store import Store
from producers.compliance.calendar import WorkingCalendar
from producers.releases.quarters import RELEASE_TIMEZONE
from producers.releases.scheduled import Scheduled, ScheduledRun, emit_scheduled
from schemas import ConsultationPayload, Kind

log = logging.getLogger(__name__)

CLOSURE_NAMESPACE = uuid.UUID("0d7f3a52-9c1e-4b8a-a6f4-5e2b9c81d3a7")
"""Namespace of closure event ids (UUID v5 of ``<document_id>:<version>:<closes_on>``)."""


class CatalogDocument(Protocol):
    """What the lifecycle reads about one document in the document catalog."""

    @property
    def document_id(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def department(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any] | None: ...


class ConsultationCatalog(Protocol):
    """The document catalog as the lifecycle reads it (handed in by the shell)."""

    def current_of_kind(self, kind: str) -> Sequence[CatalogDocument]:
        """Every document of ``kind`` not withdrawn, in its latest version."""
        ...


CatalogOpener = Callable[[Store], ConsultationCatalog]
"""Opens the document catalog on a state store (the shell passes the catalog channel's)."""


class Closure(BaseModel):
    """One consultation to close; travels between tasks as JSON."""

    model_config = ConfigDict(frozen=True)

    document_id: str
    version: int = Field(description="the version of the closing update")
    title: str
    closes_on: date
    event: dict[str, Any] = Field(description="the update to emit")


class OverdueResult(BaseModel):
    """A consultation closed long enough ago that its result should be out."""

    model_config = ConfigDict(frozen=True)

    document_id: str
    department: str
    title: str
    closes_on: date
    working_days: int = Field(description="working days since closes_on")
    limit: int = Field(description="GOVPUB_CONSULTATION_RESULT_DAYS")


class LifecyclePlan(BaseModel):
    """What a run closes on day ``on``, and which results are overdue that day."""

    model_config = ConfigDict(frozen=True)

    on: date
    closures: list[Closure] = []
    overdue_results: list[OverdueResult] = []


LifecycleRun = ScheduledRun
"""What :func:`emit_closures` did."""


def closure_event(
    document_id: str, version: int, department: str, payload: dict[str, Any], closes_on: date
) -> dict[str, Any]:
    """The update closing a consultation that closed on ``closes_on``: the same event
    whichever run builds it (its id and its date follow from the consultation)."""
    closed_at = datetime.combine(closes_on + timedelta(days=1), time(0), tzinfo=RELEASE_TIMEZONE)
    key = f"{document_id}:{version}:{closes_on.isoformat()}"
    return {
        "event_id": str(uuid.uuid5(CLOSURE_NAMESPACE, key)),
        "kind": Kind.CONSULTATION.value,
        "action": "update",
        "document_id": document_id,
        "version": version,
        "department": department,
        "occurred_at": closed_at.isoformat(),
        "payload": {**payload, "closed": True},
    }


def _consultations(
    catalog: ConsultationCatalog,
) -> list[tuple[CatalogDocument, ConsultationPayload]]:
    found = []
    for entry in catalog.current_of_kind(Kind.CONSULTATION.value):
        try:
            found.append((entry, ConsultationPayload.model_validate(entry.payload)))
        except ValidationError:
            # Not from the gate (a record written to the topic directly): channels
            # dead-letter it; nothing to close.
            log.warning("consultation %s in the catalog does not validate", entry.document_id)
    return found


def overdue_results(
    catalog: ConsultationCatalog, calendar: WorkingCalendar, *, on: date, limit: int
) -> list[OverdueResult]:
    """Consultations without a result more than ``limit`` working days after closing,
    on day ``on``, longest overdue first."""
    found = []
    for entry, payload in _consultations(catalog):
        if payload.result is not None or payload.closes_on >= on:
            continue
        days = calendar.working_days_after(payload.closes_on, on)
        if days > limit:
            found.append(
                OverdueResult(
                    document_id=entry.document_id,
                    department=entry.department,
                    title=payload.title,
                    closes_on=payload.closes_on,
                    working_days=days,
                    limit=limit,
                )
            )
    found.sort(key=lambda o: (o.closes_on, o.document_id))
    return found


def plan_lifecycle(settings: Settings, on: date, *, catalog: CatalogOpener) -> LifecyclePlan:
    """The consultations to close on day ``on`` (``closes_on`` before it, still open) and
    the results overdue that day, from the document catalog (caught up by the caller)."""
    calendar = WorkingCalendar.load(settings.compliance_calendar_dir)
    with Store(settings.store) as store:
        opened = catalog(store)
        closures = [
            Closure(
                document_id=entry.document_id,
                version=entry.version + 1,
                title=payload.title,
                closes_on=payload.closes_on,
                event=closure_event(
                    entry.document_id,
                    entry.version + 1,
                    entry.department,
                    payload.model_dump(mode="json", exclude_none=True),
                    payload.closes_on,
                ),
            )
            for entry, payload in _consultations(opened)
            if not payload.closed and payload.result is None and payload.closes_on < on
        ]
        overdue = overdue_results(opened, calendar, on=on, limit=settings.consultation_result_days)
    return LifecyclePlan(on=on, closures=closures, overdue_results=overdue)


def emit_closures(
    settings: Settings,
    plan: LifecyclePlan,
    *,
    source: str,
    run_id: str,
    now: datetime | None = None,
) -> LifecycleRun:
    """Emit the plan's closing updates, each on its own (one refused never holds back the
    others). Safe to repeat."""
    result = emit_scheduled(
        settings,
        [
            Scheduled(c.event, c.document_id, c.version, c.title, Kind.CONSULTATION.value, "update")
            for c in plan.closures
        ],
        source=source,
        run_id=run_id,
        now=now,
    )
    log.info(
        "consultations closed on %s: %d emitted, %d emitted before, %d skipped",
        plan.on,
        len(result.emitted),
        len(result.already_emitted),
        len(result.skipped),
    )
    return result
