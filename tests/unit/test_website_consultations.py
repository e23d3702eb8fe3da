"""The website's 征求意见 column: a consultation's page through its life, the open ones
first with the days left, and the links both ways with the policy adopted from it."""

import json
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from govpub.settings import Settings
from tests import factories
from tests.website_support import Site

TODAY = datetime.fromisoformat("2023-04-20T09:00:00+08:00")
RESULT = {
    "published_on": "2023-05-20",
    "received": 46,
    "adopted": 31,
    "not_adopted": [{"opinion": "建议公园全天开放。", "reason": "夜间开放存在安全隐患。"}],
    "summary": "采纳情况说明。",
}


@pytest.fixture
def site(make_settings: Callable[..., Settings]) -> Iterator[Site]:
    site = Site(make_settings(site_url="https://www.zhuzhou.gov.cn/zwgk/"), clock=lambda: TODAY)
    yield site
    site.close()


def test_an_open_consultation_shows_its_draft_interpretation_and_how_to_respond(
    site: Site,
) -> None:
    site.publish(
        factories.consultation(
            "zq-1",
            respond={
                "address": "株洲市司法局立法科",
                "email": "sfjlfk@zhuzhou.gov.cn",
                "url": "https://www.zhuzhou.gov.cn/hd/zq-1",
            },
            interpretation={"title": "起草说明", "body": "<p>起草背景。</p>", "form": "视频解读"},
        )
    )
    html = site.text("consultation/zq-1.html")
    for text in (
        "征求意见中",
        "共 30 天",
        "株洲市司法局",
        "第一条　为加强城市公园管理",
        "解读方式：视频解读",
        "意见反馈方式",
        "mailto:sfjlfk@zhuzhou.gov.cn",
        "https://www.zhuzhou.gov.cn/hd/zq-1",
        "株洲市司法局立法科",
    ):
        assert text in html, text


def test_the_column_lists_open_consultations_first_with_the_days_left(site: Site) -> None:
    site.publish(
        factories.consultation("zq-late", title="晚截止", closes_on="2023-05-12"),
        factories.consultation("zq-soon", title="早截止", closes_on="2023-05-02"),
        factories.consultation("zq-closed", title="已截止草案", closed=True),
        factories.consultation(
            "zq-past", title="过期未关闭", opens_on="2023-03-01", closes_on="2023-04-19"
        ),
    )
    index = site.text("consultation/index.html")
    head, everything = index.split("全部征求意见", 1)
    assert head.index("早截止") < head.index("晚截止")
    assert "剩余 13 天" in head  # 20 April to 2 May, both included
    assert "剩余 23 天" in head
    assert "已截止草案" not in head
    assert "过期未关闭" not in head
    assert "按 <time" in head
    for title in ("晚截止", "早截止", "已截止草案", "过期未关闭"):
        assert title in everything
    assert "征求意见" in site.text("index.html")  # the column is in the navigation
    api = json.loads(site.text("api/consultation.json"))
    assert {i["id"]: i["status"] for i in api["items"]} == {
        "zq-late": "征求意见中",
        "zq-soon": "征求意见中",
        "zq-closed": "已截止",
        "zq-past": "征求意见中",  # until the lifecycle DAG closes it
    }


def test_closing_then_the_result_then_the_adopted_policy_link_both_ways(site: Site) -> None:
    site.publish(factories.consultation("zq-1"))
    site.publish(factories.consultation("zq-1", 2, closed=True))
    closed = site.text("consultation/zq-1.html")
    assert "已截止" in closed
    assert "意见反馈方式" not in closed
    assert "剩余" not in site.text("consultation/index.html").split("全部征求意见")[0]
    site.publish(factories.policy("pol-park", consultation_ref="zq-1"))
    site.publish(
        factories.consultation("zq-1", 3, closed=True, result=RESULT, adopted_as="pol-park")
    )
    page = site.text("consultation/zq-1.html")
    for text in ("结果已公布", "共收到意见 46 条，采纳 31 条，未采纳 1 条", "夜间开放存在安全隐患"):
        assert text in page, text
    assert 'href="../policy/pol-park.html"' in page
    assert 'href="../consultation/zq-1.html"' in site.text("policy/pol-park.html")
    # Repealed later: the policy says so, the consultation still links to it.
    site.publish(factories.policy("pol-park", 2, validity="已废止", consultation_ref="zq-1"))
    assert "本文件已废止" in site.text("policy/pol-park.html")


def test_the_major_decision_list_links_items_and_marks_those_without_consultation(
    site: Site,
) -> None:
    items = [
        {
            "title": "制定公园管理办法",
            "organizer": "株洲市司法局",
            "consultation_ref": "zq-1",
            "adopted_as": "pol-park",
            "planned": "2023年第二季度",
        },
        {"title": "编制绿心中央公园规划", "organizer": "株洲市自然资源和规划局"},
    ]
    site.publish(factories.decision_list(items=items))
    html = site.text("decision_list/doc-decisions-2023.html")
    assert 'href="../consultation/zq-1.html"' in html
    assert 'href="../policy/pol-park.html"' in html
    assert html.count("未关联征求意见") == 1
    assert "2023年第二季度" in html
    index = site.text("decision_list/index.html")
    assert "1 项未征求意见" in index
