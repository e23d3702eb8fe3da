"""The PUBLISHJOBFINISH callback the wechat channel contributes to ``govpub ingest``, over
HTTP on loopback: WeChat's URL check, a pushed publish result that confirms a delivery record, and every
request that must be refused (bad signature, stale timestamp, oversized, not XML, DTDs)."""

import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from channels.base import ChannelContext
from channels.newmedia.wechat.callback import callback_routes
from channels.newmedia.wechat.channel import WeChatChannel
from channels.settings import load_app_settings
from consumers.channel import Channel
from govpub.deliveries import DeliveryLog, DeliveryRow, DeliveryState
from govpub.errors import ConfigurationError
from govpub.settings import Settings
from govpub.store import Store
from tests.ingest_support import Running, running_ingest
from tests.newmedia import events
from tests.newmedia.conftest import emit, run
from tests.newmedia.fakes import FakeWeChat

pytestmark = pytest.mark.usefixtures("store_location")

TOKEN = "govpubCallbackToken2026"
PATH = "/v1/callbacks/wechat"
DOCUMENT = "theme-day-2023-river"


def signed(token: str = TOKEN, *, timestamp: float | None = None) -> dict[str, str]:
    """The query WeChat adds to a callback: timestamp, nonce and their signature."""
    ts = str(int(time.time() if timestamp is None else timestamp))
    nonce = str(secrets.randbelow(10**10))
    signature = hashlib.sha1("".join(sorted((token, ts, nonce))).encode()).hexdigest()
    return {"signature": signature, "timestamp": ts, "nonce": nonce}


def finish_xml(publish_id: str, article_id: str, status: int = 0) -> bytes:
    """A PUBLISHJOBFINISH push in plain-text mode, as WeChat documents it."""
    return f"""<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>
<FromUserName><![CDATA[oWeChatSystem]]></FromUserName><CreateTime>{int(time.time())}</CreateTime>
<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[PUBLISHJOBFINISH]]></Event>
<PublishEventInfo><publish_id>{publish_id}</publish_id><publish_status>{status}</publish_status>
<article_id><![CDATA[{article_id}]]></article_id><article_detail><count>1</count>
<item><idx>1</idx><article_url><![CDATA[http://mp.weixin.qq.com/s/{article_id}]]></article_url></item>
</article_detail><fail_idx></fail_idx></PublishEventInfo></xml>""".encode()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A plain HTTP client that ignores proxy settings of the environment."""
    with requests.Session() as session:
        session.trust_env = False
        yield session


@contextmanager
def ingest(
    nm_settings: Callable[..., Settings], tmp_path: Path, **overrides: Any
) -> Iterator[Running]:
    """The ingest API on loopback with the new-media test settings (same store)."""

    def make(bus: str | None = None, **values: Any) -> Settings:
        return nm_settings(**values) if bus is None else nm_settings(bus=bus, **values)

    with running_ingest(make, tmp_path, **overrides) as running:
        yield running


def _wechat(context: ChannelContext) -> Channel:
    return WeChatChannel.from_context(context)


def _city(settings: Settings) -> dict[str, DeliveryRow]:
    with Store(settings.store) as store:
        return {r.target: r for r in DeliveryLog(store).for_document(DOCUMENT)}


def _sent_publish(settings: Settings, wechat: FakeWeChat) -> tuple[str, str]:
    """Publish a campaign through the fake WeChat, which keeps the job running; returns
    the publish_id and the article_id the job ends with (the record stays ``sent``)."""
    wechat.publish_async = True
    emit(settings, [events.campaign()])
    run(settings, _wechat)
    rows = _city(settings)
    assert rows["city"].state is DeliveryState.SENT
    publish_id = rows["city"].remote_ids["publish_id"]
    return publish_id, wechat.finish(publish_id)


def test_url_verification_echoes_echostr_only_when_signed(
    nm_settings: Callable[..., Settings], tmp_path: Path, http: requests.Session
) -> None:
    with ingest(nm_settings, tmp_path, wechat_callback_token=TOKEN) as api:
        url = api.url + PATH
        good = http.get(url, params={**signed(), "echostr": "6758439201957364821"}, timeout=10)
        assert good.status_code == 200
        assert good.text == "6758439201957364821"
        assert good.headers["content-type"].startswith("text/plain")
        assert good.headers["x-content-type-options"] == "nosniff"

        wrong_token = http.get(url, params={**signed("otherToken"), "echostr": "1"}, timeout=10)
        stale = http.get(
            url, params={**signed(timestamp=time.time() - 400), "echostr": "1"}, timeout=10
        )
        ahead = http.get(
            url, params={**signed(timestamp=time.time() + 400), "echostr": "1"}, timeout=10
        )
        unsigned = http.get(url, params={"echostr": "1"}, timeout=10)
        # compare_digest raises on non-ASCII text: refused before it is reached, never a 500.
        odd = http.get(url, params={**signed(), "signature": "é" * 40, "echostr": "1"}, timeout=10)
        for answer in (wrong_token, stale, ahead, unsigned, odd):
            assert answer.status_code == 403
            assert "1" not in answer.text
        no_echo = http.get(url, params=signed(), timeout=10)
        markup = http.get(url, params={**signed(), "echostr": "<b>x</b> y"}, timeout=10)
        assert no_echo.status_code == 400
        assert markup.status_code == 400


def test_publishjobfinish_moves_the_record_from_sent_to_confirmed(
    nm_settings: Callable[..., Settings],
    tmp_path: Path,
    wechat: FakeWeChat,
    http: requests.Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with ingest(nm_settings, tmp_path, wechat_callback_token=TOKEN) as api:
        publish_id, article_id = _sent_publish(api.settings, wechat)
        answer = http.post(
            api.url + PATH,
            params=signed(),
            data=finish_xml(publish_id, article_id),
            headers={"Content-Type": "text/xml"},
            timeout=10,
        )
        assert answer.status_code == 200
        assert answer.text == "success"
        assert answer.headers["content-type"].startswith("text/plain")
        rows = _city(api.settings)
        assert rows["city"].state is DeliveryState.CONFIRMED
        assert rows["city"].remote_ids["article_id"] == article_id
        assert rows["city"].remote_ids["article_url"] == f"http://mp.weixin.qq.com/s/{article_id}"
        assert rows[""].state is DeliveryState.CONFIRMED  # every account confirmed
        # WeChat pushes again when an answer is slow: the second push changes nothing.
        again = http.post(
            api.url + PATH, params=signed(), data=finish_xml(publish_id, article_id), timeout=10
        )
        assert again.text == "success"
        assert _city(api.settings)["city"].state is DeliveryState.CONFIRMED
    assert wechat.posts_for(f"http://portal.zhuzhou.test/campaign/{DOCUMENT}.html") == 1
    assert "PUBLISHJOBFINISH" in caplog.text
    assert TOKEN not in caplog.text


def test_a_refused_article_is_recorded_as_failed(
    nm_settings: Callable[..., Settings],
    tmp_path: Path,
    wechat: FakeWeChat,
    http: requests.Session,
) -> None:
    with ingest(nm_settings, tmp_path, wechat_callback_token=TOKEN) as api:
        publish_id, _ = _sent_publish(api.settings, wechat)
        answer = http.post(
            api.url + PATH, params=signed(), data=finish_xml(publish_id, "", status=4), timeout=10
        )
        assert answer.text == "success"
        row = _city(api.settings)["city"]
    assert row.state is DeliveryState.FAILED
    assert "审核不通过" in (row.last_error or "")


_BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><MsgType>event</MsgType><Event>PUBLISHJOBFINISH</Event><PublishEventInfo>
<publish_id>&lol3;</publish_id><publish_status>0</publish_status></PublishEventInfo></xml>"""

_EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY file SYSTEM "file:///etc/passwd">]>
<xml><MsgType>event</MsgType><Event>PUBLISHJOBFINISH</Event>
<PublishEventInfo><publish_id>&file;</publish_id></PublishEventInfo></xml>"""


@pytest.mark.parametrize(
    ("body", "why"),
    [
        pytest.param(b"<xml><MsgType>event</MsgType>", "is not XML", id="truncated"),
        pytest.param(b'{"publish_id": "1"}', "is not XML", id="json"),
        pytest.param(b"", "is not XML", id="empty"),
        pytest.param(_BILLION_LAUGHS, "DTD", id="entity-expansion"),
        pytest.param(_EXTERNAL, "DTD", id="external-entity"),
        # UTF-16 hides the DOCTYPE from a byte search, and expat would still parse it.
        pytest.param(
            _BILLION_LAUGHS.replace(b'version="1.0"', b'version="1.0" encoding="UTF-16"')
            .decode()
            .encode("utf-16"),
            "UTF-8",
            id="dtd-in-utf16",
        ),
        pytest.param(
            b"<xml><MsgType>event</MsgType><Event>PUBLISHJOBFINISH</Event></xml>",
            "publish_id",
            id="no-publish-id",
        ),
        pytest.param(
            b"<xml><ToUserName>gh_1</ToUserName><Encrypt>c2VjcmV0</Encrypt></xml>",
            "plain text",
            id="encrypted",
        ),
    ],
)
def test_bodies_that_are_not_a_publish_event_are_refused_with_400(
    nm_settings: Callable[..., Settings],
    tmp_path: Path,
    wechat: FakeWeChat,
    http: requests.Session,
    body: bytes,
    why: str,
) -> None:
    with ingest(nm_settings, tmp_path, wechat_callback_token=TOKEN) as api:
        _sent_publish(api.settings, wechat)
        answer = http.post(api.url + PATH, params=signed(), data=body, timeout=10)
        assert answer.status_code == 400
        assert why in answer.text
        assert _city(api.settings)["city"].state is DeliveryState.SENT


def test_bad_signature_stale_timestamp_and_oversized_bodies_change_nothing(
    nm_settings: Callable[..., Settings],
    tmp_path: Path,
    wechat: FakeWeChat,
    http: requests.Session,
) -> None:
    with ingest(nm_settings, tmp_path, wechat_callback_token=TOKEN) as api:
        publish_id, article_id = _sent_publish(api.settings, wechat)
        body = finish_xml(publish_id, article_id)
        url = api.url + PATH
        forged = http.post(url, params=signed("guessedToken"), data=body, timeout=10)
        tampered = http.post(url, params={**signed(), "nonce": "123"}, data=body, timeout=10)
        replayed = http.post(url, params=signed(timestamp=time.time() - 301), data=body, timeout=10)
        unsigned = http.post(url, data=body, timeout=10)
        for answer in (forged, tampered, replayed, unsigned):
            assert answer.status_code == 403
        padded = body.replace(b"</xml>", b"<pad>" + b"x" * 70_000 + b"</pad></xml>")
        declared = http.post(url, params=signed(), data=padded, timeout=10)
        chunked = http.post(  # no Content-Length: refused while reading
            url,
            params=signed(),
            data=iter([padded[i : i + 8192] for i in range(0, len(padded), 8192)]),
            timeout=10,
        )
        assert declared.status_code == 413
        assert chunked.status_code == 413
        assert _city(api.settings)["city"].state is DeliveryState.SENT
        # The genuine push still works afterwards.
        assert http.post(url, params=signed(), data=body, timeout=10).text == "success"
        assert _city(api.settings)["city"].state is DeliveryState.CONFIRMED


def test_other_messages_of_the_account_are_acknowledged_and_ignored(
    nm_settings: Callable[..., Settings],
    tmp_path: Path,
    wechat: FakeWeChat,
    http: requests.Session,
) -> None:
    # The server URL receives every message of the account: a follower's text or a
    # subscription answered with anything but "success" shows the follower an error.
    follower = b"""<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>
<FromUserName><![CDATA[oFollower]]></FromUserName><CreateTime>1686900000</CreateTime>
<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[\xe4\xbd\xa0\xe5\xa5\xbd]]></Content>
<MsgId>1234567890123456</MsgId></xml>"""
    other_event = b"""<xml><MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[MASSSENDJOBFINISH]]></Event><MsgID>1000001625</MsgID></xml>"""
    with ingest(nm_settings, tmp_path, wechat_callback_token=TOKEN) as api:
        _sent_publish(api.settings, wechat)
        for body in (follower, other_event):
            answer = http.post(api.url + PATH, params=signed(), data=body, timeout=10)
            assert answer.status_code == 200
            assert answer.text == "success"
        assert _city(api.settings)["city"].state is DeliveryState.SENT


def test_without_the_token_the_callback_is_not_served(
    nm_settings: Callable[..., Settings], tmp_path: Path, http: requests.Session
) -> None:
    with ingest(nm_settings, tmp_path) as api:
        assert callback_routes(api.settings) is None
        get = http.get(api.url + PATH, params={**signed(), "echostr": "1"}, timeout=10)
        post = http.post(api.url + PATH, params=signed(), data=finish_xml("1", "A"), timeout=10)
        assert get.status_code == 404
        assert post.status_code == 404
        assert http.get(api.url + "/healthz", timeout=10).status_code == 200


@pytest.mark.parametrize("value", ["ab", "has space", "x" * 33, "令牌令牌"])
def test_a_token_the_console_would_not_accept_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("GOVPUB_WECHAT_CALLBACK_TOKEN", value)
    with pytest.raises(ConfigurationError, match="GOVPUB_WECHAT_CALLBACK_TOKEN") as refused:
        load_app_settings()
    assert value not in str(refused.value)


def test_the_token_setting_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVPUB_WECHAT_CALLBACK_TOKEN", TOKEN)
    settings = load_app_settings()
    assert settings.wechat.callback_token is not None
    assert settings.wechat.callback_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings)
