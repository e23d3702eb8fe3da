"""``dag.test()`` of the daily take-down on both transports, with every channel running
for real: the website, the feeds, the catalog, and WeChat, Weibo and two webhook
subscribers on the local fake platforms. A decision whose display period ended leaves
every channel after the run, once; running again or backfilling sends nothing more."""

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from govpub.app.channels import run_channels
from govpub.compliance.parties import StoredPartyRegister
from govpub.settings import Settings
from govpub.store import Store
from producers.factory import open_publisher
from producers.releases.quarters import RELEASE_TIMEZONE
from schemas import RetractEvent
from tests import factories
from tests.dags.conftest import test_run
from tests.newmedia.conftest import (
    APP_ID,
    APP_SECRET,
    COVER,
    HOOK_SECRET,
    HOOK_SECRET_B,
    SITE,
    WEIBO_TOKEN,
    routes_text,
)
from tests.newmedia.fakes import FakeWeChat, FakeWeibo, WebhookReceiver
from tests.releases import bus_events

DAG_ID = "penalty_display_takedown"
CHANNELS = ["catalog", "website", "rss", "wechat", "weibo", "webhook"]
ENDED = "zzyj-cf-2023-0012"  # decided 2023-05-05: one year of display, until 2024-05-04
LATER = "zzyj-cf-2023-0015"  # displayed until 2025-06-30
SHOWN = ("某化工有限公司安全生产违法行为行政处罚决定", "株洲示例化工有限公司", "重大危险源")


@pytest.fixture
def platforms() -> Iterator[tuple[HTTPServer, FakeWeChat, FakeWeibo, dict[str, WebhookReceiver]]]:
    with HTTPServer(host="127.0.0.1", port=0, threaded=True) as server:
        receivers = {
            "county-a": WebhookReceiver(server, "/hooks/a", HOOK_SECRET),
            "county-b": WebhookReceiver(server, "/hooks/b", HOOK_SECRET_B),
        }
        wechat = FakeWeChat(server, APP_ID, APP_SECRET)
        weibo = FakeWeibo(server, WEIBO_TOKEN, "portal.zhuzhou.test")
        yield server, wechat, weibo, receivers
        server.clear()


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings],
    transport: str,
    platforms: tuple[HTTPServer, Any, Any, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """Settings on each transport, with penalty decisions posted to every new-media
    channel; the core ones exported as GOVPUB_* so the DAG's tasks build the same."""
    server = platforms[0]
    shutil.copy(COVER, tmp_path / "cover.png")
    routes = tmp_path / "routes.toml"
    extra = '\n[[routes]]\nkinds = ["penalty"]\nwechat = ["city"]\nweibo = ["fabu"]\n'
    routes.write_text(routes_text(server, extra=extra), encoding="utf-8")
    built = make_settings(
        transport,
        site_url=SITE,
        newmedia_routes=routes,
        wechat_app_secrets={"city": APP_SECRET},
        weibo_access_tokens={"fabu": WEIBO_TOKEN},
        webhook_secrets={"county-a": HOOK_SECRET, "county-b": HOOK_SECRET_B},
        wechat_api_base=server.url_for("/"),
        weibo_api_base=server.url_for("/"),
        newmedia_timeout=2.0,
    )
    exported = {
        "GOVPUB_BUS": built.bus,
        "GOVPUB_STORE": str(built.store),
        "GOVPUB_OUTPUT_DIR": str(built.output_dir),
        "GOVPUB_TOPIC_PREFIX": built.topic_prefix,
        "GOVPUB_PARTITIONS": str(built.partitions),
        "GOVPUB_SESSION_TIMEOUT": str(built.session_timeout),
        "GOVPUB_POLL_TIMEOUT": str(built.poll_timeout),
        "GOVPUB_CATALOG_SYNC_TIMEOUT": "60",
    }
    for name, value in exported.items():
        monkeypatch.setenv(name, value)
    return built


def deliver(settings: Settings) -> None:
    """Every channel until idle, as the consumer services would."""
    results = run_channels(settings, CHANNELS, until_idle=True)
    assert {r.channel: r.error for r in results} == dict.fromkeys(CHANNELS)


def at(day: int, month: int, year: int, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=RELEASE_TIMEZONE)


def withdrawals(settings: Settings) -> list[RetractEvent]:
    events = bus_events(settings, "penalty", timeout=30)
    return [e for e in events if isinstance(e, RetractEvent)]


def party_register(settings: Settings) -> dict[str, datetime]:
    """When the gate recorded each document's party names (never the names here)."""
    with Store(settings.store) as store:
        return StoredPartyRegister(store).recorded()


def test_a_decision_leaves_every_channel_once_when_its_display_ends(
    dag_bag: Any,
    settings: Settings,
    platforms: tuple[HTTPServer, FakeWeChat, FakeWeibo, dict[str, WebhookReceiver]],
) -> None:
    _, wechat, weibo, receivers = platforms
    assert DAG_ID in dag_bag.dags
    with Store(settings.store) as store, open_publisher(settings, store, source="test") as p:
        p.publish_many(
            [
                factories.penalty(ENDED, decided_on="2023-05-05"),
                factories.penalty(
                    LATER,
                    decided_on="2023-05-18",
                    display_until="2025-06-30",
                    title="另一公司安全生产违法行为行政处罚决定",
                ),
                factories.policy("zzzb-2023-0005"),
            ]
        )
    deliver(settings)
    out = settings.output_dir
    page = out / f"penalty/{ENDED}.html"
    assert all(text in page.read_text("utf-8") for text in SHOWN)
    ended_url, later_url = f"{SITE}penalty/{ENDED}.html", f"{SITE}penalty/{LATER}.html"
    assert (wechat.live_for(ended_url), weibo.live_for(ended_url)) == (1, 1)

    # The run of 3 May 2024: nothing has ended yet.
    states = test_run(DAG_ID, at(3, 5, 2024))
    assert states["(run)"] == "success"
    assert withdrawals(settings) == []

    # The run of 5 May 2024: ENDED's display ended on the 4th.
    states = test_run(DAG_ID, at(5, 5, 2024))
    assert (
        states["sync_catalog"],
        states["find_ended"],
        states["emit_takedowns"],
        states["forget_names"],
    ) == ("success", "success", "success", "success")
    # The party register keeps a decision's entry 30 days after its display ended.
    assert set(party_register(settings)) == {ENDED, LATER}
    [takedown] = withdrawals(settings)
    assert (takedown.document_id, takedown.version) == (ENDED, 2)
    assert takedown.payload.reason == "公示期满"
    assert str(takedown.payload.display_ended_on) == "2024-05-04"
    deliver(settings)

    # The website: a notice that no longer shows the decision; the JSON lists it withdrawn.
    html = page.read_text("utf-8")
    assert "【公示期满】行政处罚决定" in html
    assert not any(text in html for text in SHOWN)
    api = json.loads((out / "api/penalty.json").read_text("utf-8"))
    assert [item["id"] for item in api["items"]] == [LATER]
    assert api["items"][0]["display_until"] == "2025-06-30"
    assert [(w["id"], w["reason"], w["display_ended_on"]) for w in api["withdrawn"]] == [
        (ENDED, "公示期满", "2024-05-04")
    ]
    assert ENDED not in (out / "penalty/index.html").read_text("utf-8")
    # The feeds: gone, without a notice naming it.
    for feed in ("feeds/all.xml", "feeds/penalty.atom", "feeds/dept/zz-yjj.xml"):
        assert ENDED not in (out / feed).read_text("utf-8"), feed
    # New media: the article deleted, the status destroyed, the subscribers told.
    assert (wechat.live_for(ended_url), wechat.posts_for(ended_url)) == (0, 1)
    assert (weibo.live_for(ended_url), weibo.posts_for(ended_url)) == (0, 1)
    for receiver in receivers.values():
        assert receiver.types_for(ENDED) == ["govpub.penalty.publish", "govpub.penalty.retract"]
        [message] = [m for m in receiver.seen.values() if m["type"] == "govpub.penalty.retract"]
        assert message["data"]["payload"] == {
            "reason": "公示期满",
            "display_ended_on": "2024-05-04",
        }
    # The decision that is still displayed stays everywhere.
    assert (wechat.live_for(later_url), weibo.live_for(later_url)) == (1, 1)

    # The same day again, and a backfill of the days before: nothing more is sent.
    assert test_run(DAG_ID, at(5, 5, 2024, hour=21))["(run)"] == "success"
    assert test_run(DAG_ID, at(4, 5, 2024))["(run)"] == "success"
    assert [e.event_id for e in withdrawals(settings)] == [takedown.event_id]
    deliver(settings)
    assert wechat.calls["freepublish/delete"] == 1
    assert weibo.calls["statuses/destroy.json"] == 1
    assert all(len(r.types_for(ENDED)) == 2 for r in receivers.values())

    # A year later the other decision's display ends in its turn.
    assert test_run(DAG_ID, at(1, 7, 2025))["(run)"] == "success"
    assert [e.document_id for e in withdrawals(settings)] == [ENDED, LATER]
    assert set(party_register(settings)) == {LATER}  # ENDED's 30 days are long over
    deliver(settings)
    assert (wechat.live_for(later_url), weibo.live_for(later_url)) == (0, 0)
    assert json.loads((out / "api/penalty.json").read_text("utf-8"))["items"] == []


def test_a_take_down_of_what_is_not_a_penalty_decision_fails_and_says_why(
    dag_bag: Any, settings: Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    with Store(settings.store) as store, open_publisher(settings, store, source="test") as p:
        p.publish_many([factories.policy("zzzb-2023-0005")])
    states = test_run(DAG_ID, None, document_id="zzzb-2023-0005")
    assert (
        states["find_ended"],
        states["emit_takedowns"],
        states["forget_names"],
        states["(run)"],
    ) == ("failed", "upstream_failed", "upstream_failed", "failed")
    captured = capfd.readouterr()
    assert "zzzb-2023-0005 is a policy document, not a penalty decision" in (
        captured.out + captured.err
    )
    assert withdrawals(settings) == []
