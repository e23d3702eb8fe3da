"""Content fitting, templates and the routing file: unit tests, no network."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from channels.base import ChannelContext
from channels.newmedia.content import (
    WECHAT_CONTENT_MAX_CHARS,
    read_blocks,
    webhook_payload,
    wechat_article,
    weibo_status,
)
from channels.newmedia.demo import demo_routes
from channels.newmedia.errors import next_hour, next_midnight, redact
from channels.newmedia.fit import cut, cut_bytes, cut_weibo, weibo_length
from channels.newmedia.routing import load_routing
from channels.newmedia.wechat.channel import WeChatChannel
from govpub.errors import ConfigurationError
from govpub.settings import Settings
from govpub.store import Store
from schemas import parse_event
from tests import factories
from tests.newmedia import events

URL = "https://www.zhuzhou.gov.cn/exposure/exposure-2023Q2-work-safety.html"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("株洲市人民政府", 10, "株洲市人民政府"),
        ("株洲市人民政府办公室", 5, "株洲市人…"),
        ("cafe\u0301s", 5, "caf…"),  # never between e and its accent
        ("ab👍🏽cd", 4, "ab…"),  # never between a thumb and its skin tone
        ("a👨\u200d👩\u200d👧b", 5, "a…"),  # never inside a family emoji
        ("abc", 0, ""),
    ],
)
def test_cut_keeps_whole_characters(text: str, limit: int, expected: str) -> None:
    result = cut(text, limit)
    assert result == expected
    assert len(result) <= limit


def test_cut_bytes_and_weibo_length() -> None:
    assert cut_bytes("株洲市人民政府", 10) == "株洲…"
    assert len(cut_bytes("株洲市人民政府", 10).encode()) <= 10
    assert weibo_length("ab中文") == 3
    cut_text = cut_weibo("中文" * 100 + "abc", 21)
    assert weibo_length(cut_text) <= 21
    assert cut_text.endswith("…")


def test_article_fits_every_limit_and_always_links_to_the_portal() -> None:
    event = parse_event(
        events.exposure_batch(
            title="株洲市" + "典型案例" * 30,
            cases=[
                {
                    "title": f"案件{n}",
                    "case_summary": "<b>违法</b> & 违规，" * 1000,
                    "decision_ref": "zzyj-cf-2023-0012",
                }
                for n in range(4)
            ],
        )
    )
    article = wechat_article(
        event,  # type: ignore[arg-type]
        url=URL,
        title_template="{update_mark}{title}",
        digest_template="{label}｜{summary}",
        author="株洲市人民政府办公室新闻中心发布",
        images={},
    )
    assert len(article.title) == 32
    assert len(article.author) == 16
    assert len(article.digest) <= 128
    assert article.digest.startswith("典型案例曝光｜")
    assert len(article.content) <= WECHAT_CONTENT_MAX_CHARS
    assert article.content.endswith("（以政府网站发布的为准）</p>")
    assert f'<a href="{URL}">{URL}</a>' in article.content
    assert "<b>" not in article.content  # plain text from departments is escaped …
    assert "&lt;b&gt;违法&lt;/b&gt; &amp; 违规" in article.content
    campaign = parse_event(events.campaign(body="<script>alert(1)</script><p>欢迎参与</p>"))
    html = wechat_article(
        campaign,  # type: ignore[arg-type]
        url=URL,
        title_template="{title}",
        digest_template="{summary}",
        author="x",
        images={},
    ).content
    assert "alert(1)" not in html  # … and scripts in department HTML are dropped
    assert "<p>欢迎参与</p>" in html


def test_read_blocks_keeps_structure_and_drops_markup() -> None:
    blocks = read_blocks(
        '<h2>一、背景</h2><p>正文<b>加粗</b></p><img src="https://x/a.png"><style>p{}</style>'
        '<img src="javascript:x"><p> </p>'
    )
    assert [(b.kind, b.text) for b in blocks] == [
        ("h", "一、背景"),
        ("p", "正文加粗"),
        ("img", "https://x/a.png"),
    ]


def test_weibo_status_puts_the_link_last_and_avoids_topics() -> None:
    event = parse_event(events.campaign(title="#主题日# 守护好一江碧水五周年"))
    text = weibo_status(event, url=URL, template="【{label}】{title}：{summary}")  # type: ignore[arg-type]
    assert text.endswith(" " + URL)
    assert "#" not in text
    assert weibo_length(text) <= 140


def test_webhook_payload_is_the_event_with_its_url() -> None:
    event = parse_event(factories.retract("penalty", "p-1", 2, reason="决定被撤销"))
    body = json.loads(webhook_payload(event, url="https://x/penalty/p-1.html"))
    assert body["type"] == "govpub.penalty.retract"
    assert body["data"]["payload"]["reason"] == "决定被撤销"
    assert body["data"]["url"] == "https://x/penalty/p-1.html"


def test_quota_times_are_in_beijing() -> None:
    from datetime import UTC, datetime

    # 2023-06-16 17:30 UTC is 01:30 on the 17th in Beijing: the quota resets at 16:00 UTC on the 17th.
    assert next_midnight(datetime(2023, 6, 16, 17, 30, tzinfo=UTC), margin_s=0) == datetime(
        2023, 6, 17, 16, 0, tzinfo=UTC
    )
    assert next_hour(datetime(2023, 6, 16, 17, 30, tzinfo=UTC), margin_s=0) == datetime(
        2023, 6, 16, 18, 0, tzinfo=UTC
    )
    assert redact("POST /cgi-bin/x?access_token=abc&type=image") == (
        "POST /cgi-bin/x?access_token=***&type=image"
    )


def test_demo_routing_file_routes_as_the_work_points_ask() -> None:
    routing = load_routing(demo_routes())
    batch = parse_event(events.exposure_batch())
    candidate = parse_event(
        factories.envelope(
            "exposure",
            "c-1",
            1,
            {
                "title": "候选案例",
                "domain": "安全生产",
                "candidate_quarter": "2023Q2",
                "case_summary": "x",
                "decision_ref": "p-1",
            },
        )
    )
    penalty = parse_event(factories.penalty())
    assert [t.name for t in routing.targets("wechat", batch)] == ["zhuzhou-gov"]
    assert [t.name for t in routing.targets("weibo", batch)] == ["zhuzhou-fabu"]
    assert routing.targets("wechat", candidate) == []  # only the released batch is posted
    assert routing.targets("wechat", penalty) == []  # penalties: portal and feeds only
    assert routing.targets("weibo", penalty) == []
    assert [t.name for t in routing.targets("webhook", penalty)] == ["lukou-county-portal"]
    for decision in (factories.licence(), factories.enforcement()):
        event = parse_event(decision)
        assert routing.targets("wechat", event) == []  # like penalties: portal, feeds, webhook
        assert [t.name for t in routing.targets("webhook", event)] == ["lukou-county-portal"]
    meeting = routing.targets("wechat", parse_event(events.meeting()))
    assert meeting[0].on_update == "replace"
    assert meeting[0].template.weibo.startswith("【会议回放】")
    assert routing.wechat.accounts["zhuzhou-gov"].cover_image.is_file()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[[routes]]\nkinds = ['meeting']\nwechat = ['nobody']",
            "routes.0.wechat: 'nobody' is not defined",
        ),
        ("[templates.t]\nweibo = '{title.__class__}'", "templates.t.weibo: unknown placeholder"),
        (
            "[wechat.accounts.a]\napp_id = 'wx1'\nauthor = 'x'\ncover_image = 'c.png'",
            "wechat.accounts.a.app_id",
        ),
        ("[weibo.accounts.b]\nrip = 'not-an-ip'", "weibo.accounts.b.rip"),
        ("[[routes]]\nkinds = ['speech']", "routes.0.kinds.0"),
        (
            "[[routes]]\nkinds = ['policy']\ntemplate = 'missing'",
            "routes.0.template: 'missing' is not defined",
        ),
        ("routes = [", "GOVPUB_NEWMEDIA_ROUTES"),
    ],
)
def test_routing_errors_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "routes.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match="GOVPUB_NEWMEDIA_ROUTES") as error:
        load_routing(path)
    assert message in str(error.value)


def test_routing_file_may_be_json(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    path.write_text(
        json.dumps(
            {
                "webhook": {"endpoints": {"a": {"url": "https://a.example/hook"}}},
                "routes": [{"kinds": ["policy"], "webhook": ["a"], "departments": ["zz-zfb"]}],
            }
        )
    )
    routing = load_routing(path)
    assert [t.name for t in routing.targets("webhook", parse_event(factories.policy()))] == ["a"]
    other = factories.policy()
    other["department"] = "zz-sfj"
    assert routing.targets("webhook", parse_event(other)) == []


def test_missing_settings_name_the_variable(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    with Store(tmp_path / "s.db") as store:
        with pytest.raises(ConfigurationError, match="GOVPUB_NEWMEDIA_ROUTES: not set"):
            WeChatChannel.from_context(ChannelContext(make_settings(), store))
        settings = make_settings(newmedia_routes=demo_routes())
        with pytest.raises(ConfigurationError, match=r"GOVPUB_WECHAT_APP_SECRETS.*zhuzhou-gov"):
            WeChatChannel.from_context(ChannelContext(settings, store))


def test_licence_and_enforcement_articles_carry_every_public_field() -> None:
    licence = parse_event(factories.licence(decision="不予", reasons="不符合条件"))
    html = wechat_article(
        licence,  # type: ignore[arg-type]
        url=URL,
        title_template="{title}",
        digest_template="{label}｜{summary}",
        author="x",
        images={},
    )
    assert html.digest.startswith("行政许可｜许可决定书文号：株应急许〔2023〕8号")
    for text in (
        "许可事项：危险化学品经营许可",
        "决定：不予",
        "理由：不符合条件",
        "有效期至：2026-05-04",
    ):
        assert text in html.content, text
    enforcement = parse_event(factories.enforcement(measures=["扣押", "拍卖"]))
    content = wechat_article(
        enforcement,  # type: ignore[arg-type]
        url=URL,
        title_template="{title}",
        digest_template="{summary}",
        author="x",
        images={},
    ).content
    for text in ("强制类别：扣押、拍卖", "对象：芦淞区某仓库", "期限至：2023-06-03", "违法事实："):
        assert text in content, text
    assert f'<a href="{URL}">{URL}</a>' in content
