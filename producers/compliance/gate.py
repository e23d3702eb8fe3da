"""The compliance gate: run on every event before it reaches the bus.

Whatever the way in — HTTP ingest, the :class:`~producers.publisher.Publisher` SDK,
``govpub emit``, the demo, the DAGs — the publisher calls the gate on each
validated event. The gate

1. refuses what must never be published (a decision about a minor, secrets, a
   security risk, an identity number given as a credit code),
2. removes markup and masks personal data field by field, by the role each field
   has in :mod:`schemas.roles` (:mod:`govpub.compliance.protect`: every kind of
   document; a decision's party, exposure cases and withdrawal reasons by name),
3. records the names it anonymised in the party register
   (:mod:`govpub.compliance.parties`), for the exposures and withdrawals that cite
   the decision later,
4. gives a penalty decision its take-down date: the end of the display period
   configured for its domain and penalty types (:mod:`producers.releases.display`),
   written into ``payload.display_until`` when the department gave none; one outside
   the configured minimum and maximum is refused,
5. flags a missed deadline (accepted, but recorded): a penalty decision published more
   than 7 working days after it was taken, a proactive disclosure more than 20 after
   the information was formed, a penalty decision's withdrawal more than 3 after the
   decision was revoked (``payload.revoked_on``),
6. writes every decision to the audit log,

and returns the event to send. Rules and legal sources: :mod:`govpub.compliance.rules`.

The gate is deterministic for a given party register (the same input gives the
same output), so resubmitting an event gives the same digest and the version
ledger's "same event_id, first answer" holds. Running it again on its own output
changes nothing and records nothing (``Publisher.prepare`` may be called twice on
one event, as ``govpub emit`` does).
"""

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from govpub.compliance import rules
from govpub.compliance.audit import AuditEntry, AuditLog, Submitter
from govpub.compliance.parties import MemoryPartyRegister, PartyRegister, StoredPartyRegister
from govpub.compliance.policy import CompliancePolicy
from govpub.compliance.protect import Finding, Protector
from govpub.compliance.rules import Decision
from govpub.errors import ComplianceRefusal, FieldError
from govpub.settings import Settings
from govpub.store import Store
from producers.compliance.calendar import WorkingCalendar
from producers.ledger import event_digest
from producers.publisher import Gate
from producers.releases.display import DisplayPeriods
from schemas import (
    Action,
    AnyEvent,
    DecisionEvent,
    EnforcementEvent,
    ExposureEvent,
    Kind,
    LicenceEvent,
    PenaltyEvent,
    RetractEvent,
)
from schemas.events import MeetingEvent, PolicyEvent

log = logging.getLogger(__name__)

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
"""Deadlines count days where the authorities work (UTC+8, no daylight saving)."""

_PRODUCED_MEMORY = 10_000

__all__ = ["ComplianceGate", "Finding", "Verdict", "build_gate"]


@dataclass(frozen=True)
class Verdict:
    """What the gate made of an event: the event to send and every finding."""

    event: AnyEvent
    findings: tuple[Finding, ...] = ()
    digest: str = ""

    @property
    def flags(self) -> list[Finding]:
        """Findings that did not change the event but must be known (missed deadlines)."""
        return [f for f in self.findings if f.decision is Decision.FLAGGED]


class ComplianceGate:
    """The compliance gate; a :data:`~producers.publisher.Gate` (call it with an event).

    ``audit`` receives every decision (``None``: decisions are only logged, for tools
    that have no state store). ``parties`` is the party register (in memory when not
    given). ``clock`` gives the publication time that deadlines are measured against.
    ``submitter`` is who the events come from unless :meth:`check` or :meth:`bind` says
    otherwise. ``display`` are the penalty display periods (the shipped ones when not
    given).
    """

    def __init__(
        self,
        policy: CompliancePolicy,
        calendar: WorkingCalendar,
        *,
        audit: AuditLog | None = None,
        parties: PartyRegister | None = None,
        clock: Callable[[], datetime] | None = None,
        submitter: Submitter | None = None,
        display: DisplayPeriods | None = None,
    ) -> None:
        self.policy = policy
        self.calendar = calendar
        self.display = display if display is not None else DisplayPeriods.load()
        self.audit = audit
        self.parties: PartyRegister = parties if parties is not None else MemoryPartyRegister()
        self.protector = Protector(policy, self.parties)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.submitter = submitter or Submitter()
        self._produced: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, event: AnyEvent) -> AnyEvent:
        """Check ``event`` as the default submitter; returns the event to send."""
        return self.check(event).event

    def bind(
        self, submitter: Submitter, *, on_verdict: Callable[[Verdict], None] | None = None
    ) -> Gate:
        """This gate for one submitter (an ingest request); ``on_verdict`` sees each verdict."""

        def gate(event: AnyEvent) -> AnyEvent:
            verdict = self.check(event, submitter=submitter)
            if on_verdict is not None:
                on_verdict(verdict)
            return verdict.event

        return gate

    def check(self, event: AnyEvent, *, submitter: Submitter | None = None) -> Verdict:
        """Apply every rule to ``event``; raises :class:`ComplianceRefusal` (or
        :class:`EventValidationError` if nothing valid is left) to refuse it."""
        submitter = submitter or self.submitter
        digest = event_digest(event)
        with self._lock:
            if digest in self._produced:
                return Verdict(event, (), digest)
        refusals = self._refusals(event)
        if refusals:
            self._record(event, submitter, refusals, None)
            raise ComplianceRefusal(
                refusals[0].rule, [FieldError(f.field, f.detail) for f in refusals]
            )
        try:
            protection = self.protector.protect(event)
        except ComplianceRefusal as exc:
            refused = [
                Finding(Decision.REFUSED, exc.rule, e.path, 1, e.message) for e in exc.errors
            ]
            self._record(event, submitter, refused, None)
            raise
        checked = self._with_display_until(protection.event)
        if isinstance(event, DecisionEvent | ExposureEvent):
            # Recorded before the event is sent: a later citation must find it.
            self.parties.record(event.document_id, protection.persons)
        findings = list(protection.findings) + self._deadlines(checked)
        digest = event_digest(checked)
        findings.append(Finding(Decision.CHECKED, "gate"))
        self._record(checked, submitter, findings, digest)
        for finding in findings:
            if finding.decision is Decision.FLAGGED:
                log.warning(
                    "%s %s: %s: %s",
                    event.kind.value,
                    event.document_id,
                    finding.rule,
                    finding.detail,
                )
        with self._lock:
            self._produced[digest] = None
            while len(self._produced) > _PRODUCED_MEMORY:
                self._produced.popitem(last=False)
        return Verdict(checked, tuple(findings), digest)

    def not_sent(
        self, events: Sequence[AnyEvent], reason: str, *, submitter: Submitter | None = None
    ) -> None:
        """Record that ``events`` passed the gate but were never sent (the file or batch
        they came in was refused), so the audit log does not read as if they were."""
        for event in events:
            self._record(
                event,
                submitter or self.submitter,
                [Finding(Decision.NOT_SENT, "gate", detail=reason)],
                None,
            )
        with self._lock:
            for event in events:
                # Sent again later, the same event must be checked (and recorded) again.
                self._produced.pop(event_digest(event), None)

    # --- rules ------------------------------------------------------------------------
    def _refusals(self, event: AnyEvent) -> list[Finding]:
        if not isinstance(event, DecisionEvent):
            return []
        # A licence has no is_minor flag: only the flags its kind declares are read.
        found = [
            Finding(Decision.REFUSED, rule.id, f"payload.{name}", 1, message)
            for name, rule, message in rules.never_publish(event.payload)
        ]
        if not isinstance(event, PenaltyEvent):
            return found  # display periods are the penalty's (行政处罚 公示期限)
        penalty = event.payload
        if penalty.display_until is not None:
            problem = self.display.terms_of(penalty).problem(
                penalty.decided_on, penalty.display_until
            )
            if problem is not None:
                found.append(
                    Finding(
                        Decision.REFUSED,
                        rules.DISPLAY_PERIOD.id,
                        "payload.display_until",
                        1,
                        problem,
                    )
                )
        return found

    def _with_display_until(self, event: AnyEvent) -> AnyEvent:
        """A penalty decision with its take-down date: its own, else its configured period's
        (computed here once; every channel and the take-down DAG read it from the event)."""
        if not isinstance(event, PenaltyEvent) or event.payload.display_until is not None:
            return event
        until = self.display.display_until(event.payload)
        payload = event.payload.model_copy(update={"display_until": until})
        return event.model_copy(update={"payload": payload})

    def _decision_deadline(self, event: DecisionEvent) -> tuple[rules.Rule, int]:
        if isinstance(event, PenaltyEvent):
            return rules.PENALTY_DEADLINE, self.policy.penalty_deadline_days
        if isinstance(event, LicenceEvent):
            return rules.LICENCE_DEADLINE, self.policy.licence_deadline_days
        assert isinstance(event, EnforcementEvent)
        return rules.ENFORCEMENT_DEADLINE, self.policy.enforcement_deadline_days

    def _deadlines(self, event: AnyEvent) -> list[Finding]:
        today = self.clock().astimezone(CHINA_STANDARD_TIME).date()
        if isinstance(event, RetractEvent):
            revoked = event.payload.revoked_on
            if event.kind is not Kind.PENALTY or revoked is None:
                return []
            return self._late(
                rules.WITHDRAWAL_DEADLINE.id,
                "payload.revoked_on",
                revoked,
                today,
                self.policy.withdrawal_deadline_days,
                "the decision was changed, revoked or found illegal",
                "行政处罚法 第四十八条、第八十五条",
            )
        if isinstance(event, DecisionEvent):
            if event.action is not Action.PUBLISH:
                return []
            rule, days = self._decision_deadline(event)
            return self._late(
                rule.id,
                "payload.decided_on",
                event.payload.decided_on,
                today,
                days,
                "the decision",
                "国办发〔2018〕118号",
            )
        proactive = isinstance(event, PolicyEvent | MeetingEvent) or (
            isinstance(event, ExposureEvent) and event.payload.is_batch
        )
        if not proactive:
            return []
        formed = event.occurred_at.astimezone(CHINA_STANDARD_TIME).date()
        return self._late(
            rules.DISCLOSURE_DEADLINE.id,
            "occurred_at",
            formed,
            today,
            self.policy.disclosure_deadline_days,
            "the information was formed or changed",
            "政府信息公开条例 第二十六条",
        )

    def _late(
        self,
        rule: str,
        path: str,
        start: date,
        today: date,
        limit: int,
        what: str,
        source: str,
    ) -> list[Finding]:
        days = self.calendar.working_days_after(start, today)
        if days <= limit:
            return []
        missing = [
            year
            for year in range(start.year, today.year + 1)
            if not self.calendar.covers(date(year, 1, 1))
        ]
        note = ""
        if missing:
            years = str(missing[0]) if len(missing) == 1 else f"{missing[0]}–{missing[-1]}"
            note = f"; no holiday data for {years}: only weekends counted as days off there"
        return [
            Finding(
                Decision.FLAGGED,
                rule,
                path,
                days,
                f"published {days} working days after {what} on {start.isoformat()} "
                f"(limit {limit}, {source}){note}",
            )
        ]

    # --- audit ------------------------------------------------------------------------
    def _record(
        self,
        event: AnyEvent,
        submitter: Submitter,
        findings: list[Finding],
        digest: str | None,
    ) -> None:
        if self.audit is None:
            return
        self.audit.record(
            [
                AuditEntry(
                    decision=f.decision,
                    rule=f.rule,
                    department=event.department,
                    submitter=submitter,
                    event_id=event.event_id,
                    document_id=event.document_id,
                    kind=event.kind.value,
                    action=event.action.value,
                    version=event.version,
                    field=f.field,
                    count=f.count,
                    detail=f.detail,
                    event_digest=digest,
                )
                for f in findings
            ]
        )


def build_gate(
    settings: Settings,
    store: Store | None,
    *,
    source: str = "sdk",
    clock: Callable[[], datetime] | None = None,
) -> ComplianceGate:
    """The gate configured by ``settings`` (policy, deadlines, holiday calendar, display
    periods), auditing into ``store``. Every entry point builds its gate here; nobody
    assembles one by hand."""
    return ComplianceGate(
        CompliancePolicy.from_settings(settings),
        WorkingCalendar.load(settings.compliance_calendar_dir),
        audit=AuditLog(store) if store is not None else None,
        parties=StoredPartyRegister(store) if store is not None else None,
        clock=clock,
        submitter=Submitter(source=source),
        display=DisplayPeriods.load(settings.penalty_display_config),
    )
