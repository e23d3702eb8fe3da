"""The channels' own compliance check: every event taken from the bus is made safe again.

A record on the bus may not have come through the gate (a client writing to a topic
directly, a restored backup, an older govpub). So the runner passes every event
through :class:`ChannelGuard` before the channel renders or sends anything: the same
engine as the gate (:class:`govpub.compliance.protect.Protector`: markup by field
role, personal numbers, party names through the party register), on the channel's
side. It is idempotent — an event the gate made safe comes out unchanged, and costs
little — so live delivery, redrive and replay all run it.

When it has to change something, the gate should have caught it: the guard writes
the decisions to the audit log (``source`` ``channel:<name>``) and logs a warning.
An event it cannot make safe (nothing valid left) is refused: the runner
dead-letters it with the rule and the field, and publishes nothing. A decision
(penalty, licence, enforcement) that must never be published (a minor, secrets, a security risk) becomes a withdrawal with
the public reason, so that every channel takes down an earlier version and publishes
nothing of this one.
"""

import logging

from govpub.compliance.audit import AuditEntry, AuditLog, Submitter
from govpub.compliance.parties import MemoryPartyRegister, PartyRegister, StoredPartyRegister
from govpub.compliance.policy import CompliancePolicy
from govpub.compliance.protect import Protector
from govpub.compliance.rules import NOT_PUBLISHED_REASON, Decision, Rule, never_publish
from govpub.store import Store
from schemas import AnyEvent, DecisionEvent, RetractEvent, parse_event

log = logging.getLogger(__name__)


class ChannelGuard:
    """Re-checks events for one channel; call it with an event, get the event to deliver.

    ``store`` holds the audit log and the party register (``None``: decisions are only
    logged and the register lives in memory). ``policy`` is the deployment's compliance
    policy (which departments publish names); the default masks every name.
    """

    def __init__(
        self, channel: str, store: Store | None, policy: CompliancePolicy | None = None
    ) -> None:
        self.channel = channel
        self.audit = AuditLog(store) if store is not None else None
        self.parties: PartyRegister = (
            StoredPartyRegister(store) if store is not None else MemoryPartyRegister()
        )
        self.protector = Protector(policy or CompliancePolicy(), self.parties)
        self.submitter = Submitter(source=f"channel:{channel}")

    def __call__(self, event: AnyEvent) -> AnyEvent:
        """``event`` made safe; raises ``ComplianceRefusal`` if it cannot be."""
        if isinstance(event, DecisionEvent) and (flags := never_publish(event.payload)):
            return self._withdrawal(event, flags)
        protection = self.protector.protect(event)
        if isinstance(event, DecisionEvent) and protection.persons:
            # A decision that reached the bus with its party's name: later citations of it
            # (exposures, withdrawals) must be masked with that name too.
            self.parties.record(event.document_id, protection.persons)
        if not protection.changed:
            return protection.event
        changes = [
            f for f in protection.findings if f.decision in (Decision.MASKED, Decision.SANITIZED)
        ]
        log.warning(
            "channel %s: %s %s %s came from the bus with what the compliance gate removes"
            " (%s); the channel masked it before publishing",
            self.channel,
            event.kind.value,
            event.document_id,
            event.event_id,
            ", ".join(sorted({f"{f.rule} in {f.field}" for f in changes})),
        )
        if self.audit is not None:
            self.audit.record(
                [
                    AuditEntry(
                        decision=f.decision,
                        rule=f.rule,
                        department=event.department,
                        submitter=self.submitter,
                        event_id=event.event_id,
                        document_id=event.document_id,
                        kind=event.kind.value,
                        action=event.action.value,
                        version=event.version,
                        field=f.field,
                        count=f.count,
                        detail=f"{f.detail} (by the channel: not caught before the bus)",
                    )
                    for f in changes
                ]
            )
        return protection.event

    def _withdrawal(self, event: DecisionEvent, flags: list[tuple[str, Rule, str]]) -> RetractEvent:
        """The withdrawal that replaces a decision flagged never to be published."""
        log.warning(
            "channel %s: %s %s %s came from the bus flagged never to be published (%s);"
            " the channel withdraws it instead",
            self.channel,
            event.kind.value,
            event.document_id,
            event.event_id,
            ", ".join(f"payload.{name}" for name, _, _ in flags),
        )
        if self.audit is not None:
            self.audit.record(
                [
                    AuditEntry(
                        decision=Decision.REFUSED,
                        rule=rule.id,
                        department=event.department,
                        submitter=self.submitter,
                        event_id=event.event_id,
                        document_id=event.document_id,
                        kind=event.kind.value,
                        action=event.action.value,
                        version=event.version,
                        field=f"payload.{name}",
                        count=1,
                        detail=f"{reason} (by the channel: withdrawn instead of published)",
                    )
                    for name, rule, reason in flags
                ]
            )
        withdrawal = parse_event(
            {
                **event.model_dump(mode="json", include={"event_id", "document_id", "version"}),
                "kind": event.kind.value,
                "action": "retract",
                "department": event.department,
                "occurred_at": event.occurred_at.isoformat(),
                "payload": {"reason": NOT_PUBLISHED_REASON},
            }
        )
        assert isinstance(withdrawal, RetractEvent)
        return withdrawal
