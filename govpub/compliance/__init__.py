"""The protection engine shared by the compliance gate (``producers.compliance``) and the
channels' own re-check (``consumers.safety``): normalisation, masking of personal data,
party names and the party register, HTML sanitising, the audit log, the compliance
policy, and the names of the rules and decisions (:mod:`govpub.compliance.rules`).

Both sides write the same audit rows, so what the gate and a channel decided about an
event reads the same in ``compliance_audit``.
"""

from govpub.compliance.audit import AuditEntry, AuditLog, Submitter
from govpub.compliance.masking import mask_person_name, mask_text
from govpub.compliance.parties import PartyRegister, StoredPartyRegister
from govpub.compliance.policy import CompliancePolicy
from govpub.compliance.protect import Finding, Protection, Protector
from govpub.compliance.rules import RULES, Decision, Rule
from govpub.compliance.sanitize import sanitize_html, strip_markup

__all__ = [
    "RULES",
    "AuditEntry",
    "AuditLog",
    "CompliancePolicy",
    "Decision",
    "Finding",
    "PartyRegister",
    "Protection",
    "Protector",
    "Rule",
    "StoredPartyRegister",
    "Submitter",
    "mask_person_name",
    "mask_text",
    "sanitize_html",
    "strip_markup",
]
