"""Quarterly exposure of typical illegal cases (每季度公开曝光一批“非法违法”典型案例).

Runs at 09:00 Asia/Shanghai on 1 January, April, July and October for the quarter
just ended (or the quarter given in the ``quarter`` param):

1. ``resolve_quarter`` — which quarter; fails at once if ``auto_approve`` is asked for
   where ``GOVPUB_ALLOW_AUTO_APPROVE`` does not allow it;
2. ``sync_catalog`` — bring the document catalog up to date with the bus;
3. ``prepare_batch`` — one mapped task per configured domain: the quarter's candidates,
   each checked against its penalty decision (published, not withdrawn, displayed
   today), through the compliance gate, compared with the batch already published. A
   domain without releasable candidates fails here, naming the domain and why, unless
   its batch is already out ("already published");
4. ``review_release`` → ``approve_release``: one Required action per batch that
   changes, assigned to the domain's approvers (``exposure.toml``) but never to whoever
   triggered the run; ``nothing_to_release`` when nothing changed; ``auto_approved``
   only under ``GOVPUB_ALLOW_AUTO_APPROVE``;
5. ``emit_batches`` — checks each answer again (an assigned approver, not the
   triggering user), puts every decision on record (release log, audit log), and emits
   the approved batches dated the moment of approval: a new document
   ``exposure-<quarter>-<slug>``, or an update of it; never a second batch;
6. ``published``, or ``release_rejected``, which fails: a rejected release ends as a
   failed run, never as a green one.

All logic is in ``producers.releases`` and, for what needs the document catalog, in
``govpub.app.releases`` (tested without Airflow); this file only wires tasks to
``govpub.app.dag_tasks``, imported inside them so that parsing it stays cheap.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import CronTriggerTimetable, Param, TriggerRule, dag, get_current_context, task

REVIEW_TASK = "review_release"
APPROVAL_TASK = "approve_release"
AUTO_TASK = "auto_approved"


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
            description="Release without waiting for approval. Refused (the run fails) unless"
            " the deployment sets GOVPUB_ALLOW_AUTO_APPROVE=true (development and tests only).",
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
        from govpub.app import dag_tasks

        context = get_current_context()
        run = context["dag_run"]
        return dag_tasks.run(
            dag_tasks.exposure_start,
            context["params"]["quarter"],
            context["params"]["auto_approve"],
            dag_tasks.run_moment(run.logical_date, run.run_after),
        )

    @task
    def configured_domains() -> list[str]:
        from govpub.app import dag_tasks

        return dag_tasks.run(dag_tasks.exposure_domains)

    @task
    def sync_catalog() -> dict[str, Any]:
        from govpub.app import dag_tasks

        return dag_tasks.catalog_sync()

    @task(map_index_template="{{ domain_slug }}")
    def prepare_batch(slug: str, start: dict[str, str]) -> dict[str, Any]:
        from govpub.app import dag_tasks

        get_current_context()["domain_slug"] = slug  # type: ignore[typeddict-unknown-key]
        return dag_tasks.run(dag_tasks.exposure_plan, slug, start)

    @task(task_id=REVIEW_TASK)
    def review_release(plans: list[dict[str, Any]]) -> dict[str, Any]:
        from govpub.app import dag_tasks

        context = get_current_context()
        # Indexing, not iterating: iterating a mapped task's lazy output probes one
        # offset past the end, which Airflow logs as an error.
        return dag_tasks.run(
            dag_tasks.exposure_review,
            [plans[i] for i in range(len(plans))],
            auto_approve=context["params"]["auto_approve"],
            triggered_by=context["dag_run"].triggering_user_name,
        )

    @task
    def request_approvals(review: dict[str, Any]) -> list[dict[str, Any]]:
        # One Required action per batch that changes: subject, body, assigned_users.
        approvals: list[dict[str, Any]] = review["approvals"]
        return approvals

    @task.branch
    def route(review: dict[str, Any]) -> str:
        if not review["changes"]:
            return "nothing_to_release"
        if get_current_context()["params"]["auto_approve"]:
            return AUTO_TASK
        return APPROVAL_TASK

    @task(task_id=AUTO_TASK, retries=0)
    def auto_approved() -> dict[str, str]:
        from govpub.app import dag_tasks

        return dag_tasks.run(dag_tasks.exposure_auto_approve)

    @task
    def nothing_to_release() -> str:
        from govpub.app import dag_tasks

        context = get_current_context()
        note: str = context["ti"].xcom_pull(task_ids=REVIEW_TASK)["note"]
        dag_tasks.write_run_note(context["dag"].dag_id, context["run_id"], note)
        return note

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def emit_batches() -> dict[str, Any]:
        from govpub.app import dag_tasks

        context = get_current_context()
        ti = context["ti"]
        # Pulled here rather than passed in: a data dependency on the review would let
        # this task run when the branch chose "nothing_to_release", and one on the
        # approval or the auto-approval would skip it whenever the branch skipped that one.
        review = ti.xcom_pull(task_ids=REVIEW_TASK)
        auto = ti.xcom_pull(task_ids=AUTO_TASK)
        answers = (
            []
            if auto is not None
            else [
                ti.xcom_pull(task_ids=APPROVAL_TASK, map_indexes=i)
                for i in range(len(review["requests"]))
            ]
        )
        result = dag_tasks.run(
            dag_tasks.exposure_emit,
            review,
            answers,
            auto,
            dag_id=context["dag"].dag_id,
            run_id=context["run_id"],
            triggered_by=context["dag_run"].triggering_user_name,
        )
        dag_tasks.write_run_note(context["dag"].dag_id, context["run_id"], result["note"])
        return result

    @task.branch
    def outcome(result: dict[str, Any]) -> str:
        return "release_rejected" if result["rejected"] else "published"

    @task(retries=0)
    def release_rejected(result: dict[str, Any]) -> None:
        from govpub.app import dag_tasks

        dag_tasks.run(dag_tasks.exposure_rejected, result)

    start = resolve_quarter()
    plans = prepare_batch.partial(start=start).expand(slug=configured_domains())
    sync_catalog() >> plans
    # TaskFlow passes XComArgs where the functions take their resolved values.
    review = review_release(plans)  # type: ignore[arg-type]
    approve = HITLOperator.partial(
        task_id=APPROVAL_TASK,
        options=["Approve", "Reject"],
        response_timeout=timedelta(days=14),
        retries=0,
        map_index_template="{{ task.subject }}",
    ).expand_kwargs(request_approvals(review))  # type: ignore[arg-type]
    auto = auto_approved()
    route(review) >> [approve, auto, nothing_to_release()]  # type: ignore[arg-type]
    emitted = emit_batches()
    [approve, auto] >> emitted
    outcome(emitted) >> [EmptyOperator(task_id="published"), release_rejected(emitted)]  # type: ignore[arg-type]


quarterly_exposure_release()
