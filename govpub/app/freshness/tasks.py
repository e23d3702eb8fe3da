"""What the ``freshness_check`` DAG's tasks call: one function per task, plain values in
and out. Each builds the settings (``GOVPUB_*``) itself, as an entry point does.
"""

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from channels.settings import load_app_settings
from govpub.app.freshness.alert import post_alert
from govpub.app.freshness.check import check_freshness
from govpub.app.freshness.render import check_page_dir, write_page
from govpub.app.freshness.settings import load_freshness_settings
from govpub.errors import UpdateDeadlinesAtRisk

log = logging.getLogger(__name__)


def freshness_report(moment: datetime) -> dict[str, Any]:
    """The report at ``moment`` as JSON-ready values; also renders the operator page into
    ``GOVPUB_FRESHNESS_PAGE_DIR`` when it is set."""
    settings = load_app_settings()
    section = load_freshness_settings()
    if section.page_dir is not None:  # a misplaced page fails before any work is done
        check_page_dir(
            section.page_dir, output_dir=settings.output_dir, name="GOVPUB_FRESHNESS_PAGE_DIR"
        )
    report = check_freshness(settings, section, now=moment)
    if section.page_dir is not None:
        page = write_page(report, section.page_dir, output_dir=settings.output_dir)
        log.info("freshness page written to %s", page)
    counts = report.counts()
    log.info(
        "freshness at %s: %d overdue, %d due soon, %d ok",
        report.checked_at.isoformat(timespec="minutes"),
        counts["overdue"],
        counts["due_soon"],
        counts["ok"],
    )
    return report.as_dict()


def freshness_alert(report: Mapping[str, Any], *, message_id: str) -> str:
    """Post ``report`` to the alert webhook when it lists problems and one is configured;
    says what it did."""
    if not report["problems"]:
        return "nothing overdue or due soon: no alert"
    status = post_alert(report, load_freshness_settings(), message_id=message_id)
    if status is None:
        return "no alert webhook configured (GOVPUB_FRESHNESS_ALERT_URL)"
    return f"alert posted: HTTP {status}"


def freshness_verdict(report: Mapping[str, Any]) -> list[str]:
    """Raise :class:`UpdateDeadlinesAtRisk` with every problem of ``report``, if any."""
    problems = list(report["problems"])
    if problems:
        raise UpdateDeadlinesAtRisk(problems)
    return problems
