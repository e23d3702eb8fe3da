"""The quarterly exposure of typical illegal cases (每季度公开曝光一批“非法违法”典型案例).

Departments submit cases as exposure *candidates* (``case_summary`` + ``decision_ref``,
``candidate_quarter``). At the start of each quarter the release gathers the
candidates of the quarter just ended (or of the quarter it is given) from the document
catalog, keeps those whose penalty decision is in effect, and plans one *batch*
document per configured domain (``exposure-<quarter>-<slug>``). A batch is emitted only
with a decision on record that allows it (:mod:`producers.releases.approval`).

Dates: the quarter is only *which* candidates; everything else refers to the
publication. A plan checks display periods on the day it is made, the emission checks
them again on the day of the decision, and the batch is dated (``occurred_at``) with
the moment of that decision, which is when it is published.

Idempotence: a plan compares the batch it would publish with the batch the catalog
already holds. Same content → nothing to emit; changed content → an update (next
version) of the same document; never a second batch. A published batch none of whose
candidates can be released any more is reported as already published, not as a
failure. Event ids are derived from the document, version and content, and the date
of a decision does not change, so repeating an emission is harmless.
"""

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from govpub.departments import department_names
from govpub.errors import (
    ApprovalMissing,
    BatchRejected,
    BatchWithdrawn,
    CatalogBehind,
    ConfigurationError,
    NoCandidates,
    PlanOutdated,
    ReleaseRefused,
    StaleVersion,
)
from govpub.settings import Settings
from govpub.store import Store
from producers.factory import open_publisher
from producers.ledger import VersionLedger
from producers.releases.datafiles import load_model, shipped
from producers.releases.display import DisplayPeriods
from producers.releases.log import Release, ReleaseDecision, ReleaseLog
from producers.releases.quarters import RELEASE_TIMEZONE, Quarter
from schemas import AnyEvent, ExposureCase, ExposurePayload, PenaltyPayload
from schemas.types import DepartmentCode, ShortText

log = logging.getLogger(__name__)

RELEASE_NAMESPACE = uuid.UUID("8d0f3f0e-56a4-4c43-9d43-3f1c2f6b7a51")
"""Namespace of the event ids releases derive (UUID v5), so a repeat yields the same id."""


class CatalogRecord(Protocol):
    """What a release reads about one document in the document catalog."""

    @property
    def document_id(self) -> str: ...
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
    @property
    def first_published_at(self) -> datetime | None: ...
    @property
    def updated_at(self) -> datetime: ...


class PenaltyStanding(Protocol):
    """Whether a penalty decision may be cited on a given day, with the reason."""

    @property
    def in_effect(self) -> bool: ...
    @property
    def reason(self) -> str: ...


class ReleaseCatalog(Protocol):
    """The document catalog as a release reads it. The catalog is the ``catalog``
    channel's state (``channels.catalog.state.DocumentCatalog``); the shell
    (``govpub.app.releases``) hands it in, so the releases never import a channel."""

    def get(self, document_id: str) -> CatalogRecord | None:
        """The latest state of one document (``None`` if the catalog has not seen it)."""
        ...

    def exposure_candidates(self, quarter: str, domain: str) -> Sequence[CatalogRecord]:
        """The quarter's candidates of ``domain`` that are not withdrawn, in batch order."""
        ...

    def penalty_standing(
        self, document_id: str, *, on: date, display_until: Callable[[PenaltyPayload], date]
    ) -> PenaltyStanding:
        """Whether penalty decision ``document_id`` is in effect on day ``on``; a decision's
        display ends on ``display_until(payload)``."""
        ...


_PLACEHOLDERS = {"year", "quarter", "quarter_cn", "domain"}
_FIELD = re.compile(r"{([^{}]*)}")


def _check_template(value: str) -> str:
    unknown = {name for name in _FIELD.findall(value) if name not in _PLACEHOLDERS}
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {', '.join(sorted(unknown))};"
            f" use {', '.join('{' + p + '}' for p in sorted(_PLACEHOLDERS))}"
        )
    return value


class Approver(BaseModel):
    """An Airflow user who may approve a domain's batch (its HITL ``assigned_users`` entry).

    Written ``"zz-yjj-reviewer"`` where the auth manager's user id is the user name (the
    simple auth manager, Keycloak usernames), or ``{ id = "42", name = "张三" }`` where it
    is not (the FAB auth manager's numeric ids).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=256)]
    name: Annotated[str, Field(min_length=1, max_length=256)]

    @model_validator(mode="before")
    @classmethod
    def _from_user_name(cls, value: Any) -> Any:
        return {"id": value, "name": value} if isinstance(value, str) else value

    def is_user(self, user: str | None) -> bool:
        """True if ``user`` (an id or a name, as Airflow records it) is this approver."""
        return user is not None and user in (self.id, self.name)


class ExposureDomain(BaseModel):
    """One domain whose typical cases are exposed every quarter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ShortText = Field(description="payload.domain of candidates and penalties, e.g. 安全生产")
    slug: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,49}$")] = Field(
        description="ASCII slug; the batch is exposure-<quarter>-<slug>"
    )
    department: DepartmentCode = Field(description="department that issues the batch")
    title: Annotated[str, Field(min_length=1, max_length=150)] = Field(
        description="batch title; placeholders {year} {quarter} {quarter_cn} {domain}"
    )
    lead: Annotated[str, Field(min_length=1, max_length=2000)] | None = Field(
        default=None, description="introduction published above the cases (same placeholders)"
    )
    penalty_display_days: None = Field(
        default=None, exclude=True, description="no longer read: see penalty-display.toml"
    )
    approvers: Annotated[list[Approver], Field(min_length=1, max_length=50)] = Field(
        description="Airflow users who may approve the batch (谁主管、谁公开、谁审查); the"
        " user who triggered a run never approves it"
    )

    @field_validator("penalty_display_days", mode="before")
    @classmethod
    def _display_days_moved(cls, value: Any) -> None:
        if value is not None:
            raise ValueError(
                "display periods moved to the display-period file"
                " (GOVPUB_PENALTY_DISPLAY_CONFIG, by default"
                " producers/releases/data/penalty-display.toml): remove this key and set"
                " the domain's period there"
            )

    @field_validator("approvers")
    @classmethod
    def _distinct_approvers(cls, value: list[Approver]) -> list[Approver]:
        ids = [approver.id for approver in value]
        twice = sorted({user for user in ids if ids.count(user) > 1})
        if twice:
            raise ValueError(f"approver(s) listed twice: {', '.join(twice)}")
        return value

    @field_validator("title", "lead")
    @classmethod
    def _known_placeholders(cls, value: str | None) -> str | None:
        return None if value is None else _check_template(value)

    @field_validator("department")
    @classmethod
    def _known_department(cls, value: str) -> str:
        if value not in department_names():
            raise ValueError(
                f"unknown department code {value!r} (see govpub/data/departments.toml)"
            )
        return value

    def document_id(self, quarter: Quarter) -> str:
        """The batch's document id, e.g. ``exposure-2023Q2-work-safety``."""
        return f"exposure-{quarter}-{self.slug}"

    def render(self, template: str, quarter: Quarter) -> str:
        """Fill a title or lead template for ``quarter``."""
        return template.format(
            year=quarter.year,
            quarter=str(quarter),
            quarter_cn=quarter.chinese_number,
            domain=self.name,
        )


class ExposureConfig(BaseModel):
    """The quarterly exposure release: which domains are released."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    domains: Annotated[list[ExposureDomain], Field(min_length=1, max_length=50)]

    @model_validator(mode="after")
    def _unique(self) -> Self:
        for attribute in ("name", "slug"):
            seen: set[str] = set()
            for domain in self.domains:
                value = getattr(domain, attribute)
                if value in seen:
                    raise ValueError(f"two domains have the {attribute} {value!r}")
                seen.add(value)
        return self

    def domain(self, slug: str) -> ExposureDomain:
        """The domain called ``slug``."""
        for domain in self.domains:
            if domain.slug == slug:
                return domain
        known = ", ".join(d.slug for d in self.domains)
        raise ConfigurationError(
            f"exposure domain {slug!r} is not configured (configured: {known})"
        )


def load_exposure_config(path: Path | None = None) -> ExposureConfig:
    """Read the exposure configuration (``GOVPUB_EXPOSURE_CONFIG``, or the shipped file)."""
    if path is None:
        return load_model(
            ExposureConfig, shipped("exposure.toml"), "producers/releases/data/exposure.toml"
        )
    return load_model(ExposureConfig, path, str(path))


class PlannedCase(BaseModel):
    """A candidate that goes into the batch."""

    model_config = ConfigDict(frozen=True)

    candidate_id: str
    title: str
    case_summary: str
    decision_ref: str
    decision_note: str


class ExcludedCandidate(BaseModel):
    """A candidate left out of the batch, and why."""

    model_config = ConfigDict(frozen=True)

    candidate_id: str
    title: str
    reason: str


class BatchPlan(BaseModel):
    """What the release will do for one domain; travels between tasks as JSON."""

    model_config = ConfigDict(frozen=True)

    quarter: str
    domain: str
    slug: str
    document_id: str
    action: Literal["publish", "update", "unchanged"]
    version: int = Field(description="the version to emit, or the current one when unchanged")
    as_of: datetime = Field(description="when the plan was made; its checks refer to that day")
    title: str
    cases: list[PlannedCase]
    excluded: list[ExcludedCandidate] = []
    note: str = Field(default="", description="why nothing changes, for an unchanged plan")
    event: dict[str, Any] | None = Field(
        default=None, description="the event to emit, already through the gate; None if unchanged"
    )

    @property
    def changes(self) -> bool:
        """True if the plan emits an event."""
        return self.event is not None


def release_quarter(
    quarter: str | None, moment: datetime, *, now: datetime | None = None
) -> Quarter:
    """The quarter a run releases: ``quarter`` if given, else the one that had ended at the
    run's ``moment`` (its logical date; for a scheduled run, the first day of the next
    quarter).

    A quarter that has not ended by ``now`` is refused: its cases are not final.
    """
    if moment.tzinfo is None:
        raise ConfigurationError("the release moment needs a timezone")
    current = now or datetime.now(UTC)
    chosen = Quarter.parse(quarter) if quarter else Quarter.just_ended(moment)
    if not chosen.has_ended(current):
        raise ReleaseRefused(
            f"quarter {chosen} has not ended on {current.astimezone(RELEASE_TIMEZONE).date()};"
            " its cases are released after its last day"
        )
    return chosen


def _canonical(department: str, payload: dict[str, Any]) -> str:
    """What "the same batch" means: department and payload, canonically encoded."""
    body = {"department": department, "payload": payload}
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _content_key(event: AnyEvent) -> str:
    return _canonical(event.department, event.payload.model_dump(mode="json", exclude_none=True))


def _event(
    *,
    event_id: str,
    action: str,
    document_id: str,
    version: int,
    department: str,
    occurred_at: datetime,
    payload: dict[str, Any],
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "kind": "exposure",
        "action": action,
        "document_id": document_id,
        "version": version,
        "department": department,
        "occurred_at": occurred_at.isoformat(),
        "payload": payload,
    }


def _gather_cases(
    catalog: ReleaseCatalog,
    display: DisplayPeriods,
    domain: ExposureDomain,
    quarter: Quarter,
    on: date,
) -> tuple[list[PlannedCase], list[ExcludedCandidate]]:
    """The quarter's candidates, split into cases to release on day ``on`` and candidates
    left out."""
    candidates = catalog.exposure_candidates(str(quarter), domain.name)
    if not candidates:
        raise NoCandidates(
            f"domain {domain.name} ({domain.slug}): no exposure candidates for {quarter}"
            f" in the document catalog. Departments submit them as exposure events with"
            f" candidate_quarter {quarter!s} and domain {domain.name}."
        )
    cases: list[PlannedCase] = []
    excluded: list[ExcludedCandidate] = []
    for candidate in candidates:
        payload = ExposurePayload.model_validate(candidate.payload)
        # A candidate always has both (the schema refuses one without).
        assert payload.decision_ref is not None
        assert payload.case_summary is not None
        check = catalog.penalty_standing(
            payload.decision_ref, on=on, display_until=display.display_until
        )
        if check.in_effect:
            cases.append(
                PlannedCase(
                    candidate_id=candidate.document_id,
                    title=payload.title,
                    case_summary=payload.case_summary,
                    decision_ref=payload.decision_ref,
                    decision_note=check.reason,
                )
            )
        else:
            excluded.append(
                ExcludedCandidate(
                    candidate_id=candidate.document_id, title=payload.title, reason=check.reason
                )
            )
    if not cases:
        reasons = "; ".join(f"{e.candidate_id}: {e.reason}" for e in excluded)
        raise NoCandidates(
            f"domain {domain.name} ({domain.slug}): none of the {len(excluded)} exposure"
            f" candidate(s) for {quarter} links to a penalty decision in effect on {on}"
            f" ({reasons})"
        )
    return cases, excluded


def _published_batch(
    store: Store, catalog: ReleaseCatalog, document_id: str
) -> CatalogRecord | None:
    """The batch as published so far (None if never), refusing a withdrawn one and a
    catalog that has not seen the latest accepted version."""
    current = catalog.get(document_id)
    accepted = VersionLedger(store).current_version(document_id)
    known = current.version if current is not None else 0
    if accepted is not None and accepted > known:
        raise CatalogBehind(
            f"{document_id}: version {accepted} was accepted but the catalog has"
            f" {known or 'none'}; wait for the catalog to catch up and retry"
        )
    if current is not None and current.retracted:
        raise BatchWithdrawn(
            f"{document_id} was withdrawn ({current.retract_reason or 'no reason recorded'});"
            " a withdrawn batch is not released again. Publish a corrected batch with"
            " `govpub emit` if it should return."
        )
    return current


def _published_on(entry: CatalogRecord) -> str:
    when = entry.first_published_at or entry.updated_at
    return when.astimezone(RELEASE_TIMEZONE).date().isoformat()


CatalogOpener = Callable[[Store], ReleaseCatalog]
"""Opens the document catalog on a state store (the shell passes the catalog channel's)."""


def plan_batch(
    settings: Settings,
    config: ExposureConfig,
    slug: str,
    quarter: Quarter,
    *,
    catalog: CatalogOpener,
    now: datetime | None = None,
) -> BatchPlan:
    """Plan the batch of domain ``slug`` for ``quarter`` from the (caught-up) catalog, with
    the cases whose penalty decision is in effect on the day of ``now`` (default: now).

    Raises :class:`NoCandidates` if no candidate can be released and the batch was never
    published, naming each one left out and why; a published batch is then reported
    unchanged ("already published"). Raises :class:`BatchWithdrawn` if the batch was
    withdrawn; :class:`CatalogBehind` if the ledger knows a newer version than the
    catalog (sync the catalog and retry).
    """
    domain = config.domain(slug)
    moment = (now or datetime.now(UTC)).astimezone(RELEASE_TIMEZONE)
    with Store(settings.store) as store:
        return _plan(settings, store, catalog(store), domain, quarter, moment)


def _plan(
    settings: Settings,
    store: Store,
    catalog: ReleaseCatalog,
    domain: ExposureDomain,
    quarter: Quarter,
    moment: datetime,
) -> BatchPlan:
    document_id = domain.document_id(quarter)
    title = domain.render(domain.title, quarter)
    current = _published_batch(store, catalog, document_id)
    plan = BatchPlan(
        quarter=str(quarter),
        domain=domain.name,
        slug=domain.slug,
        document_id=document_id,
        action="unchanged" if current is not None else "publish",
        version=current.version if current is not None else 1,
        as_of=moment,
        title=title,
        cases=[],
    )
    try:
        display = DisplayPeriods.load(settings.penalty_display_config)
        cases, excluded = _gather_cases(catalog, display, domain, quarter, moment.date())
    except NoCandidates as exc:
        if current is None:
            raise
        note = (
            f"{document_id} is already published (version {current.version},"
            f" {_published_on(current)}); nothing new to release: {exc}"
        )
        log.info("%s", note)
        return plan.model_copy(update={"note": note})
    plan = plan.model_copy(update={"cases": cases, "excluded": excluded})
    payload = ExposurePayload(
        title=title,
        domain=domain.name,
        candidate_quarter=str(quarter),
        case_summary=domain.render(domain.lead, quarter) if domain.lead else None,
        cases=[
            ExposureCase(title=c.title, case_summary=c.case_summary, decision_ref=c.decision_ref)
            for c in cases
        ],
    ).model_dump(mode="json", exclude_none=True)
    draft = _event(
        event_id=str(uuid.uuid4()),  # replaced below once the content is known
        action="publish" if current is None else "update",
        document_id=document_id,
        version=current.version + 1 if current is not None else 1,
        department=domain.department,
        # Replaced by the moment of the decision when the batch is emitted.
        occurred_at=moment,
        payload=payload,
    )
    # The gate runs before the comparison: what would be published is what counts.
    publisher = open_publisher(settings, store, source="dag")
    content = _content_key(publisher.prepare(draft))
    unchanged = (
        current is not None
        and current.payload is not None
        and _canonical(current.department, current.payload) == content
    )
    if unchanged:
        assert current is not None
        note = (
            f"{document_id} is already published (version {current.version},"
            f" {_published_on(current)}) with these cases; nothing to release"
        )
        log.info("%s", note)
        return plan.model_copy(update={"note": note})
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
    draft["event_id"] = str(
        uuid.uuid5(RELEASE_NAMESPACE, f"{document_id}:{draft['version']}:{digest}")
    )
    final = publisher.prepare(draft)
    log.info(
        "%s: %s version %d with %d case(s), %d left out",
        document_id,
        final.action.value,
        final.version,
        len(cases),
        len(excluded),
    )
    return plan.model_copy(
        update={
            "action": final.action.value,
            "version": final.version,
            "event": final.model_dump(mode="json", exclude_none=True),
        }
    )


def review(plans: Sequence[BatchPlan]) -> str:
    """A Markdown summary of the plans for the approver (the approval request's body)."""
    changes = [p for p in plans if p.changes]
    quarter = plans[0].quarter if plans else "?"
    lines = [f"**{quarter} 典型案例曝光**: {len(changes)} of {len(plans)} batch(es) to release", ""]
    for plan in plans:
        verb = {
            "publish": f"publish version {plan.version}",
            "update": f"update to version {plan.version}",
            "unchanged": f"unchanged since version {plan.version}, nothing to release",
        }[plan.action]
        lines += [f"### {plan.domain} ({plan.slug}): `{plan.document_id}` — {verb}", ""]
        lines.append(f"{plan.title}")
        lines.append("")
        if plan.note:
            lines += [plan.note, ""]
        for number, case in enumerate(plan.cases, start=1):
            lines.append(f"{number}. {case.title} — {case.decision_note}")
        if plan.excluded:
            lines += ["", f"Left out ({len(plan.excluded)}):"]
            lines += [f"- {e.candidate_id} {e.title}: {e.reason}" for e in plan.excluded]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _check_still_holds(
    catalog: ReleaseCatalog, display: DisplayPeriods, plan: BatchPlan, on: date
) -> None:
    """Refuse a plan whose candidates or penalty decisions no longer hold on day ``on``."""
    for case in plan.cases:
        candidate = catalog.get(case.candidate_id)
        if candidate is None or candidate.retracted:
            raise PlanOutdated(
                f"{plan.document_id}: candidate {case.candidate_id} was withdrawn after"
                " the plan was approved; run the release again to plan a new batch"
            )
        check = catalog.penalty_standing(
            case.decision_ref, on=on, display_until=display.display_until
        )
        if not check.in_effect:
            raise PlanOutdated(
                f"{plan.document_id}: {check.reason} on {on}, the day of the decision to"
                " publish; run the release again to plan a new batch"
            )


def emit_batches(
    settings: Settings,
    plans: Sequence[BatchPlan],
    decisions: Sequence[ReleaseDecision],
    *,
    catalog: CatalogOpener,
    source: str,
    run_id: str,
    now: datetime | None = None,
) -> list[Release]:
    """Put the decisions on record, then emit the plans they allow; returns what the bus
    accepted.

    Every plan that changes something needs a decision about its document and version;
    a plan without one is refused (:class:`ApprovalMissing`) before anything is recorded
    or sent. A rejected plan is recorded and not sent. An allowed plan is emitted dated
    with the moment of its decision, once its candidates and penalty decisions are
    checked on that day (:class:`PlanOutdated` if one was withdrawn or left its display
    period, or its document got another version meanwhile). Call it with a caught-up
    catalog. Emitting the same plans again is harmless: the event ids and dates are the
    same and the version ledger answers with the first acceptance.
    """
    pending = [plan for plan in plans if plan.event is not None]
    by_document = {(d.document_id, d.version): d for d in decisions}
    missing = [p.document_id for p in pending if (p.document_id, p.version) not in by_document]
    if missing:
        raise ApprovalMissing(
            f"no decision on record for {', '.join(missing)}: a batch is emitted only after"
            " approval (or auto-approval where GOVPUB_ALLOW_AUTO_APPROVE allows it)"
        )
    if not pending:
        return []
    emitted_at = now or datetime.now(UTC)
    with Store(settings.store) as store:
        return _emit(
            settings, store, catalog(store), pending, by_document, source, run_id, emitted_at
        )


def _emit(
    settings: Settings,
    store: Store,
    catalog: ReleaseCatalog,
    pending: Sequence[BatchPlan],
    by_document: Mapping[tuple[str, int], ReleaseDecision],
    source: str,
    run_id: str,
    emitted_at: datetime,
) -> list[Release]:
    releases_log = ReleaseLog(store)
    releases_log.record_decisions([by_document[(p.document_id, p.version)] for p in pending])
    allowed = [
        (plan, by_document[(plan.document_id, plan.version)])
        for plan in pending
        if by_document[(plan.document_id, plan.version)].outcome.publishes
    ]
    if not allowed:
        return []
    events = []
    display = DisplayPeriods.load(settings.penalty_display_config)
    for plan, decision in allowed:
        published_at = decision.decided_at.astimezone(RELEASE_TIMEZONE)
        _check_still_holds(catalog, display, plan, published_at.date())
        assert plan.event is not None
        events.append({**plan.event, "occurred_at": published_at.isoformat()})
    with open_publisher(settings, store, source="dag") as publisher:
        try:
            accepted = publisher.publish_many(events)
        except BatchRejected as exc:
            stale = [e for e in exc.errors.values() if isinstance(e, StaleVersion)]
            if stale:
                raise PlanOutdated(
                    "; ".join(str(e) for e in stale)
                    + " — the batch changed after the plan was made; run the release again"
                ) from None
            raise ReleaseRefused(f"the bus refused the release: {exc}") from None
    releases = [
        Release(
            event_id=item.event_id,
            source=source,
            run_id=run_id,
            document_id=plan.document_id,
            kind="exposure",
            action=plan.action,
            version=plan.version,
            title=plan.title,
            emitted_at=emitted_at,
        )
        for (plan, _), item in zip(allowed, accepted, strict=True)
    ]
    releases_log.record(releases)
    for (plan, decision), item in zip(allowed, accepted, strict=True):
        log.info(
            "%s version %d %s (%s), %s",
            plan.document_id,
            plan.version,
            "was already emitted" if item.duplicate else "emitted",
            item.event_id,
            decision.summary(),
        )
    return releases
