"""Document pages of every kind: every public field, the standards every page meets."""

import json
from collections.abc import Callable, Iterator
from html.parser import HTMLParser

import pytest

from govpub.deliveries import DeliveryState
from govpub.settings import Settings
from tests import factories
from tests.website_support import Site, campaign, exposure_batch, exposure_candidate, meeting


@pytest.fixture
def site(make_settings: Callable[..., Settings]) -> Iterator[Site]:
    site = Site(make_settings(site_url="https://www.zhuzhou.gov.cn/zwgk/"))
    yield site
    site.close()


class Outline(HTMLParser):
    """What a page is made of: headings, links, scripts, attributes that run code."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.charset: str | None = None
        self.headings: list[str] = []
        self.alternates: list[tuple[str, str]] = []
        self.links: list[str] = []
        self.scripts = 0
        self.handlers: list[str] = []
        self._tag: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "meta" and "charset" in a:
            self.charset = a["charset"]
        if tag == "script":
            self.scripts += 1
        if tag == "link" and a.get("rel") == "alternate":
            self.alternates.append((a.get("type") or "", a.get("href") or ""))
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        self.handlers += [name for name in a if name.startswith("on")]
        if tag in ("h1", "h2", "h3"):
            self._tag = tag

    def handle_data(self, data: str) -> None:
        if self._tag and data.strip():
            self.headings.append(f"{self._tag}:{data.strip()}")
            self._tag = None


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser


def assert_standard_page(html: str) -> Outline:
    page = outline(html)
    assert html.startswith("<!DOCTYPE html>")
    assert page.lang == "zh-CN"
    assert page.charset == "utf-8"
    assert [h for h in page.headings if h.startswith("h1:")], "one h1 per page"
    assert len([h for h in page.headings if h.startswith("h1:")]) == 1
    assert page.scripts == 0
    assert page.handlers == []
    return page


def test_policy_page_shows_every_public_field(site: Site) -> None:
    site.publish(
        factories.policy(
            "zzzb-2023-0005",
            index_number="430200-2023-00005",
            effective_on="2023-04-15",
            attachments=[{"title": "收费目录清单", "url": "https://www.example.org/fees.pdf"}],
        )
    )
    html = site.text("policy/zzzb-2023-0005.html")
    page = assert_standard_page(html)
    for text in (
        "关于进一步优化营商环境的若干措施",
        "株政办发〔2023〕5号",
        "430200-2023-00005",
        "株洲市人民政府办公室",
        "行政规范性文件",
        "2023-03-15",
        "2023-04-15",
        "现行有效",
        "为打造一流营商环境，现提出以下措施。",
        "解读内容",
        "收费目录清单",
    ):
        assert text in html, text
    assert "h2:政策解读" in page.headings
    assert "https://www.example.org/fees.pdf" in page.links
    assert "validity-notice" not in html  # in force: no warning


@pytest.mark.parametrize(
    ("validity", "notice"),
    [("已修订", "本文件已修订"), ("已废止", "本文件已废止"), ("已失效", "本文件已失效")],
)
def test_policy_not_in_force_is_shown_prominently(site: Site, validity: str, notice: str) -> None:
    site.publish(factories.policy("p1"))
    site.publish(factories.policy("p1", 2, validity=validity, superseded_by="p2"))
    html = site.text("policy/p1.html")
    assert f'class="validity-notice" role="note"><strong>{notice}</strong>' in html
    assert html.index(notice) < html.index('<dl class="facts">')  # above the details
    assert 'href="p2.html"' in html
    # The list shows it too.
    assert f'<strong class="badge">{validity}</strong>' in site.text("policy/index.html")


def test_policy_interpretation_by_link(site: Site) -> None:
    site.publish(
        factories.policy(
            "p1", interpretation={"title": "图解", "url": "https://www.example.org/jd.html"}
        )
    )
    page = outline(site.text("policy/p1.html"))
    assert "https://www.example.org/jd.html" in page.links
    assert "h2:图解" in page.headings


def test_penalty_page_shows_the_decision(site: Site) -> None:
    site.publish(
        factories.penalty(
            "pen-1",
            penalty_types=["警告", "罚款", "没收违法所得"],
            fine_amount="1234567.5",
            display_until="2024-05-05",
        )
    )
    html = site.text("penalty/pen-1.html")
    assert_standard_page(html)
    for text in (
        "（株）应急罚〔2023〕12号",
        "株洲示例化工有限公司",
        "91430211MA4PXR123G",
        "未按规定对重大危险源进行定期检测、评估。",
        "《中华人民共和国安全生产法》第九十七条",
        "警告、罚款、没收违法所得",
        "1,234,567.50 元",
        "株洲市应急管理局",
        "2023-05-05",
        "安全生产",
        "2024-05-05",
    ):
        assert text in html, text


def test_penalty_against_a_person_shows_the_masked_name_and_no_code(site: Site) -> None:
    site.publish(
        factories.penalty(
            "pen-2",
            party_type="自然人",
            party_name="张某某",
            credit_code=None,  # a natural person has none (the schema refuses one)
            penalty_types=["警告"],
            fine_amount=None,
        )
    )
    html = site.text("penalty/pen-2.html")
    assert '<dd class="party">张某某</dd>' in html
    assert "91430211MA4PXR123G" not in html
    assert "罚款金额" not in html


@pytest.mark.parametrize("flag", ["is_minor", "involves_secrets", "security_risk"])
def test_penalty_that_must_never_be_published(site: Site, flag: str) -> None:
    [outcome] = site.publish(factories.penalty("pen-3", **{flag: True}))
    assert outcome is not None
    assert outcome.state is DeliveryState.SKIPPED
    assert not site.exists("penalty/pen-3.html")
    # Published first, flagged later: the page is withdrawn with a neutral public reason.
    site.publish(factories.penalty("pen-4"))
    [outcome] = site.publish(factories.penalty("pen-4", 2, **{flag: True}))
    assert outcome is not None
    assert outcome.state is DeliveryState.RETRACTED
    html = site.text("penalty/pen-4.html")
    assert "依据相关法律法规，该信息不予公开。" in html
    assert "未按规定对重大危险源" not in html
    assert "pen-4.html" not in site.text("penalty/index.html")


def test_licence_page_shows_the_decision(site: Site) -> None:
    site.publish(factories.licence("lic-1", content="经营范围：工业用化学品。"))
    html = site.text("licence/lic-1.html")
    page = assert_standard_page(html)
    assert "h2:许可依据" in page.headings
    for text in (
        "株应急许〔2023〕8号",
        '<dd class="party">株洲示例化工有限公司</dd>',
        "91430211MA4PXR123G",
        "危险化学品经营许可",
        '<dd class="decision">准予</dd>',
        "湘株危化经字〔2023〕000008",
        "经营范围：工业用化学品。",
        "《危险化学品安全管理条例》第三十三条",
        '<time datetime="2026-05-04">2026-05-04</time>',
    ):
        assert text in html, text
    assert "株应急许〔2023〕8号 · 危险化学品经营许可 · 准予" in site.text("licence/index.html")
    assert "licence/lic-1.html" in site.text("dept/zz-yjj/index.html")


def test_a_refused_licence_to_a_person_shows_reasons_and_no_code(site: Site) -> None:
    site.publish(
        factories.licence(
            "lic-2",
            applicant_type="自然人",
            applicant="李某某",
            decision="不予",
            reasons="驾龄不满三年。",
        )
    )
    html = site.text("licence/lic-2.html")
    assert '<dd class="party">李某某</dd>' in html
    assert "h2:理由" in outline(html).headings
    assert "驾龄不满三年。" in html
    assert "统一社会信用代码" not in html


def test_enforcement_page_shows_the_measures_and_their_category(site: Site) -> None:
    site.publish(factories.enforcement("enf-1", measures=["查封", "代履行"], amount="3000"))
    html = site.text("enforcement/enf-1.html")
    assert_standard_page(html)
    for text in (
        "株应急强制〔2023〕3号",
        "查封（行政强制措施）、代履行（行政强制执行）",
        "3,000.00 元",
        "芦淞区某仓库内储存的危险化学品及其储存设施",
        "《中华人民共和国行政强制法》第二十二条",
        '<time datetime="2023-06-03">2023-06-03</time>',
        "安全生产",
    ):
        assert text in html, text
    api = site.text("api/enforcement.json")
    assert '"id":"enf-1"' in api


@pytest.mark.parametrize(
    ("factory", "kind", "flag"),
    [
        (factories.enforcement, "enforcement", "is_minor"),
        (factories.licence, "licence", "involves_secrets"),
    ],
)
def test_decisions_that_must_never_be_published(
    site: Site, factory: Callable[..., dict[str, object]], kind: str, flag: str
) -> None:
    [outcome] = site.publish(factory("dec-1", **{flag: True}))
    assert outcome is not None
    assert outcome.state is DeliveryState.SKIPPED
    assert not site.exists(f"{kind}/dec-1.html")
    site.publish(factory("dec-2"))
    [outcome] = site.publish(factory("dec-2", 2, **{flag: True}))
    assert outcome is not None
    assert outcome.state is DeliveryState.RETRACTED
    assert "依据相关法律法规，该信息不予公开。" in site.text(f"{kind}/dec-2.html")


def test_report_page_has_the_table_and_its_data(site: Site) -> None:
    site.publish(factories.report())
    html = site.text("report/annual-report-2023.html")
    page = assert_standard_page(html)
    assert "h2:二、主动公开政府信息情况" in page.headings
    assert "h2:统计说明" in page.headings
    for text in (
        '<th colspan="4" scope="colgroup" class="report-heading">第二十条第（一）项</th>',
        '<th scope="row">行政规范性文件</th><td class="number">12</td><td class="number">2</td>'
        '<td class="number">130</td>',
        # A section with fewer columns spans the table's width.
        '<th scope="col" colspan="3">本年收费金额（单位：万元）</th>',
        '<td class="number" colspan="3">1286.45</td>',
        '<a href="../api/report/annual-report-2023.csv" type="text/csv">CSV</a>',
    ):
        assert text in html, text
    assert "年度报告" in site.text("report/index.html")
    data = json.loads(site.text("api/report/annual-report-2023.json"))
    assert data["url"] == "https://www.zhuzhou.gov.cn/zwgk/report/annual-report-2023.html"
    assert data["scope"] is None
    assert data["sections"][0]["rows"][1] == {"label": "行政规范性文件", "cells": [12, 2, 130]}
    assert data["sections"][1]["rows"][0]["cells"] == [1286.45]
    csv = (site.root / "api/report/annual-report-2023.csv").read_bytes()
    assert csv.startswith("\ufeff项目,信息内容,统计项,数值\r\n".encode())
    assert (
        "第二十条第（八）项,行政事业性收费,本年收费金额（单位：万元）,1286.45\r\n" in csv.decode()
    )


def test_a_withdrawn_report_takes_its_data_down(site: Site) -> None:
    site.publish(factories.report())
    site.publish(factories.retract("report", "annual-report-2023", 2, department="zz-zfb"))
    assert "【已撤回】" in site.text("report/annual-report-2023.html")
    assert not site.exists("api/report/annual-report-2023.json")
    assert not site.exists("api/report/annual-report-2023.csv")


def test_exposure_batch_links_each_case_to_its_decision(site: Site) -> None:
    site.publish(exposure_batch())
    html = site.text("exposure/exposure-2023Q2.html")
    page = assert_standard_page(html)
    assert "2023年第二季度" in html
    assert "h3:示例化工有限公司重大危险源未定期检测评估案" in page.headings
    assert "h3:张某某非法储存危险化学品案" in page.headings
    assert "../penalty/doc-penalty-1.html" in page.links
    assert "../penalty/doc-penalty-2.html" in page.links
    assert "2 起" in html


def test_exposure_candidate_is_not_published(site: Site) -> None:
    [outcome] = site.publish(exposure_candidate())
    assert outcome is not None
    assert outcome.state is DeliveryState.SKIPPED
    assert not site.exists("exposure/exposure-candidate-1.html")
    assert "exposure-candidate-1" not in site.text("exposure/index.html")


def test_meeting_page_has_press_release_decisions_and_video(site: Site) -> None:
    site.publish(meeting(interpretation={"title": "议定事项解读", "body": "<p>民生实事</p>"}))
    html = site.text("meeting/meeting-1.html")
    page = assert_standard_page(html)
    assert "常务会议" in html
    assert "第 12 次" in html
    assert "2023-06-16" in html
    assert "研究部署安全生产工作。" in html
    assert "<li>原则通过《重点民生实事项目实施方案》。</li>" in html
    assert "h2:议定事项" in page.headings
    assert "h2:议定事项解读" in page.headings
    assert "https://media.example.org/zhuzhou/executive-12.mp4" in page.links
    assert '<video controls preload="none" src="https://media.example.org/' in html


def test_campaign_page(site: Site) -> None:
    site.publish(campaign())
    html = site.text("campaign/campaign-1.html")
    page = assert_standard_page(html)
    assert "守护好一江碧水五周年" in html
    assert "活动预告" in html
    assert "2023-07-05" in html
    assert "邀请市民走进湘江株洲段水质监测站。" in html
    assert "https://www.example.org/zwgk/" in page.links


def test_every_page_links_its_feeds_and_department(site: Site) -> None:
    site.publish(factories.penalty("pen-1"), factories.policy("p1"))
    page = outline(site.text("penalty/pen-1.html"))
    assert ("application/rss+xml", "../feeds/penalty.xml") in page.alternates
    assert ("application/atom+xml", "../feeds/penalty.atom") in page.alternates
    assert "../dept/zz-yjj/index.html" in page.links
    html = site.text("penalty/pen-1.html")
    assert (
        '<link rel="canonical" href="https://www.zhuzhou.gov.cn/zwgk/penalty/pen-1.html">' in html
    )
    assert '<link rel="stylesheet" href="../assets/site.css">' in html
    assert site.exists("assets/site.css")


@pytest.mark.parametrize(
    ("path", "feed"),
    [
        ("index.html", "feeds/all"),
        ("penalty/index.html", "../feeds/penalty"),
        ("penalty/page/1.html", "../../feeds/penalty"),
        ("dept/zz-yjj/index.html", "../../feeds/dept/zz-yjj"),
        ("dept/zz-yjj/page/1.html", "../../../feeds/dept/zz-yjj"),
    ],
)
def test_every_index_has_feed_autodiscovery(site: Site, path: str, feed: str) -> None:
    site.publish(factories.penalty("pen-1"))
    page = assert_standard_page(site.text(path))
    assert ("application/rss+xml", f"{feed}.xml") in page.alternates
    assert ("application/atom+xml", f"{feed}.atom") in page.alternates


def test_untrusted_text_fields_are_escaped(site: Site) -> None:
    site.publish(
        factories.penalty(
            "pen-x",
            title="<script>alert(1)</script>决定",
            party_name='"><img src=x onerror=alert(1)>',
            facts="<b>事实</b>",
        )
    )
    for path in ("penalty/pen-x.html", "penalty/index.html", "index.html"):
        html = site.text(path)
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;决定" in html
        assert outline(html).handlers == []
    assert "&lt;b&gt;事实&lt;/b&gt;" in site.text("penalty/pen-x.html")


def test_home_page_lists_latest_items_of_every_kind(site: Site) -> None:
    site.publish(
        factories.policy("p1"),
        factories.penalty("pen-1"),
        exposure_batch(),
        meeting(),
        campaign(),
    )
    html = site.text("index.html")
    page = assert_standard_page(html)
    for heading in ("政策文件", "行政处罚", "典型案例曝光", "会议回放", "主题活动"):
        assert f"h2:{heading}" in page.headings
    for link in (
        "policy/p1.html",
        "penalty/pen-1.html",
        "exposure/exposure-2023Q2.html",
        "meeting/meeting-1.html",
        "campaign/campaign-1.html",
        "dept/zz-yjj/index.html",
        "dept/zz-zfb/index.html",
    ):
        assert link in page.links, link


def takedown(document_id: str, version: int, last_day: str) -> dict[str, object]:
    """The withdrawal the take-down DAG sends when a decision's display period ends."""
    event = factories.retract("penalty", document_id, version, reason="公示期满")
    event["payload"]["display_ended_on"] = last_day  # type: ignore[index]
    event["occurred_at"] = "2024-05-05T00:00:00+08:00"
    return event


def test_a_penalty_s_take_down_date_is_on_its_page_and_in_its_json_entry(site: Site) -> None:
    site.publish(factories.penalty("pen-1", display_until="2024-05-04"))
    assert '<dt>公示截止日期</dt><dd><time datetime="2024-05-04">' in site.text(
        "penalty/pen-1.html"
    )
    for path in ("api/penalty.json", "api/penalty/page/1.json", "api/dept/zz-yjj.json"):
        [item] = json.loads(site.text(path))["items"]
        assert (item["id"], item["display_until"]) == ("pen-1", "2024-05-04"), path
    site.publish(factories.policy("pol-1"))
    [policy] = json.loads(site.text("api/policy.json"))["items"]
    assert "display_until" not in policy


def test_a_decision_whose_display_ended_is_replaced_by_a_notice_that_no_longer_shows_it(
    site: Site,
) -> None:
    site.publish(
        factories.penalty("pen-1", display_until="2024-05-04"),
        factories.penalty("pen-2", display_until="2025-05-04", title="另一行政处罚决定"),
    )
    (outcome,) = site.publish(takedown("pen-1", 2, "2024-05-04"))
    assert outcome is None  # withdrawn
    html = site.text("penalty/pen-1.html")
    page = assert_standard_page(html)
    assert "h1:【公示期满】行政处罚决定" in page.headings
    assert '公示期已于 <time datetime="2024-05-04">2024-05-04</time> 届满' in html
    assert "公示期满" in html
    # Nothing of the decision is shown any more: title, number, party, facts, fine.
    for shown in (
        "某化工有限公司安全生产违法行为行政处罚决定",
        "（株）应急罚〔2023〕12号",
        "株洲示例化工有限公司",
        "91430211MA4PXR123G",
        "重大危险源",
        "50,000.00",
    ):
        assert shown not in html, shown
    # Gone from the lists; the JSON index lists it under withdrawn, without its title.
    assert "pen-1.html" not in site.text("penalty/index.html")
    assert "pen-1.html" not in site.text("index.html")
    for path in ("api/penalty.json", "api/penalty/page/1.json", "api/dept/zz-yjj.json"):
        data = json.loads(site.text(path))
        assert [i["id"] for i in data["items"]] == ["pen-2"], path
        [gone] = data["withdrawn"]
        assert gone == {
            "id": "pen-1",
            "kind": "penalty",
            "title": "行政处罚决定（公示期满）",
            "url": "https://www.zhuzhou.gov.cn/zwgk/penalty/pen-1.html",
            "withdrawn_at": "2024-05-05T00:00:00+08:00",
            "reason": "公示期满",
            "department": "zz-yjj",
            "display_ended_on": "2024-05-04",
        }, path
    assert "pen-1" not in site.text("sitemaps/penalty-1.xml")


def test_a_revoked_decision_keeps_the_ordinary_withdrawal_notice(site: Site) -> None:
    site.publish(factories.penalty("pen-1", display_until="2024-05-04"))
    revoked = factories.retract("penalty", "pen-1", 2, reason="经行政复议被撤销")
    revoked["payload"]["revoked_on"] = "2023-05-01"
    site.publish(revoked)
    html = site.text("penalty/pen-1.html")
    assert "【已撤回】某化工有限公司安全生产违法行为行政处罚决定" in html
    assert "公示期满" not in html
    [gone] = json.loads(site.text("api/penalty.json"))["withdrawn"]
    assert gone["title"] == "某化工有限公司安全生产违法行为行政处罚决定"
    assert "display_ended_on" not in gone


def test_a_decision_published_again_after_its_take_down_is_shown_again(site: Site) -> None:
    site.publish(factories.penalty("pen-1", display_until="2024-05-04"))
    site.publish(takedown("pen-1", 2, "2024-05-04"))
    site.publish(factories.penalty("pen-1", 3, display_until="2025-05-04"))
    html = site.text("penalty/pen-1.html")
    assert "株洲示例化工有限公司" in html
    assert "公示期满" not in html
    data = json.loads(site.text("api/penalty.json"))
    assert [(i["id"], i["display_until"]) for i in data["items"]] == [("pen-1", "2025-05-04")]
    assert data["withdrawn"] == []
