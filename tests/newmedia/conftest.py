"""Fixtures for the new-media suite: a threaded fake-platform server on loopback, a
routing file pointing at it, settings with secrets, and helpers to run a channel
through the real runner on the embedded bus."""

import json
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from channels.base import ChannelContext
from channels.newmedia.errors import BEIJING
from consumers.channel import Channel
from consumers.retry import RetryPolicy
from consumers.runner import ChannelRunner, RunStats
from govpub.bus import open_bus
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from producers import Publisher, VersionLedger
from tests.newmedia.fakes import FakeWeChat, FakeWeibo, WebhookReceiver


class Clock:
    """A clock a test moves (the runner's park sleeps move it too); it starts now."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    @classmethod
    def morning(cls) -> "Clock":
        """A clock at 09:00 today in Beijing, where the platforms' daily budgets turn over:
        the hours a test then moves it never cross midnight by accident (from the real
        time, a test run at 21:00 in Beijing met a new day's budget three hours later)."""
        start = datetime.now(BEIJING).replace(hour=9, minute=0, second=0, microsecond=0)
        return cls(start.timestamp())

    def __call__(self) -> float:
        return self.now


APP_ID = "wx1234567890abcdef"
APP_SECRET = "app-secret-7f3c9a1e5b"
WEIBO_TOKEN = "2.00weibo-token-d41d8cd9"
HOOK_SECRET = "whsec_c2VjcmV0LWhvb2sta2V5LTEyMzQ1Njc4"
HOOK_SECRET_B = "plain-text-secret-for-b"
SITE = "http://portal.zhuzhou.test/"
COVER = (
    Path(__file__).resolve().parents[2] / "channels" / "newmedia" / "data" / "newmedia-cover.png"
)


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    """A fake-platform server of its own for each test (threaded: slow answers block no one)."""
    with HTTPServer(host="127.0.0.1", port=0, threaded=True) as httpserver:
        yield httpserver
        httpserver.clear()


@pytest.fixture
def wechat(server: HTTPServer) -> FakeWeChat:
    """The fake Official Account API."""
    return FakeWeChat(server, APP_ID, APP_SECRET)


@pytest.fixture
def weibo(server: HTTPServer) -> FakeWeibo:
    """The fake Weibo API (registered domain: the test portal's)."""
    return FakeWeibo(server, WEIBO_TOKEN, "portal.zhuzhou.test")


@pytest.fixture
def receivers(server: HTTPServer) -> dict[str, WebhookReceiver]:
    """Two webhook subscribers."""
    return {
        "county-a": WebhookReceiver(server, "/hooks/a", HOOK_SECRET),
        "county-b": WebhookReceiver(server, "/hooks/b", HOOK_SECRET_B),
    }


def routes_text(server: HTTPServer, *, poll_interval: float = 0.0, extra: str = "") -> str:
    """A routing file for the fake platforms."""
    return f"""
[wechat.accounts.city]
app_id = "{APP_ID}"
author = "株洲市人民政府办公室新闻中心"
cover_image = "cover.png"
image_hosts = ["127.0.0.1"]
poll_interval = {poll_interval}

[weibo.accounts.fabu]
rip = "203.0.113.10"
registered_domain = "portal.zhuzhou.test"

[webhook.endpoints.county-a]
url = "{server.url_for("/hooks/a")}"

[webhook.endpoints.county-b]
url = "{server.url_for("/hooks/b")}"

[templates.exposure]
weibo = "【典型案例曝光】{{title}}：{{summary}}"

[[routes]]
kinds = ["exposure", "campaign"]
wechat = ["city"]
weibo = ["fabu"]
template = "exposure"

[[routes]]
kinds = ["meeting"]
wechat = ["city"]
weibo = ["fabu"]
on_update = "replace"

[[routes]]
kinds = ["policy", "penalty", "meeting"]
webhook = ["county-a", "county-b"]
{extra}
"""


@pytest.fixture
def routes_file(tmp_path: Path, server: HTTPServer) -> Path:
    """The routing file (with the cover image beside it)."""
    shutil.copy(COVER, tmp_path / "cover.png")
    path = tmp_path / "routes.toml"
    path.write_text(routes_text(server), encoding="utf-8")
    return path


@pytest.fixture
def nm_settings(
    make_settings: Callable[..., Settings], routes_file: Path, server: HTTPServer
) -> Callable[..., Settings]:
    """Settings for the fake platforms; override any field."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "site_url": SITE,
            "newmedia_routes": routes_file,
            "wechat_app_secrets": {"city": APP_SECRET},
            "weibo_access_tokens": {"fabu": WEIBO_TOKEN},
            "webhook_secrets": {"county-a": HOOK_SECRET, "county-b": HOOK_SECRET_B},
            "wechat_api_base": server.url_for("/"),
            "weibo_api_base": server.url_for("/"),
            "newmedia_timeout": 2.0,
        }
        values.update(overrides)
        return make_settings(**values)

    return build


def emit(settings: Settings, events: list[dict[str, Any]]) -> None:
    """Publish events on the settings' bus."""
    with (
        Store(settings.store) as store,
        Publisher(
            open_bus(settings), Topics(settings.topic_prefix), ledger=VersionLedger(store)
        ) as publisher,
    ):
        publisher.publish_many(events)


ChannelBuilder = Callable[[ChannelContext], Channel]


def runner_for(settings: Settings, channel: Channel, store: Store, **options: Any) -> ChannelRunner:
    """The real runner with short retries; ``options`` override its other arguments."""
    defaults: dict[str, Any] = {
        "policy": RetryPolicy(max_attempts=4, min_backoff=0.01, max_backoff=0.05),
        "poll_timeout": 0.2,
    }
    return ChannelRunner(
        channel, open_bus(settings), store, Topics(settings.topic_prefix), **(defaults | options)
    )


def run(
    settings: Settings,
    build: ChannelBuilder,
    *,
    sleep: Callable[[float], None] | None = None,
    after: Callable[[Channel], None] | None = None,
) -> RunStats:
    """Run one channel with the real runner until idle, then close it (``after`` sees it
    before it is closed: to poll publish results, say)."""
    with Store(settings.store) as store:
        channel = build(ChannelContext(settings, store))
        try:
            stats = runner_for(settings, channel, store, sleep=sleep).run(until_idle=True)
            if after is not None:
                after(channel)
            return stats
        finally:
            channel.close()


class Crash(BaseException):
    """Stands for the process dying (kill -9): nothing after it runs, nothing is caught."""


def dead_letters(settings: Settings) -> list[dict[str, Any]]:
    """The dead letters on the settings' bus, decoded."""
    from consumers.redrive import read_dead_letters

    return [
        json.loads(record.value)
        for record, _ in read_dead_letters(open_bus(settings), Topics(settings.topic_prefix))
    ]
