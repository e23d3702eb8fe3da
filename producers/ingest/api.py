"""The web layer of the ingest API: an ``APIRouter`` for ``/v1/events…`` and
``/healthz`` (the shell's server, :mod:`govpub.app.server`, mounts it), and the one
table that maps what the steps answer with to HTTP status codes (:data:`STATUS`).

The steps have no HTTP in them: :class:`~producers.ingest.auth.Authenticator` raises
``NotAuthenticated`` (401), the submit pipeline (:mod:`producers.ingest.submit`) and the
status query (:mod:`producers.ingest.status_query`) return a
:class:`~producers.ingest.outcome.Refused`. Nothing happens at import time; work that
touches the store or the bus runs in the thread pool, never on the event loop.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from govpub.bus import Bus, open_bus
from govpub.errors import ConfigurationError, NotAuthenticated
from govpub.settings import Settings
from govpub.store import Store
from govpub.web import BodyTooLarge, ClientGone, read_body
from producers.ingest import signing
from producers.ingest.auth import Authenticator, Claimed, ReplayGuard
from producers.ingest.credentials import Credentials, Principal
from producers.ingest.models import Health, Problem, SubmitAnswer
from producers.ingest.openapi import build_openapi
from producers.ingest.outcome import Refusal, Refused
from producers.ingest.status_query import StatusQuery
from producers.ingest.submit import SubmitPipeline, Submitted

PROBLEM_JSON = "application/problem+json"

STATUS: dict[Refusal, int] = {
    Refusal.INVALID_REQUEST: 422,
    Refusal.NOT_PERMITTED: 403,
    Refusal.INVALID_EVENTS: 422,
    Refusal.CONFLICT: 409,
    Refusal.NOT_FOUND: 404,
    Refusal.NOT_STORED: 503,
}
"""The HTTP status of each refusal; 401 (``NotAuthenticated``), 413 (body too large) and
400 (client gone) are decided by the web layer itself, before any step runs."""


@dataclass
class Ingest:
    """The ingest API's parts, each with its own store connection: authentication, the
    submit pipeline, the status query."""

    settings: Settings
    authenticator: Authenticator
    pipeline: SubmitPipeline
    query: StatusQuery
    _auth_store: Store

    @classmethod
    def build(
        cls,
        settings: Settings,
        credentials: Credentials,
        *,
        clock: Callable[[], float] = time.time,
        gate_clock: Callable[[], datetime] | None = None,
        bus: Bus | None = None,
    ) -> Self:
        """``clock`` is the signature window's clock, ``gate_clock`` the deadlines' clock;
        ``bus`` replaces the one ``settings`` selects (for embedding and tests)."""
        auth_store = Store(settings.store).open()
        authenticator = Authenticator(
            credentials,
            ReplayGuard(auth_store, window=settings.ingest_clock_skew),
            window=settings.ingest_clock_skew,
            clock=clock,
        )
        pipeline = SubmitPipeline(
            settings, bus if bus is not None else open_bus(settings), gate_clock=gate_clock
        )
        return cls(
            settings, authenticator, pipeline, StatusQuery(Store(settings.store)), auth_store
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The ingest API configured by ``settings`` (reads the credentials file)."""
        if settings.ingest_credentials is None:
            raise ConfigurationError(
                "GOVPUB_INGEST_CREDENTIALS: not set; `govpub ingest` needs the TOML file of "
                "department credentials (see the README, Ingest API)"
            )
        return cls.build(settings, Credentials.load(settings.ingest_credentials))

    def close(self) -> None:
        """Close the producer and every store connection."""
        self.pipeline.close()
        self.query.close()
        self._auth_store.close()


def _problem(status: int, title: str, detail: str, refused: Refused | None = None) -> Response:
    body = Problem(
        status=status,
        title=title,
        detail=detail,
        errors=refused.errors if refused else [],
        accepted=refused.accepted if refused else [],
        not_accepted=refused.not_accepted if refused else [],
    )
    return JSONResponse(body.model_dump(mode="json"), status, media_type=PROBLEM_JSON)


def problem_response(refused: Refused) -> Response:
    """``refused`` as an ``application/problem+json`` answer with its status (:data:`STATUS`)."""
    return _problem(STATUS[refused.reason], refused.title, refused.detail, refused)


def _target(request: Request) -> str:
    """The request target as the client sent (and signed) it: raw path and query."""
    raw = request.scope.get("raw_path") or request.url.path.encode("utf-8")
    target = bytes(raw).decode("latin-1")
    query = request.scope.get("query_string") or b""
    return f"{target}?{bytes(query).decode('latin-1')}" if query else target


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The ingest API's OpenAPI document for ``settings``' limits."""
    return build_openapi(
        max_batch=settings.ingest_max_batch, max_body_bytes=settings.ingest_max_body_bytes
    )


def ingest_router(ingest: Ingest) -> APIRouter:
    """The routes of the ingest API."""
    settings = ingest.settings
    limit = settings.ingest_max_body_bytes
    router = APIRouter()

    async def authenticated(request: Request) -> tuple[Principal, Claimed, bytes] | Response:
        """The signed request's principal, claim and body, or the answer refusing it."""
        try:
            claimed = ingest.authenticator.precheck(request.headers)
            body = await read_body(request, limit)
            principal = await run_in_threadpool(
                ingest.authenticator.verify, claimed, request.method, _target(request), body
            )
        except NotAuthenticated as exc:
            answer = _problem(401, "not authenticated", str(exc))
            answer.headers["WWW-Authenticate"] = signing.SCHEME
            return answer
        except BodyTooLarge:
            detail = f"the body is larger than {limit} bytes"
            return _problem(413, "payload too large", detail)
        except ClientGone:
            detail = "the client disconnected before the body ended"
            return _problem(400, "incomplete request", detail)
        return principal, claimed, body

    @router.post("/v1/events", include_in_schema=False)
    async def publish_events(request: Request) -> Response:
        checked = await authenticated(request)
        if isinstance(checked, Response):
            return checked
        principal, claimed, body = checked
        outcome = await run_in_threadpool(
            ingest.pipeline.submit, principal, claimed.request_id, body
        )
        if isinstance(outcome, Submitted):
            return JSONResponse(SubmitAnswer(events=outcome.events).model_dump(mode="json"), 202)
        answer = problem_response(outcome)
        if outcome.reason is Refusal.NOT_STORED:
            answer.headers["Retry-After"] = str(settings.ingest_retry_after)
        return answer

    @router.get("/v1/events/{event_id}", include_in_schema=False)
    async def event_status(event_id: str, request: Request) -> Response:
        checked = await authenticated(request)
        if isinstance(checked, Response):
            return checked
        principal, _, _ = checked
        status = await run_in_threadpool(ingest.query.status, principal, event_id)
        if isinstance(status, Refused):
            return problem_response(status)
        return JSONResponse(status.model_dump(mode="json"))

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return JSONResponse(Health().model_dump(mode="json"))

    return router
