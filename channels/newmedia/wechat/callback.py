"""WeChat's server callback (服务器配置): the route the wechat channel contributes to the
shell's HTTP server, ``/v1/callbacks/wechat``, mounted only when
``GOVPUB_WECHAT_CALLBACK_TOKEN`` is set.

``GET`` is the console's URL check (echo ``echostr`` if WeChat signed the request);
``POST`` is a pushed message: a PUBLISHJOBFINISH result settles the account's delivery
record (:func:`~channels.newmedia.wechat.channel.settle_publish`), any other message is
acknowledged. Nothing a caller sends makes it answer 5xx.

WeChat signs each request with the SHA-1 of the sorted server token, timestamp and nonce
(``signature``). The signature covers neither the body nor ``echostr``, so the timestamp
window (``GOVPUB_INGEST_CLOCK_SKEW``, 300 s by default) is what limits replays;
recording a PUBLISHJOBFINISH result twice is harmless.
"""

import hashlib
import hmac
import logging
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool

from channels.newmedia.wechat.api import PublishState, PublishStatus, status_from
from channels.newmedia.wechat.channel import settle_publish
from channels.newmedia.wechat.settings import WeChatSettings
from govpub.errors import InvalidCallback, UnhandledCallback
from govpub.settings import Settings, section
from govpub.store import Store
from govpub.web import BodyTooLarge, ClientGone, read_body

log = logging.getLogger(__name__)

PATH = "/v1/callbacks/wechat"

MAX_BODY_BYTES = 65_536
"""A PUBLISHJOBFINISH event is well under 2 KiB; anything near this is not WeChat's."""

_SIGNATURE = re.compile(r"[0-9a-f]{40}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_PRINTABLE = re.compile(r"[\x21-\x7e]{1,256}")
"""Visible ASCII: WeChat's nonces and echostr are digits; the check never compares
other text (``hmac.compare_digest`` refuses non-ASCII strings)."""


@dataclass(frozen=True)
class CallbackResult:
    """What a PUBLISHJOBFINISH callback said and whether it changed a record."""

    status: PublishStatus
    recorded: bool
    account_id: str


def verify_callback_signature(token: str, signature: str, timestamp: str, nonce: str) -> bool:
    """WeChat's callback check: SHA-1 of the sorted server token, timestamp and nonce."""
    digest = hashlib.sha1("".join(sorted((token, timestamp, nonce))).encode()).hexdigest()  # noqa: S324 - the platform's scheme
    return hmac.compare_digest(digest, signature)


def handle_publish_job_finish(
    body: bytes, store: Store, *, clock: Callable[[], float] = time.time
) -> CallbackResult:
    """Handle a PUBLISHJOBFINISH event pushed by WeChat (plain-text mode XML); the route
    verifies the signature (:class:`WeChatCallbackCheck`) and calls this.

    Raises :class:`~govpub.errors.InvalidCallback` for a body that is not such an event,
    :class:`~govpub.errors.UnhandledCallback` for a well-formed message of another type.
    """
    # WeChat sends UTF-8. Parsing the decoded text (not the bytes) keeps the check below
    # honest: bytes in UTF-16 would hide a DOCTYPE from it and still be parsed with it.
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidCallback("callback XML must be UTF-8") from None
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise InvalidCallback("callback XML must not declare a DTD or entities")
    try:
        root = ET.fromstring(text)  # noqa: S314 - DTDs and entities refused above
    except ET.ParseError as exc:
        raise InvalidCallback(f"callback is not XML: {exc}") from None
    msg_type = (root.findtext("MsgType") or "").strip()
    event_name = (root.findtext("Event") or "").strip()
    if root.tag != "xml" or not msg_type:
        encrypted = root.find("Encrypt") is not None
        raise InvalidCallback(
            "an encrypted callback: set the account's message mode to plain text (明文模式)"
            if encrypted
            else "not a WeChat message"
        )
    if msg_type != "event" or event_name != "PUBLISHJOBFINISH":
        raise UnhandledCallback(
            f"not a PUBLISHJOBFINISH event: MsgType={msg_type[:40]!r} Event={event_name[:40]!r}"
        )
    info = root.find("PublishEventInfo")
    if info is None or not (info.findtext("publish_id") or "").strip():
        raise InvalidCallback("PublishEventInfo.publish_id is missing")
    items = [
        {
            "idx": item.findtext("idx") or "1",
            "article_url": (item.findtext("article_url") or "").strip(),
        }
        for item in info.iterfind("article_detail/item")
    ]
    fail = [int(t) for i in info.iterfind("fail_idx") if (t := (i.text or "").strip()).isdigit()]
    status = status_from(
        {
            "publish_id": (info.findtext("publish_id") or "").strip(),
            "publish_status": int(
                (info.findtext("publish_status") or str(PublishState.FAILED.value)).strip()
            ),
            "article_id": (info.findtext("article_id") or "").strip(),
            "article_detail": {"item": items},
            "fail_idx": fail,
        }
    )
    recorded = settle_publish(store, status, clock=clock)
    log.info(
        "wechat: PUBLISHJOBFINISH for publish %s: %s%s",
        status.publish_id,
        status.meaning,
        "" if recorded else " (no record changed)",
    )
    return CallbackResult(status, recorded, (root.findtext("ToUserName") or "").strip())


@dataclass(frozen=True)
class WeChatCallbackCheck:
    """Checks that a request to the callback URL comes from WeChat: a valid signature
    and a timestamp within ``window`` seconds of ``clock``."""

    token: SecretStr
    window: int
    clock: Callable[[], float] = field(default=time.time)

    def refusal(self, query: Mapping[str, str]) -> str | None:
        """``None`` when the query (``signature``, ``timestamp``, ``nonce``) is WeChat's;
        otherwise why not, for the log (never shown to the caller)."""
        signature = query.get("signature", "")
        timestamp = query.get("timestamp", "")
        nonce = query.get("nonce", "")
        if not (
            _SIGNATURE.fullmatch(signature)
            and _TIMESTAMP.fullmatch(timestamp)
            and _PRINTABLE.fullmatch(nonce)
        ):
            return "signature, timestamp or nonce missing or malformed"
        if abs(self.clock() - int(timestamp)) > self.window:
            return f"timestamp more than {self.window} s from the server's clock"
        if not verify_callback_signature(
            self.token.get_secret_value(), signature, timestamp, nonce
        ):
            return "bad signature"
        return None


def valid_echostr(value: str) -> bool:
    """Whether ``echostr`` (echoed back unsigned in a URL check) is plain visible ASCII."""
    return _PRINTABLE.fullmatch(value) is not None


def _text(body: str, status: int = 200) -> Response:
    # WeChat reads plain text; nosniff keeps a browser from reading an echoed echostr as HTML.
    return PlainTextResponse(body, status, headers={"X-Content-Type-Options": "nosniff"})


def callback_routes(
    settings: Settings, *, clock: Callable[[], float] = time.time
) -> APIRouter | None:
    """The callback's routes, or ``None`` when ``GOVPUB_WECHAT_CALLBACK_TOKEN`` is not set.
    Each pushed message is recorded through a store connection of its own."""
    token = section(settings, WeChatSettings).callback_token
    if token is None:
        return None
    check = WeChatCallbackCheck(token, window=settings.ingest_clock_skew, clock=clock)
    router = APIRouter()

    def refused(request: Request) -> Response | None:
        reason = check.refusal(request.query_params)
        if reason is None:
            return None
        client = request.client.host if request.client else "-"
        log.warning("wechat callback from %s refused: %s", client, reason)
        return _text("forbidden", 403)

    def record(body: bytes) -> CallbackResult:
        with Store(settings.store) as store:
            return handle_publish_job_finish(body, store)

    @router.get(PATH, include_in_schema=False)
    async def wechat_verify(request: Request) -> Response:
        """The console's URL check: echo ``echostr`` if WeChat signed the request."""
        answer = refused(request)
        if answer is not None:
            return answer
        echostr = request.query_params.get("echostr", "")
        if not valid_echostr(echostr):
            return _text("bad request: echostr missing or not visible ASCII", 400)
        log.info("wechat callback: server URL verified")
        return _text(echostr)

    @router.post(PATH, include_in_schema=False)
    async def wechat_event(request: Request) -> Response:
        """A pushed message: PUBLISHJOBFINISH is recorded, other messages acknowledged."""
        answer = refused(request)
        if answer is not None:
            return answer
        if request.query_params.get("encrypt_type", "raw") != "raw":
            return _text(
                "bad request: set the account's message mode to plain text (明文模式)", 400
            )
        try:
            body = await read_body(request, MAX_BODY_BYTES)
        except BodyTooLarge:
            return _text(f"payload too large: over {MAX_BODY_BYTES} bytes", 413)
        except ClientGone:
            return _text("incomplete request", 400)
        try:
            await run_in_threadpool(record, body)
        except UnhandledCallback as exc:
            # The server URL gets every message of the account; anything but "success" (or
            # an empty answer) makes WeChat tell a follower the account is unavailable.
            log.info("wechat callback: %s; acknowledged, ignored", exc)
        except InvalidCallback as exc:
            log.warning("wechat callback refused: %s", exc)
            return _text(f"bad request: {exc}"[:300], 400)
        except Exception:
            # The publish job is still open in the store: the wechat channel's
            # freepublish/get polling settles it, so the push is acknowledged anyway.
            log.exception("wechat callback: PUBLISHJOBFINISH not recorded; polling will settle it")
        return _text("success")

    return router
