"""The freshness report read from the channels' own records: the website's shown
documents (columns, meeting pages, policies) and the new-media delivery records
(accounts). Nothing here writes; the same store and moment give the same report.
"""

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime

from channels.urls import SiteUrls
from channels.website.state import Document, WebsiteState
from govpub.app.freshness.links import LinkChecker, has_text
from govpub.app.freshness.report import (
    PLATFORMS,
    REQUIREMENT_WORDS,
    AccountFreshness,
    ColumnFreshness,
    FreshnessReport,
    InterpretationProblem,
    MeetingGap,
    Publication,
)
from govpub.app.freshness.rules import FreshnessRules, Interval, MeetingRule, PolicyRule
from govpub.app.freshness.standing import SHANGHAI, Standing, State, standing
from govpub.deliveries import DeliveryLog, DeliveryState
from govpub.errors import EventValidationError
from producers.compliance.calendar import WorkingCalendar
from schemas import AnyEvent, parse_event
from schemas.enums import Kind, Validity
from schemas.events import MeetingEvent, PolicyEvent
from schemas.payloads import Interpretation


def build_report(
    rules: FreshnessRules,
    *,
    rules_file: str,
    now: datetime,
    calendar: WorkingCalendar,
    website: WebsiteState,
    deliveries: DeliveryLog,
    links: LinkChecker,
    routed_accounts: Mapping[str, Iterable[str]],
) -> FreshnessReport:
    """The report at ``now`` (aware). ``routed_accounts`` are the accounts of the routing
    file by platform: an account there that never posted is listed (and overdue)."""
    if now.tzinfo is None:
        raise ValueError("build_report needs an aware datetime")
    checked_at = now.astimezone(SHANGHAI)
    today = checked_at.date()

    def stand(start: date | None, rule: Interval) -> Standing:
        return standing(
            start,
            rule,
            today=today,
            warning_days=rules.warning_for(rule),
            calendar=calendar,
        )

    columns = []
    for column in rules.columns:
        newest = website.newest_shown(column.kind.value, column.departments, until=now)
        last = None if newest is None else _shown(newest)
        columns.append(ColumnFreshness(column, last, stand(_day(last), column)))

    accounts = []
    records = deliveries.target_counts()
    confirmed = {
        platform: deliveries.latest_by_target(
            platform, DeliveryState.CONFIRMED, until=now.timestamp()
        )
        for platform in PLATFORMS
    }
    for platform, account in _known_accounts(rules, records, routed_accounts):
        rule = rules.account_rule(platform, account)
        if rule is None:
            continue
        row = confirmed[platform].get(account)
        last = (
            None
            if row is None
            else Publication(datetime.fromtimestamp(row.updated_at, SHANGHAI), row.document_id)
        )
        accounts.append(
            AccountFreshness(
                platform,
                account,
                rule,
                last,
                records.get((platform, account), {}).get(DeliveryState.FAILED.value, 0),
                stand(_day(last), rule),
            )
        )

    meetings: list[MeetingGap] = []
    if rules.meetings is not None:
        meetings = _meeting_gaps(rules.meetings, website, links, stand)
    policies: list[InterpretationProblem] = []
    if rules.policies is not None:
        policies = _interpretation_problems(rules.policies, website, links)
    return FreshnessReport(
        checked_at=checked_at,
        rules_file=rules_file,
        rules=rules,
        columns=tuple(columns),
        accounts=tuple(accounts),
        meetings=tuple(meetings),
        policies=tuple(policies),
    )


def _shown(document: Document) -> Publication:
    return Publication(
        document.published_at.astimezone(SHANGHAI), document.document_id, document.title
    )


def _day(last: Publication | None) -> date | None:
    return None if last is None else last.at.date()


def _known_accounts(
    rules: FreshnessRules,
    records: Mapping[tuple[str, str], object],
    routed: Mapping[str, Iterable[str]],
) -> list[tuple[str, str]]:
    """Accounts of the routing file, accounts with records, accounts a rule names."""
    known = {(platform, name) for platform in PLATFORMS for name in routed.get(platform, ())}
    known |= {key for key in records if key[0] in PLATFORMS}
    known |= rules.named_accounts()
    return sorted(known)


def _meeting_gaps(
    rule: MeetingRule,
    website: WebsiteState,
    links: LinkChecker,
    stand: Callable[[date | None, Interval], Standing],
) -> list[MeetingGap]:
    gaps = []
    for document in website.shown_of_kind(Kind.MEETING.value):
        page = SiteUrls.document_href(document.kind, document.document_id)
        event = _event(document)
        if not isinstance(event, MeetingEvent):
            gaps.append(
                MeetingGap(
                    document.document_id,
                    document.title,
                    document.published_at.astimezone(SHANGHAI).date(),
                    ("a readable record (the stored event does not validate)",),
                    Standing(None, None, State.OVERDUE),
                )
            )
            continue
        payload = event.payload
        missing = []
        if "video_url" in rule.require:
            if payload.video_url is None:
                missing.append(REQUIREMENT_WORDS["video_url"])
            else:
                broken = links.problem(payload.video_url, own_page=page)
                if broken is not None:
                    missing.append(f"video replay (link {payload.video_url}: {broken})")
        if "interpretation" in rule.require:
            problem = _interpretation_problem(payload.interpretation, links, page)
            if problem is not None:
                missing.append(f"interpretation ({problem})")
        if missing:
            gaps.append(
                MeetingGap(
                    document.document_id,
                    payload.title,
                    payload.held_on,
                    tuple(missing),
                    stand(payload.held_on, rule),
                )
            )
    return gaps


def _interpretation_problems(
    rule: PolicyRule, website: WebsiteState, links: LinkChecker
) -> list[InterpretationProblem]:
    found = []
    for document in website.shown_of_kind(Kind.POLICY.value):
        event = _event(document)
        if not isinstance(event, PolicyEvent):
            found.append(
                InterpretationProblem(
                    document.document_id,
                    document.title,
                    "",
                    None,
                    "the stored event does not validate; cannot check its interpretation",
                )
            )
            continue
        payload = event.payload
        if payload.doc_class not in rule.classes:
            continue
        if rule.in_force_only and payload.validity is not Validity.IN_FORCE:
            continue
        page = SiteUrls.document_href(document.kind, document.document_id)
        problem = _interpretation_problem(payload.interpretation, links, page)
        if problem is not None:
            url = None if payload.interpretation is None else payload.interpretation.url
            found.append(
                InterpretationProblem(
                    document.document_id, payload.title, payload.doc_class.value, url, problem
                )
            )
    return found


def _interpretation_problem(
    interpretation: Interpretation | None, links: LinkChecker, page: str
) -> str | None:
    """What is wrong with an interpretation: missing, empty, or its link broken."""
    if interpretation is None:
        return "missing"
    if interpretation.url is not None:
        broken = links.problem(interpretation.url, own_page=page)
        if broken is not None:
            return f"link {interpretation.url}: {broken}"
        return None
    if not has_text(interpretation.body):
        return "empty: no link and no text"
    return None


def _event(document: Document) -> AnyEvent | None:
    """The document's last event, or ``None`` when it no longer validates."""
    try:
        return parse_event(document.event)
    except EventValidationError:
        return None
