"""The life of a policy on each transport, through the gate and every channel: a draft
for comment, its result, the policy adopted from it (links both ways), the policy's repeal
and the library; what must not be sent is refused with its field path."""

import json
from typing import Any

import feedparser
import pytest

from govpub.app.channels import run_channels
from govpub.errors import ComplianceRefusal
from govpub.settings import Settings
from govpub.store import Store
from producers.factory import open_publisher
from tests import factories

# Each transport, with the state store on each backend (the gate's register of documents,
# the website's library and the catalog in SQLite and in PostgreSQL).
pytestmark = pytest.mark.usefixtures("store_location")

CHANNELS = ["catalog", "website", "rss"]
RESULT = {
    "published_on": "2023-05-20",
    "received": 46,
    "adopted": 31,
    "not_adopted": [{"opinion": "建议公园全天开放。", "reason": "夜间开放存在安全隐患。"}],
}


def send(settings: Settings, *events: dict[str, Any]) -> None:
    with Store(settings.store) as store, open_publisher(settings, store, source="test") as p:
        p.publish_many(list(events))


def refused(settings: Settings, event: dict[str, Any]) -> tuple[str, list[str]]:
    with (
        Store(settings.store) as store,
        open_publisher(settings, store, source="test") as p,
        pytest.raises(ComplianceRefusal) as info,
    ):
        p.publish(event)
    return info.value.rule, [e.path for e in info.value.errors]


def deliver(settings: Settings) -> None:
    results = run_channels(settings, CHANNELS, until_idle=True)
    assert {r.channel: r.error for r in results} == dict.fromkeys(CHANNELS)


def feed_tags(settings: Settings, feed: str) -> dict[str, set[str]]:
    parsed = feedparser.parse((settings.output_dir / feed).read_bytes())
    return {e.id.rsplit(":", 1)[-1]: {t.term for t in e.tags} for e in parsed.entries}


def test_a_draft_goes_to_its_result_its_policy_and_the_policy_s_repeal(
    settings: Settings,
) -> None:
    out = settings.output_dir
    send(settings, factories.consultation("zq-park", major_decision=True))
    deliver(settings)
    assert feed_tags(settings, "feeds/consultation.xml")["zq-park"] >= {"征求意见中"}

    send(
        settings,
        factories.consultation("zq-park", 2, closed=True, result=RESULT),
        factories.policy(
            "gf-park",
            title="株洲市城市公园管理办法",
            consultation_ref="zq-park",
            effective_on="2023-07-01",
        ),
    )
    send(
        settings,
        factories.consultation("zq-park", 3, closed=True, result=RESULT, adopted_as="gf-park"),
    )
    deliver(settings)
    consultation = (out / "consultation/zq-park.html").read_text("utf-8")
    assert "结果已公布" in consultation
    assert 'href="../policy/gf-park.html"' in consultation
    policy = (out / "policy/gf-park.html").read_text("utf-8")
    assert 'href="../consultation/zq-park.html"' in policy
    assert feed_tags(settings, "feeds/consultation.atom")["zq-park"] >= {"结果已公布"}

    # Repealed, and replaced by a new document.
    send(settings, factories.policy("gf-park-2024", title="株洲市城市公园管理条例实施办法"))
    send(
        settings,
        factories.policy(
            "gf-park",
            2,
            title="株洲市城市公园管理办法",
            validity="已废止",
            superseded_by="gf-park-2024",
            consultation_ref="zq-park",
        ),
    )
    deliver(settings)
    assert "本文件已废止" in (out / "policy/gf-park.html").read_text("utf-8")
    assert 'href="gf-park.html"' in (out / "policy/gf-park-2024.html").read_text("utf-8")
    library = json.loads((out / "api/library.json").read_text("utf-8"))
    assert library["counts"]["行政规范性文件"] == {
        "现行有效": 1,
        "已修订": 0,
        "已废止": 1,
        "已失效": 0,
    }
    repealed = json.loads((out / "api/library/repealed/2023/1.json").read_text("utf-8"))
    assert [(d["id"], d["superseded_by"]) for d in repealed["documents"]] == [
        ("gf-park", "gf-park-2024")
    ]
    [entry] = [
        e
        for e in feedparser.parse((out / "feeds/policy.xml").read_bytes()).entries
        if e.link.endswith("/policy/gf-park.html")
    ]
    assert "效力：已废止" in entry.summary

    # Refused, each with its field: a loop, a result for a consultation nobody
    # published, a window too short, a document that is not 主动公开.
    assert refused(settings, factories.policy("gf-park-2024", 2, superseded_by="gf-park")) == (
        "document_links",
        ["payload.superseded_by"],
    )
    assert refused(
        settings, factories.consultation("zq-nobody", 2, closed=True, result=RESULT)
    ) == ("consultation_result", ["payload.result"])
    assert refused(settings, factories.consultation("zq-short", closes_on="2023-04-10")) == (
        "consultation_window",
        ["payload.closes_on"],
    )
    assert refused(
        settings,
        factories.policy("gf-secret", disclosure="不予公开", disclosure_reason="第十四条"),
    ) == ("disclosure_attribute", ["payload.disclosure"])
    deliver(settings)
    assert not (out / "policy/gf-secret.html").exists()
