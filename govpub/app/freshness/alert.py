"""Post the freshness report to the operators' alert webhook.

Signed the Standard Webhooks way, by the same client as the ``webhook`` channel
(:class:`channels.newmedia.webhook.channel.WebhookClient`): ``webhook-id`` (stable for one
run, so a retried post is dropped by the receiver as a repeat), ``webhook-timestamp``
and ``webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`` with
``GOVPUB_FRESHNESS_ALERT_SECRET``. The receiver checks it with
:func:`channels.newmedia.webhook.channel.verify`.
"""

import json
from collections.abc import Mapping
from typing import Any

from channels.newmedia.webhook.channel import WebhookClient
from govpub.app.freshness.settings import FreshnessSettings

ALERT_TYPE = "govpub.freshness.alert"
ALERT_ENDPOINT = "freshness-alert"
"""The name the alert endpoint has in errors and logs."""


def alert_body(report: Mapping[str, Any]) -> bytes:
    """The JSON body: ``{"type", "timestamp", "data"}``, ``data`` being the report."""
    message = {"type": ALERT_TYPE, "timestamp": report["checked_at"], "data": report}
    return json.dumps(message, ensure_ascii=False, sort_keys=True).encode("utf-8")


def post_alert(
    report: Mapping[str, Any], section: FreshnessSettings, *, message_id: str
) -> int | None:
    """Post ``report`` (:meth:`FreshnessReport.as_dict`) to ``GOVPUB_FRESHNESS_ALERT_URL``;
    the HTTP status (2xx), or ``None`` when no alert webhook is configured. Raises a
    ``DeliveryError`` when the endpoint cannot be reached or refuses the message."""
    if section.alert_url is None or section.alert_secret is None:
        return None
    with WebhookClient(
        ALERT_ENDPOINT,
        str(section.alert_url),
        section.alert_secret,
        timeout=section.alert_timeout,
    ) as client:
        return client.deliver(message_id, alert_body(report))
