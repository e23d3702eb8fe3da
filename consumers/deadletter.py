"""Dead letters: messages a channel could not deliver, kept on ``<prefix>.dlq`` with
why, where they came from and how often they were tried."""

import base64
import hashlib
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from govpub.bus import Producer, Record
from govpub.errors import PermanentDeliveryError, PoisonMessage

MAX_KEPT_VALUE = 256 * 1024
"""A larger original value is cut to this size in the dead letter (the whole one is
too big for the broker anyway); its SHA-256 is kept."""

Failure = Literal["invalid", "refused", "gave_up"]
"""Why a message was given up on: it is not a valid event; the channel refused it for
good; or the channel kept failing until the retries ran out."""

MAX_REASON = 4_000
"""Characters of the reason kept (an event with thousands of bad fields has a long one)."""


class DeadLetter(BaseModel):
    """One message that was given up on, for one channel."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: str
    reason: str
    error_type: str
    failure: Failure | None = None
    """``None`` in letters written before this field existed."""
    attempts: int
    """Deliveries tried, over every redrive of this message."""
    redrives: int = 0
    """How many times ``govpub dlq redrive`` gave it another try before this letter."""
    failed_at: datetime
    origin_topic: str
    origin_partition: int
    origin_offset: int
    origin_timestamp_ms: int
    key: str | None = None
    event_id: str | None = None
    document_id: str | None = None
    value_base64: str
    value_sha256: str
    value_truncated: bool = False

    @classmethod
    def for_record(
        cls,
        record: Record,
        *,
        channel: str,
        error: BaseException,
        attempts: int,
        event_id: str | None = None,
        document_id: str | None = None,
        previous: "DeadLetter | None" = None,
    ) -> "DeadLetter":
        """Describe ``record`` given up on by ``channel`` because of ``error``; ``previous``
        is the dead letter it was redriven from, whose attempts it carries on counting."""
        value = record.value
        reason = str(error) or type(error).__name__
        if len(reason) > MAX_REASON:
            reason = reason[: MAX_REASON - 1] + "…"
        return cls(
            channel=channel,
            reason=reason,
            error_type=type(error).__name__,
            failure=_failure(error),
            attempts=attempts + (previous.attempts if previous is not None else 0),
            redrives=previous.redrives + 1 if previous is not None else 0,
            failed_at=datetime.now(UTC),
            origin_topic=record.topic,
            origin_partition=record.partition,
            origin_offset=record.offset,
            origin_timestamp_ms=record.timestamp_ms,
            key=record.key.decode("utf-8", "replace") if record.key is not None else None,
            event_id=event_id,
            document_id=document_id,
            value_base64=base64.b64encode(value[:MAX_KEPT_VALUE]).decode("ascii"),
            value_sha256=hashlib.sha256(value).hexdigest(),
            value_truncated=len(value) > MAX_KEPT_VALUE,
        )

    @classmethod
    def decode(cls, value: bytes) -> "DeadLetter | None":
        """Parse a dead letter read from the DLQ topic (``None`` if it is not one)."""
        try:
            return cls.model_validate_json(value)
        except ValidationError:
            return None

    def encode(self) -> bytes:
        """JSON, as stored on the DLQ topic."""
        return self.model_dump_json().encode("utf-8")

    def original(self) -> Record:
        """The message as it was read from its origin topic."""
        return Record(
            topic=self.origin_topic,
            partition=self.origin_partition,
            offset=self.origin_offset,
            key=self.key.encode("utf-8") if self.key is not None else None,
            value=base64.b64decode(self.value_base64),
            timestamp_ms=self.origin_timestamp_ms,
        )


def _failure(error: BaseException) -> Failure:
    if isinstance(error, PoisonMessage):
        return "invalid"
    if isinstance(error, PermanentDeliveryError):
        return "refused"
    return "gave_up"


class DeadLetterSink:
    """Sends dead letters and waits for the acknowledgement (so a commit never skips one)."""

    def __init__(self, producer: Producer, topic: str, *, timeout: float = 30.0) -> None:
        self.producer = producer
        self.topic = topic
        self.timeout = timeout

    def send(self, letter: DeadLetter) -> None:
        """Store ``letter``; raises ``PublishFailed`` if the bus does not take it."""
        future = self.producer.send(
            self.topic,
            letter.encode(),
            key=letter.key.encode("utf-8") if letter.key is not None else None,
            headers=[
                ("govpub-channel", letter.channel.encode()),
                (
                    "govpub-origin",
                    f"{letter.origin_topic}[{letter.origin_partition}]@{letter.origin_offset}".encode(),
                ),
                ("govpub-error", letter.error_type.encode()),
            ],
        )
        future.result(timeout=self.timeout)
