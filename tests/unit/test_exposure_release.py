"""The quarterly exposure release as library code: configuration, planning against the
document catalog, approval summary and emission (no Airflow involved)."""

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from govpub.app.channels import build_runner
from govpub.app.releases import emit_batches, plan_batch, sync_catalog
from govpub.bus import Record, open_bus
from govpub.compliance.audit import AuditLog
from govpub.compliance.rules import Decision
from govpub.errors import (
    ApprovalMissing,
    BatchWithdrawn,
    CatalogBehind,
    ConfigurationError,
    NoCandidates,
    PlanOutdated,
    ReleaseRefused,
)
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from producers.releases.approval import APPROVE, REJECT, answered_decision, approval_requests
from producers.releases.exposure import (
    BatchPlan,
    ExposureConfig,
    load_exposure_config,
    release_quarter,
    review,
)
from producers.releases.log import Outcome, ReleaseDecision, ReleaseLog
from producers.releases.quarters import RELEASE_TIMEZONE, Quarter
from tests import factories
from tests.releases import SAMPLE_BATCH, bus_events, documents, emit, samples

pytestmark = pytest.mark.usefixtures("store_location")

RELEASE_DAY = datetime(2023, 7, 1, 9, 0, tzinfo=RELEASE_TIMEZONE)
Q2 = Quarter(2023, 2)
LATER = datetime(2023, 7, 3, 2, 30, tzinfo=UTC)
REVIEWER = "zz-yjj-reviewer"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def config() -> ExposureConfig:
    return load_exposure_config()


def sample_batch_payload() -> dict[str, Any]:
    [batch] = [e for e in samples() if e["document_id"] == SAMPLE_BATCH]
    payload: dict[str, Any] = batch["payload"]
    return payload


def on_bus(settings: Settings, events: list[dict[str, Any]]) -> None:
    emit(settings, events)
    sync_catalog(settings, timeout=10)


def decided(
    plan: BatchPlan, option: str = APPROVE, *, at: datetime = LATER, by: str = REVIEWER
) -> ReleaseDecision:
    """The decision an approver's answer in Airflow records for ``plan``."""
    [request] = approval_requests([plan], load_exposure_config(), triggered_by="operator")
    answer = {
        "chosen_options": [option],
        "params_input": {},
        "responded_at": at.isoformat(),
        "responded_by_user": {"id": by, "name": by},
    }
    return answered_decision(
        request, plan, answer, source="test", run_id="run-1", basis="test approval"
    )


def candidate(document_id: str, decision_ref: str, title: str = "新增典型案例") -> dict[str, Any]:
    return factories.envelope(
        "exposure",
        document_id,
        1,
        {
            "title": title,
            "domain": "安全生产",
            "candidate_quarter": "2023Q2",
            "case_summary": f"{title}的案情摘要。",
            "decision_ref": decision_ref,
        },
        department="zz-yjj",
        occurred_at="2023-06-20T09:00:00+08:00",
    )


# -- configuration ------------------------------------------------------------------------


def test_the_shipped_configuration_releases_work_safety(config: ExposureConfig) -> None:
    [domain] = config.domains
    assert (domain.name, domain.slug, domain.department) == ("安全生产", "work-safety", "zz-yjj")
    assert [a.id for a in domain.approvers] == [REVIEWER]
    assert domain.document_id(Quarter(2023, 2)) == SAMPLE_BATCH
    assert domain.render(domain.title, Quarter(2023, 2)) == sample_batch_payload()["title"]
    assert config.domain("work-safety") is domain
    with pytest.raises(ConfigurationError, match="'food' is not configured"):
        config.domain("food")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_configuration_errors_name_the_file_and_the_field(tmp_path: Path) -> None:
    path = write(
        tmp_path / "exposure.toml",
        """
[[domains]]
name = "安全生产"
slug = "Work Safety"
department = "zz-nobody"
title = "{year}年{season}"
penalty_display_days = 0
""",
    )
    with pytest.raises(ConfigurationError) as caught:
        load_exposure_config(path)
    message = str(caught.value)
    assert f"{path}: domains.0.slug: String should match pattern" in message
    assert f"{path}: domains.0.department: unknown department code 'zz-nobody'" in message
    assert f"{path}: domains.0.title: unknown placeholder(s) season" in message
    # Display periods moved to penalty-display.toml; the old key says where.
    assert (
        f"{path}: domains.0.penalty_display_days: display periods moved to the display-period"
        " file (GOVPUB_PENALTY_DISPLAY_CONFIG" in message
    )


def test_approvers_are_required_distinct_and_written_as_names_or_ids(tmp_path: Path) -> None:
    domain = (
        '[[domains]]\nname = "安全生产"\nslug = "work-safety"\ndepartment = "zz-yjj"\ntitle = "t"\n'
    )
    missing = write(tmp_path / "none.toml", domain)
    with pytest.raises(
        ConfigurationError, match=r"none\.toml: domains\.0\.approvers: Field required"
    ):
        load_exposure_config(missing)
    empty = write(tmp_path / "empty.toml", domain + "approvers = []\n")
    with pytest.raises(
        ConfigurationError, match=r"domains\.0\.approvers: List should have at least 1"
    ):
        load_exposure_config(empty)
    twice = write(
        tmp_path / "twice.toml", domain + 'approvers = ["li", { id = "li", name = "李" }]\n'
    )
    with pytest.raises(
        ConfigurationError, match=r"domains\.0\.approvers: approver\(s\) listed twice: li"
    ):
        load_exposure_config(twice)
    both = write(
        tmp_path / "both.toml", domain + 'approvers = ["li", { id = "42", name = "张三" }]\n'
    )
    [li, zhang] = load_exposure_config(both).domains[0].approvers
    assert (li.id, li.name, zhang.id, zhang.name) == ("li", "li", "42", "张三")
    assert zhang.is_user("42")
    assert zhang.is_user("张三")
    assert not zhang.is_user(None)


def test_configuration_refuses_duplicates_syntax_errors_and_no_domains(tmp_path: Path) -> None:
    domain = (
        '[[domains]]\nname = "安全生产"\nslug = "work-safety"\ndepartment = "zz-yjj"\ntitle = "t"\n'
        'approvers = ["a"]\n'
    )
    with pytest.raises(ConfigurationError, match="two domains have the name '安全生产'"):
        load_exposure_config(write(tmp_path / "twice.toml", domain + domain))
    with pytest.raises(ConfigurationError, match=r"broken\.toml: not valid TOML"):
        load_exposure_config(write(tmp_path / "broken.toml", "[[domains]\n"))
    with pytest.raises(ConfigurationError, match=r"empty\.toml: domains: Field required"):
        load_exposure_config(write(tmp_path / "empty.toml", ""))
    with pytest.raises(ConfigurationError, match=r"missing\.toml: cannot read"):
        load_exposure_config(tmp_path / "missing.toml")


def test_the_quarter_comes_from_the_param_or_the_logical_date_and_must_be_over() -> None:
    assert release_quarter(None, RELEASE_DAY, now=RELEASE_DAY) == Q2
    assert release_quarter("2023Q1", RELEASE_DAY, now=RELEASE_DAY) == Quarter(2023, 1)
    # A backdated run picks its quarter from the logical date; nothing else refers to it.
    assert release_quarter(None, RELEASE_DAY, now=LATER.replace(year=2026)) == Q2
    with pytest.raises(ReleaseRefused, match="quarter 2023Q3 has not ended on 2023-07-01"):
        release_quarter("2023Q3", RELEASE_DAY, now=RELEASE_DAY)
    # Whether a quarter is over is a matter of today, not of the logical date.
    assert release_quarter("2023Q3", RELEASE_DAY, now=LATER.replace(month=10)) == Quarter(2023, 3)


# -- planning -------------------------------------------------------------------------------


def test_a_first_release_plans_the_batch_the_work_points_ask_for(
    settings: Settings, config: ExposureConfig
) -> None:
    on_bus(settings, samples(without=[SAMPLE_BATCH]))
    plan = plan_batch(settings, config, "work-safety", Q2, now=RELEASE_DAY)
    assert (plan.action, plan.version, plan.document_id) == ("publish", 1, SAMPLE_BATCH)
    assert plan.event is not None
    assert plan.event["payload"] == sample_batch_payload()
    assert plan.event["department"] == "zz-yjj"
    assert plan.event["occurred_at"] == "2023-07-01T09:00:00+08:00"
    assert [c.decision_ref for c in plan.cases] == ["zzyj-cf-2023-0012", "zzyj-cf-2023-0015"]
    assert plan.excluded == []
    # Planning again gives the same event id: a repeated emission is recognised.
    assert plan_batch(settings, config, "work-safety", Q2, now=RELEASE_DAY).event == plan.event
    # The plan survives its trip through XCom (JSON) unchanged.
    assert BatchPlan.model_validate(json.loads(json.dumps(plan.model_dump(mode="json")))) == plan


def test_the_shipped_approval_example_plans_a_batch_that_waits_for_approval(
    settings: Settings, config: ExposureConfig
) -> None:
    """``govpub/samples/exposure-2026Q3.jsonl``, the README's example of a release that
    waits for approval (its decisions are displayed until 2029-06-30)."""
    example = resources.files("govpub").joinpath("samples/exposure-2026Q3.jsonl")
    events = [json.loads(line) for line in example.read_text("utf-8").splitlines()]
    on_bus(settings, [*samples(), *events])
    for day in (
        datetime(2026, 11, 28, tzinfo=RELEASE_TIMEZONE),
        datetime(2029, 6, 30, 9, tzinfo=RELEASE_TIMEZONE),
    ):
        plan = plan_batch(settings, config, "work-safety", Quarter(2026, 3), now=day)
        assert (plan.action, plan.version, plan.document_id) == (
            "publish",
            1,
            "exposure-2026Q3-work-safety",
        )
        assert [c.decision_ref for c in plan.cases] == ["zzyj-cf-2026-0031", "zzyj-cf-2026-0044"]
    [request] = approval_requests([plan], config, triggered_by="admin")
    assert [a.id for a in request.assigned_users] == [REVIEWER]


def test_the_released_batch_is_unchanged(settings: Settings, config: ExposureConfig) -> None:
    on_bus(settings, samples())
    plan = plan_batch(settings, config, "work-safety", Q2, now=RELEASE_DAY)
    assert (plan.action, plan.version, plan.event) == ("unchanged", 1, None)
    assert not plan.changes
    assert "unchanged since version 1, nothing to release" in review([plan])


def test_a_new_candidate_makes_an_update_of_the_same_document(
    settings: Settings, config: ExposureConfig
) -> None:
    on_bus(settings, [*samples(), candidate("exposure-candidate-2023q2-003", "zzyj-cf-2023-0012")])
    plan = plan_batch(settings, config, "work-safety", Q2, now=LATER)
    assert (plan.action, plan.version, plan.document_id) == ("update", 2, SAMPLE_BATCH)
    assert plan.event is not None
    assert plan.event["action"] == "update"
    assert len(plan.event["payload"]["cases"]) == 3
    # The update is formed when it is planned, not on the quarter's release day.
    assert plan.event["occurred_at"] == "2023-07-03T10:30:00+08:00"
    assert f"`{SAMPLE_BATCH}` — update to version 2" in review([plan])


def test_candidates_without_a_decision_in_effect_are_left_out(
    settings: Settings, config: ExposureConfig
) -> None:
    on_bus(
        settings,
        [
            *samples(without=[SAMPLE_BATCH]),
            candidate("exposure-candidate-2023q2-003", "zzyj-cf-2023-0009", "撤销决定的案件"),
            candidate("exposure-candidate-2023q2-004", "zzyj-cf-2099-0001", "未公开决定的案件"),
        ],
    )
    plan = plan_batch(settings, config, "work-safety", Q2, now=RELEASE_DAY)
    assert [c.candidate_id for c in plan.cases] == [
        "exposure-candidate-2023q2-001",
        "exposure-candidate-2023q2-002",
    ]
    reasons = {e.candidate_id: e.reason for e in plan.excluded}
    assert "was withdrawn" in reasons["exposure-candidate-2023q2-003"]
    assert "zzyj-cf-2099-0001 is not published" in reasons["exposure-candidate-2023q2-004"]
    summary = review([plan])
    assert "Left out (2):" in summary
    assert "撤销决定的案件" in summary


def test_a_domain_without_candidates_is_refused_with_its_name(
    settings: Settings, tmp_path: Path
) -> None:
    config = load_exposure_config(
        write(
            tmp_path / "exposure.toml",
            '[[domains]]\nname = "食品安全"\nslug = "food-safety"\ndepartment = "zz-scjgj"\n'
            'title = "{year}年第{quarter_cn}季度{domain}典型案例"\napprovers = ["a"]\n',
        )
    )
    on_bus(settings, samples())
    with pytest.raises(
        NoCandidates, match=r"domain 食品安全 \(food-safety\): no exposure candidates for 2023Q2"
    ):
        plan_batch(settings, config, "food-safety", Q2, now=RELEASE_DAY)


def test_no_candidate_in_effect_is_refused_with_the_reasons(
    settings: Settings, config: ExposureConfig
) -> None:
    on_bus(settings, samples(without=[SAMPLE_BATCH]))
    # A year and a day later the display period of both decisions is over.
    late = datetime(2024, 5, 20, 9, 0, tzinfo=RELEASE_TIMEZONE)
    with pytest.raises(NoCandidates) as caught:
        plan_batch(settings, config, "work-safety", Q2, now=late)
    message = str(caught.value)
    assert "none of the 2 exposure candidate(s) for 2023Q2" in message
    assert "display period of penalty decision zzyj-cf-2023-0012 ended on 2024-05-04" in message


def test_a_published_batch_with_nothing_left_to_release_is_already_published(
    settings: Settings, config: ExposureConfig
) -> None:
    # The 2023Q2 batch went out in 2023; in 2026 none of its cases is displayed any more.
    on_bus(settings, samples())
    plan = plan_batch(
        settings, config, "work-safety", Q2, now=datetime(2026, 11, 28, tzinfo=RELEASE_TIMEZONE)
    )
    assert (plan.action, plan.version, plan.event, plan.cases) == ("unchanged", 1, None, [])
    assert plan.note.startswith(
        f"{SAMPLE_BATCH} is already published (version 1, 2023-07-01); nothing new to release:"
        " domain 安全生产 (work-safety): none of the 2 exposure candidate(s)"
    )
    assert plan.note in review([plan])
    unchanged = plan_batch(settings, config, "work-safety", Q2, now=RELEASE_DAY)
    assert unchanged.note == (
        f"{SAMPLE_BATCH} is already published (version 1, 2023-07-01) with these cases;"
        " nothing to release"
    )


def test_a_withdrawn_batch_is_not_released_again(
    settings: Settings, config: ExposureConfig
) -> None:
    on_bus(settings, [*samples(), factories.retract("exposure", SAMPLE_BATCH, 2, "案例有误")])
    with pytest.raises(BatchWithdrawn, match="案例有误"):
        plan_batch(settings, config, "work-safety", Q2, now=RELEASE_DAY)


def test_a_catalog_behind_the_ledger_is_reported(
    settings: Settings, config: ExposureConfig
) -> None:
    on_bus(settings, samples(without=[SAMPLE_BATCH]))
    emit(settings, [e for e in samples() if e["document_id"] == SAMPLE_BATCH])
    with pytest.raises(CatalogBehind, match="version 1 was accepted but the catalog has none"):
        plan_batch(settings, config, "work-safety", Q2, now=RELEASE_DAY)


# -- emission -------------------------------------------------------------------------------


def test_an_approved_batch_is_emitted_dated_its_approval_and_on_record(
    settings: Settings, config: ExposureConfig
) -> None:
    on_bus(settings, samples(without=[SAMPLE_BATCH]))
    plan = plan_batch(settings, config, "work-safety", Q2, now=RELEASE_DAY)
    approval = decided(plan, at=LATER)
    [release] = emit_batches(settings, [plan], [approval], source="test", run_id="run-1")
    assert (release.document_id, release.version, release.action) == (SAMPLE_BATCH, 1, "publish")
    [event] = documents(bus_events(settings, "exposure"), SAMPLE_BATCH)
    assert event.event_id == release.event_id == plan.event["event_id"]  # type: ignore[index]
    # The publication date is the moment of approval, not the quarter's release day.
    assert event.occurred_at == LATER
    with Store(settings.store) as store:
        log = ReleaseLog(store)
        [recorded] = log.decisions()
        assert (recorded.outcome, recorded.decided_by, recorded.decided_at) == (
            Outcome.APPROVED,
            REVIEWER,
            LATER,
        )
        assert recorded.triggered_by == "operator"
        assert log.approvals_of([release.event_id]) == {release.event_id: recorded}
        [audited] = [
            e for e in AuditLog(store).for_event(release.event_id) if e.rule == "release_approval"
        ]
    assert audited.decision is Decision.APPROVED
    assert audited.department == "zz-yjj"
    assert f"approved by {REVIEWER} at 2023-07-03T02:30:00+00:00" in audited.detail

    # Repeating the emission sends nothing and records nothing twice.
    again = emit_batches(settings, [plan], [approval], source="test", run_id="run-1")
    assert [r.event_id for r in again] == [release.event_id]
    assert len(documents(bus_events(settings, "exposure"), SAMPLE_BATCH)) == 1
    with Store(settings.store) as store:
        assert len(ReleaseLog(store).decisions()) == 1
        assert [(r.event_id, r.run_id) for r in ReleaseLog(store).latest()] == [
            (release.event_id, "run-1")
        ]
        audited_rows = AuditLog(store).for_event(release.event_id)
    assert sum(1 for e in audited_rows if e.rule == "release_approval") == 1
    sync_catalog(settings, timeout=10)
    assert plan_batch(settings, config, "work-safety", Q2, now=LATER).action == "unchanged"
    assert emit_batches(settings, [], [], source="test", run_id="run-2") == []


def test_nothing_is_emitted_without_a_decision_that_allows_it(
    settings: Settings, config: ExposureConfig
) -> None:
    on_bus(settings, samples(without=[SAMPLE_BATCH]))
    plan = plan_batch(settings, config, "work-safety", Q2, now=RELEASE_DAY)
    with pytest.raises(ApprovalMissing, match=f"no decision on record for {SAMPLE_BATCH}"):
        emit_batches(settings, [plan], [], source="test", run_id="run-1")
    rejection = decided(plan, REJECT)
    assert emit_batches(settings, [plan], [rejection], source="test", run_id="run-1") == []
    assert documents(bus_events(settings, "exposure"), SAMPLE_BATCH) == []
    with Store(settings.store) as store:
        [recorded] = ReleaseLog(store).decisions_for(SAMPLE_BATCH)
        assert recorded.outcome is Outcome.REJECTED
        assert recorded.summary() == f"rejected by {REVIEWER} at 2023-07-03T02:30:00+00:00"
        event_id = str(plan.event["event_id"])  # type: ignore[index]
        [audited] = [e for e in AuditLog(store).for_event(event_id) if e.rule == "release_approval"]
    assert audited.decision is Decision.REJECTED


def test_display_periods_are_checked_on_the_day_of_the_decision(
    settings: Settings, config: ExposureConfig
) -> None:
    on_bus(settings, samples(without=[SAMPLE_BATCH]))
    # Planned while both decisions are displayed (zzyj-cf-2023-0012 until 2024-05-04)…
    plan = plan_batch(
        settings, config, "work-safety", Q2, now=datetime(2024, 4, 1, tzinfo=RELEASE_TIMEZONE)
    )
    assert len(plan.cases) == 2
    # … approved after the first one's period ended: publishing it then would be untrue.
    approval = decided(plan, at=datetime(2024, 5, 10, 9, 0, tzinfo=RELEASE_TIMEZONE))
    with pytest.raises(
        PlanOutdated,
        match="display period of penalty decision zzyj-cf-2023-0012 ended on 2024-05-04 on"
        " 2024-05-10, the day of the decision",
    ):
        emit_batches(settings, [plan], [approval], source="test", run_id="run-1")
    assert documents(bus_events(settings, "exposure"), SAMPLE_BATCH) == []


def test_a_decision_withdrawn_after_approval_stops_the_emission(
    settings: Settings, config: ExposureConfig
) -> None:
    on_bus(settings, samples(without=[SAMPLE_BATCH]))
    plan = plan_batch(settings, config, "work-safety", Q2, now=RELEASE_DAY)
    on_bus(settings, [factories.retract("penalty", "zzyj-cf-2023-0015", 2, "决定被撤销")])
    with pytest.raises(PlanOutdated, match="zzyj-cf-2023-0015 was withdrawn: 决定被撤销"):
        emit_batches(settings, [plan], [decided(plan)], source="test", run_id="run-1")
    assert documents(bus_events(settings, "exposure"), SAMPLE_BATCH) == []


def test_a_batch_published_meanwhile_stops_the_emission(
    settings: Settings, config: ExposureConfig
) -> None:
    on_bus(settings, samples(without=[SAMPLE_BATCH]))
    plan = plan_batch(settings, config, "work-safety", Q2, now=RELEASE_DAY)
    emit(settings, [e for e in samples() if e["document_id"] == SAMPLE_BATCH])
    with pytest.raises(PlanOutdated, match="version: 1 is stale"):
        emit_batches(settings, [plan], [decided(plan)], source="test", run_id="run-1")
    assert len(documents(bus_events(settings, "exposure"), SAMPLE_BATCH)) == 1


# -- catalog catch-up ---------------------------------------------------------------------------


def test_sync_waits_for_the_rest_of_the_catalog_group(settings: Settings) -> None:
    """A ``govpub consume --channel catalog`` service shares the group: the release waits
    until that member has committed its partitions too."""
    emit(settings, samples())
    topics = Topics(settings.topic_prefix)
    lock = threading.Lock()
    stop = threading.Event()
    in_flight: list[Record] = []
    with Store(settings.store) as store:
        service = build_runner(settings, "catalog", store)
        service.open()
        member = open_bus(settings).consumer(topics.content, group=service.group)

        def keep_polling() -> None:
            # The service is alive (it heartbeats by polling) but has not committed yet.
            while not stop.is_set():
                with lock:
                    in_flight.extend(member.poll(0.05, 500))
                time.sleep(0.05)

        def service_commits(_: float) -> None:
            with lock:
                in_flight.extend(member.poll(0.05, 500))
                # Records of partitions the group moved to the release's member are its
                # to deliver now (as after any rebalance).
                mine = [r for r in in_flight if r.tp in member.assignment()]
                if mine:
                    member.commit(service.process(mine))
                in_flight.clear()

        poller = threading.Thread(target=keep_polling, daemon=True)
        poller.start()
        try:
            deadline = time.monotonic() + 10
            while not in_flight and time.monotonic() < deadline:
                time.sleep(0.05)
            assert in_flight, "the service member got no records"
            with pytest.raises(CatalogBehind, match="still behind the bus"):
                sync_catalog(settings, timeout=0.3, sleep=lambda _: None)
            result = sync_catalog(settings, timeout=30, sleep=service_commits)
        finally:
            stop.set()
            poller.join()
            member.close()
            service.close()
    assert result.waited < 30
    lag = open_bus(settings).committed_lag(topics.channel_group("catalog"), topics.content)
    assert all(n <= 0 for n in lag.values())


def test_release_code_imports_without_airflow() -> None:
    code = (
        "import sys, govpub.app.dag_tasks, producers.releases.exposure,"
        " producers.releases.campaigns, govpub.app.status;"
        " sys.exit(any(m == 'airflow' or m.startswith('airflow.') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
