"""Who may approve an exposure batch, and the decision that goes on record.

Each batch that changes something is put to its domain's approvers (``approvers`` in
``exposure.toml``: 谁主管、谁公开、谁审查) as one Airflow Required action, whose
``assigned_users`` are those approvers less whoever triggered the run (four eyes). The
answer is checked again before anything is emitted — answered by an assigned user,
not by the user who triggered the run — so a lax auth manager (one that lets every
user answer) cannot approve a release either. Auto-approval exists only where
``GOVPUB_ALLOW_AUTO_APPROVE`` allows it, and is then recorded as such.

Nothing here imports Airflow: requests and answers are plain JSON values.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from govpub.compliance.audit import AuditEntry, AuditLog, Submitter
from govpub.compliance.rules import RELEASE_APPROVAL, Decision
from govpub.errors import ApprovalMissing, ApprovalRefused
from govpub.settings import Settings
from govpub.store import Store
from producers.releases.exposure import Approver, BatchPlan, ExposureConfig, review
from producers.releases.log import Outcome, ReleaseDecision

APPROVE = "Approve"
REJECT = "Reject"
OPTIONS = [APPROVE, REJECT]
"""The answers of an approval request (the labels of Airflow's ApprovalOperator)."""

AUTO_APPROVE_SETTING = "GOVPUB_ALLOW_AUTO_APPROVE"


class ApprovalRequest(BaseModel):
    """One batch put to its approvers; travels between tasks as JSON."""

    model_config = ConfigDict(frozen=True)

    document_id: str
    version: int
    subject: str
    body: str
    assigned_users: list[Approver]
    triggered_by: str | None

    def hitl_kwargs(self) -> dict[str, Any]:
        """The arguments of the Airflow HITL task that asks for this approval."""
        return {
            "subject": self.subject,
            "body": self.body,
            "assigned_users": [{"id": a.id, "name": a.name} for a in self.assigned_users],
        }


def check_auto_approve(settings: Settings, requested: bool) -> None:
    """Refuse a request for auto-approval where the deployment does not allow it."""
    if requested and not settings.allow_auto_approve:
        raise ApprovalRefused(
            f"auto_approve is refused: this deployment does not allow auto-approval"
            f" ({AUTO_APPROVE_SETTING} is not true). Trigger the release without auto_approve"
            " and have one of the domain's approvers approve it under Required actions."
        )


def approval_requests(
    plans: Sequence[BatchPlan], config: ExposureConfig, *, triggered_by: str | None
) -> list[ApprovalRequest]:
    """One request per batch that changes something, assigned to its domain's approvers
    other than ``triggered_by`` (who triggered the run, as Airflow recorded it).

    Raises :class:`ApprovalRefused` if a domain's only approvers triggered the run.
    """
    requests = []
    for plan in plans:
        if not plan.changes:
            continue
        domain = config.domain(plan.slug)
        eligible = [a for a in domain.approvers if not a.is_user(triggered_by)]
        if not eligible:
            names = ", ".join(a.name for a in domain.approvers)
            raise ApprovalRefused(
                f"{plan.document_id}: its only approver(s) ({names}) triggered this run, and"
                " whoever triggers a release may not approve it. Have someone else trigger"
                " it, or name another approver for domain"
                f" {domain.name} ({domain.slug}) in the exposure configuration."
            )
        who = ", ".join(a.name for a in eligible)
        footer = [
            "---",
            "",
            f"May approve: {who}.",
            "Approving publishes the batch at once, dated the moment of approval.",
        ]
        if triggered_by:
            footer.append(f"{triggered_by} triggered this run and may not approve it.")
        requests.append(
            ApprovalRequest(
                document_id=plan.document_id,
                version=plan.version,
                subject=f"Release {plan.document_id} version {plan.version}:"
                f" {plan.quarter} {plan.domain} 典型案例曝光",
                body=review([plan]) + "\n" + "\n".join(footer) + "\n",
                assigned_users=eligible,
                triggered_by=triggered_by,
            )
        )
    return requests


def _decision(
    plan: BatchPlan,
    outcome: Outcome,
    *,
    source: str,
    run_id: str,
    decided_at: datetime,
    triggered_by: str | None,
    basis: str,
    decided_by: Approver | None = None,
) -> ReleaseDecision:
    if plan.event is None:
        raise ApprovalMissing(f"{plan.document_id}: an unchanged batch needs no decision")
    if decided_at.tzinfo is None:
        raise ApprovalRefused(f"{plan.document_id}: the decision time needs a timezone")
    return ReleaseDecision(
        source=source,
        run_id=run_id,
        document_id=plan.document_id,
        version=plan.version,
        event_id=str(plan.event["event_id"]),
        kind="exposure",
        action=plan.action,
        department=str(plan.event["department"]),
        title=plan.title,
        outcome=outcome,
        decided_by=decided_by.name if decided_by else None,
        decided_by_id=decided_by.id if decided_by else None,
        decided_at=decided_at,
        triggered_by=triggered_by,
        basis=basis,
    )


def auto_decisions(
    settings: Settings,
    plans: Sequence[BatchPlan],
    *,
    decided_at: datetime,
    source: str,
    run_id: str,
    triggered_by: str | None,
) -> list[ReleaseDecision]:
    """Auto-approve every plan that changes something; refused unless the setting allows it."""
    check_auto_approve(settings, True)
    return [
        _decision(
            plan,
            Outcome.AUTO_APPROVED,
            source=source,
            run_id=run_id,
            decided_at=decided_at,
            triggered_by=triggered_by,
            basis=f"{AUTO_APPROVE_SETTING}=true",
        )
        for plan in plans
        if plan.changes
    ]


class Answer(BaseModel):
    """An answer to an approval request, as Airflow's HITL task returns it."""

    model_config = ConfigDict(extra="ignore")

    chosen_options: list[str]
    responded_at: datetime
    responded_by_user: Approver


def answered_decision(
    request: ApprovalRequest,
    plan: BatchPlan,
    answer: Mapping[str, Any] | None,
    *,
    source: str,
    run_id: str,
    basis: str,
) -> ReleaseDecision:
    """The decision an answer records, once it is checked: one of the two options, given
    by an assigned approver who did not trigger the run. Raises :class:`ApprovalRefused`
    (and nothing is recorded as approved) otherwise."""
    if answer is None:
        raise ApprovalMissing(f"{plan.document_id}: its approval request has no answer")
    parsed = Answer.model_validate(answer)
    user = parsed.responded_by_user
    if len(parsed.chosen_options) != 1 or parsed.chosen_options[0] not in OPTIONS:
        raise ApprovalRefused(
            f"{plan.document_id}: the answer {parsed.chosen_options} is not one of {OPTIONS}"
        )
    if not any(a.id == user.id for a in request.assigned_users):
        allowed = ", ".join(a.name for a in request.assigned_users)
        raise ApprovalRefused(
            f"{plan.document_id}: answered by {user.name} (id {user.id}), who is not among"
            f" its approvers ({allowed}); the answer is void and nothing was published."
            " Airflow let this user answer: is [core] simple_auth_manager_all_admins on?"
        )
    if user.is_user(request.triggered_by):
        raise ApprovalRefused(
            f"{plan.document_id}: answered by {user.name}, who triggered this run; whoever"
            " triggers a release may not approve it. The answer is void and nothing was published."
        )
    outcome = Outcome.APPROVED if parsed.chosen_options[0] == APPROVE else Outcome.REJECTED
    return _decision(
        plan,
        outcome,
        source=source,
        run_id=run_id,
        decided_at=parsed.responded_at,
        triggered_by=request.triggered_by,
        basis=basis,
        decided_by=user,
    )


def record_void_answer(
    settings: Settings, plan: BatchPlan, *, run_id: str, reason: ApprovalRefused
) -> None:
    """Put an answer that was refused on the compliance audit log (an attempt to approve
    without being allowed to is worth a record)."""
    with Store(settings.store) as store:
        AuditLog(store).record(
            [
                AuditEntry(
                    decision=Decision.REFUSED,
                    rule=RELEASE_APPROVAL.id,
                    department=str((plan.event or {}).get("department", "")),
                    submitter=Submitter(source="dag", request_id=run_id),
                    event_id=str((plan.event or {}).get("event_id", "")) or None,
                    document_id=plan.document_id,
                    kind="exposure",
                    action=plan.action,
                    version=plan.version,
                    detail=str(reason),
                )
            ]
        )
