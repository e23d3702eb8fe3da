"""The compliance gate: one module tree used by every way an event enters govpub.

Build it with :func:`build_gate` and hand it to the :class:`~producers.Publisher`
as its ``gate``; rules and their legal sources are in :mod:`producers.compliance.rules`.
"""

from producers.compliance.audit import AuditEntry, AuditLog, Submitter
from producers.compliance.calendar import WorkingCalendar
from producers.compliance.gate import ComplianceGate, Finding, Verdict, build_gate
from producers.compliance.masking import mask_person_name, mask_text
from producers.compliance.parties import PartyRegister, StoredPartyRegister
from producers.compliance.policy import CompliancePolicy
from producers.compliance.protect import Protection, Protector
from producers.compliance.rules import RULES, Decision, Rule
from producers.compliance.sanitize import sanitize_html, strip_markup

__all__ = [
    "RULES",
    "AuditEntry",
    "AuditLog",
    "ComplianceGate",
    "CompliancePolicy",
    "Decision",
    "Finding",
    "PartyRegister",
    "Protection",
    "Protector",
    "Rule",
    "StoredPartyRegister",
    "Submitter",
    "Verdict",
    "WorkingCalendar",
    "build_gate",
    "mask_person_name",
    "mask_text",
    "sanitize_html",
    "strip_markup",
]
