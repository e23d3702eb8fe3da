"""The HTTP layer of the ingest API (FastAPI): body limits, signatures, answers; and,
when ``GOVPUB_WECHAT_CALLBACK_TOKEN`` is set, WeChat's PUBLISHJOBFINISH callback.

Build it with :func:`create_app`; nothing happens at import time. Work that
touches the store or the bus runs in the thread pool, never on the event loop.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from channels.newmedia.wechat import NotPublishJobFinish
from govpub.errors import NotAuthenticated
from govpub.settings import Settings
from producers.ingest import signing
from producers.ingest.auth import Claimed
from producers.ingest.credentials import Principal
from producers.ingest.models import Health
from producers.ingest.openapi import build_openapi
from producers.ingest.service import Answer, IngestService, problem
from producers.ingest.wechat_callback import MAX_BODY_BYTES as MAX_WECHAT_BODY
from producers.ingest.wechat_callback import WeChatCallbackCheck, valid_echostr

log = logging.getLogger(__name__)

_DRAIN_FACTOR = 8
"""After a 413, up to this many times the limit is read and thrown away, so that the
client (still sending) reads the answer instead of a reset connection. Beyond that the
connection is closed."""


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    """The client disconnected before sending the whole body."""


def _respond(answer: Answer) -> Response:
    return JSONResponse(
        answer.body,
        status_code=answer.status,
        headers=answer.headers,
        media_type=answer.media_type,
    )


def _unauthenticated(exc: NotAuthenticated) -> Response:
    answer = problem(
        401,
        "not authenticated",
        str(exc),
        headers={"WWW-Authenticate": signing.SCHEME},
    )
    return _respond(answer)


def _target(request: Request) -> str:
    """The request target as the client sent (and signed) it: raw path and query."""
    raw = request.scope.get("raw_path") or request.url.path.encode("utf-8")
    target = bytes(raw).decode("latin-1")
    query = request.scope.get("query_string") or b""
    return f"{target}?{bytes(query).decode('latin-1')}" if query else target


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refusing it as soon as it grows past ``limit`` bytes (never buffering more)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        await _drain(request, limit, 0)
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    try:
        # One pass: past the limit the rest is drained here, not by a second stream(),
        # which raises once the last chunk has been read (a 500 instead of the 413).
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit * _DRAIN_FACTOR:
                break
            if size <= limit:
                chunks.append(chunk)
    except ClientDisconnect:
        if size <= limit:
            raise _Gone from None
    if size > limit:
        raise _TooLarge
    return b"".join(chunks)


async def _drain(request: Request, limit: int, seen: int) -> None:
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit * _DRAIN_FACTOR:
                return
    except ClientDisconnect:
        return


def create_app(settings: Settings, *, service: IngestService | None = None) -> FastAPI:
    """The ingest API for ``settings``; ``service`` defaults to one built from the settings
    (which reads the credentials file and fails with a ``ConfigurationError`` if it is wrong).
    The app closes the service when it shuts down."""
    ingest = service if service is not None else IngestService.from_settings(settings)
    limit = settings.ingest_max_body_bytes

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await run_in_threadpool(ingest.close)

    app = FastAPI(
        title="govpub ingest API",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.service = ingest
    document = build_openapi(max_batch=settings.ingest_max_batch, max_body_bytes=limit)

    def openapi() -> dict[str, Any]:
        return document

    app.openapi = openapi  # type: ignore[method-assign]

    too_large = problem(413, "payload too large", f"the body is larger than {limit} bytes")
    gone = problem(400, "incomplete request", "the client disconnected before the body ended")

    async def authenticated(
        request: Request,
    ) -> tuple[Principal, Claimed, bytes] | Response:
        """The signed request's principal, claim and body, or the answer refusing it."""
        try:
            claimed = ingest.precheck(request.headers)
            body = await _read_body(request, limit)
            principal = await run_in_threadpool(
                ingest.verify, claimed, request.method, _target(request), body
            )
        except NotAuthenticated as exc:
            return _unauthenticated(exc)
        except _TooLarge:
            return _respond(too_large)
        except _Gone:
            return _respond(gone)
        return principal, claimed, body

    @app.post("/v1/events", include_in_schema=False)
    async def publish_events(request: Request) -> Response:
        checked = await authenticated(request)
        if isinstance(checked, Response):
            return checked
        principal, claimed, body = checked
        answer = await run_in_threadpool(ingest.submit, principal, claimed.request_id, body)
        return _respond(answer)

    @app.get("/v1/events/{event_id}", include_in_schema=False)
    async def event_status(event_id: str, request: Request) -> Response:
        checked = await authenticated(request)
        if isinstance(checked, Response):
            return checked
        principal, _, _ = checked
        return _respond(await run_in_threadpool(ingest.status, principal, event_id))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return JSONResponse(Health().model_dump(mode="json"))

    if ingest.wechat_callback is not None:
        _mount_wechat_callback(app, ingest, ingest.wechat_callback)
    return app


def _text(body: str, status: int = 200) -> Response:
    # WeChat reads plain text; nosniff keeps a browser from reading an echoed echostr as HTML.
    return PlainTextResponse(body, status, headers={"X-Content-Type-Options": "nosniff"})


def _mount_wechat_callback(app: FastAPI, ingest: IngestService, check: WeChatCallbackCheck) -> None:
    """``/v1/callbacks/wechat``: the account's server URL (服务器配置), mounted only when
    ``GOVPUB_WECHAT_CALLBACK_TOKEN`` is set. Nothing a caller sends makes it answer 5xx."""

    def refused(request: Request) -> Response | None:
        reason = check.refusal(request.query_params)
        if reason is None:
            return None
        client = request.client.host if request.client else "-"
        log.warning("wechat callback from %s refused: %s", client, reason)
        return _text("forbidden", 403)

    @app.get("/v1/callbacks/wechat", include_in_schema=False)
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

    @app.post("/v1/callbacks/wechat", include_in_schema=False)
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
            body = await _read_body(request, MAX_WECHAT_BODY)
        except _TooLarge:
            return _text(f"payload too large: over {MAX_WECHAT_BODY} bytes", 413)
        except _Gone:
            return _text("incomplete request", 400)
        try:
            await run_in_threadpool(ingest.wechat_publish_finished, body)
        except NotPublishJobFinish as exc:
            # The server URL gets every message of the account; anything but "success" (or
            # an empty answer) makes WeChat tell a follower the account is unavailable.
            log.info("wechat callback: %s; acknowledged, ignored", exc)
        except ValueError as exc:
            log.warning("wechat callback refused: %s", exc)
            return _text(f"bad request: {exc}"[:300], 400)
        except Exception:
            # The publish job is still open in the store: the wechat channel's
            # freepublish/get polling settles it, so the push is acknowledged anyway.
            log.exception("wechat callback: PUBLISHJOBFINISH not recorded; polling will settle it")
        return _text("success")
