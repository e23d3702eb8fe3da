"""What the Airflow tasks call: one function per task, plain values in and out.

The DAG files in ``dags/`` stay thin: each task imports this module when it runs and
calls one function through :func:`run`, which fails the task at once on a permanent
error. Every function builds the settings (``GOVPUB_*``) itself, as an entry point
does, and returns JSON-ready values for XCom. Nothing here imports Airflow at module
level: :func:`airflow_errors` imports it to translate a refused release, and
:func:`write_run_note` to read its connection, both only inside a task.
"""

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from channels.settings import load_app_settings
from govpub.app.freshness.alert import post_alert
from govpub.app.freshness.check import check_freshness
from govpub.app.freshness.render import check_page_dir, write_page
from govpub.app.freshness.settings import load_freshness_settings
from govpub.app.migrate import migrate_store
from govpub.app.releases import (
    emit_batches,
    forget_party_names,
    plan_batch,
    plan_lifecycle,
    plan_takedowns,
    sync_catalog,
)
from govpub.errors import (
    ApprovalRefused,
    ConfigurationError,
    MissedPhases,
    ReleaseRefused,
    ReleaseRejected,
    RunNoteFailed,
    UpdateDeadlinesAtRisk,
)
from producers.releases.approval import (
    ApprovalRequest,
    answered_decision,
    approval_requests,
    auto_decisions,
    check_auto_approve,
    record_void_answer,
)
from producers.releases.campaigns import emit_due_phases, emit_phase, load_calendar
from producers.releases.consultations import LifecyclePlan, emit_closures
from producers.releases.exposure import BatchPlan, load_exposure_config, release_quarter, review
from producers.releases.log import Outcome, Release, ReleaseDecision
from producers.releases.quarters import RELEASE_TIMEZONE, Quarter
from producers.releases.runnotes import NOTES_CONNECTION, AirflowApi
from producers.releases.takedown import TakedownPlan, emit_takedowns

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger(__name__)

PERMANENT_ERRORS: tuple[type[Exception], ...] = (
    ReleaseRefused,
    ConfigurationError,
    MissedPhases,
    UpdateDeadlinesAtRisk,
)
"""Errors that retrying cannot fix: someone has to act on the data or the configuration."""

APPROVAL_TASK = "approve_release"


@contextmanager
def airflow_errors() -> Iterator[None]:
    """Fail the task at once (no retries) on a permanent error, with its message."""
    try:
        yield
    except PERMANENT_ERRORS as exc:
        from airflow.sdk.exceptions import AirflowFailException  # only ever inside a task

        raise AirflowFailException(str(exc)) from exc


def run(task: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call ``task`` as an Airflow task does: the state store's tables are brought up to
    date first (a store migrated by a newer govpub fails the task before it writes), and
    a permanent error fails it at once."""
    with airflow_errors():
        migrate_store(load_app_settings())
        return task(*args, **kwargs)


def run_moment(logical_date: datetime | None, run_after: datetime) -> datetime:
    """The moment a run stands for: its logical date, or when it was due (manual runs
    in Airflow 3 may have no logical date)."""
    return logical_date if logical_date is not None else run_after


def write_run_note(dag_id: str, run_id: str, note: str) -> bool:
    """Write ``note`` on the run through Airflow's REST API as the service user of the
    connection ``govpub_airflow_api``; without it, or if the api-server refuses, log a
    warning and go on (the task states still tell the outcome). True if written."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = Connection.get(NOTES_CONNECTION)
    except AirflowNotFoundException:
        log.warning(
            "run note not written: no Airflow connection %s (see the README). The note: %s",
            NOTES_CONNECTION,
            note,
        )
        return False
    host = conn.host or "localhost"
    base = host if "://" in host else f"{conn.conn_type or 'http'}://{host}"
    if conn.port:
        base += f":{conn.port}"
    try:
        AirflowApi(base, conn.login or "", conn.password or "").write_note(dag_id, run_id, note)
    except RunNoteFailed as exc:
        log.warning("run note not written: %s. The note: %s", exc, note)
        return False
    log.info("run note: %s", note)
    return True


# -- quarterly exposure release --------------------------------------------------------


def exposure_start(quarter: str | None, auto_approve: bool, moment: datetime) -> dict[str, str]:
    """Check the run's request (auto-approval only where allowed) and name its quarter."""
    settings = load_app_settings()
    check_auto_approve(settings, auto_approve)
    return {"quarter": str(release_quarter(quarter, moment))}


def exposure_domains() -> list[str]:
    """The slugs of the configured domains (validates the configuration)."""
    settings = load_app_settings()
    return [domain.slug for domain in load_exposure_config(settings.exposure_config).domains]


def catalog_sync() -> dict[str, Any]:
    """Bring the document catalog up to date with the bus."""
    result = sync_catalog(load_app_settings())
    return {
        "delivered": result.stats.delivered,
        "skipped": result.stats.skipped,
        "waited_seconds": round(result.waited, 1),
    }


def exposure_plan(slug: str, start: Mapping[str, str]) -> dict[str, Any]:
    """Plan the batch of one domain, checked on the day it runs."""
    settings = load_app_settings()
    config = load_exposure_config(settings.exposure_config)
    plan = plan_batch(settings, config, slug, Quarter.parse(start["quarter"]))
    return plan.model_dump(mode="json")


def exposure_review(
    plans: Sequence[Mapping[str, Any]], *, auto_approve: bool, triggered_by: str | None
) -> dict[str, Any]:
    """Everything the approvers see: one approval request per batch that changes (none
    when auto-approved), each assigned to its domain's approvers but ``triggered_by``."""
    settings = load_app_settings()
    parsed = [BatchPlan.model_validate(plan) for plan in plans]
    requests: list[ApprovalRequest] = []
    if not auto_approve:
        config = load_exposure_config(settings.exposure_config)
        requests = approval_requests(parsed, config, triggered_by=triggered_by)
    quarter = parsed[0].quarter if parsed else ""
    unchanged = [plan.note for plan in parsed if plan.note]
    return {
        "quarter": quarter,
        "changes": sum(1 for plan in parsed if plan.changes),
        "summary": review(parsed),
        "plans": [plan.model_dump(mode="json") for plan in parsed],
        "requests": [request.model_dump(mode="json") for request in requests],
        "approvals": [request.hitl_kwargs() for request in requests],
        "note": f"NOTHING TO RELEASE for {quarter}: " + " ".join(unchanged)
        if unchanged and not any(plan.changes for plan in parsed)
        else "",
    }


def exposure_auto_approve() -> dict[str, str]:
    """Auto-approve the run's batches (refused unless the setting allows it); the moment
    returned is the batches' publication date, kept across retries."""
    check_auto_approve(load_app_settings(), True)
    return {"decided_at": datetime.now(UTC).isoformat()}


def exposure_emit(
    review_result: Mapping[str, Any],
    answers: Sequence[Mapping[str, Any] | None],
    auto: Mapping[str, Any] | None,
    *,
    dag_id: str,
    run_id: str,
    triggered_by: str | None,
) -> dict[str, Any]:
    """Check the answers (or the auto-approval), put the decisions on record, catch the
    catalog up, and emit what was approved.

    An answer from someone who may not give it voids the release: it goes on the audit
    log and nothing is recorded as approved or emitted.
    """
    settings = load_app_settings()
    plans = [BatchPlan.model_validate(plan) for plan in review_result["plans"]]
    decisions: list[ReleaseDecision]
    if auto is not None:
        decisions = auto_decisions(
            settings,
            plans,
            decided_at=datetime.fromisoformat(auto["decided_at"]),
            source=dag_id,
            run_id=run_id,
            triggered_by=triggered_by,
        )
    else:
        requests = [ApprovalRequest.model_validate(r) for r in review_result["requests"]]
        if len(answers) != len(requests):
            raise ApprovalRefused(
                f"{len(requests)} approval request(s) but {len(answers)} answer(s)"
            )
        by_document = {plan.document_id: plan for plan in plans}
        decisions, void = [], []
        for index, (request, answer) in enumerate(zip(requests, answers, strict=True)):
            plan = by_document[request.document_id]
            try:
                decisions.append(
                    answered_decision(
                        request,
                        plan,
                        answer,
                        source=dag_id,
                        run_id=run_id,
                        basis=f"Airflow Required action {APPROVAL_TASK}[{index}]",
                    )
                )
            except ApprovalRefused as exc:
                record_void_answer(settings, plan, run_id=run_id, reason=exc)
                void.append(str(exc))
        if void:
            raise ApprovalRefused(" ".join(void))
    sync_catalog(settings)
    releases = emit_batches(settings, plans, decisions, source=dag_id, run_id=run_id)
    rejected = [d for d in decisions if d.outcome is Outcome.REJECTED]
    return {
        "published": [f"{r.document_id} v{r.version} {r.event_id}" for r in releases],
        "rejected": [f"{d.document_id} v{d.version} {d.summary()}" for d in rejected],
        "note": release_note(review_result["quarter"], releases, decisions),
    }


def exposure_rejected(result: Mapping[str, Any]) -> None:
    """Fail with the rejections of an emitted release (``exposure_emit``'s result)."""
    rejected = "; ".join(result["rejected"])
    published = ", ".join(result["published"]) or "nothing"
    raise ReleaseRejected(
        f"REJECTED: {rejected}. Not published. Published in this run: {published}. To"
        " publish a corrected batch, fix the candidates and trigger the quarter again."
    )


def release_note(
    quarter: str, releases: Sequence[Release], decisions: Sequence[ReleaseDecision]
) -> str:
    """The run note of a release: what was published and rejected, by whom and when."""
    approved = {(d.document_id, d.version): d for d in decisions if d.outcome.publishes}
    parts = []
    if releases:
        published = "; ".join(
            f"{r.document_id} v{r.version}, {approved[(r.document_id, r.version)].summary()}"
            for r in releases
            if (r.document_id, r.version) in approved
        )
        parts.append(f"PUBLISHED {quarter}: {published}.")
    rejected = [d for d in decisions if d.outcome is Outcome.REJECTED]
    if rejected:
        listed = "; ".join(f"{d.document_id} v{d.version} {d.summary()}" for d in rejected)
        parts.append(f"REJECTED {quarter}: {listed}; not published.")
    return " ".join(parts) or f"{quarter}: nothing was emitted."


# -- theme-day campaigns ----------------------------------------------------------------


def campaign_calendar() -> list[str]:
    """Validate the campaign calendar; one line per scheduled phase."""
    settings = load_app_settings()
    calendar = load_calendar(settings.campaigns_dir)
    return [f"{phase.publish_at.isoformat()} {phase.document_id}" for phase in calendar.phases]


def campaign_emit(
    moment: datetime, *, phase: str | None, dag_id: str, run_id: str
) -> dict[str, Any]:
    """Emit the phases due at ``moment``, or only ``phase`` (a document id) now."""
    settings = load_app_settings()
    calendar = load_calendar(settings.campaigns_dir)
    if phase:
        result = emit_phase(settings, calendar, phase, source=dag_id, run_id=run_id)
    else:
        result = emit_due_phases(settings, calendar, moment, source=dag_id, run_id=run_id)
    return result.as_dict()


def campaign_check_missed(result: Mapping[str, Any]) -> list[str]:
    """Fail with the phases this run found missed for the first time; else list the
    phases already reported."""
    newly = list(result.get("newly_missed", []))
    if newly:
        raise MissedPhases(newly)
    return list(result.get("missed", []))


# -- penalty display take-downs ----------------------------------------------------------


def takedown_plan(moment: datetime, document_id: str | None) -> dict[str, Any]:
    """The penalty decisions whose display ended before the run's day (Asia/Shanghai),
    or only ``document_id``; the catalog must be caught up (``catalog_sync``)."""
    settings = load_app_settings()
    day = moment.astimezone(RELEASE_TIMEZONE).date()
    plan = plan_takedowns(settings, day, document_id=document_id or None)
    return plan.model_dump(mode="json")


def takedown_emit(plan: Mapping[str, Any], *, dag_id: str, run_id: str) -> dict[str, Any]:
    """Emit the planned withdrawals (公示期满); the result and the run's note."""
    settings = load_app_settings()
    parsed = TakedownPlan.model_validate(plan)
    result = emit_takedowns(settings, parsed, source=dag_id, run_id=run_id)
    done = result.as_dict()
    parts = [f"TAKE-DOWNS {parsed.on}: {len(result.emitted)} emitted"]
    if result.emitted:
        parts[0] += " (" + ", ".join(r.document_id for r in result.emitted) + ")"
    if result.already_emitted:
        parts.append(f"{len(result.already_emitted)} emitted by an earlier run")
    if result.skipped:
        parts.append(f"{len(result.skipped)} skipped: " + "; ".join(result.skipped))
    parts.append(f"{len(parsed.upcoming)} due in the next 7 days")
    done["note"] = "; ".join(parts) + "."
    return done


def takedown_forget_names(moment: datetime) -> dict[str, Any]:
    """Forget the party register's names that no document needs on the run's day
    (Asia/Shanghai): document ids and counts only, never a name."""
    settings = load_app_settings()
    day = moment.astimezone(RELEASE_TIMEZONE).date()
    forgotten = forget_party_names(settings, day)
    return {**forgotten.model_dump(mode="json"), "note": forgotten.note}


# -- consultation lifecycle --------------------------------------------------------------


def lifecycle_plan(moment: datetime) -> dict[str, Any]:
    """The consultations to close on the run's day (Asia/Shanghai) and the results
    overdue; the catalog must be caught up (``catalog_sync``)."""
    settings = load_app_settings()
    day = moment.astimezone(RELEASE_TIMEZONE).date()
    return plan_lifecycle(settings, day).model_dump(mode="json")


def lifecycle_emit(plan: Mapping[str, Any], *, dag_id: str, run_id: str) -> dict[str, Any]:
    """Emit the planned closures; the result and the run's note (which names the
    consultations whose result is overdue)."""
    settings = load_app_settings()
    parsed = LifecyclePlan.model_validate(plan)
    result = emit_closures(settings, parsed, source=dag_id, run_id=run_id)
    done = result.as_dict()
    parts = [f"CONSULTATIONS {parsed.on}: {len(result.emitted)} closed"]
    if result.emitted:
        parts[0] += " (" + ", ".join(r.document_id for r in result.emitted) + ")"
    if result.already_emitted:
        parts.append(f"{len(result.already_emitted)} closed by an earlier run")
    if result.skipped:
        parts.append(f"{len(result.skipped)} skipped: " + "; ".join(result.skipped))
    overdue = parsed.overdue_results
    parts.append(
        f"{len(overdue)} result{'' if len(overdue) == 1 else 's'} overdue"
        + (
            " ("
            + ", ".join(f"{o.document_id}: {o.working_days} working days" for o in overdue)
            + ")"
            if overdue
            else ""
        )
    )
    done["overdue_results"] = [o.document_id for o in overdue]
    done["note"] = "; ".join(parts) + "."
    return done


# -- freshness check ---------------------------------------------------------------------


def freshness_report(moment: datetime) -> dict[str, Any]:
    """The report at ``moment`` as JSON-ready values; also renders the operator page into
    ``GOVPUB_FRESHNESS_PAGE_DIR`` when it is set."""
    settings = load_app_settings()
    section = load_freshness_settings()
    if section.page_dir is not None:  # a misplaced page fails before any work is done
        check_page_dir(
            section.page_dir, output_dir=settings.output_dir, name="GOVPUB_FRESHNESS_PAGE_DIR"
        )
    report = check_freshness(settings, section, now=moment)
    if section.page_dir is not None:
        page = write_page(report, section.page_dir, output_dir=settings.output_dir)
        log.info("freshness page written to %s", page)
    counts = report.counts()
    log.info(
        "freshness at %s: %d overdue, %d due soon, %d ok",
        report.checked_at.isoformat(timespec="minutes"),
        counts["overdue"],
        counts["due_soon"],
        counts["ok"],
    )
    return report.as_dict()


def freshness_alert(report: Mapping[str, Any], *, message_id: str) -> str:
    """Post ``report`` to the alert webhook when it lists problems and one is configured;
    says what it did."""
    if not report["problems"]:
        return "nothing overdue or due soon: no alert"
    status = post_alert(report, load_freshness_settings(), message_id=message_id)
    if status is None:
        return "no alert webhook configured (GOVPUB_FRESHNESS_ALERT_URL)"
    return f"alert posted: HTTP {status}"


def freshness_verdict(report: Mapping[str, Any]) -> list[str]:
    """Raise :class:`UpdateDeadlinesAtRisk` with every problem of ``report``, if any."""
    problems = list(report["problems"])
    if problems:
        raise UpdateDeadlinesAtRisk(problems)
    return problems
