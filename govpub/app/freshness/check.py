"""Run the freshness check: read the configuration, open the store, build the report.

``govpub freshness`` and the ``freshness_check`` DAG both call :func:`check_freshness`.
"""

from contextlib import ExitStack
from dataclasses import replace
from datetime import date, datetime, time

from channels.newmedia.routing import load_routing
from channels.newmedia.settings import NewMediaSettings
from channels.website.channel import PAGE_SIZE
from channels.website.state import WebsiteState
from govpub.app.freshness.links import HttpProbe, LinkChecker
from govpub.app.freshness.read import build_report
from govpub.app.freshness.report import FreshnessReport
from govpub.app.freshness.rules import load_rules
from govpub.app.freshness.settings import FreshnessSettings
from govpub.app.freshness.standing import SHANGHAI
from govpub.deliveries import DeliveryLog
from govpub.settings import Settings, section
from govpub.store import Store
from producers.compliance.calendar import WorkingCalendar


def check_freshness(
    settings: Settings, freshness: FreshnessSettings, *, now: datetime
) -> FreshnessReport:
    """The freshness report at ``now`` (aware) over the state store of ``settings``.

    Reads the rules (``GOVPUB_FRESHNESS_RULES`` or the shipped file), the working-day
    calendar, and the accounts of the routing file (``GOVPUB_NEWMEDIA_ROUTES``, when
    set); requests links over HTTP only with ``GOVPUB_FRESHNESS_CHECK_LINKS``.
    """
    rules, rules_file = load_rules(freshness.rules)
    calendar = WorkingCalendar.load(settings.compliance_calendar_dir)
    routed: dict[str, list[str]] = {}
    new_media = section(settings, NewMediaSettings)
    routes = new_media.routes
    if routes is not None:
        routing = load_routing(routes)
        routed = {
            "wechat": sorted(routing.wechat.accounts),
            "weibo": sorted(routing.weibo.accounts),
        }
    with Store(settings.store) as store, ExitStack() as stack:
        probe = (
            stack.enter_context(HttpProbe(freshness.link_timeout))
            if freshness.check_links
            else None
        )
        website = WebsiteState(store, page_size=PAGE_SIZE)
        links = LinkChecker(
            site_url=str(settings.site_url),
            output_dir=settings.output_dir,
            website=website,
            probe=probe,
        )
        report = build_report(
            rules,
            rules_file=rules_file,
            now=now,
            calendar=calendar,
            website=website,
            deliveries=DeliveryLog(store),
            links=links,
            routed_accounts=routed,
        )
    return replace(report, posts_dry_run=new_media.dry_run)


def parse_moment(text: str) -> datetime:
    """``--at``: a date (the end of that day) or a date-time, in Beijing time unless it
    has an offset. ValueError names what was expected."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(23, 59, 59), SHANGHAI)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--at: {text!r} is not a date (2026-12-01) or a date-time (2026-12-01T08:00)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=SHANGHAI)
