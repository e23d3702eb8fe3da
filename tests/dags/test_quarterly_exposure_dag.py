"""``dag.test()`` of the quarterly exposure release on the embedded bus: approval through
the REST API by an assigned approver (never the triggering user), the decision on
record, rejection, auto-approval only under its setting, and the dates.

Runs are triggered as an operator triggers them, without a logical date, for the
quarter just ended (named in ``quarter``), with penalty decisions of that quarter, so
that the release publishes them today, as it would in production.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from govpub.app.status import render_status
from govpub.compliance.audit import AuditLog
from govpub.compliance.rules import Decision
from govpub.settings import Settings
from govpub.store import Store
from producers.releases.log import Outcome, ReleaseLog
from producers.releases.quarters import RELEASE_TIMEZONE, Quarter
from tests.dags.conftest import (
    TRIGGERED_BY,
    AirflowApi,
    Approver,
    deliver_to_subscribers,
    test_run,
)
from tests.outputs import Expected, assert_published_once, feed_items
from tests.releases import (
    CASE_TITLES,
    SAMPLE_BATCH,
    batch_of,
    bus_events,
    documents,
    emit,
    quarter_cases,
    samples,
)

DAG_ID = "quarterly_exposure_release"
REVIEWER = "zz-yjj-reviewer"


def just_ended() -> Quarter:
    return Quarter.just_ended(datetime.now(UTC))


def expected(quarter: Quarter) -> Expected:
    title = f"株洲市{quarter.year}年第{quarter.chinese_number}季度安全生产领域“非法违法”典型案例"
    return Expected("exposure", batch_of(quarter), title)


def run(quarter: Quarter | str, **conf: Any) -> dict[str, str]:
    """One run triggered without a logical date (as the README's commands do)."""
    return test_run(DAG_ID, None, quarter=str(quarter), **conf)


def answered_run(
    settings: Settings, approver: Callable[..., Approver], *answers: tuple[str, str]
) -> tuple[Quarter, Approver, dict[str, str]]:
    """Emit the quarter just ended's cases, run the release with ``answers`` given to its
    approval through the REST API, and wait for the approver to finish."""
    quarter = just_ended()
    emit(settings, quarter_cases(quarter))
    answer = approver(DAG_ID, *answers)
    states = run(quarter)
    answer.join(timeout=10)
    return quarter, answer, states


def batches(settings: Settings, document_id: str) -> list[Any]:
    return documents(bus_events(settings, "exposure"), document_id)


def with_approvers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, approvers: str) -> None:
    """The shipped work-safety domain with other approvers (GOVPUB_EXPOSURE_CONFIG)."""
    shipped = (
        Path(__file__).resolve().parents[2] / "producers" / "releases" / "data" / "exposure.toml"
    )
    text = shipped.read_text(encoding="utf-8").replace(
        'approvers = ["zz-yjj-reviewer"]', f"approvers = {approvers}"
    )
    assert f"approvers = {approvers}" in text
    config = tmp_path / "exposure.toml"
    config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("GOVPUB_EXPOSURE_CONFIG", str(config))


def test_auto_approve_is_refused_where_the_setting_does_not_allow_it(
    dag_bag: Any, release_settings: Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    quarter = just_ended()
    emit(release_settings, quarter_cases(quarter))
    states = run(quarter, auto_approve=True)
    assert states["(run)"] == "failed"
    assert states["resolve_quarter"] == "failed"
    assert states["emit_batches"] == "upstream_failed"
    out = capfd.readouterr().out
    assert "auto_approve is refused" in out
    assert "GOVPUB_ALLOW_AUTO_APPROVE is not true" in out
    assert batches(release_settings, batch_of(quarter)) == []
    with Store(release_settings.store) as store:
        assert ReleaseLog(store).decisions() == []


def test_auto_approval_under_the_setting_publishes_once_and_says_so(
    dag_bag: Any,
    release_settings: Settings,
    auto_approve_allowed: None,
    airflow_api: AirflowApi,
) -> None:
    quarter = just_ended()
    emit(release_settings, quarter_cases(quarter))
    before = datetime.now(UTC)
    states = run(quarter, auto_approve=True)
    assert states["(run)"] == "success"
    assert (states["auto_approved"], states["approve_release"]) == ("success", "skipped")
    assert (states["emit_batches"], states["published"]) == ("success", "success")
    assert states["release_rejected"] == "skipped"
    [batch] = batches(release_settings, batch_of(quarter))
    assert (batch.action.value, batch.version, batch.department) == ("publish", 1, "zz-yjj")
    # Dated when it was published (auto-approved), whatever the quarter.
    assert before <= batch.occurred_at <= datetime.now(UTC)
    assert [case.title for case in batch.payload.cases] == list(CASE_TITLES)
    with Store(release_settings.store) as store:
        [decision] = ReleaseLog(store).decisions()
    assert (decision.outcome, decision.decided_by) == (Outcome.AUTO_APPROVED, None)
    assert decision.basis == "GOVPUB_ALLOW_AUTO_APPROVE=true"
    assert decision.decided_at == batch.occurred_at
    assert "[auto-approved at" in render_status(release_settings)
    note = airflow_api.run_note(DAG_ID, states["(run_id)"])
    assert note is not None
    assert note.startswith(f"PUBLISHED {quarter}: {batch_of(quarter)} v1, auto-approved at")
    deliver_to_subscribers(release_settings)
    assert_published_once(release_settings.output_dir, expected(quarter))

    # The quarter run again: already published, green, nothing more on the bus.
    rerun = run(quarter, auto_approve=True)
    assert rerun["(run)"] == "success"
    assert (rerun["nothing_to_release"], rerun["emit_batches"]) == ("success", "skipped")
    assert [e.event_id for e in batches(release_settings, batch_of(quarter))] == [batch.event_id]
    again = airflow_api.run_note(DAG_ID, rerun["(run_id)"])
    assert again is not None
    assert again.startswith(f"NOTHING TO RELEASE for {quarter}: {batch_of(quarter)} is already")


def test_the_release_waits_for_an_assigned_approver_who_did_not_trigger_it(
    dag_bag: Any,
    release_settings: Settings,
    approver: Callable[..., Approver],
    airflow_api: AirflowApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # dag_test both triggers the run and is an approver of the domain: four eyes.
    with_approvers(tmp_path, monkeypatch, f'["{REVIEWER}", "{TRIGGERED_BY}"]')
    quarter, answer, states = answered_run(
        release_settings, approver, (TRIGGERED_BY, "Approve"), (REVIEWER, "Approve")
    )
    assert answer.request is not None
    assert answer.request["assigned_users"] == [{"id": REVIEWER, "name": REVIEWER}]
    assert answer.request["subject"] == (
        f"Release {batch_of(quarter)} version 1: {quarter} 安全生产 典型案例曝光"
    )
    assert f"`{batch_of(quarter)}` — publish version 1" in answer.request["body"]
    assert CASE_TITLES[1] in answer.request["body"]
    assert f"{TRIGGERED_BY} triggered this run and may not approve it." in answer.request["body"]
    # Airflow refuses the triggering user (not assigned), then takes the reviewer's answer.
    assert answer.statuses == [403, 200]
    assert f"User={TRIGGERED_BY}" in answer.refusals[0]
    assert states["(run)"] == "success"
    assert (states["approve_release"], states["auto_approved"]) == ("success", "skipped")
    assert (states["emit_batches"], states["published"]) == ("success", "success")

    [batch] = batches(release_settings, batch_of(quarter))
    with Store(release_settings.store) as store:
        [decision] = ReleaseLog(store).decisions()
        audited = [
            e for e in AuditLog(store).for_event(batch.event_id) if e.rule == "release_approval"
        ]
    assert (decision.outcome, decision.decided_by, decision.triggered_by) == (
        Outcome.APPROVED,
        REVIEWER,
        TRIGGERED_BY,
    )
    assert decision.basis == "Airflow Required action approve_release[0]"
    # The batch is dated with the approval: when it was published.
    assert batch.occurred_at == decision.decided_at
    assert [e.decision for e in audited] == [Decision.APPROVED]
    assert f"approved by {REVIEWER} at" in audited[0].detail
    status = render_status(release_settings)
    assert f"{batch_of(quarter)} v1 publish" in status
    assert f"[approved by {REVIEWER} at " in status
    assert f"(run {states['(run_id)']}, triggered by {TRIGGERED_BY})" in status
    note = airflow_api.run_note(DAG_ID, states["(run_id)"])
    assert note == (f"PUBLISHED {quarter}: {batch_of(quarter)} v1, {decision.summary()}.")
    deliver_to_subscribers(release_settings)
    assert_published_once(release_settings.output_dir, expected(quarter))
    [item] = feed_items(
        release_settings.output_dir / "feeds" / "exposure.xml", expected(quarter).guid
    )
    assert f"{quarter} 安全生产领域典型案例 2 起" in item.summary


def test_an_answer_while_dag_test_parks_the_task_resumes_it(
    dag_bag: Any,
    release_settings: Settings,
    approver: Callable[..., Approver],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A loaded machine: dag.test takes 2 s after the task has asked for its approval
    # before it records the task as waiting. An answer in that window used to be
    # overwritten and the run waited forever (see ParkedWatch).
    from airflow.sdk.execution_time import supervisor

    run_in_process = supervisor.run_task_in_process

    def slow_to_park(*args: Any, **kwargs: Any) -> Any:
        result = run_in_process(*args, **kwargs)
        if result.ti.state == "awaiting_input":
            time.sleep(2)
        return result

    monkeypatch.setattr(supervisor, "run_task_in_process", slow_to_park)
    quarter, answer, states = answered_run(release_settings, approver, (REVIEWER, "Approve"))
    assert answer.statuses == [200]
    assert (states["(run)"], states["approve_release"], states["published"]) == (
        "success",
        "success",
        "success",
    )
    [batch] = batches(release_settings, batch_of(quarter))
    assert batch.version == 1


def test_an_approval_nobody_may_give_ends_the_test_run_failed_instead_of_hanging(
    dag_bag: Any,
    release_settings: Settings,
    approver: Callable[..., Approver],
) -> None:
    quarter, answer, states = answered_run(release_settings, approver, (TRIGGERED_BY, "Approve"))
    assert answer.statuses == [403]
    assert answer.gave_up == "every answer was refused: [403]"
    answer.gave_up = None  # expected here; the fixture fails a test that left one
    assert (states["(run)"], states["approve_release"]) == ("failed", "failed")
    assert batches(release_settings, batch_of(quarter)) == []


def test_a_rejected_release_ends_failed_with_a_note_and_the_decision_on_record(
    dag_bag: Any,
    release_settings: Settings,
    approver: Callable[..., Approver],
    airflow_api: AirflowApi,
    capfd: pytest.CaptureFixture[str],
) -> None:
    quarter, answer, states = answered_run(release_settings, approver, (REVIEWER, "Reject"))
    assert answer.statuses == [200]
    # Not a green run: emit_batches records the rejection, release_rejected fails.
    assert states["(run)"] == "failed"
    assert (states["approve_release"], states["emit_batches"]) == ("success", "success")
    assert (states["release_rejected"], states["published"]) == ("failed", "skipped")
    assert batches(release_settings, batch_of(quarter)) == []
    with Store(release_settings.store) as store:
        [decision] = ReleaseLog(store).decisions_for(batch_of(quarter))
        audited = AuditLog(store).for_event(decision.event_id)
    assert (decision.outcome, decision.decided_by) == (Outcome.REJECTED, REVIEWER)
    assert Decision.REJECTED in [e.decision for e in audited]
    message = f"{batch_of(quarter)} v1 rejected by {REVIEWER} at"
    assert f"REJECTED: {message}" in capfd.readouterr().out
    note = airflow_api.run_note(DAG_ID, states["(run_id)"])
    assert note is not None
    assert note.startswith(f"REJECTED {quarter}: {message}")
    assert f"{message}" in render_status(release_settings)


def test_an_answer_from_someone_not_assigned_is_void_even_if_airflow_took_it(
    dag_bag: Any,
    release_settings: Settings,
    approver: Callable[..., Approver],
    airflow_api: AirflowApi,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    airflow_api.token("operator")  # logged in as operator (an admin, not an approver) …
    # … on a lax deployment: in all-admins mode the simple auth manager lets anyone answer.
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    quarter, answer, states = answered_run(release_settings, approver, ("operator", "Approve"))
    assert answer.statuses == [200]
    assert states["(run)"] == "failed"
    assert (states["approve_release"], states["emit_batches"]) == ("success", "failed")
    assert (
        "answered by operator (id operator), who is not among its approvers (zz-yjj-reviewer)"
        in capfd.readouterr().out
    )
    assert batches(release_settings, batch_of(quarter)) == []
    with Store(release_settings.store) as store:
        assert ReleaseLog(store).decisions() == []
        # The void answer is on the audit log (read by rule: the test does not know the
        # planned event's id).
        rows = store.conn.execute(
            "SELECT decision, detail FROM compliance_audit WHERE rule = 'release_approval'"
        ).fetchall()
    assert [row[0] for row in rows] == ["refused"]
    assert "answered by operator (id operator)" in rows[0][1]


def test_a_domain_whose_only_approver_triggered_the_run_cannot_be_released(
    dag_bag: Any,
    release_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    with_approvers(tmp_path, monkeypatch, f'["{TRIGGERED_BY}"]')
    quarter = just_ended()
    emit(release_settings, quarter_cases(quarter))
    states = run(quarter)
    assert states["(run)"] == "failed"
    assert states["review_release"] == "failed"
    assert f"its only approver(s) ({TRIGGERED_BY}) triggered this run" in capfd.readouterr().out
    assert batches(release_settings, batch_of(quarter)) == []


def test_a_published_quarter_run_again_is_already_published_not_a_failure(
    dag_bag: Any, release_settings: Settings, airflow_api: AirflowApi
) -> None:
    # The 2023Q2 batch went out in 2023; its penalty decisions are no longer displayed.
    emit(release_settings, samples())
    states = run("2023Q2")
    assert states["(run)"] == "success"
    assert states["prepare_batch"] == "success"
    assert (states["nothing_to_release"], states["emit_batches"]) == ("success", "skipped")
    assert len(batches(release_settings, SAMPLE_BATCH)) == 1
    note = airflow_api.run_note(DAG_ID, states["(run_id)"])
    assert note is not None
    assert note.startswith(
        f"NOTHING TO RELEASE for 2023Q2: {SAMPLE_BATCH} is already published (version 1,"
        " 2023-07-01); nothing new to release"
    )


def test_a_backdated_run_checks_display_periods_today_not_on_its_logical_date(
    dag_bag: Any,
    release_settings: Settings,
    auto_approve_allowed: None,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # The logical date picks the quarter (2023Q2); its decisions ended display in 2024.
    emit(release_settings, samples(without=[SAMPLE_BATCH]))
    states = test_run(
        DAG_ID, datetime(2023, 7, 1, 9, 0, tzinfo=RELEASE_TIMEZONE), auto_approve=True
    )
    assert states["(run)"] == "failed"
    assert states["prepare_batch"] == "failed"
    today = datetime.now(UTC).astimezone(RELEASE_TIMEZONE).date()
    assert (
        f"none of the 2 exposure candidate(s) for 2023Q2 links to a penalty decision in"
        f" effect on {today}" in capfd.readouterr().out
    )
    assert batches(release_settings, SAMPLE_BATCH) == []


def test_a_domain_without_candidates_fails_its_task_and_stops_the_release(
    dag_bag: Any,
    release_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "exposure.toml"
    config.write_text(
        '[[domains]]\nname = "安全生产"\nslug = "work-safety"\ndepartment = "zz-yjj"\n'
        'title = "{year}年第{quarter_cn}季度{domain}典型案例"\napprovers = ["zz-yjj-reviewer"]\n'
        '[[domains]]\nname = "食品安全"\nslug = "food-safety"\ndepartment = "zz-scjgj"\n'
        'title = "{year}年第{quarter_cn}季度{domain}典型案例"\napprovers = ["zz-scjgj-reviewer"]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("GOVPUB_EXPOSURE_CONFIG", str(config))
    quarter = just_ended()
    emit(release_settings, quarter_cases(quarter))
    from tests.dags.conftest import fresh_dag

    dag_run = fresh_dag(DAG_ID).test(logical_date=None, run_conf={"quarter": str(quarter)})
    assert str(dag_run.state) == "failed"
    prepared = {
        ti.map_index: (str(ti.state), ti.try_number)
        for ti in dag_run.get_task_instances()
        if ti.task_id == "prepare_batch"
    }
    # One instance per configured domain; the empty one failed at once, without retries.
    assert sorted(state for state, _ in prepared.values()) == ["failed", "success"]
    assert all(tries == 1 for _, tries in prepared.values())
    assert (
        f"domain 食品安全 (food-safety): no exposure candidates for {quarter}"
        in capfd.readouterr().out
    )
    assert batches(release_settings, batch_of(quarter)) == []
