"""Theme-day campaigns (政务公开主题日) from the calendar in ``producers/releases/data/campaigns/``.

Every hour (Asia/Shanghai) this DAG emits the campaign phases that are due: the
preview 7 days before a theme day, the day itself and the recap 3 days after, each at
its campaign's ``publish_time``. Each phase is emitted once (stable document ids and
event ids; the version ledger recognises a repeat), so runs can overlap or be re-run.
The calendar is data: add or edit a TOML file (or point ``GOVPUB_CAMPAIGNS_DIR`` at a
folder of them) and the next run follows it.

1. ``check_calendar`` — validates every file; an error names the file and the field;
2. ``emit_due_phases`` — emits what is due at the run's logical date (or, with the
   ``phase`` param, that one phase now), and reports phases already out, changed after
   publication, or missed while the schedule was down;
3. ``check_missed_phases`` — fails, naming them, when this run found phases that missed
   their window; each missed phase fails one run only, and the message says how to
   publish it late (``--conf '{"phase": "<document id>"}'``).

All logic is in ``producers.releases.campaigns`` (tested without Airflow), called through
``govpub.app.dag_tasks``.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task


@dag(
    dag_id="theme_day_campaign",
    schedule=CronTriggerTimetable("0 * * * *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2023, 4, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=2)},
    params={
        "phase": Param(
            None,
            type=["null", "string"],
            pattern=r"^theme-day-[a-z0-9][a-z0-9-]*-(preview|day|recap)$",
            description="Publish this phase now (e.g. theme-day-2023-river-day) instead of"
            " what is due; a phase whose window passed is dated when it is published.",
        ),
    },
    tags=["govpub", "campaign"],
    doc_md=__doc__,
)
def theme_day_campaign() -> None:
    """Emit the theme-day campaign phases that are due."""

    @task
    def check_calendar() -> list[str]:
        from govpub.app import dag_tasks

        return dag_tasks.run(dag_tasks.campaign_calendar)

    @task
    def emit_due_phases() -> dict[str, Any]:
        from govpub.app import dag_tasks

        context = get_current_context()
        run = context["dag_run"]
        return dag_tasks.run(
            dag_tasks.campaign_emit,
            dag_tasks.run_moment(run.logical_date, run.run_after),
            phase=context["params"]["phase"],
            dag_id=context["dag"].dag_id,
            run_id=context["run_id"],
        )

    @task(retries=0)
    def check_missed_phases(result: dict[str, Any]) -> list[str]:
        from govpub.app import dag_tasks

        return dag_tasks.run(dag_tasks.campaign_check_missed, result)

    emitted = emit_due_phases()
    check_calendar() >> emitted
    check_missed_phases(emitted)  # type: ignore[arg-type]


theme_day_campaign()
