"""The compliance gate: one gate used by every way an event enters govpub.

Build it with :func:`build_gate` and hand it to the :class:`~producers.Publisher`
as its ``gate``. What only the gate does is here (the never-publish rules, publication
deadlines on the working-day calendar); the protection engine it shares with the
channels' re-check — masking, sanitising, the party register, the audit log, the rules'
names and legal sources — is :mod:`govpub.compliance`.

The names below are imported on first use, not with the package: what needs only the
documents' table (bringing the store up to date) does not load the gate."""

from typing import TYPE_CHECKING

from schemas.lazy import lazy_names

if TYPE_CHECKING:
    from producers.compliance.calendar import WorkingCalendar
    from producers.compliance.gate import ComplianceGate, Verdict, build_gate

__all__ = ["ComplianceGate", "Verdict", "WorkingCalendar", "build_gate"]

_LAZY = {
    "WorkingCalendar": "producers.compliance.calendar",
    "ComplianceGate": "producers.compliance.gate",
    "Verdict": "producers.compliance.gate",
    "build_gate": "producers.compliance.gate",
}

__getattr__ = lazy_names(__name__, _LAZY)
