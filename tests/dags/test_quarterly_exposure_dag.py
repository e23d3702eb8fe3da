"""``dag.test()`` of the quarterly exposure release on the embedded bus, from the sample
data to the feed items, including approval through the REST API and the re-run."""

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from govpub.settings import Settings
from producers.releases.quarters import RELEASE_TIMEZONE
from tests.dags.conftest import Approver, deliver_to_subscribers, fresh_dag, test_run
from tests.outputs import Expected, assert_published_once, feed_items
from tests.releases import SAMPLE_BATCH, bus_events, documents, emit, samples

DAG_ID = "quarterly_exposure_release"
Q3_START = datetime(2023, 7, 1, 9, 0, tzinfo=RELEASE_TIMEZONE)  # the run that releases 2023Q2
BATCH = Expected("exposure", SAMPLE_BATCH, "株洲市2023年第二季度安全生产领域“非法违法”典型案例")
# Airflow keeps one run per logical date: every run here gets its own, all releasing 2023Q2.
_MINUTES = itertools.count()


def next_moment() -> datetime:
    """A logical date early in 2023Q3 that no other run of this session used."""
    return Q3_START + timedelta(minutes=next(_MINUTES))


def run(dag_bag: Any, moment: datetime | None = None, **conf: Any) -> dict[str, str]:
    """One ``dag.test()`` run (a new DagRun); returns the task states by task id."""
    assert DAG_ID in dag_bag.dags
    return test_run(DAG_ID, moment or next_moment(), **conf)


def batches_on_bus(settings: Settings) -> list[Any]:
    return documents(bus_events(settings, "exposure"), SAMPLE_BATCH)


def test_a_release_publishes_one_batch_and_a_rerun_publishes_nothing_more(
    dag_bag: Any, release_settings: Settings
) -> None:
    settings = release_settings
    emit(settings, samples(without=[SAMPLE_BATCH]))
    release_moment = next_moment()
    states = run(dag_bag, release_moment, auto_approve=True)
    assert states["(run)"] == "success"
    assert states["auto_approved"] == "success"
    assert states["approve_release"] == "skipped"
    assert states["emit_batches"] == "success"
    [batch] = batches_on_bus(settings)
    assert (batch.action.value, batch.version, batch.department) == ("publish", 1, "zz-yjj")
    assert batch.occurred_at == release_moment
    assert batch.payload.candidate_quarter == "2023Q2"
    assert [case.decision_ref for case in batch.payload.cases] == [
        "zzyj-cf-2023-0012",
        "zzyj-cf-2023-0015",
    ]
    deliver_to_subscribers(settings)
    assert_published_once(settings.output_dir, BATCH)
    [item] = feed_items(settings.output_dir / "feeds" / "exposure.xml", BATCH.guid)
    assert "2023Q2 安全生产领域典型案例 2 起" in item.summary

    rerun = run(dag_bag, auto_approve=True)
    assert rerun["(run)"] == "success"
    assert rerun["nothing_to_release"] == "success"
    assert rerun["emit_batches"] == "skipped"
    assert [e.event_id for e in batches_on_bus(settings)] == [batch.event_id]
    deliver_to_subscribers(settings)
    assert_published_once(settings.output_dir, BATCH)


def test_on_the_full_demo_data_the_released_batch_is_left_as_it_is(
    dag_bag: Any, release_settings: Settings
) -> None:
    emit(release_settings, samples())
    states = run(dag_bag, auto_approve=True)
    assert states["(run)"] == "success"
    assert states["nothing_to_release"] == "success"
    assert [b.version for b in batches_on_bus(release_settings)] == [1]
    deliver_to_subscribers(release_settings)
    assert_published_once(release_settings.output_dir, BATCH)


def test_the_release_waits_for_approval_through_the_api(
    dag_bag: Any, release_settings: Settings, approver: Callable[[str, str], Approver]
) -> None:
    emit(release_settings, samples(without=[SAMPLE_BATCH]))
    answer = approver(DAG_ID, "Approve")
    states = run(dag_bag)  # auto_approve defaults to false: blocks until the answer
    answer.join(timeout=10)
    assert answer.status == 200
    assert answer.request is not None
    assert answer.request["subject"].startswith("Release the 2023Q2 typical-case exposure")
    assert f"`{SAMPLE_BATCH}` — publish version 1" in answer.request["body"]
    assert "张某某非法储存危险化学品案" in answer.request["body"]
    assert states["approve_release"] == "success"
    assert states["auto_approved"] == "skipped"
    assert states["emit_batches"] == "success"
    assert len(batches_on_bus(release_settings)) == 1
    deliver_to_subscribers(release_settings)
    assert_published_once(release_settings.output_dir, BATCH)


def test_a_rejected_release_emits_nothing(
    dag_bag: Any, release_settings: Settings, approver: Callable[[str, str], Approver]
) -> None:
    emit(release_settings, samples(without=[SAMPLE_BATCH]))
    answer = approver(DAG_ID, "Reject")
    states = run(dag_bag)
    answer.join(timeout=10)
    assert answer.status == 200
    assert states["approve_release"] == "success"
    assert states["emit_batches"] == "skipped"
    assert batches_on_bus(release_settings) == []


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
        'title = "{year}年第{quarter_cn}季度{domain}典型案例"\n'
        '[[domains]]\nname = "食品安全"\nslug = "food-safety"\ndepartment = "zz-scjgj"\n'
        'title = "{year}年第{quarter_cn}季度{domain}典型案例"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("GOVPUB_EXPOSURE_CONFIG", str(config))
    emit(release_settings, samples(without=[SAMPLE_BATCH]))
    dag_run = fresh_dag(DAG_ID).test(logical_date=next_moment(), run_conf={"auto_approve": True})
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
        "domain 食品安全 (food-safety): no exposure candidates for 2023Q2" in capfd.readouterr().out
    )
    assert batches_on_bus(release_settings) == []
