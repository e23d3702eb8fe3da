"""The freshness report: for each website column and each new-media account, its last
publication, the deadline its rule gives, the days left and a state (ok, due soon,
overdue); the meetings still missing their replay or interpretation; the policies whose
interpretation is missing, empty or broken. :mod:`govpub.app.freshness.read` builds it
from the store; this module holds it and says it in words and as JSON.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from govpub.app.freshness.rules import (
    AccountRule,
    ColumnRule,
    FreshnessRules,
    Interval,
    MeetingRule,
)
from govpub.app.freshness.standing import Standing, State, left_words

PLATFORMS = ("wechat", "weibo")
"""New-media platforms with accounts (the channels are named after them)."""

REQUIREMENT_WORDS = {"video_url": "video replay", "interpretation": "interpretation"}


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
    posts_dry_run: bool = False
    """``GOVPUB_NEWMEDIA_DRY_RUN`` is on: the accounts' "posts" were recorded, never sent,
    so an inspection of the real accounts sees none of them."""

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
            "posts_dry_run": self.posts_dry_run,
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
