"""What the Airflow tasks call: one function per task, plain values in and out.

The DAG files in ``dags/`` stay thin: each task imports this module when it runs and
calls one function. Every function builds the settings (``GOVPUB_*``) itself, as an
entry point does, and returns JSON-ready values for XCom. Nothing here imports
Airflow except :func:`airflow_errors`, and only when a refused release is translated.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from govpub.errors import ConfigurationError
from govpub.settings import load_settings
from producers.releases.campaigns import emit_due_phases, load_calendar
from producers.releases.exposure import (
    BatchPlan,
    ReleaseRefused,
    ReleaseWindow,
    emit_batches,
    load_exposure_config,
    plan_batch,
    release_window,
    review,
)
from producers.releases.publishing import sync_catalog
from producers.releases.quarters import Quarter

PERMANENT_ERRORS: tuple[type[Exception], ...] = (ReleaseRefused, ConfigurationError)
"""Errors that retrying cannot fix: someone has to change the data or the configuration."""


@contextmanager
def airflow_errors() -> Iterator[None]:
    """Fail the task at once (no retries) on a permanent error, with its message."""
    try:
        yield
    except PERMANENT_ERRORS as exc:
        from airflow.sdk.exceptions import AirflowFailException  # only ever inside a task

        raise AirflowFailException(str(exc)) from exc


def run_moment(logical_date: datetime | None, run_after: datetime) -> datetime:
    """The moment a run stands for: its logical date, or when it was due (manual runs
    in Airflow 3 may have no logical date)."""
    return logical_date if logical_date is not None else run_after


# -- quarterly exposure release --------------------------------------------------------


def exposure_window(quarter: str | None, moment: datetime) -> dict[str, str]:
    """The quarter this run releases and the moment its checks refer to."""
    window = release_window(quarter, moment)
    return {"quarter": str(window.quarter), "as_of": window.as_of.isoformat()}


def exposure_domains() -> list[str]:
    """The slugs of the configured domains (validates the configuration)."""
    settings = load_settings()
    return [domain.slug for domain in load_exposure_config(settings.exposure_config).domains]


def catalog_sync() -> dict[str, Any]:
    """Bring the document catalog up to date with the bus."""
    result = sync_catalog(load_settings())
    return {
        "delivered": result.stats.delivered,
        "skipped": result.stats.skipped,
        "waited_seconds": round(result.waited, 1),
    }


def exposure_plan(slug: str, window: Mapping[str, str]) -> dict[str, Any]:
    """Plan the batch of one domain."""
    settings = load_settings()
    config = load_exposure_config(settings.exposure_config)
    plan = plan_batch(
        settings,
        config,
        slug,
        ReleaseWindow(Quarter.parse(window["quarter"]), datetime.fromisoformat(window["as_of"])),
    )
    return plan.model_dump(mode="json")


def exposure_review(plans: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Everything the approver sees, and how many batches change."""
    parsed = [BatchPlan.model_validate(plan) for plan in plans]
    return {
        "quarter": parsed[0].quarter if parsed else "",
        "changes": sum(1 for plan in parsed if plan.changes),
        "summary": review(parsed),
        "plans": [plan.model_dump(mode="json") for plan in parsed],
    }


def exposure_emit(review_result: Mapping[str, Any], *, dag_id: str, run_id: str) -> list[str]:
    """Catch the catalog up, check the approved plans still hold, and emit them."""
    settings = load_settings()
    sync_catalog(settings)
    plans = [BatchPlan.model_validate(plan) for plan in review_result["plans"]]
    releases = emit_batches(settings, plans, source=dag_id, run_id=run_id)
    return [f"{r.document_id} v{r.version} {r.event_id}" for r in releases]


# -- theme-day campaigns ----------------------------------------------------------------


def campaign_calendar() -> list[str]:
    """Validate the campaign calendar; one line per scheduled phase."""
    settings = load_settings()
    calendar = load_calendar(settings.campaigns_dir)
    return [f"{phase.publish_at.isoformat()} {phase.document_id}" for phase in calendar.phases]


def campaign_emit(moment: datetime, *, dag_id: str, run_id: str) -> dict[str, Any]:
    """Emit the phases due at ``moment``."""
    settings = load_settings()
    calendar = load_calendar(settings.campaigns_dir)
    result = emit_due_phases(settings, calendar, moment, source=dag_id, run_id=run_id)
    return result.as_dict()
