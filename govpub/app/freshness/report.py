"""The freshness report: a read model over the channels' own records.

For each website column and each new-media account: the last publication at or
before the moment checked (the website's shown documents; an account's confirmed
posts, so an account whose posts all failed is silent), the deadline its rule gives,
the days left and a state (ok, due soon, overdue). Besides: the meetings still
missing their replay or interpretation, and the policies whose interpretation is
missing, empty or broken. Nothing here writes; the same store and moment always
give the same report.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from channels.base import DeliveryState
from channels.urls import SiteUrls
from channels.website.state import Document, WebsiteState
from consumers.deliveries import DeliveryLog
from govpub.app.freshness.links import LinkChecker, has_text
from govpub.app.freshness.rules import (
    UNIT_WORDS,
    AccountRule,
    ColumnRule,
    FreshnessRules,
    Interval,
    MeetingRule,
    PolicyRule,
)
from govpub.errors import EventValidationError
from producers.compliance.calendar import WorkingCalendar
from schemas import AnyEvent, parse_event
from schemas.enums import Kind, Validity
from schemas.events import MeetingEvent, PolicyEvent
from schemas.payloads import Interpretation

SHANGHAI = ZoneInfo("Asia/Shanghai")
"""Days are counted in Beijing time, as the inspections count them."""

PLATFORMS = ("wechat", "weibo")
"""New-media platforms with accounts (the channels are named after them)."""

REQUIREMENT_WORDS = {"video_url": "video replay", "interpretation": "interpretation"}


class State(StrEnum):
    """Where something stands against its rule."""

    OK = "ok"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"

    @property
    def words(self) -> str:
        """As the table shows it."""
        return {"ok": "ok", "due_soon": "due soon", "overdue": "OVERDUE"}[self.value]


@dataclass(frozen=True)
class Standing:
    """The deadline a rule gives, the days left in the rule's unit (negative once passed;
    a working-day rule may show 0 on the weekend right after its deadline) and the state.
    Without a last publication there is no deadline: overdue."""

    deadline: date | None
    days_left: int | None
    state: State


def standing(
    start: date | None,
    rule: Interval,
    *,
    today: date,
    warning_days: int,
    calendar: WorkingCalendar,
) -> Standing:
    """Where something last done on ``start`` stands on ``today`` under ``rule``."""
    if start is None:
        return Standing(None, None, State.OVERDUE)
    if rule.unit == "working":
        deadline = calendar.add_working_days(start, rule.max_days)
        if today <= deadline:
            left = calendar.working_days_after(today, deadline)
        else:
            left = -calendar.working_days_after(deadline, today)
    else:
        deadline = start + timedelta(days=rule.max_days)
        left = (deadline - today).days
    if today > deadline:
        state = State.OVERDUE
    elif left <= warning_days:
        state = State.DUE_SOON
    else:
        state = State.OK
    return Standing(deadline, left, state)


@dataclass(frozen=True)
class Publication:
    """The last publication of a column or an account."""

    at: datetime
    document_id: str
    title: str = ""


@dataclass(frozen=True)
class ColumnFreshness:
    """A website column against its rule."""

    rule: ColumnRule
    last: Publication | None
    standing: Standing


@dataclass(frozen=True)
class AccountFreshness:
    """A new-media account against its rule; ``failed_posts`` counts its failed records."""

    platform: str
    account: str
    rule: AccountRule
    last: Publication | None
    failed_posts: int
    standing: Standing

    @property
    def name(self) -> str:
        """``platform/account``."""
        return f"{self.platform}/{self.account}"


@dataclass(frozen=True)
class MeetingGap:
    """A meeting whose page still lacks what its rule requires (``missing``, in words)."""

    document_id: str
    title: str
    held_on: date
    missing: tuple[str, ...]
    standing: Standing


@dataclass(frozen=True)
class InterpretationProblem:
    """A policy whose interpretation is missing, empty or broken; always overdue, since
    the interpretation is due with the policy (三同步)."""

    document_id: str
    title: str
    doc_class: str
    url: str | None
    problem: str


@dataclass(frozen=True)
class FreshnessReport:
    """Everything the check found, at ``checked_at``."""

    checked_at: datetime
    rules_file: str
    rules: FreshnessRules
    columns: tuple[ColumnFreshness, ...]
    accounts: tuple[AccountFreshness, ...]
    meetings: tuple[MeetingGap, ...]
    policies: tuple[InterpretationProblem, ...]

    def problems(self) -> list[str]:
        """One line per thing overdue or due soon, overdue first."""
        found: list[tuple[State, str]] = []
        for column in self.columns:
            if column.standing.state is not State.OK:
                found.append((column.standing.state, _column_line(column)))
        for account in self.accounts:
            if account.standing.state is not State.OK:
                found.append((account.standing.state, _account_line(account)))
        for meeting in self.meetings:
            if meeting.standing.state is not State.OK:
                found.append((meeting.standing.state, _meeting_line(meeting)))
        for policy in self.policies:
            found.append((State.OVERDUE, _policy_line(policy)))
        order = {State.OVERDUE: 0, State.DUE_SOON: 1}
        return [line for _, line in sorted(found, key=lambda item: order[item[0]])]

    def counts(self) -> dict[str, int]:
        """How many things are in each state (policies with a problem count as overdue)."""
        states = [c.standing.state for c in self.columns]
        states += [a.standing.state for a in self.accounts]
        states += [m.standing.state for m in self.meetings]
        states += [State.OVERDUE] * len(self.policies)
        return {state.value: states.count(state) for state in State}

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (``govpub freshness --json``, the alert body)."""
        return {
            "checked_at": self.checked_at.isoformat(timespec="seconds"),
            "rules_file": self.rules_file,
            "warning_days": self.rules.warning_days,
            "counts": self.counts(),
            "problems": self.problems(),
            "columns": [
                {
                    "name": c.rule.name,
                    "title": c.rule.title,
                    "kind": c.rule.kind.value,
                    "departments": list(c.rule.departments),
                    **_rule_dict(c.rule, self.rules.warning_for(c.rule)),
                    "last": _publication_dict(c.last),
                    **_standing_dict(c.standing),
                }
                for c in self.columns
            ],
            "accounts": [
                {
                    "platform": a.platform,
                    "account": a.account,
                    **_rule_dict(a.rule, self.rules.warning_for(a.rule)),
                    "last": _publication_dict(a.last),
                    "failed_posts": a.failed_posts,
                    **_standing_dict(a.standing),
                }
                for a in self.accounts
            ],
            "meetings": [
                {
                    "document_id": m.document_id,
                    "title": m.title,
                    "held_on": m.held_on.isoformat(),
                    "missing": list(m.missing),
                    **_standing_dict(m.standing),
                }
                for m in self.meetings
            ],
            "policies": [
                {
                    "document_id": p.document_id,
                    "title": p.title,
                    "doc_class": p.doc_class,
                    "url": p.url,
                    "problem": p.problem,
                    "state": State.OVERDUE.value,
                }
                for p in self.policies
            ],
        }


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


def _column_line(column: ColumnFreshness) -> str:
    rule = column.rule
    where = f" of {', '.join(rule.departments)}" if rule.departments else ""
    return (
        f"column {rule.title} ({rule.name}{where}): {column.standing.state.words} —"
        f" {_since(column.last, column.standing, rule)}"
    )


def _account_line(account: AccountFreshness) -> str:
    failed = f"; {account.failed_posts} failed post(s)" if account.failed_posts else ""
    return (
        f"account {account.name}: {account.standing.state.words} —"
        f" {_since(account.last, account.standing, account.rule)}{failed}"
    )


def _meeting_line(meeting: MeetingGap) -> str:
    deadline = meeting.standing.deadline
    by = f"; due by {deadline.isoformat()}" if deadline is not None else ""
    return (
        f"meeting {meeting.document_id} {meeting.title} (held {meeting.held_on.isoformat()}):"
        f" {meeting.standing.state.words} — missing {'; '.join(meeting.missing)}{by}"
    )


def _policy_line(policy: InterpretationProblem) -> str:
    return (
        f"policy {policy.document_id} {policy.title} ({policy.doc_class}):"
        f" interpretation {policy.problem}"
    )


def _since(last: Publication | None, place: Standing, rule: Interval) -> str:
    if last is None or place.deadline is None:
        return f"nothing ever published (rule: {rule.describe()})"
    text = (
        f"last published {last.at.date().isoformat()}, deadline {place.deadline.isoformat()}"
        f" ({rule.describe()})"
    )
    if place.state is State.OVERDUE:
        return text
    return f"{left_words(place.days_left or 0, rule)} left; {text}"


def left_words(days: int, rule: Interval) -> str:
    """``3 calendar days`` / ``1 working day``."""
    unit = UNIT_WORDS[rule.unit]
    return f"{days} {unit.removesuffix('s') if days == 1 else unit}"


def requirement_words(rule: MeetingRule) -> str:
    """``video replay or interpretation (20 working days after the meeting)``."""
    wanted = " or ".join(REQUIREMENT_WORDS[name] for name in rule.require)
    return f"{wanted} ({rule.describe()} after the meeting)"


def _rule_dict(rule: Interval, warning_days: int) -> dict[str, Any]:
    return {
        "max_days": rule.max_days,
        "unit": rule.unit,
        "warning_days": warning_days,
        "source": rule.source,
        "verify": rule.verify,
    }


def _publication_dict(last: Publication | None) -> dict[str, Any] | None:
    if last is None:
        return None
    return {
        "at": last.at.isoformat(timespec="seconds"),
        "document_id": last.document_id,
        "title": last.title or None,
    }


def _standing_dict(place: Standing) -> dict[str, Any]:
    return {
        "deadline": None if place.deadline is None else place.deadline.isoformat(),
        "days_left": place.days_left,
        "state": place.state.value,
    }
