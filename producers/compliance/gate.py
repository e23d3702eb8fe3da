"""The compliance gate: run on every event before it reaches the bus.

Whatever the way in — HTTP ingest, the :class:`~producers.publisher.Publisher` SDK,
``govpub emit``, the demo, the DAGs — the publisher calls the gate on each
validated event. The gate

1. refuses what must never be published (a minor, secrets, a security risk),
2. removes markup (an allow-list for HTML bodies, none in plain text),
3. anonymises a natural person's name and masks personal numbers in penalty and
   exposure text,
4. flags a missed publication deadline (accepted, but recorded),
5. writes every decision to the audit log,

and returns the event to send. Rules and legal sources: :mod:`producers.compliance.rules`.

The gate is deterministic (the same input gives the same output), so resubmitting
an event gives the same digest and the version ledger's "same event_id, first
answer" holds. Running it again on its own output changes nothing and records
nothing (``Publisher.prepare`` may be called twice on one event, as ``govpub emit`` does).
"""

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from govpub.errors import ComplianceRefusal, EventValidationError, FieldError
from govpub.settings import Settings
from govpub.store import Store
from producers.compliance import rules
from producers.compliance.audit import AuditEntry, AuditLog, Submitter
from producers.compliance.calendar import WorkingCalendar
from producers.compliance.masking import (
    mask_person_name,
    mask_text,
    split_person_name,
)
from producers.compliance.policy import CompliancePolicy
from producers.compliance.rules import Decision
from producers.compliance.sanitize import sanitize_html, strip_markup
from producers.ledger import event_digest
from producers.publisher import Gate
from schemas import Action, AnyEvent, Kind, PartyType, PenaltyEvent, RetractEvent, parse_event
from schemas.events import ExposureEvent, MeetingEvent, PolicyEvent

log = logging.getLogger(__name__)

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
"""Deadlines count days where the authorities work (UTC+8, no daylight saving)."""

_HTML_FIELDS: dict[Kind, frozenset[str]] = {
    Kind.POLICY: frozenset({"body", "interpretation.body"}),
    Kind.MEETING: frozenset({"press_release", "interpretation.body"}),
    Kind.CAMPAIGN: frozenset({"body"}),
}
"""Body-like fields that keep an allow-list of HTML (paths inside ``payload``)."""

_NOT_TEXT = frozenset(
    [
        "url",
        "video_url",
        "decision_ref",
        "superseded_by",
        "replaced_by",
        "credit_code",
        "candidate_quarter",
        "written_on",
        "effective_on",
        "decided_on",
        "display_until",
        "held_on",
        "day",
        "fine_amount",
        "party_type",
        "penalty_types",
        "doc_class",
        "validity",
        "meeting_type",
        "phase",
        "session_number",
        "is_minor",
        "involves_secrets",
        "security_risk",
    ]
)
"""Fields that are identifiers, dates, numbers or enums: never rewritten."""

_NO_PII_SCAN = frozenset({"decision_number", "doc_number", "index_number"})
"""Text fields that are document numbers: markup is removed, digits are never masked."""

_PII_KINDS = frozenset({Kind.PENALTY, Kind.EXPOSURE})
"""Kinds whose text is masked (policy bodies carry offices' published phone numbers)."""

_HARD_BLOCKS = (
    (
        "is_minor",
        rules.MINOR_PARTY,
        "the party is a minor: a penalty against a minor is never published",
    ),
    (
        "involves_secrets",
        rules.SECRETS,
        "the facts involve state or trade secrets: never published",
    ),
    (
        "security_risk",
        rules.SECURITY_RISK,
        "flagged as a security or stability risk: never published",
    ),
)

_BUSINESS_SUFFIX = re.compile(r"(店|部|行|厂|社|所|馆|场|站|坊|中心|公司|工作室|经营户|门市)$")
_PERSON_WITH_BUSINESS = re.compile(r"^(?P<a>[^（()）]{2,40})[（(](?P<b>[^（()）]{2,40})[）)]$")
_HAN_NAME = re.compile(r"^[\u3400-\u9fff·]{2,5}$")

_PRODUCED_MEMORY = 10_000


@dataclass(frozen=True)
class Finding:
    """One decision about one event: which rule did what to which field."""

    decision: Decision
    rule: str
    field: str = ""
    count: int = 0
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for the ingest API's answers)."""
        return {
            "decision": self.decision.value,
            "rule": self.rule,
            "field": self.field,
            "count": self.count,
            "detail": self.detail,
        }


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


@dataclass
class _Work:
    """The payload being rewritten, and what was done to it."""

    payload: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, str, str]]:
    """``(path, field name, text)`` of every string in a JSON-like payload."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}.{index}")
    elif isinstance(value, str):
        name = path.rsplit(".", 1)[-1]
        if name.isdigit():  # an item of a list of strings (decisions): named by the list
            name = path.rsplit(".", 2)[-2]
        yield path, name, value


def _set(payload: dict[str, Any], path: str, text: str) -> None:
    parts = path.split(".")
    node: Any = payload
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = text
    else:
        node[last] = text


def _schema_path(path: str) -> str:
    """``interpretation.body`` for ``interpretation.body``; ``cases.*.title`` for ``cases.3.title``."""
    return ".".join("*" if part.isdigit() else part for part in path.split("."))


def _person_name(party_type: PartyType, party_name: str) -> str | None:
    """The natural person's name inside ``party_name``, if there is one to protect."""
    if party_type is PartyType.NATURAL_PERSON:
        name, _ = split_person_name(party_name)
        return name or None
    if party_type is PartyType.INDIVIDUAL_BUSINESS:
        # 个体工商户 are usually named after the shop; when the operator is named beside it
        # — 张三（荷塘区某五金店） or 荷塘区某五金店（张三） — the operator's name is masked.
        match = _PERSON_WITH_BUSINESS.match(party_name)
        if match is None:
            return None
        a, b = match.group("a").strip(), match.group("b").strip()
        if _HAN_NAME.match(a) and not _BUSINESS_SUFFIX.search(a):
            return a
        if _HAN_NAME.match(b) and _BUSINESS_SUFFIX.search(a):
            return b
    return None


class ComplianceGate:
    """The compliance gate; a :data:`~producers.publisher.Gate` (call it with an event).

    ``audit`` receives every decision (``None``: decisions are only logged, for tools
    that have no state store). ``clock`` gives the publication time that deadlines are
    measured against. ``submitter`` is who the events come from unless :meth:`check`
    or :meth:`bind` says otherwise.
    """

    def __init__(
        self,
        policy: CompliancePolicy,
        calendar: WorkingCalendar,
        *,
        audit: AuditLog | None = None,
        clock: Callable[[], datetime] | None = None,
        submitter: Submitter | None = None,
    ) -> None:
        self.policy = policy
        self.calendar = calendar
        self.audit = audit
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
        work = _Work(event.model_dump(mode="json", exclude_none=True)["payload"])
        self._markup(event, work)
        if self._scans_pii(event):
            self._names(event, work)
            self._numbers(event, work)
        checked = self._rebuild(event, work, submitter)
        findings = work.findings + self._deadlines(checked)
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

    # --- rules ------------------------------------------------------------------------
    @staticmethod
    def _refusals(event: AnyEvent) -> list[Finding]:
        if not isinstance(event, PenaltyEvent):
            return []
        return [
            Finding(Decision.REFUSED, rule.id, f"payload.{name}", 1, message)
            for name, rule, message in _HARD_BLOCKS
            if getattr(event.payload, name)
        ]

    @staticmethod
    def _scans_pii(event: AnyEvent) -> bool:
        return event.kind in _PII_KINDS

    @staticmethod
    def _markup(event: AnyEvent, work: _Work) -> None:
        html_fields = _HTML_FIELDS.get(event.kind, frozenset())
        if isinstance(event, RetractEvent):
            html_fields = frozenset()
        for path, name, text in list(_walk(work.payload)):
            if name in _NOT_TEXT:
                continue
            if _schema_path(path) in html_fields:
                cleaned, rule = sanitize_html(text), rules.HTML_SANITIZE.id
            else:
                cleaned, rule = strip_markup(text), rules.TEXT_MARKUP.id
            if cleaned != text:
                _set(work.payload, path, cleaned)
                work.findings.append(
                    Finding(
                        Decision.SANITIZED,
                        rule,
                        f"payload.{path}",
                        1,
                        "markup outside the allow-list removed or normalised",
                    )
                )

    def _names(self, event: AnyEvent, work: _Work) -> None:
        if not isinstance(event, PenaltyEvent):
            return
        party_name = work.payload["party_name"]
        name = _person_name(event.payload.party_type, party_name)
        if name is None:
            return
        masked = mask_person_name(name)
        if masked == name:
            return  # already anonymised by the department
        if not self.policy.masks_party_name(event.department):
            work.findings.append(
                Finding(
                    Decision.KEPT,
                    rules.PARTY_NAME.id,
                    "payload.party_name",
                    1,
                    f"name published under the policy of {event.department}",
                )
            )
            return
        for path, prop, text in list(_walk(work.payload)):
            if prop in _NOT_TEXT or prop in _NO_PII_SCAN:
                continue
            count = text.count(name)
            if count:
                _set(work.payload, path, text.replace(name, masked))
                work.findings.append(
                    Finding(
                        Decision.MASKED,
                        rules.PARTY_NAME.id,
                        f"payload.{path}",
                        count,
                        "natural person's name anonymised",
                    )
                )

    @staticmethod
    def _numbers(event: AnyEvent, work: _Work) -> None:
        keep = [
            str(work.payload[key])
            for key in ("credit_code", "decision_number")
            if isinstance(work.payload.get(key), str)
        ]
        natural_person = (
            isinstance(event, PenaltyEvent) and event.payload.party_type is PartyType.NATURAL_PERSON
        )
        for path, prop, text in list(_walk(work.payload)):
            if prop in _NOT_TEXT or prop in _NO_PII_SCAN:
                continue
            masked = mask_text(text, keep=keep, addresses=natural_person)
            if not masked.changed:
                continue
            _set(work.payload, path, masked.text)
            for rule_id, count in sorted(masked.counts.items()):
                work.findings.append(
                    Finding(
                        Decision.MASKED,
                        rule_id,
                        f"payload.{path}",
                        count,
                        "personal information masked",
                    )
                )

    def _rebuild(self, event: AnyEvent, work: _Work, submitter: Submitter) -> AnyEvent:
        if not work.findings:
            return event
        data = event.model_dump(mode="json", exclude_none=True)
        data["payload"] = work.payload
        try:
            return parse_event(data)
        except EventValidationError as exc:
            changed = {f.field: f.rule for f in work.findings}
            errors = [
                FieldError(
                    e.path,
                    f"{e.message} (after the compliance gate removed markup or masked personal data)",
                )
                for e in exc.errors
            ]
            refusals = [
                Finding(Decision.REFUSED, changed.get(e.path, "schema"), e.path, 1, e.message)
                for e in errors
            ]
            self._record(event, submitter, refusals, None)
            raise ComplianceRefusal(refusals[0].rule, errors) from None

    def _deadlines(self, event: AnyEvent) -> list[Finding]:
        today = self.clock().astimezone(CHINA_STANDARD_TIME).date()
        if isinstance(event, PenaltyEvent):
            if event.action is not Action.PUBLISH:
                return []
            return self._late(
                rules.PENALTY_DEADLINE.id,
                "payload.decided_on",
                event.payload.decided_on,
                today,
                self.policy.penalty_deadline_days,
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
    """The gate configured by ``settings`` (policy, deadlines, holiday calendar), auditing
    into ``store``. Every entry point builds its gate here; nobody assembles one by hand."""
    return ComplianceGate(
        CompliancePolicy.from_settings(settings),
        WorkingCalendar.load(settings.compliance_calendar_dir),
        audit=AuditLog(store) if store is not None else None,
        clock=clock,
        submitter=Submitter(source=source),
    )
