"""Nothing secret is ever written: not to logs (at DEBUG, third-party loggers included,
through retries, timeouts and token refreshes), not to records, not to dead letters,
not to the dry-run outbox."""

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from channels.base import ChannelContext
from channels.newmedia.webhook.channel import WebhookChannel
from channels.newmedia.wechat.api import WeChatClient
from channels.newmedia.wechat.channel import WeChatChannel
from channels.newmedia.weibo.channel import WeiboChannel
from channels.settings import load_app_settings
from consumers.channel import Channel
from govpub.errors import ConfigurationError
from govpub.settings import Settings
from govpub.store import Store
from tests import factories
from tests.newmedia import events
from tests.newmedia.conftest import (
    APP_SECRET,
    HOOK_SECRET,
    HOOK_SECRET_B,
    SITE,
    WEIBO_TOKEN,
    dead_letters,
    emit,
    run,
)
from tests.newmedia.fakes import FakeWeChat, FakeWeibo, Fault, WebhookReceiver

Settings_ = Callable[..., Settings]

# The fake platforms' own HTTP server logs request lines as a real platform would; those
# records are the platform's, not govpub's.
PLATFORM_LOGGERS = ("werkzeug",)


def _secrets(wechat: FakeWeChat) -> list[str]:
    return [APP_SECRET, WEIBO_TOKEN, HOOK_SECRET, HOOK_SECRET_B, *wechat.issued]


def _texts(records: list[logging.LogRecord]) -> list[str]:
    texts = []
    for record in records:
        if record.name.startswith(PLATFORM_LOGGERS):
            continue
        texts.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            texts.append(repr(record.exc_info[1]))
    return texts


def test_no_secret_reaches_a_log_a_record_or_a_dead_letter(
    nm_settings: Settings_,
    wechat: FakeWeChat,
    weibo: FakeWeibo,
    receivers: dict[str, WebhookReceiver],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = nm_settings(newmedia_timeout=0.5)
    emit(settings, [events.exposure_batch(), events.meeting(), factories.policy()])
    # Faults that make every layer talk: urllib3 retries, timeouts, token refresh, refusals.
    wechat.fail("draft/add", Fault(status=503), Fault(delay=1.0, process=True))
    wechat.fail("freepublish/batchget", Fault(status=502))
    weibo.fail("statuses/share.json", Fault(status=500, process=True))
    receivers["county-a"].fail("/hooks/a", Fault(status=503), Fault(delay=1.0))
    receivers["county-b"].fail("/hooks/b", *[Fault(status=403)] * 10)
    original = WeChatClient.add_draft

    def add_then_expire(self: WeChatClient, article: dict[str, Any]) -> str:
        media_id = original(self, article)
        wechat.expire_tokens()
        return media_id

    builders: list[Callable[[ChannelContext], Channel]] = [
        WeChatChannel.from_context,
        WeiboChannel.from_context,
        WebhookChannel.from_context,
    ]
    caplog.set_level(logging.DEBUG)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(WeChatClient, "add_draft", add_then_expire)
        for build in builders:
            run(settings, build)

    assert len(wechat.issued) >= 2  # a token was refreshed mid-flow
    texts = _texts(caplog.records)
    assert any("urllib3" in r.name for r in caplog.records)  # third-party logs were captured
    assert any("access_token=***" in t for t in texts)  # … and masked
    letters = dead_letters(settings)
    assert letters  # county-b refused: a dead letter with a reason was written
    with Store(settings.store) as store:
        rows = store.conn.execute("SELECT * FROM deliveries").fetchall()
    written = [*texts, *(str(letter) for letter in letters), *(str(row) for row in rows)]
    for secret in _secrets(wechat):
        leaks = [text for text in written if secret in text]
        assert leaks == [], f"a secret was written: {leaks[:1]}"


def test_settings_never_show_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVPUB_WECHAT_APP_SECRETS", f'{{"city": "{APP_SECRET}"}}')
    settings = load_app_settings()
    assert APP_SECRET not in repr(settings)
    assert APP_SECRET not in str(settings.model_dump())
    monkeypatch.setenv("GOVPUB_WEBHOOK_SECRETS", f'{{"a": "{HOOK_SECRET}"')  # broken JSON
    with pytest.raises(ConfigurationError) as error:
        load_app_settings()
    assert "GOVPUB_WEBHOOK_SECRETS" in str(error.value)
    assert HOOK_SECRET not in str(error.value)


def test_dry_run_outbox_holds_no_secret(
    make_settings: Callable[..., Settings], routes_file: Path, tmp_path: Path
) -> None:
    settings = make_settings(
        site_url=SITE,
        newmedia_routes=routes_file,
        newmedia_dry_run=True,
        wechat_app_secrets={"city": APP_SECRET},
        weibo_access_tokens={"fabu": WEIBO_TOKEN},
        webhook_secrets={"county-a": HOOK_SECRET},
    )
    emit(settings, [events.exposure_batch(), factories.policy()])
    for build in (
        WeChatChannel.from_context,
        WeiboChannel.from_context,
        WebhookChannel.from_context,
    ):
        run(settings, build)
    files = list((settings.output_dir / "outbox").rglob("*.json"))
    assert {f.relative_to(settings.output_dir / "outbox").parts[0] for f in files} == {
        "wechat",
        "weibo",
        "webhook",
    }
    text = "".join(f.read_text("utf-8") for f in files)
    for secret in (APP_SECRET, WEIBO_TOKEN, HOOK_SECRET):
        assert secret not in text
    assert "access_token=ACCESS_TOKEN" in text
    assert '"secret": "APPSECRET"' in text
    assert "OAuth2 ACCESS_TOKEN" in text
