"""Theme-day campaigns (政务公开主题日) from a calendar of TOML files.

Each file is one campaign: a theme, the day (T), the issuing department and the text
of its three phases — preview (T−7), the day (T) and recap (T+3) — each published at
``publish_time`` (Asia/Shanghai). Changing the calendar is editing or adding a file;
no code changes. Every phase is one document, ``theme-day-<id>-<phase>``, emitted once:
its event id is derived from the document id, so the version ledger recognises a
repeat, and a phase already published (or withdrawn) is never sent again.

A phase is *due* from its time until the next phase's time (the recap for
:data:`RECAP_WINDOW`); a phase the schedule could not publish in its window (the
scheduler was down) is reported as missed rather than published late — once, by the
first run that finds it (the DAG fails a check task then, so the operator sees it).
An operator may publish one phase by hand (:func:`emit_phase`): in its window exactly
as the schedule would, after it dated the moment it is published.
"""

import difflib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from govpub.departments import department_names
from govpub.errors import (
    ConfigurationError,
    DuplicateEventConflict,
    ReleaseRefused,
    StaleVersion,
)
from govpub.settings import Settings
from govpub.store import Store
from producers.factory import open_publisher
from producers.ledger import VersionLedger
from producers.publisher import Publisher
from producers.releases.datafiles import load_model, shipped
from producers.releases.log import Release, ReleaseLog
from producers.releases.quarters import RELEASE_TIMEZONE
from producers.releases.tables import MISSED_SCHEMA
from schemas import CampaignPhase, Link
from schemas.types import BodyHtml, DepartmentCode, ShortText, Title

log = logging.getLogger(__name__)

CAMPAIGN_NAMESPACE = uuid.UUID("4b7f1c52-9a0e-4d7e-8f65-0c2d9b8e6a13")
"""Namespace of campaign event ids (UUID v5 of ``<document_id>:1``)."""

PHASE_OFFSETS = {
    CampaignPhase.PREVIEW: timedelta(days=-7),
    CampaignPhase.DAY: timedelta(days=0),
    CampaignPhase.RECAP: timedelta(days=3),
}
"""When each phase is published, relative to the campaign day."""

RECAP_WINDOW = timedelta(days=7)
"""How long after its time a recap may still be published."""

MISSED_LOOKBACK = timedelta(days=30)
"""How far back a run looks for phases whose window passed without a publication."""


class PhaseText(BaseModel):
    """What one phase publishes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: Title
    body: BodyHtml
    links: Annotated[list[Link], Field(max_length=50)] = []


class CampaignPhases(BaseModel):
    """The three phases of a campaign."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    preview: PhaseText
    day: PhaseText
    recap: PhaseText


class Campaign(BaseModel):
    """One theme-day campaign, as written in its calendar file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,80}$")] = Field(
        description="ASCII id; documents are theme-day-<id>-preview|day|recap"
    )
    theme: ShortText
    day: date
    department: DepartmentCode
    publish_time: time = Field(default=time(9, 0), description="local time in Asia/Shanghai")
    phases: CampaignPhases

    @field_validator("department")
    @classmethod
    def _known_department(cls, value: str) -> str:
        if value not in department_names():
            raise ValueError(
                f"unknown department code {value!r} (see govpub/data/departments.toml)"
            )
        return value

    @field_validator("publish_time")
    @classmethod
    def _local_time(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("write a local time such as 09:00:00; the calendar is Asia/Shanghai")
        return value

    def text(self, phase: CampaignPhase) -> PhaseText:
        """The text of ``phase``."""
        return getattr(self.phases, phase.value)  # type: ignore[no-any-return]

    def publish_at(self, phase: CampaignPhase) -> datetime:
        """When ``phase`` is published."""
        day = self.day + PHASE_OFFSETS[phase]
        return datetime.combine(day, self.publish_time, tzinfo=RELEASE_TIMEZONE)

    def schedule(self) -> list["ScheduledPhase"]:
        """The three phases with their publication windows, in time order."""
        phases = list(CampaignPhase)
        scheduled = []
        for index, phase in enumerate(phases):
            start = self.publish_at(phase)
            if index + 1 < len(phases):
                end = self.publish_at(phases[index + 1])
            else:
                end = start + RECAP_WINDOW
            scheduled.append(ScheduledPhase(self, phase, start, end))
        return scheduled


@dataclass(frozen=True)
class ScheduledPhase:
    """One phase of one campaign, due in ``[publish_at, until)``."""

    campaign: Campaign
    phase: CampaignPhase
    publish_at: datetime
    until: datetime

    @property
    def document_id(self) -> str:
        """``theme-day-<campaign id>-<phase>``, stable across runs and calendar edits."""
        return f"theme-day-{self.campaign.id}-{self.phase.value}"

    @property
    def event_id(self) -> str:
        """The same id every time this phase is emitted (the ledger recognises a repeat)."""
        return str(uuid.uuid5(CAMPAIGN_NAMESPACE, f"{self.document_id}:1"))

    def event(self) -> dict[str, Any]:
        """The ``campaign`` event of this phase (version 1, published at its time)."""
        text = self.campaign.text(self.phase)
        return {
            "event_id": self.event_id,
            "kind": "campaign",
            "action": "publish",
            "document_id": self.document_id,
            "version": 1,
            "department": self.campaign.department,
            "occurred_at": self.publish_at.isoformat(),
            "payload": {
                "title": text.title,
                "theme": self.campaign.theme,
                "day": self.campaign.day.isoformat(),
                "phase": self.phase.value,
                "body": text.body,
                "links": [link.model_dump(mode="json") for link in text.links],
            },
        }


@dataclass(frozen=True)
class Calendar:
    """Every campaign of the calendar, with the file each came from."""

    campaigns: list[Campaign]
    sources: dict[str, str] = field(default_factory=dict)  # campaign id → file

    @property
    def phases(self) -> list[ScheduledPhase]:
        """Every phase of every campaign, in time order."""
        return sorted(
            (p for c in self.campaigns for p in c.schedule()),
            key=lambda p: (p.publish_at, p.document_id),
        )

    def due(self, at: datetime) -> list[ScheduledPhase]:
        """Phases whose window contains ``at``."""
        return [p for p in self.phases if p.publish_at <= at < p.until]

    def recently_closed(self, at: datetime) -> list[ScheduledPhase]:
        """Phases whose window closed in the :data:`MISSED_LOOKBACK` before ``at``."""
        return [p for p in self.phases if at - MISSED_LOOKBACK <= p.until <= at]

    def phase(self, document_id: str) -> ScheduledPhase:
        """The phase whose document is ``document_id``; an unknown id suggests close ones."""
        for phase in self.phases:
            if phase.document_id == document_id:
                return phase
        ids = [p.document_id for p in self.phases]
        close = difflib.get_close_matches(document_id, ids, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f" (phases: {', '.join(ids)})"
        raise ConfigurationError(f"phase: {document_id!r} is not in the calendar{hint}")


def load_calendar(directory: Path | None = None) -> Calendar:
    """Read every ``*.toml`` campaign in ``directory`` (``GOVPUB_CAMPAIGNS_DIR``, or the
    shipped calendar). Errors name the file and the field; two files with the same
    campaign id are an error too."""
    if directory is None:
        folder = shipped("campaigns")
        files = sorted(
            (entry for entry in folder.iterdir() if entry.name.endswith(".toml")),
            key=lambda entry: entry.name,
        )
        labelled = [(entry, f"producers/releases/data/campaigns/{entry.name}") for entry in files]
    else:
        if not directory.is_dir():
            raise ConfigurationError(f"{directory}: the campaign calendar is not a directory")
        labelled = [(path, str(path)) for path in sorted(directory.glob("*.toml"))]
    campaigns: list[Campaign] = []
    sources: dict[str, str] = {}
    problems: list[str] = []
    for source, label in labelled:
        try:
            campaign = load_model(Campaign, source, label)
        except ConfigurationError as exc:
            problems.append(str(exc))
            continue
        if campaign.id in sources:
            problems.append(
                f"{label}: id: {campaign.id!r} is already used by {sources[campaign.id]}"
            )
            continue
        sources[campaign.id] = label
        campaigns.append(campaign)
    if problems:
        raise ConfigurationError("\n".join(problems))
    return Calendar(campaigns, sources)


@dataclass
class CampaignRun:
    """What one run of the theme-day schedule did."""

    emitted: list[Release] = field(default_factory=list)
    already_published: list[str] = field(default_factory=list)
    changed_after_publication: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    newly_missed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for XCom and logs)."""
        return {
            "emitted": [f"{r.document_id} v{r.version}" for r in self.emitted],
            "already_published": self.already_published,
            "changed_after_publication": self.changed_after_publication,
            "missed": self.missed,
            "newly_missed": self.newly_missed,
        }


def _emit(
    publisher: Publisher,
    phase: ScheduledPhase,
    result: CampaignRun,
    *,
    occurred_at: datetime,
    source: str,
    run_id: str,
    emitted_at: datetime,
) -> None:
    """Emit one phase dated ``occurred_at``; note in ``result`` what happened."""
    event = phase.event()
    if occurred_at != phase.publish_at:
        # Published late: dated when it is published, under an id of its own.
        event["occurred_at"] = occurred_at.isoformat()
        event["event_id"] = str(
            uuid.uuid5(CAMPAIGN_NAMESPACE, f"{phase.document_id}:1:{occurred_at.isoformat()}")
        )
    try:
        accepted = publisher.publish(event)
    except StaleVersion:
        result.already_published.append(phase.document_id)
        return
    except DuplicateEventConflict:
        result.changed_after_publication.append(phase.document_id)
        log.warning(
            "%s was published with other text than the calendar now has;"
            " send a correction as an update with `govpub emit`",
            phase.document_id,
        )
        return
    if accepted.duplicate:
        result.already_published.append(phase.document_id)
        return
    text = phase.campaign.text(phase.phase)
    result.emitted.append(
        Release(
            event_id=accepted.event_id,
            source=source,
            run_id=run_id,
            document_id=phase.document_id,
            kind="campaign",
            action="publish",
            version=1,
            title=text.title,
            emitted_at=emitted_at,
        )
    )
    log.info("%s emitted (%s)", phase.document_id, accepted.event_id)


def emit_due_phases(
    settings: Settings,
    calendar: Calendar,
    at: datetime,
    *,
    source: str,
    run_id: str,
    now: datetime | None = None,
) -> CampaignRun:
    """Emit every phase due at ``at`` that was not published yet; safe to repeat.

    A phase whose document the ledger already has (sent by an earlier run, by hand,
    or withdrawn since) is not sent again. If its calendar text changed after it was
    published, it is reported, not re-sent: corrections are updates an editor sends
    with ``govpub emit``. Phases whose window closed in the 30 days before ``at``
    without a publication are listed as ``missed``, and as ``newly_missed`` by the
    first run that finds them.
    """
    if at.tzinfo is None:
        raise ConfigurationError("the schedule moment needs a timezone")
    result = CampaignRun()
    emitted_at = now or datetime.now(UTC)
    with Store(settings.store) as store:
        ledger = VersionLedger(store)
        with open_publisher(settings, store, source="dag") as publisher:
            for phase in calendar.due(at):
                _emit(
                    publisher,
                    phase,
                    result,
                    occurred_at=phase.publish_at,
                    source=source,
                    run_id=run_id,
                    emitted_at=emitted_at,
                )
        ReleaseLog(store).record(result.emitted)
        missed = [
            phase
            for phase in calendar.recently_closed(at)
            if ledger.current_version(phase.document_id) is None
        ]
        for phase in missed:
            log.warning(
                "%s was due from %s to %s and was not published",
                phase.document_id,
                phase.publish_at.isoformat(),
                phase.until.isoformat(),
            )
        result.missed = [phase.document_id for phase in missed]
        first = set(_first_reports(store, result.missed, source=source, run_id=run_id))
        result.newly_missed = [
            f"{phase.document_id} (due {phase.publish_at.isoformat()} to {phase.until.isoformat()})"
            for phase in missed
            if phase.document_id in first
        ]
    return result


def _first_reports(
    store: Store, document_ids: Sequence[str], *, source: str, run_id: str
) -> list[str]:
    """Mark missed phases as reported; returns those no run had reported before."""
    store.ensure_schema(MISSED_SCHEMA)
    first = []
    with store.transaction("campaign_missed") as conn:
        for document_id in document_ids:
            cursor = conn.execute(
                "INSERT INTO campaign_missed (document_id, reported_at, source, run_id)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (document_id, datetime.now(UTC).isoformat(), source, run_id),
            )
            if cursor.rowcount:
                first.append(document_id)
    return first


def emit_phase(
    settings: Settings,
    calendar: Calendar,
    document_id: str,
    *,
    source: str,
    run_id: str,
    now: datetime | None = None,
) -> CampaignRun:
    """Publish one phase now, at an operator's request; safe to repeat.

    In its window the phase is emitted exactly as the schedule emits it (same event,
    dated its calendar time). After its window (a missed phase) it is dated ``now``, the
    moment it is published. Before its time it is refused; a phase already published
    is reported, not sent again.
    """
    phase = calendar.phase(document_id)
    moment = (now or datetime.now(UTC)).astimezone(RELEASE_TIMEZONE)
    if moment < phase.publish_at:
        raise ReleaseRefused(
            f"{document_id} is not due before {phase.publish_at.isoformat()};"
            " the schedule publishes it then"
        )
    result = CampaignRun()
    with Store(settings.store) as store:
        if VersionLedger(store).current_version(document_id) is not None:
            result.already_published.append(document_id)
            return result
        with open_publisher(settings, store, source="dag") as publisher:
            _emit(
                publisher,
                phase,
                result,
                occurred_at=phase.publish_at if moment < phase.until else moment,
                source=source,
                run_id=run_id,
                emitted_at=moment,
            )
        ReleaseLog(store).record(result.emitted)
    return result


def describe(calendar: Calendar, phases: Sequence[ScheduledPhase] | None = None) -> list[str]:
    """One line per phase: time, document id, title (for logs and the operators' README)."""
    return [
        f"{p.publish_at.isoformat()} {p.document_id} {p.campaign.text(p.phase).title}"
        for p in (calendar.phases if phases is None else phases)
    ]
