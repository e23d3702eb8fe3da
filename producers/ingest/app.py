"""The HTTP layer of the ingest API (FastAPI): body limits, signatures, answers.

Build it with :func:`create_app`; nothing happens at import time. Work that
touches the store or the bus runs in the thread pool, never on the event loop.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from govpub.errors import NotAuthenticated
from govpub.settings import Settings
from producers.ingest import signing
from producers.ingest.models import Health
from producers.ingest.openapi import build_openapi
from producers.ingest.service import Answer, IngestService, problem

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
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                break
            chunks.append(chunk)
    except ClientDisconnect:
        raise _Gone from None
    if size > limit:
        await _drain(request, limit, size)
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

    @app.post("/v1/events", include_in_schema=False)
    async def publish_events(request: Request) -> Response:
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
        answer = await run_in_threadpool(ingest.submit, principal, claimed.request_id, body)
        return _respond(answer)

    @app.get("/v1/events/{event_id}", include_in_schema=False)
    async def event_status(event_id: str, request: Request) -> Response:
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
        return _respond(await run_in_threadpool(ingest.status, principal, event_id))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return JSONResponse(Health().model_dump(mode="json"))

    return app
