"""The compliance gate: one gate used by every way an event enters govpub.

Build it with :func:`build_gate` and hand it to the :class:`~producers.Publisher`
as its ``gate``. What only the gate does is here (the never-publish rules, publication
deadlines on the working-day calendar); the protection engine it shares with the
channels' re-check — masking, sanitising, the party register, the audit log, the rules'
names and legal sources — is :mod:`govpub.compliance`.
"""

from producers.compliance.calendar import WorkingCalendar
from producers.compliance.gate import ComplianceGate, Verdict, build_gate

__all__ = ["ComplianceGate", "Verdict", "WorkingCalendar", "build_gate"]
