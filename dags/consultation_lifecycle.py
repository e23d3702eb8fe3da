"""Consultations (征求意见) close when their window ends; late results are named.

Runs every day at 00:30 Asia/Shanghai:

1. ``sync_catalog`` — bring the document catalog up to date with the bus;
2. ``find_closing`` — the consultations still open whose ``closes_on`` is before the
   run's day, and those closed more than ``GOVPUB_CONSULTATION_RESULT_DAYS`` working days
   ago without a result (意见征集结果);
3. ``emit_closures`` — one update per consultation marking it closed, through the same
   publisher, compliance gate and version ledger as every event; each channel (website,
   feeds, new media as routed) then shows it as 已截止. The run's note names the results
   overdue; ``govpub status`` lists them too.

Safe to run twice and to backfill: a closure's event id and date follow from the
consultation and its ``closes_on``. All logic is in ``producers.releases.consultations``
(through ``govpub.app.dag_tasks``), tested without Airflow.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, get_current_context, task


@dag(
    dag_id="consultation_lifecycle",
    schedule=CronTriggerTimetable("30 0 * * *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2023, 4, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=5)},
    tags=["govpub", "lifecycle"],
    doc_md=__doc__,
)
def consultation_lifecycle() -> None:
    """Close the consultations whose window has ended; name the late results."""

    @task
    def sync_catalog() -> dict[str, Any]:
        from govpub.app import dag_tasks

        return dag_tasks.catalog_sync()

    @task
    def find_closing() -> dict[str, Any]:
        from govpub.app import dag_tasks

        run = get_current_context()["dag_run"]
        return dag_tasks.run(
            dag_tasks.lifecycle_plan, dag_tasks.run_moment(run.logical_date, run.run_after)
        )

    @task
    def emit_closures(plan: dict[str, Any]) -> dict[str, Any]:
        from govpub.app import dag_tasks

        context = get_current_context()
        result = dag_tasks.run(
            dag_tasks.lifecycle_emit,
            plan,
            dag_id=context["dag"].dag_id,
            run_id=context["run_id"],
        )
        dag_tasks.write_run_note(context["dag"].dag_id, context["run_id"], result["note"])
        return result

    plan = find_closing()
    sync_catalog() >> plan
    emit_closures(plan)  # type: ignore[arg-type]


consultation_lifecycle()
