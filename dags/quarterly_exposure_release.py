"""Quarterly exposure of typical illegal cases (每季度公开曝光一批“非法违法”典型案例).

Runs at 09:00 Asia/Shanghai on 1 January, April, July and October for the quarter
just ended (or the quarter given in the ``quarter`` param):

1. ``resolve_quarter`` — which quarter, and the day the checks refer to;
2. ``sync_catalog`` — bring the document catalog up to date with the bus;
3. ``prepare_batch`` — one mapped task per configured domain: the quarter's candidates,
   each checked against its penalty decision (published, not withdrawn, displayed),
   through the compliance gate, compared with the batch already published. A domain
   without releasable candidates fails here, naming the domain and why;
4. ``review_release`` → ``approve_release`` (Required actions in the UI; skipped when
   nothing changed, or when the ``auto_approve`` param is true);
5. ``emit_batches`` — re-checks the plans and emits ``exposure-<quarter>-<slug>``:
   a new document, or an update of the existing one; never a second batch.

All logic is in ``producers.releases`` (tested without Airflow); this file only wires
tasks, and imports govpub inside them so that parsing it stays cheap.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import CronTriggerTimetable, Param, TriggerRule, dag, get_current_context, task

REVIEW_TASK = "review_release"


@dag(
    dag_id="quarterly_exposure_release",
    schedule=CronTriggerTimetable("0 9 1 1,4,7,10 *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2023, 4, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=5)},
    params={
        "auto_approve": Param(
            False,
            type="boolean",
            description="Release without waiting for approval (development and tests only).",
        ),
        "quarter": Param(
            None,
            type=["null", "string"],
            pattern=r"^\d{4}Q[1-4]$",
            description="Quarter to release, e.g. 2023Q2; empty: the quarter just ended.",
        ),
    },
    tags=["govpub", "exposure"],
    doc_md=__doc__,
)
def quarterly_exposure_release() -> None:
    """Gather, check, approve and emit the quarter's exposure batches."""

    @task
    def resolve_quarter() -> dict[str, str]:
        from producers.releases import dag_tasks

        context = get_current_context()
        run = context["dag_run"]
        with dag_tasks.airflow_errors():
            return dag_tasks.exposure_window(
                context["params"]["quarter"], dag_tasks.run_moment(run.logical_date, run.run_after)
            )

    @task
    def configured_domains() -> list[str]:
        from producers.releases import dag_tasks

        with dag_tasks.airflow_errors():
            return dag_tasks.exposure_domains()

    @task
    def sync_catalog() -> dict[str, Any]:
        from producers.releases import dag_tasks

        return dag_tasks.catalog_sync()

    @task(map_index_template="{{ domain_slug }}")
    def prepare_batch(slug: str, window: dict[str, str]) -> dict[str, Any]:
        from producers.releases import dag_tasks

        get_current_context()["domain_slug"] = slug  # type: ignore[typeddict-unknown-key]
        with dag_tasks.airflow_errors():
            return dag_tasks.exposure_plan(slug, window)

    @task(task_id=REVIEW_TASK)
    def review_release(plans: list[dict[str, Any]]) -> dict[str, Any]:
        from producers.releases import dag_tasks

        # Indexing, not iterating: iterating a mapped task's lazy output probes one
        # offset past the end, which Airflow logs as an error.
        return dag_tasks.exposure_review([plans[i] for i in range(len(plans))])

    @task.branch
    def route(review: dict[str, Any]) -> str:
        if not review["changes"]:
            return "nothing_to_release"
        if get_current_context()["params"]["auto_approve"]:
            return "auto_approved"
        return "approve_release"

    approve = ApprovalOperator(
        task_id="approve_release",
        subject="Release the {{ ti.xcom_pull(task_ids='review_release')['quarter'] }}"
        " typical-case exposure (典型案例曝光)",
        body="{{ ti.xcom_pull(task_ids='review_release')['summary'] }}",
        response_timeout=timedelta(days=14),
        retries=0,
    )

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def emit_batches() -> list[str]:
        from producers.releases import dag_tasks

        context = get_current_context()
        # Pulled here rather than passed in: a data dependency on the review would let
        # this task run when the branch chose "nothing_to_release".
        review = context["ti"].xcom_pull(task_ids=REVIEW_TASK)
        with dag_tasks.airflow_errors():
            return dag_tasks.exposure_emit(
                review, dag_id=context["dag"].dag_id, run_id=context["run_id"]
            )

    window = resolve_quarter()
    plans = prepare_batch.partial(window=window).expand(slug=configured_domains())
    sync_catalog() >> plans
    # TaskFlow passes XComArgs where the functions take their resolved values.
    review = review_release(plans)  # type: ignore[arg-type]
    auto = EmptyOperator(task_id="auto_approved")
    nothing = EmptyOperator(task_id="nothing_to_release")
    route(review) >> [approve, auto, nothing]  # type: ignore[arg-type]
    [approve, auto] >> emit_batches()


quarterly_exposure_release()
