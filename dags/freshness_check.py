"""Freshness check, every day at 08:00 (Asia/Shanghai): which website column or new-media
account is about to break its update rule, which meeting still lacks its replay or
interpretation, which policy's interpretation is missing or broken.

The rules are data (the shipped ``govpub/app/freshness/rules.toml``, or the file
``GOVPUB_FRESHNESS_RULES`` names); the check is the same as ``govpub freshness``.

1. ``check_freshness`` — builds the report at the run's logical date (a manual run
   without one: when it was triggered) and, with ``GOVPUB_FRESHNESS_PAGE_DIR``, renders
   the operator page there (never inside the public ``GOVPUB_OUTPUT_DIR``);
2. ``post_alert`` — when something is overdue or due soon, posts the report to
   ``GOVPUB_FRESHNESS_ALERT_URL``, signed like every govpub webhook (retried twice);
3. ``report_problems`` — fails with the list when something is overdue or due soon, so
   the run shows red in the Airflow UI until the cause is fixed.

Each task calls one function of ``govpub.app.dag_tasks``; the logic is in
``govpub.app.freshness`` (tested without Airflow).
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, get_current_context, task


@dag(
    dag_id="freshness_check",
    schedule=CronTriggerTimetable("0 8 * * *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    # A failed check is the message, not a fault to retry: tomorrow's run checks again.
    default_args={"retries": 0},
    tags=["govpub", "freshness"],
    doc_md=__doc__,
)
def freshness_check() -> None:
    """Check the update rules of columns and accounts; fail and alert on problems."""

    @task
    def check_freshness() -> dict[str, Any]:
        from govpub.app import dag_tasks

        run = get_current_context()["dag_run"]
        return dag_tasks.run(
            dag_tasks.freshness_report, dag_tasks.run_moment(run.logical_date, run.run_after)
        )

    @task(retries=2, retry_delay=pendulum.duration(minutes=1))
    def post_alert(report: dict[str, Any]) -> str:
        from govpub.app import dag_tasks

        context = get_current_context()
        message_id = f"{context['dag'].dag_id}:{context['run_id']}"
        return dag_tasks.run(dag_tasks.freshness_alert, report, message_id=message_id)

    @task
    def report_problems(report: dict[str, Any]) -> list[str]:
        from govpub.app import dag_tasks

        return dag_tasks.run(dag_tasks.freshness_verdict, report)

    report = check_freshness()
    post_alert(report)  # type: ignore[arg-type]
    report_problems(report)  # type: ignore[arg-type]


freshness_check()
