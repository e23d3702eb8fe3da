"""Penalty decisions leave every channel when their display period ends (公示期满).

Runs every day at 09:00 Asia/Shanghai:

1. ``sync_catalog`` — bring the document catalog up to date with the bus;
2. ``find_ended`` — the published penalty decisions whose display period ended before
   the run's day: their ``display_until`` (the compliance gate writes it into every
   decision, from the periods in ``producers/releases/data/penalty-display.toml``), and
   those due in the next 7 days; with the ``document_id`` param, that decision only —
   a document that is not a published penalty decision whose period has ended fails
   the task at once, saying why;
3. ``emit_takedowns`` — one withdrawal per decision, public reason 公示期满, through the
   same publisher, compliance gate and version ledger as every event; each channel
   (website, feeds, WeChat, Weibo, webhooks) then takes the decision down;
4. ``forget_names`` — the party register (the names the compliance gate masked, kept to
   mask exposures and withdrawals citing a decision) forgets a decision's names
   ``GOVPUB_PARTY_NAMES_KEEP_DAYS`` after its display ended, and any other entry after
   ``GOVPUB_PARTY_NAMES_MAX_AGE_DAYS`` (``producers.releases.retention``).

Safe to run twice and to backfill: a take-down's event id and date follow from the
decision and its period, so a repeat emits nothing new, and a backfilled day takes
down only what had ended by then. All logic is in ``producers.releases.takedown``
(through ``govpub.app.dag_tasks``), tested without Airflow.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task


@dag(
    dag_id="penalty_display_takedown",
    schedule=CronTriggerTimetable("0 9 * * *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2023, 4, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=5)},
    params={
        "document_id": Param(
            None,
            type=["null", "string"],
            pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
            description="Take down only this penalty decision (its display period must have"
            " ended); empty: every decision whose period ended before the run's day.",
        ),
    },
    tags=["govpub", "takedown"],
    doc_md=__doc__,
)
def penalty_display_takedown() -> None:
    """Withdraw the penalty decisions whose display period has ended."""

    @task
    def sync_catalog() -> dict[str, Any]:
        from govpub.app import dag_tasks

        return dag_tasks.catalog_sync()

    @task
    def find_ended() -> dict[str, Any]:
        from govpub.app import dag_tasks

        context = get_current_context()
        run = context["dag_run"]
        return dag_tasks.run(
            dag_tasks.takedown_plan,
            dag_tasks.run_moment(run.logical_date, run.run_after),
            context["params"]["document_id"],
        )

    @task
    def emit_takedowns(plan: dict[str, Any]) -> dict[str, Any]:
        from govpub.app import dag_tasks

        context = get_current_context()
        result = dag_tasks.run(
            dag_tasks.takedown_emit,
            plan,
            dag_id=context["dag"].dag_id,
            run_id=context["run_id"],
        )
        dag_tasks.write_run_note(context["dag"].dag_id, context["run_id"], result["note"])
        return result

    @task
    def forget_names() -> dict[str, Any]:
        from govpub.app import dag_tasks

        context = get_current_context()
        run = context["dag_run"]
        return dag_tasks.run(
            dag_tasks.takedown_forget_names,
            dag_tasks.run_moment(run.logical_date, run.run_after),
        )

    plan = find_ended()
    sync_catalog() >> plan
    emit_takedowns(plan) >> forget_names()  # type: ignore[arg-type]


penalty_display_takedown()
