"""Retry behaviour as data: how often, how long between tries, and for which errors."""

import random
from dataclasses import dataclass

from govpub.errors import PermanentDeliveryError, RateLimited
from govpub.settings import Settings


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; permanent errors are never retried."""

    max_attempts: int = 5
    min_backoff: float = 0.5
    max_backoff: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.1

    @classmethod
    def from_settings(cls, settings: Settings) -> "RetryPolicy":
        """The policy configured by ``GOVPUB_RETRY_*``."""
        return cls(
            max_attempts=settings.retry_max_attempts,
            min_backoff=settings.retry_min_backoff,
            max_backoff=settings.retry_max_backoff,
        )

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """Whether to try again after ``attempt`` tries ended in ``error``."""
        if not isinstance(error, Exception) or isinstance(error, PermanentDeliveryError):
            return False
        return attempt < self.max_attempts

    def delay(self, attempt: int, error: BaseException | None = None) -> float:
        """Seconds to wait after the ``attempt``-th failure."""
        base = min(self.max_backoff, self.min_backoff * self.multiplier ** (attempt - 1))
        base *= 1 + random.uniform(-self.jitter, self.jitter)  # noqa: S311 - not cryptographic
        if isinstance(error, RateLimited):
            base = max(base, min(error.retry_after, self.max_backoff))
        return max(0.0, base)
