"""The one exception tree of govpub.

Retry or dead-letter is decided by the type of the error, never by its message::

    GovpubError
    ├── ConfigurationError          bad settings or configuration file
    ├── UnknownChannel              a channel name that is not registered
    ├── EventValidationError        an event that does not match its schema
    │   └── ComplianceRefusal       refused by the compliance gate (never-publish rules)
    ├── NotAuthenticated            ingest: missing or bad signature, unknown key, replay
    ├── NotPermitted                ingest: another department's event, document or kind
    ├── StaleVersion                a version ≤ the one already accepted
    ├── DuplicateEventConflict      an event_id reused for different content
    ├── BusError                    transport failures
    │   ├── PublishFailed           a send that was not acknowledged
    │   └── CommitFailed            offsets not committed (partition lost)
    ├── LeaseLost                   a single-writer channel's lease passed to another process
    └── DeliveryError               raised by channels
        ├── TransientDeliveryError  retried with backoff
        │   ├── RateLimited         retried after the platform's delay
        │   └── ChannelParked       the channel waits until a given time (not an attempt)
        └── PermanentDeliveryError  dead-lettered at once
            └── PoisonMessage       undecodable or schema-invalid message
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


class GovpubError(Exception):
    """Base of every error govpub raises on purpose."""


class ConfigurationError(GovpubError):
    """Settings or a configuration file are wrong; the message names the field."""


class UnknownChannel(GovpubError):
    """A channel name that is not in the registry."""


@dataclass(frozen=True)
class FieldError:
    """One problem with one field: a dotted path (``payload.title``) and the reason."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class EventValidationError(GovpubError):
    """An event does not match its schema; ``errors`` lists every bad field."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(str(e) for e in self.errors) or "invalid event")


class ComplianceRefusal(EventValidationError):
    """The compliance gate refuses to publish the event (a never-publish rule applies).

    ``rule`` names the rule (see ``producers.compliance.rules``); ``errors`` names the field.
    """

    def __init__(self, rule: str, errors: Sequence[FieldError]) -> None:
        self.rule = rule
        super().__init__(errors)


class NotAuthenticated(GovpubError):
    """A request to the ingest API is not signed by a known, active key (HTTP 401)."""


class NotPermitted(GovpubError):
    """An authenticated department may not publish this event (HTTP 403).

    ``path`` names the field that is not allowed (``department``, ``kind``, ``document_id``).
    """

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.reason = message
        super().__init__(f"{path}: {message}")


class StaleVersion(GovpubError):
    """The document already has this version or a newer one."""

    def __init__(self, document_id: str, version: int, current: int) -> None:
        self.document_id = document_id
        self.version = version
        self.current = current
        super().__init__(
            f"version: {version} is stale for document {document_id!r}; "
            f"version {current} is already accepted (send version {current + 1} or later)"
        )


class DuplicateEventConflict(GovpubError):
    """The event_id was already accepted with different content."""

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(f"event_id: {event_id!r} was already accepted with different content")


class BusError(GovpubError):
    """The bus (embedded log or Kafka) failed."""


class PublishFailed(BusError):
    """A message was not acknowledged by the bus; the caller still owns it."""


class CommitFailed(BusError):
    """Offsets could not be committed; the messages will be delivered again."""


class LeaseLost(GovpubError):
    """Another process holds the lease of a single-writer channel now (this one was gone
    longer than the lease lasts); this one writes nothing more and waits as a standby."""


class DeliveryError(GovpubError):
    """A channel could not deliver an event."""


class TransientDeliveryError(DeliveryError):
    """A failure that may pass (network, 5xx, lock); retried with backoff."""


class RateLimited(TransientDeliveryError):
    """The platform asked us to slow down; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class ChannelParked(TransientDeliveryError):
    """The platform will refuse every call until ``until`` (a daily quota, for example).

    The runner alerts, records the delivery as failed with ``reason``, waits until
    ``until`` and tries the same event again; the wait is not counted as an attempt
    and nothing is dead-lettered, so a spent quota never floods the dead-letter topic.
    """

    def __init__(self, until: datetime, reason: str) -> None:
        if until.tzinfo is None:
            raise ValueError("ChannelParked needs an aware datetime")
        self.until = until
        self.reason = reason
        super().__init__(f"{reason} (parked until {until.isoformat(timespec='seconds')})")


class PermanentDeliveryError(DeliveryError):
    """A failure that retrying cannot fix; the event is dead-lettered."""


class PoisonMessage(PermanentDeliveryError):
    """A message that cannot be decoded or validated as an event."""
