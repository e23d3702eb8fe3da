"""The freshness report on a fixed clock: columns and accounts crossing the warning and
overdue thresholds, a working-day rule across the National Day holiday, accounts whose
posts all failed, meetings missing a replay, policies whose interpretation is broken."""

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from govpub.app.freshness import FreshnessReport, FreshnessSettings, State, check_freshness
from govpub.app.freshness.render import render_html, render_json, render_text
from govpub.deliveries import DeliveryState
from govpub.settings import Settings
from tests import factories
from tests.freshness_support import bj, record_post, write_rules
from tests.website_support import Site, at, in_department, meeting

pytestmark = pytest.mark.usefixtures("store_location")

SITE_URL = "https://www.zhuzhou.gov.cn/zwgk/"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(site_url=SITE_URL)


@pytest.fixture
def site(settings: Settings) -> Iterator[Site]:
    site = Site(settings)
    yield site
    site.close()


@pytest.fixture
def section(tmp_path: Path) -> FreshnessSettings:
    return FreshnessSettings(_env_file=None, rules=write_rules(tmp_path))


def report_at(settings: Settings, section: FreshnessSettings, moment: datetime) -> FreshnessReport:
    return check_freshness(settings, section, now=moment)


def column(report: FreshnessReport, name: str) -> Any:
    [found] = [c for c in report.columns if c.rule.name == name]
    return found


def account(report: FreshnessReport, name: str) -> Any:
    [found] = [a for a in report.accounts if a.name == name]
    return found


def penalty_at(document_id: str, occurred_at: str) -> dict[str, Any]:
    return at(factories.penalty(document_id), occurred_at)


# --- columns -----------------------------------------------------------------------------


def test_a_column_goes_from_ok_to_due_soon_to_overdue(
    settings: Settings, site: Site, section: FreshnessSettings
) -> None:
    site.publish(
        penalty_at("pen-old", "2026-10-20T10:00:00+08:00"),
        penalty_at("pen-new", "2026-11-01T16:30:00+08:00"),
    )
    # 30 calendar days after 2026-11-01: the deadline is 2026-12-01; due soon from 3 days left.
    expected = {
        bj(2026, 11, 27): (State.OK, 4),
        bj(2026, 11, 28): (State.DUE_SOON, 3),
        bj(2026, 12, 1, 23, 59): (State.DUE_SOON, 0),
        bj(2026, 12, 2, 0, 1): (State.OVERDUE, -1),
        bj(2026, 12, 20): (State.OVERDUE, -19),
    }
    for moment, (state, left) in expected.items():
        penalties = column(report_at(settings, section, moment), "penalty")
        assert penalties.last.document_id == "pen-new"
        assert penalties.last.at == bj(2026, 11, 1, 16, 30)
        assert penalties.standing.deadline == date(2026, 12, 1)
        assert (penalties.standing.state, penalties.standing.days_left) == (state, left), moment


def test_a_column_counts_what_is_shown_at_the_moment_checked(
    settings: Settings, site: Site, section: FreshnessSettings
) -> None:
    site.publish(
        penalty_at("pen-1", "2026-10-01T10:00:00+08:00"),
        penalty_at("pen-2", "2026-11-10T10:00:00+08:00"),
        penalty_at("pen-3", "2026-11-20T10:00:00+08:00"),
    )
    # The newest penalty is withdrawn, and an update of an old one is not a new document.
    site.publish(factories.retract("penalty", "pen-3", 2))
    site.publish(at(factories.penalty("pen-1", version=2), "2026-11-25T10:00:00+08:00"))
    report = report_at(settings, section, bj(2026, 11, 26))
    assert column(report, "penalty").last.document_id == "pen-2"
    # Checked as of a date before pen-2 was published: pen-1 is the newest then.
    earlier = report_at(settings, section, bj(2026, 11, 9))
    assert column(earlier, "penalty").last.document_id == "pen-1"
    assert column(earlier, "penalty").standing.state is State.OVERDUE


def test_an_empty_column_is_overdue_and_says_nothing_was_published(
    settings: Settings, section: FreshnessSettings
) -> None:
    report = report_at(settings, section, bj(2026, 11, 28))
    penalties = column(report, "penalty")
    assert penalties.last is None
    assert (penalties.standing.state, penalties.standing.deadline) == (State.OVERDUE, None)
    assert "column 行政处罚 (penalty): OVERDUE — nothing ever published" in "\n".join(
        report.problems()
    )


def test_a_working_day_rule_skips_the_national_day_holiday(
    settings: Settings, site: Site, section: FreshnessSettings
) -> None:
    # 2026: 10-01..10-07 off, Saturday 10-10 worked. Five working days after Monday
    # 09-28: 09-29, 09-30, 10-08, 10-09, 10-10 — not 10-03 as calendar days would say.
    site.publish(
        in_department(at(factories.policy("yjj-policy"), "2026-09-28T09:00:00+08:00"), "zz-yjj"),
        # Another department's policy, newer, is not in this column.
        at(factories.policy("zfb-policy"), "2026-10-09T09:00:00+08:00"),
    )
    expected = {
        bj(2026, 9, 29): (State.OK, 4),
        bj(2026, 10, 3): (State.DUE_SOON, 3),  # a holiday: still three working days left
        bj(2026, 10, 7): (State.DUE_SOON, 3),
        bj(2026, 10, 9): (State.DUE_SOON, 1),
        bj(2026, 10, 10): (State.DUE_SOON, 0),  # the make-up Saturday is the last day
        bj(2026, 10, 11): (State.OVERDUE, 0),  # Sunday after the deadline: passed
        bj(2026, 10, 12): (State.OVERDUE, -1),
    }
    for moment, (state, left) in expected.items():
        policies = column(report_at(settings, section, moment), "policy-yjj")
        assert policies.last.document_id == "yjj-policy"
        assert policies.standing.deadline == date(2026, 10, 10)
        assert (policies.standing.state, policies.standing.days_left) == (state, left), moment


# --- accounts ----------------------------------------------------------------------------


def test_an_account_goes_from_ok_to_due_soon_to_overdue(
    settings: Settings, section: FreshnessSettings
) -> None:
    record_post(settings, "wechat", "city", bj(2026, 11, 2, 20, 0), document_id="older")
    record_post(settings, "wechat", "city", bj(2026, 11, 10, 9, 30), document_id="newest")
    # 14 days after 11-10: deadline 11-24.
    expected = {
        bj(2026, 11, 20): (State.OK, 4),
        bj(2026, 11, 21): (State.DUE_SOON, 3),
        bj(2026, 11, 24, 22, 0): (State.DUE_SOON, 0),
        bj(2026, 11, 25): (State.OVERDUE, -1),
    }
    for moment, (state, left) in expected.items():
        city = account(report_at(settings, section, moment), "wechat/city")
        assert city.last.document_id == "newest"
        assert city.last.at == bj(2026, 11, 10, 9, 30)
        assert (city.standing.state, city.standing.days_left) == (state, left), moment
    # Checked before the newest post existed, the older one is the last.
    before = account(report_at(settings, section, bj(2026, 11, 9)), "wechat/city")
    assert before.last.document_id == "older"


def test_an_account_whose_posts_all_failed_is_silent(
    settings: Settings, section: FreshnessSettings
) -> None:
    record_post(settings, "weibo", "fabu", bj(2026, 11, 20), DeliveryState.FAILED)
    record_post(settings, "weibo", "fabu", bj(2026, 11, 21), DeliveryState.FAILED)
    record_post(settings, "weibo", "fabu", bj(2026, 11, 22), DeliveryState.PENDING)
    # A WeChat job accepted but never confirmed, and a post since deleted, count neither.
    record_post(settings, "wechat", "city", bj(2026, 11, 22), DeliveryState.SENT)
    record_post(settings, "wechat", "city", bj(2026, 11, 23), DeliveryState.RETRACTED)
    # Webhook endpoints are not accounts.
    record_post(settings, "webhook", "county", bj(2026, 11, 23))
    report = report_at(settings, section, bj(2026, 11, 28))
    assert [a.name for a in report.accounts] == ["wechat/city", "weibo/fabu"]
    fabu = account(report, "weibo/fabu")
    assert (fabu.last, fabu.failed_posts, fabu.standing.state) == (None, 2, State.OVERDUE)
    assert account(report, "wechat/city").standing.state is State.OVERDUE
    problems = "\n".join(report.problems())
    assert "account weibo/fabu: OVERDUE — nothing ever published" in problems
    assert "2 failed post(s)" in problems


def test_routed_accounts_without_any_record_are_listed(
    make_settings: Callable[..., Settings], section: FreshnessSettings, tmp_path: Path
) -> None:
    routes = tmp_path / "routes.toml"
    routes.write_text(
        """
[wechat.accounts.zhuzhou-gov]
app_id = "wx0123456789abcdef"
author = "株洲市人民政府"
cover_image = "cover.png"

[weibo.accounts.zhuzhou-fabu]
rip = "203.0.113.10"

[webhook.endpoints.county]
url = "https://county.example.gov.cn/hook"
""",
        encoding="utf-8",
    )
    settings = make_settings(site_url=SITE_URL, newmedia_routes=routes)
    report = report_at(settings, section, bj(2026, 11, 28))
    assert [(a.name, a.standing.state) for a in report.accounts] == [
        ("wechat/zhuzhou-gov", State.OVERDUE),
        ("weibo/zhuzhou-fabu", State.OVERDUE),
    ]


def test_the_first_rule_covering_an_account_applies(settings: Settings, tmp_path: Path) -> None:
    rules = write_rules(
        tmp_path,
        """
[[accounts]]
platform = "weibo"
accounts = ["fast"]
max_days = 2
source = "test"

[[accounts]]
platform = "weibo"
max_days = 14
source = "test"
""",
    )
    section = FreshnessSettings(_env_file=None, rules=rules)
    record_post(settings, "weibo", "slow", bj(2026, 11, 20))
    report = report_at(settings, section, bj(2026, 11, 25))
    assert [(a.name, a.rule.max_days, a.standing.state) for a in report.accounts] == [
        ("weibo/fast", 2, State.OVERDUE),  # named by a rule: listed without any record
        ("weibo/slow", 14, State.OK),
    ]
    assert report.columns == ()


# --- meetings and policies ---------------------------------------------------------------


def test_a_meeting_missing_its_replay_is_due_then_overdue(
    settings: Settings, site: Site, section: FreshnessSettings
) -> None:
    interpretation = {"title": "会议解读", "body": "<p>解读</p>"}
    site.publish(
        meeting("meeting-13", held_on="2026-11-02", video_url=None, interpretation=interpretation),
        meeting(
            "meeting-12",
            held_on="2026-10-12",
            video_url="https://video.zhuzhou.gov.cn/cwh/12.mp4",
            interpretation=interpretation,
        ),
    )
    # 20 working days after Monday 2026-11-02 is Monday 2026-11-30.
    expected = {
        bj(2026, 11, 3): (State.OK, 19),
        bj(2026, 11, 25): (State.DUE_SOON, 3),
        bj(2026, 11, 30): (State.DUE_SOON, 0),
        bj(2026, 12, 1): (State.OVERDUE, -1),
    }
    for moment, (state, left) in expected.items():
        report = report_at(settings, section, moment)
        [gap] = report.meetings  # meeting-12 has everything
        assert (gap.document_id, gap.held_on, gap.missing) == (
            "meeting-13",
            date(2026, 11, 2),
            ("video replay",),
        )
        assert gap.standing.deadline == date(2026, 11, 30)
        assert (gap.standing.state, gap.standing.days_left) == (state, left), moment
    problems = report_at(settings, section, bj(2026, 12, 1)).problems()
    assert any(
        line.startswith("meeting meeting-13 ") and "OVERDUE — missing video replay" in line
        for line in problems
    )


def test_a_meeting_whose_interpretation_link_leads_nowhere_is_listed(
    settings: Settings, site: Site, section: FreshnessSettings
) -> None:
    site.publish(
        meeting(
            "meeting-14",
            held_on="2026-11-16",
            video_url="https://video.zhuzhou.gov.cn/cwh/14.mp4",
            interpretation={"title": "解读", "url": f"{SITE_URL}policy/not-published.html"},
        )
    )
    [gap] = report_at(settings, section, bj(2026, 11, 17)).meetings
    assert gap.missing == (
        "interpretation (link https://www.zhuzhou.gov.cn/zwgk/policy/not-published.html:"
        " no such page on the portal (policy/not-published.html))",
    )
    assert gap.standing.state is State.OK  # still time to fix it


def test_policies_whose_interpretation_is_broken_or_empty(
    settings: Settings, site: Site, section: FreshnessSettings
) -> None:
    def policy(document_id: str, **payload: Any) -> dict[str, Any]:
        return at(factories.policy(document_id, **payload), "2026-11-02T09:00:00+08:00")

    site.publish(
        policy("interpretation-page", doc_class="其他", interpretation=None),
        policy("withdrawn-page", doc_class="其他", interpretation=None),
        policy("fine-body"),
        policy(
            "fine-link",
            interpretation={"title": "解读", "url": f"{SITE_URL}policy/interpretation-page.html"},
        ),
        policy("empty-body", interpretation={"title": "解读", "body": "<p>&nbsp;　</p>"}),
        policy(
            "placeholder",
            interpretation={"title": "解读", "url": "https://www.example.org/jd.html"},
        ),
        policy("intranet", interpretation={"title": "解读", "url": "http://oa/jd/1"}),
        policy(
            "to-withdrawn",
            interpretation={"title": "解读", "url": f"{SITE_URL}policy/withdrawn-page.html"},
        ),
        policy(
            "to-itself",
            doc_class="规章",
            interpretation={"title": "解读", "url": f"{SITE_URL}policy/to-itself.html"},
        ),
        # Not checked: a class that needs none, and a repealed policy.
        policy(
            "other-class", doc_class="其他", interpretation={"title": "解读", "url": "http://x"}
        ),
        policy(
            "repealed",
            validity="已废止",
            interpretation={"title": "解读", "url": "https://www.example.org/old.html"},
        ),
    )
    site.publish(factories.retract("policy", "withdrawn-page", 2, department="zz-zfb"))
    report = report_at(settings, section, bj(2026, 11, 3))
    assert {p.document_id: p.problem for p in report.policies} == {
        "empty-body": "empty: no link and no text",
        "placeholder": "link https://www.example.org/jd.html: a placeholder domain"
        " (www.example.org), not a real page",
        "intranet": "link http://oa/jd/1: not a public host name (oa)",
        "to-withdrawn": f"link {SITE_URL}policy/withdrawn-page.html: points to a withdrawn"
        " document (withdrawn-page)",
        "to-itself": f"link {SITE_URL}policy/to-itself.html: points to the page itself,"
        " not to an interpretation",
    }
    assert report.counts()["overdue"] >= 5


# --- renderings --------------------------------------------------------------------------


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts = 0
        self.text: list[str] = []
        self.csp = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.scripts += tag == "script"
        if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            self.csp = a.get("content") or ""

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


def test_the_table_json_and_page_say_the_same(
    settings: Settings, site: Site, section: FreshnessSettings
) -> None:
    site.publish(penalty_at("pen-1", "2026-11-01T10:00:00+08:00"))
    record_post(settings, "weibo", "fabu", bj(2026, 11, 20), DeliveryState.FAILED)
    report = report_at(settings, section, bj(2026, 11, 28))

    text = render_text(report)
    assert text.startswith("freshness at 2026-11-28 08:00 (Beijing time); rules: ")
    # Overdue: the empty policy-yjj column and weibo/fabu; due soon: penalties.
    assert "2 overdue, 1 due soon, 0 ok" in text
    [penalty_row] = [line for line in text.splitlines() if "(penalty)" in line]
    assert penalty_row.split()[-8:] == [
        "2026-11-01",
        "10:00",
        "2026-12-01",
        "3",
        "calendar",
        "days",
        "due",
        "soon",
    ]
    [weibo_row] = [line for line in text.splitlines() if "weibo/fabu" in line]
    assert "never (1 failed)" in weibo_row
    assert weibo_row.endswith("OVERDUE")

    data = json.loads(render_json(report))
    assert data["checked_at"] == "2026-11-28T08:00:00+08:00"
    assert data["counts"] == {"ok": 0, "due_soon": 1, "overdue": 2}
    assert data["problems"] == report.problems()
    [penalties] = [c for c in data["columns"] if c["name"] == "penalty"]
    assert penalties["deadline"] == "2026-12-01"
    assert (penalties["days_left"], penalties["state"]) == (3, "due_soon")
    assert penalties["last"]["document_id"] == "pen-1"
    assert data["accounts"] == [
        {
            "platform": "weibo",
            "account": "fabu",
            "max_days": 14,
            "unit": "calendar",
            "warning_days": 3,
            "source": "test: two weeks",
            "verify": None,
            "last": None,
            "failed_posts": 1,
            "deadline": None,
            "days_left": None,
            "state": "overdue",
        }
    ]

    page = Page()
    page.feed(render_html(report))
    assert page.scripts == 0
    assert page.csp.startswith("default-src 'none'")
    assert "weibo/fabu" in page.text
    assert "due soon" in page.text
    assert "made up for the test" in " ".join(page.text)  # a rule's verify note is shown
