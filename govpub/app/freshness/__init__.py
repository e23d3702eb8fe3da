"""Freshness: which website column or new-media account is about to break its update
rule, which meeting lacks its replay or interpretation, which policy's interpretation
is broken — before an inspection finds out.

``govpub freshness`` and the ``freshness_check`` DAG run :func:`check_freshness`; the
rules are data (:mod:`govpub.app.freshness.rules`, ``GOVPUB_FRESHNESS_RULES``).
"""

from govpub.app.freshness.check import check_freshness
from govpub.app.freshness.read import build_report
from govpub.app.freshness.report import FreshnessReport
from govpub.app.freshness.rules import FreshnessRules, load_rules
from govpub.app.freshness.settings import FreshnessSettings, load_freshness_settings
from govpub.app.freshness.standing import State

__all__ = [
    "FreshnessReport",
    "FreshnessRules",
    "FreshnessSettings",
    "State",
    "build_report",
    "check_freshness",
    "load_freshness_settings",
    "load_rules",
]
