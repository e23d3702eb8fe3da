"""Who may approve an exposure batch: the requests, the checks of an answer (four eyes,
assigned users only) and auto-approval under its setting (no Airflow involved)."""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from govpub.compliance.audit import AuditLog
from govpub.compliance.rules import RULES, Decision
from govpub.errors import ApprovalMissing, ApprovalRefused
from govpub.settings import Settings
from govpub.store import Store
from producers.releases.approval import (
    APPROVE,
    REJECT,
    answered_decision,
    approval_requests,
    auto_decisions,
    check_auto_approve,
    record_void_answer,
)
from producers.releases.exposure import BatchPlan, ExposureConfig, load_exposure_config
from producers.releases.log import Outcome

pytestmark = pytest.mark.usefixtures("store_location")

QUARTER = "2026Q3"
DOCUMENT = f"exposure-{QUARTER}-work-safety"
ANSWERED = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def config_with(tmp_path: Path, approvers: str) -> ExposureConfig:
    path = tmp_path / "exposure.toml"
    path.write_text(
        '[[domains]]\nname = "安全生产"\nslug = "work-safety"\ndepartment = "zz-yjj"\n'
        f'title = "{{year}}年第{{quarter_cn}}季度{{domain}}典型案例"\napprovers = {approvers}\n',
        encoding="utf-8",
    )
    return load_exposure_config(path)


def plan(*, changes: bool = True) -> BatchPlan:
    event = {"event_id": "e1", "department": "zz-yjj"} if changes else None
    return BatchPlan(
        quarter=QUARTER,
        domain="安全生产",
        slug="work-safety",
        document_id=DOCUMENT,
        action="publish" if changes else "unchanged",
        version=1,
        as_of=ANSWERED,
        title="2026年第三季度安全生产典型案例",
        cases=[],
        event=event,
    )


def answer(user: str, option: str = APPROVE, user_id: str | None = None) -> dict[str, Any]:
    return {
        "chosen_options": [option],
        "params_input": {},
        "responded_at": ANSWERED,
        "responded_by_user": {"id": user_id or user, "name": user},
    }


def test_each_changed_batch_is_put_to_its_approvers_but_not_to_whoever_triggered(
    tmp_path: Path,
) -> None:
    config = config_with(tmp_path, '["li", "wang", { id = "42", name = "张三" }]')
    [request] = approval_requests([plan(), plan(changes=False)], config, triggered_by="li")
    assert request.document_id == DOCUMENT
    assert request.subject == f"Release {DOCUMENT} version 1: {QUARTER} 安全生产 典型案例曝光"
    assert request.hitl_kwargs()["assigned_users"] == [
        {"id": "wang", "name": "wang"},
        {"id": "42", "name": "张三"},
    ]
    assert "May approve: wang, 张三." in request.body
    assert "li triggered this run and may not approve it." in request.body
    assert f"`{DOCUMENT}` — publish version 1" in request.body
    # The scheduler triggers nobody: every approver is asked.
    [scheduled] = approval_requests([plan()], config, triggered_by=None)
    assert [a.id for a in scheduled.assigned_users] == ["li", "wang", "42"]


def test_a_batch_whose_only_approver_triggered_the_run_is_refused(tmp_path: Path) -> None:
    config = config_with(tmp_path, '["li"]')
    with pytest.raises(
        ApprovalRefused, match=r"its only approver\(s\) \(li\) triggered this run"
    ) as caught:
        approval_requests([plan()], config, triggered_by="li")
    assert "name another approver for domain 安全生产 (work-safety)" in str(caught.value)


def test_an_answer_by_an_assigned_approver_is_the_decision_on_record(tmp_path: Path) -> None:
    config = config_with(tmp_path, '["li", { id = "42", name = "张三" }]')
    [request] = approval_requests([plan()], config, triggered_by="operator")
    approved = answered_decision(
        request, plan(), answer("张三", user_id="42"), source="dag", run_id="r1", basis="b"
    )
    assert (approved.outcome, approved.decided_by, approved.decided_by_id) == (
        Outcome.APPROVED,
        "张三",
        "42",
    )
    assert (approved.decided_at, approved.triggered_by, approved.event_id) == (
        ANSWERED,
        "operator",
        "e1",
    )
    assert approved.summary() == "approved by 张三 (id 42) at 2026-11-28T06:00:00+00:00"
    rejected = answered_decision(
        request, plan(), answer("li", REJECT), source="dag", run_id="r1", basis="b"
    )
    assert rejected.outcome is Outcome.REJECTED
    assert not rejected.outcome.publishes


def test_answers_from_anyone_else_are_void(tmp_path: Path) -> None:
    config = config_with(tmp_path, '["li", "wang"]')
    [request] = approval_requests([plan()], config, triggered_by="li")

    def decide(given: dict[str, Any] | None) -> None:
        answered_decision(request, plan(), given, source="dag", run_id="r1", basis="b")

    # The all-admins mode of the simple auth manager answers as "Anonymous".
    with pytest.raises(ApprovalRefused, match=r"answered by Anonymous \(id Anonymous\), who is"):
        decide(answer("Anonymous"))
    # The user who triggered the run, even if Airflow had let them answer.
    loose = request.model_copy(update={"assigned_users": config.domains[0].approvers})
    with pytest.raises(ApprovalRefused, match="answered by li, who triggered this run"):
        answered_decision(loose, plan(), answer("li"), source="dag", run_id="r1", basis="b")
    with pytest.raises(ApprovalRefused, match=r"the answer \['Maybe'\] is not one of"):
        decide(answer("wang", "Maybe"))
    with pytest.raises(ApprovalMissing, match="its approval request has no answer"):
        decide(None)


def test_a_void_answer_goes_on_the_audit_log(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    record_void_answer(settings, plan(), run_id="r1", reason=ApprovalRefused("answered by X"))
    with Store(settings.store) as store:
        [entry] = AuditLog(store).for_event("e1")
    assert (entry.decision, entry.rule, entry.detail) == (
        Decision.REFUSED,
        "release_approval",
        "answered by X",
    )
    assert entry.rule in RULES


def test_auto_approval_only_where_the_setting_allows_it(
    make_settings: Callable[..., Settings],
) -> None:
    strict = make_settings()
    check_auto_approve(strict, False)
    with pytest.raises(ApprovalRefused, match="GOVPUB_ALLOW_AUTO_APPROVE is not true"):
        check_auto_approve(strict, True)
    with pytest.raises(ApprovalRefused, match="GOVPUB_ALLOW_AUTO_APPROVE"):
        auto_decisions(
            strict, [plan()], decided_at=ANSWERED, source="dag", run_id="r1", triggered_by=None
        )
    allowed = make_settings(allow_auto_approve=True)
    [decision] = auto_decisions(
        allowed,
        [plan(), plan(changes=False)],
        decided_at=ANSWERED,
        source="dag",
        run_id="r1",
        triggered_by="dag_test",
    )
    assert (decision.outcome, decision.decided_by, decision.basis) == (
        Outcome.AUTO_APPROVED,
        None,
        "GOVPUB_ALLOW_AUTO_APPROVE=true",
    )
    assert decision.summary() == (
        "auto-approved at 2026-11-28T06:00:00+00:00 (GOVPUB_ALLOW_AUTO_APPROVE=true)"
    )


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from govpub.settings import load_settings

    assert load_settings().allow_auto_approve is False
    monkeypatch.setenv("GOVPUB_ALLOW_AUTO_APPROVE", "true")
    assert load_settings().allow_auto_approve is True


def test_the_run_note_and_the_rejection_name_every_batch_and_decision() -> None:
    from govpub.app.dag_tasks import exposure_rejected, release_note
    from govpub.errors import ReleaseRejected
    from producers.releases.log import Release, ReleaseDecision

    def decision(document_id: str, outcome: Outcome, by: str) -> ReleaseDecision:
        return ReleaseDecision(
            source="dag",
            run_id="r1",
            document_id=document_id,
            version=1,
            event_id=f"e-{document_id}",
            kind="exposure",
            action="publish",
            department="zz-yjj",
            title="t",
            outcome=outcome,
            decided_by=by,
            decided_by_id=by,
            decided_at=ANSWERED,
            triggered_by="admin",
            basis="b",
        )

    approved = decision("exposure-2026Q3-work-safety", Outcome.APPROVED, "li")
    rejected = decision("exposure-2026Q3-food-safety", Outcome.REJECTED, "wang")
    published = Release(
        event_id="e1",
        source="dag",
        run_id="r1",
        document_id=approved.document_id,
        kind="exposure",
        action="publish",
        version=1,
        title="t",
        emitted_at=ANSWERED,
    )
    assert release_note(QUARTER, [published], [approved, rejected]) == (
        f"PUBLISHED {QUARTER}: exposure-2026Q3-work-safety v1, approved by li at"
        f" 2026-11-28T06:00:00+00:00. REJECTED {QUARTER}: exposure-2026Q3-food-safety v1"
        " rejected by wang at 2026-11-28T06:00:00+00:00; not published."
    )
    with pytest.raises(ReleaseRejected) as caught:
        exposure_rejected(
            {
                "rejected": [f"{rejected.document_id} v1 {rejected.summary()}"],
                "published": ["exposure-2026Q3-work-safety v1 e1"],
            }
        )
    assert str(caught.value).startswith(
        "REJECTED: exposure-2026Q3-food-safety v1 rejected by wang at"
        " 2026-11-28T06:00:00+00:00. Not published. Published in this run:"
        " exposure-2026Q3-work-safety v1 e1."
    )
