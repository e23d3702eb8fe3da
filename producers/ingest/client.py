"""A small client for the ingest API (requests), signing every request.

::

    from producers.ingest.client import IngestClient

    with IngestClient("https://ingest.example.gov.cn", "zz-yjj-2026a", secret) as client:
        reply = client.publish(event)            # one event (dict) or a list of them
        if reply.ok:
            print(reply.body["events"][0]["offset"])
        status = client.status(event["event_id"])

:class:`GovpubAuth` is a ``requests`` auth class, for a session of your own
(``session.auth = GovpubAuth(key_id, secret)``): it signs the request exactly as
it will be sent, with a fresh request id and the current time.
"""

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import requests
from requests.auth import AuthBase

from producers.ingest import signing


class GovpubAuth(AuthBase):
    """Signs requests with a department key (``GOVPUB-HMAC-SHA256``)."""

    def __init__(
        self,
        key_id: str,
        secret: str,
        *,
        clock: Callable[[], float] = time.time,
        request_ids: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.key_id = key_id
        self.secret = secret
        self.clock = clock
        self.request_ids = request_ids

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        if not isinstance(body, bytes):
            raise TypeError("GovpubAuth signs bodies given as bytes or str, not streams")
        request.headers.update(
            signing.signed_headers(
                self.key_id,
                self.secret,
                request.method or "GET",
                request.path_url,
                body,
                timestamp=int(self.clock()),
                request_id=self.request_ids(),
            )
        )
        return request


@dataclass(frozen=True)
class Reply:
    """An answer of the ingest API: status code, parsed JSON body, ``Retry-After`` if any."""

    status: int
    body: dict[str, Any]
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        """True for 2xx."""
        return 200 <= self.status < 300


def encode_body(events: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> bytes:
    """The JSON body for one event or a batch (UTF-8, compact)."""
    payload: Any = dict(events) if isinstance(events, Mapping) else [dict(e) for e in events]
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class IngestClient:
    """Publishes events and reads their status; one ``requests`` session. Use as a context
    manager (or call :meth:`close`)."""

    def __init__(
        self,
        base_url: str,
        key_id: str,
        secret: str,
        *,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.auth = GovpubAuth(key_id, secret)

    def publish(
        self,
        events: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        retries: int = 0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Reply:
        """Send one event or a batch. On 503 (the bus did not acknowledge), wait for
        ``Retry-After`` and send again, up to ``retries`` times: resending is harmless."""
        body = encode_body(events)
        reply = self._send("POST", "/v1/events", body)
        for _ in range(retries):
            if reply.status != 503:
                break
            sleep(reply.retry_after or 1.0)
            reply = self._send("POST", "/v1/events", body)
        return reply

    def send_raw(self, body: bytes, *, method: str = "POST", path: str = "/v1/events") -> Reply:
        """Send ``body`` as it is (signed); for tools and tests."""
        return self._send(method, path, body)

    def status(self, event_id: str) -> Reply:
        """What became of ``event_id`` (accepted, deliveries, dead letters)."""
        return self._send("GET", f"/v1/events/{event_id}", b"")

    def _send(self, method: str, path: str, body: bytes) -> Reply:
        response = self.session.request(
            method,
            self.base_url + path,
            data=body if body else None,
            headers={"Content-Type": "application/json"} if body else {},
            timeout=self.timeout,
        )
        try:
            parsed = response.json()
        except ValueError:
            parsed = {"detail": response.text[:500]}
        retry = response.headers.get("Retry-After")
        return Reply(
            response.status_code,
            parsed if isinstance(parsed, dict) else {"body": parsed},
            float(retry) if retry and retry.isdigit() else None,
        )

    def close(self) -> None:
        """Close the session."""
        self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
