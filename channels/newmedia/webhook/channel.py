"""Signed webhooks to subscriber endpoints (county portals, department sites).

Delivery guarantee: at-least-once per endpoint, with a stable ``webhook-id`` (the
event_id) so receivers drop repeats; every publish, update and retraction is sent
(a retraction only to endpoints that received the document). Requests follow the
Standard Webhooks conventions::

    webhook-id: <event_id>
    webhook-timestamp: <unix seconds of this attempt>
    webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">

The key is the endpoint's secret from ``GOVPUB_WEBHOOK_SECRETS``: a ``whsec_`` prefix
means the rest is the base64 of the key bytes, otherwise the UTF-8 text is the key.
2xx is delivered; 429 and 5xx are retried (urllib3 first, then the runner); 410 means
the endpoint is gone and other 4xx mean it refuses the message: both are permanent.
"""

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import SecretStr

from channels.base import ChannelContext
from channels.newmedia.base import Checkpoint, NewMediaChannel, outbox_dir, routing_for
from channels.newmedia.client import HttpClient
from channels.newmedia.content import document_url, webhook_payload
from channels.newmedia.dryrun import Outbox
from channels.newmedia.errors import PlatformRejected
from channels.newmedia.records import Posted
from channels.newmedia.routing import Routing, Target
from channels.newmedia.settings import NewMediaSettings
from channels.newmedia.webhook.settings import WebhookSettings
from govpub.deliveries import DeliveryRow, DeliveryState
from govpub.errors import ConfigurationError, TransientDeliveryError
from schemas import AnyEvent, ContentEvent

# A dry run signs with a published key: its outbox shows the real headers, not a secret.
DRY_RUN_SECRET = "whsec_ZHJ5LXJ1bi1zaWduaW5nLWtleQ=="  # noqa: S105 - base64 of "dry-run-signing-key"
TOLERANCE_S = 300


def _key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode("utf-8")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one request."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: float = TOLERANCE_S,
) -> bool:
    """Receiver side: whether ``body`` with ``headers`` was signed with ``secret`` within
    ``tolerance`` seconds (replays outside it are refused)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id = lowered["webhook-id"]
        timestamp = int(lowered["webhook-timestamp"])
        offered = lowered["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = sign(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


class WebhookClient(HttpClient):
    """POSTs signed messages to one endpoint (repeatable: receivers dedupe on the id)."""

    platform = "webhook"

    def __init__(
        self,
        endpoint: str,
        url: str,
        secret: SecretStr,
        *,
        timeout: float,
        outbox: Outbox | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(url)
        # The endpoint's own URL is the whole "API", and repeating it is safe.
        super().__init__(
            f"{parts.scheme}://{parts.netloc}/",
            timeout=timeout,
            idempotent_paths=(parts.path.lstrip("/"),),
            outbox=outbox,
            responder=(lambda method, path, body: (204, {})) if outbox is not None else None,
        )
        self.endpoint = endpoint
        self.url = url
        self._secret = secret
        self.clock = clock

    def deliver(self, msg_id: str, body: bytes) -> int:
        """Send one message; returns the HTTP status (2xx) or raises."""
        timestamp = int(self.clock())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self._secret.get_secret_value(), msg_id, timestamp, body),
        }
        response = self.request("POST", self.url, data=body, headers=headers)
        status = response.status_code
        if 200 <= status < 300:
            return status
        if status in (408, 425):
            raise TransientDeliveryError(f"webhook {self.endpoint}: HTTP {status}")
        if status == 410:
            raise PlatformRejected(
                "webhook",
                self.endpoint,
                410,
                "the endpoint is gone; remove it from the routing file",
            )
        raise PlatformRejected("webhook", self.endpoint, status, "the endpoint refused the message")


class WebhookChannel(NewMediaChannel[WebhookClient]):
    """Sends routed events to subscriber endpoints as signed webhooks."""

    name = "webhook"
    platform = "webhook"
    sends_updates = True

    def __init__(
        self,
        context: ChannelContext,
        routing: Routing,
        clients: dict[str, WebhookClient],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(context, routing, clock=clock)
        self.clients = clients

    @classmethod
    def from_context(cls, context: ChannelContext) -> Self:
        """Build from settings (routing file, signing secrets) and connect the clients."""
        routing = routing_for(context, cls.name)
        newmedia = context.section(NewMediaSettings)
        settings = context.section(WebhookSettings)
        clients: dict[str, WebhookClient] = {}
        for name, endpoint in routing.webhook.endpoints.items():
            secret = settings.secrets.get(name)
            directory = outbox_dir(context, cls.name, name)
            if secret is None:
                if directory is None:
                    raise ConfigurationError(
                        f"GOVPUB_WEBHOOK_SECRETS: no signing secret for endpoint {name!r}"
                        f" (defined in {newmedia.routes})"
                    )
                secret = SecretStr(DRY_RUN_SECRET)
            clients[name] = WebhookClient(
                name,
                str(endpoint.url),
                secret,
                timeout=newmedia.timeout,
                outbox=Outbox(directory) if directory is not None else None,
            )
        return cls(context, routing, clients).connect()

    def post(
        self, target: Target, event: ContentEvent, ids: dict[str, str], checkpoint: Checkpoint
    ) -> Posted:
        """Send the event, signed, with ``webhook-id`` = event_id."""
        body = webhook_payload(event, url=document_url(self.urls, event))
        status = self.clients[target.name].deliver(event.event_id, body)
        ids = {"webhook_id": event.event_id, "http_status": str(status)}
        return Posted(DeliveryState.CONFIRMED, ids, f"HTTP {status}")

    def reconcile(
        self, target: str, row: DeliveryRow, ids: dict[str, str], event: ContentEvent | None
    ) -> tuple[Posted | None, dict[str, Any]]:
        """Nothing to look up: sending again with the same ``webhook-id`` is harmless."""
        return None, ids

    def withdraw(self, target: str, event: AnyEvent, rows: list[DeliveryRow]) -> dict[str, str]:
        """Send the retraction to the endpoint once; its earlier messages count as withdrawn."""
        body = webhook_payload(event, url=document_url(self.urls, event))
        status = self.clients[target].deliver(event.event_id, body)
        for row in rows:
            self.records.mark(row, DeliveryState.RETRACTED, f"withdrawn by v{event.version}")
        return {"webhook_id": event.event_id, "http_status": str(status)}
