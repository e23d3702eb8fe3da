"""Making an event safe to publish: markup and personal data, field by field, by role.

One engine for the compliance gate (before the bus) and for the channels' re-check
(after it): what happens to a field depends on its role, declared in
:mod:`schemas.roles`, never on its name.

=================  ===============================================================
role               what happens
=================  ===============================================================
``html_body``      an allow-list of markup (nh3); personal data masked in text nodes
``plain_text``     no markup at all; personal data masked
``document_number``  no markup; identity, card and mobile numbers (and the party's
                   names) masked — its serial number is protected otherwise
``party_name``     no markup; natural persons' names anonymised, every co-party
identifier, url,   never rewritten
date, enum,
number, flag
=================  ===============================================================

Personal data: identity numbers, bank cards and mobile numbers in every kind of
document; landlines, labelled accounts and (for natural persons) addresses too in
the text of decisions (penalty, licence, enforcement) and exposures and their
withdrawal reasons; the names of the natural persons a decision concerns (its
``party``) in the decision, in exposure cases citing it and in withdrawal reasons
(found through :mod:`govpub.compliance.parties`).

Running it on its own output changes nothing (masked text has nothing left to mask).
"""

import html as html_module
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from govpub.compliance import rules
from govpub.compliance.identifiers import is_id18
from govpub.compliance.masking import (
    PERSONAL_DETAIL_HINT,
    Detection,
    Scope,
    apply_edits,
    find_numbers,
    has_number,
)
from govpub.compliance.names import NameMatcher, party_persons
from govpub.compliance.normalize import html_view, view
from govpub.compliance.parties import PartyRegister
from govpub.compliance.policy import CompliancePolicy
from govpub.compliance.rules import Decision
from govpub.compliance.sanitize import sanitize_html, strip_markup
from govpub.errors import ComplianceRefusal, EventValidationError, FieldError
from schemas import (
    AnyEvent,
    DecisionEvent,
    ExposureEvent,
    Kind,
    PartyType,
    RetractEvent,
    parse_event,
)
from schemas.roles import Role, field_roles

_FULL_SCOPE_KINDS = frozenset({Kind.PENALTY, Kind.LICENCE, Kind.ENFORCEMENT, Kind.EXPOSURE})
"""Kinds whose text is a party's: landlines and accounts are masked there too."""
_CODE_ROLES = frozenset({Role.IDENTIFIER, Role.URL})
"""Fields that cannot be masked without breaking them."""
_TAG = re.compile(r"<[^>]*>")


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
class Protection:
    """The event made safe, what was done to it, and whose names it concerns."""

    event: AnyEvent
    findings: tuple[Finding, ...] = ()
    persons: tuple[str, ...] = ()
    """Names of the natural persons this document concerns, for the party register: empty
    when there are none, or when the department publishes names (nothing was masked)."""

    @property
    def changed(self) -> bool:
        """Whether markup was removed or personal data masked."""
        return any(f.decision in (Decision.MASKED, Decision.SANITIZED) for f in self.findings)


@dataclass
class _Context:
    scope: Scope
    keep: tuple[str, ...]
    addresses: bool
    names: NameMatcher | None
    findings: list[Finding] = field(default_factory=list)


def _strings(payload: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(path, schema path, text)`` of every string in a JSON-like payload, in document
    order: ``("cases.3.title", "cases.*.title", "…")``. One pass without recursion (it
    runs on every event the gate or a channel checks)."""
    found: list[tuple[str, str, str]] = []
    stack: list[tuple[Any, str, str]] = [(payload, "", "")]
    while stack:
        value, path, pattern = stack.pop()
        if isinstance(value, str):
            found.append((path, pattern, value))
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                stack.append(
                    (item, f"{path}.{key}", f"{pattern}.{key}") if path else (item, key, key)
                )
        elif isinstance(value, list):
            for index in range(len(value) - 1, -1, -1):
                stack.append((value[index], f"{path}.{index}", f"{pattern}.*"))
    return found


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


class Protector:
    """Applies the roles' rules to events; the same for the gate and the channels."""

    def __init__(self, policy: CompliancePolicy, parties: PartyRegister) -> None:
        self.policy = policy
        self.parties = parties

    def protect(self, event: AnyEvent) -> Protection:
        """``event`` with markup removed and personal data masked; raises
        :class:`ComplianceRefusal` naming the field when it cannot be made safe."""
        self._refuse_identity_as_credit_code(event)
        findings: list[Finding] = []
        persons = self._persons(event, findings)
        kind = event.kind
        scope = Scope.FULL if kind in _FULL_SCOPE_KINDS else Scope.PERSONAL
        keep: tuple[str, ...] = ()
        natural = False
        if isinstance(event, DecisionEvent):
            party = event.payload.party
            keep = (party.credit_code,) if party.credit_code else ()
            natural = party.type is PartyType.NATURAL_PERSON
        masking_names = bool(persons) and self._masks_names(event)
        context = _Context(
            scope=scope,
            keep=keep,
            addresses=natural or bool(persons),
            names=NameMatcher(persons) if masking_names else None,
            findings=findings,
        )
        payload: dict[str, Any] = event.model_dump(mode="json", exclude_none=True)["payload"]
        roles = field_roles(type(event.payload))
        changed = False
        strings = _strings(payload)
        self._refuse_numbers_in_codes(event, strings, roles, keep)
        for path, pattern, text in strings:
            role = roles.get(pattern, Role.PLAIN_TEXT)  # unknown: the safest
            if not role.is_text:
                continue
            cleaned = self._field(text, path, role, context)
            if cleaned != text:
                _set(payload, path, cleaned)
                changed = True
        if not changed:
            return Protection(event, tuple(findings), persons if masking_names else ())
        data = event.model_dump(mode="json", exclude_none=True)
        data["payload"] = payload
        try:
            rebuilt = parse_event(data)
        except EventValidationError as exc:
            changed_by = {f.field: f.rule for f in findings}
            errors = [
                FieldError(
                    e.path,
                    f"{e.message} (after the compliance gate removed markup or masked personal data)",
                )
                for e in exc.errors
            ]
            raise ComplianceRefusal(changed_by.get(errors[0].path, "schema"), errors) from None
        return Protection(rebuilt, tuple(findings), persons if masking_names else ())

    @staticmethod
    def _refuse_identity_as_credit_code(event: AnyEvent) -> None:
        if not isinstance(event, DecisionEvent) or event.payload.party.credit_code is None:
            return
        if is_id18(event.payload.party.credit_code):
            raise ComplianceRefusal(
                rules.ID_NUMBER.id,
                [
                    FieldError(
                        "payload.credit_code",
                        "is a valid identity number (GB 11643 check character and birth date):"
                        " an identity number is never published, not even as a credit code",
                    )
                ],
            )

    @staticmethod
    def _refuse_numbers_in_codes(
        event: AnyEvent,
        strings: list[tuple[str, str, str]],
        roles: Mapping[str, Role],
        keep: tuple[str, ...],
    ) -> None:
        """An identity, card or mobile number inside a code or a URL (``document_id``
        ``pen-430203…``, ``https://…?id=…``) cannot be masked without breaking it: refused."""
        codes = [("document_id", event.document_id)]
        codes += [
            (f"payload.{path}", text)
            for path, pattern, text in strings
            if roles.get(pattern) in _CODE_ROLES
        ]
        errors = []
        rule = ""
        for path, text in codes:
            if not has_number(text):
                continue
            found = find_numbers(view(text).numerals(), scope=Scope.PERSONAL, keep=keep)
            if found:
                rule = rule or found[0].rule
                errors.append(
                    FieldError(
                        path,
                        f"holds what reads as a personal number ({found[0].rule}); a code or a"
                        " URL cannot be masked, so it must not carry one",
                    )
                )
        if errors:
            raise ComplianceRefusal(rule, errors)

    # --- whose names -------------------------------------------------------------------
    def _masks_names(self, event: AnyEvent) -> bool:
        return self.policy.masks_party_name(event.department)

    def _persons(self, event: AnyEvent, findings: list[Finding]) -> tuple[str, ...]:
        if isinstance(event, DecisionEvent):
            party = event.payload.party
            persons = party_persons(party.type, party.name)
            if persons and not self._masks_names(event):
                findings.append(
                    Finding(
                        Decision.KEPT,
                        rules.PARTY_NAME.id,
                        f"payload.{_party_name_field(event)}",
                        len(persons),
                        f"name published under the policy of {event.department}",
                    )
                )
            return persons
        if isinstance(event, ExposureEvent):
            payload = event.payload
            refs = (
                [
                    (f"payload.cases.{i}.decision_ref", c.decision_ref)
                    for i, c in enumerate(payload.cases)
                ]
                if payload.cases
                else [("payload.decision_ref", payload.decision_ref or "")]
            )
            return self._cited(refs, findings, "penalty decision")
        if isinstance(event, RetractEvent) and event.kind in _FULL_SCOPE_KINDS:
            return self._cited([("document_id", event.document_id)], findings, "document")
        return ()

    def _cited(
        self, refs: list[tuple[str, str]], findings: list[Finding], what: str
    ) -> tuple[str, ...]:
        known = self.parties.names(ref for _, ref in refs if ref)
        names: list[str] = []
        for path, ref in refs:
            if ref in known:
                names.extend(known[ref])
                continue
            findings.append(
                Finding(
                    Decision.FLAGGED,
                    rules.PARTY_NAME.id,
                    path,
                    1,
                    f"{what} {ref} is unknown to the gate: names in this text were not checked"
                    " against its party (review it before it is released)",
                )
            )
        return tuple(dict.fromkeys(names))

    # --- one field ---------------------------------------------------------------------
    def _field(self, text: str, path: str, role: Role, context: _Context) -> str:
        if role is Role.HTML_BODY:
            cleaned, rule = sanitize_html(text), rules.HTML_SANITIZE.id
        else:
            cleaned, rule = strip_markup(text), rules.TEXT_MARKUP.id
        if cleaned != text:
            context.findings.append(
                Finding(
                    Decision.SANITIZED,
                    rule,
                    f"payload.{path}",
                    1,
                    "markup outside the allow-list removed or normalised",
                )
            )
        masked, counts = _mask(cleaned, role is Role.HTML_BODY, context)
        for rule_id, count in sorted(counts.items()):
            context.findings.append(
                Finding(
                    Decision.MASKED,
                    rule_id,
                    f"payload.{path}",
                    count,
                    "natural person's name anonymised"
                    if rule_id == rules.PARTY_NAME.id
                    else "personal information masked",
                )
            )
        return masked


def _party_name_field(event: DecisionEvent) -> str:
    """The payload field that names the decision's party (its role is ``party_name``)."""
    roles = field_roles(type(event.payload))
    return next(path for path, role in roles.items() if role is Role.PARTY_NAME)


def _mask(text: str, html: bool, context: _Context) -> tuple[str, dict[str, int]]:
    """``text`` with personal data masked (text nodes only when ``html``)."""
    visible = text
    if html:  # the pre-checks read what a browser shows: no tags, entities decoded
        visible = html_module.unescape(_TAG.sub("", text)) if "<" in text or "&" in text else text
    numbers = has_number(visible)
    addresses = (
        context.addresses
        and context.scope is Scope.FULL
        and bool(PERSONAL_DETAIL_HINT.search(visible))
    )
    names = context.names is not None and context.names.might_match(visible)
    if not (numbers or addresses or names):
        return text, {}
    base = html_view(text) if html else view(text)
    detections: list[Detection] = []
    if numbers or addresses:
        detections += find_numbers(
            base.numerals(), scope=context.scope, keep=context.keep, addresses=addresses
        )
    if names and context.names is not None:
        detections += context.names.find(base)
    detections.sort(key=lambda d: d.rule != rules.HOME_ADDRESS.id)  # an address goes whole
    return apply_edits(text, detections)
