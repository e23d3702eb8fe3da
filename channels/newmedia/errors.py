"""How the new-media adapters report failures, in govpub's one exception tree.

Retry or dead-letter is still decided by type (``govpub.errors``); these add what a
platform said and whether a write may have reached it::

    DeliveryError
    ├── TransientDeliveryError
    │   ├── OutcomeUnknown          a write may have reached the platform (read timeout,
    │   │                           5xx, connection lost): reconcile before posting again
    │   ├── RateLimited             HTTP 429 and the like: retried after the delay
    │   └── ChannelParked           a daily or hourly quota is spent: wait, then go on
    └── PermanentDeliveryError
        ├── PlatformRejected        the platform refused the request (code and message)
        │   └── DuplicatePost       the platform refused a post as a repeat of one it has
        └── AccountMisconfigured    an operator must act: unverified account (48001),
                                    unregistered link domain (10017), IP whitelist, secret
"""

import re
from datetime import UTC, datetime, timedelta, timezone

from govpub.errors import PermanentDeliveryError, TransientDeliveryError

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
"""China Standard Time (no daylight saving): platform quotas reset at its midnight."""

_SECRET_QUERY = re.compile(
    r"((?:access_token|secret|appsecret|token|signature)=)[^&\s\"'#]+", re.IGNORECASE
)


def redact(text: str) -> str:
    """``text`` with secret-looking query values masked (``access_token=***``)."""
    return _SECRET_QUERY.sub(r"\1***", text)


def next_midnight(now: datetime, *, tz: timezone = BEIJING, margin_s: float = 60.0) -> datetime:
    """The next midnight in ``tz`` after ``now``, plus a margin for clock skew."""
    local = now.astimezone(tz)
    midnight = datetime(local.year, local.month, local.day, tzinfo=tz) + timedelta(days=1)
    return midnight + timedelta(seconds=margin_s)


def next_hour(now: datetime, *, margin_s: float = 60.0) -> datetime:
    """The start of the next hour after ``now`` (UTC), plus a margin."""
    start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return start + timedelta(hours=1, seconds=margin_s)


class OutcomeUnknown(TransientDeliveryError):
    """A write may or may not have taken effect; the record stays ``pending`` and the next
    attempt looks the post up on the platform before it posts again."""


class PlatformRejected(PermanentDeliveryError):
    """The platform refused the request; ``code`` is its error code."""

    def __init__(self, platform: str, api: str, code: int | str, message: str) -> None:
        self.platform = platform
        self.api = api
        self.code = code
        super().__init__(f"{platform} {api}: error {code}: {redact(message)}")


class DuplicatePost(PlatformRejected):
    """The platform refused a post because it already has the same one."""


class AccountMisconfigured(PermanentDeliveryError):
    """The account, app or routing file needs an operator; the message says what to change."""
