"""The producer SDK: validate → gate → send → wait for the bus's acknowledgement.

``Publisher.publish`` either returns where the event was stored or raises; an
event is never dropped silently. Events are keyed by ``document_id`` so every
version of a document travels in order on one partition.
"""

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NamedTuple, Self

from govpub.bus import Bus, Producer, SendFuture
from govpub.errors import (
    BatchRejected,
    EventValidationError,
    FieldError,
    GovpubError,
    PublishFailed,
)
from govpub.topics import Topics
from producers.ledger import Reservation, VersionLedger
from schemas import SCHEMA_VERSION, AnyEvent, encode_event, parse_event
from schemas.enums import Action, Kind
from schemas.events import MAX_EVENT_BYTES

log = logging.getLogger(__name__)

Gate = Callable[[AnyEvent], AnyEvent]
"""A check run on every event before it is sent (compliance: masking, blocks); it returns
the event to send or raises a :class:`GovpubError` naming the field."""


def already_checked(event: AnyEvent) -> AnyEvent:
    """The gate for events that have passed the publisher's gate already (``prepare``)."""
    return event


@dataclass(frozen=True, slots=True)
class Accepted:
    """Where an accepted event is stored; ``duplicate`` if it had been accepted before."""

    event_id: str
    document_id: str
    topic: str
    partition: int
    offset: int
    duplicate: bool = False


class PartialPublish(PublishFailed):
    """The bus did not acknowledge some events; ``accepted`` lists those it did."""

    def __init__(self, accepted: list[Accepted], failed: Mapping[str, PublishFailed]) -> None:
        self.accepted = accepted
        self.failed = dict(failed)
        super().__init__(
            f"{len(self.failed)} event(s) not acknowledged by the bus: "
            + "; ".join(f"{event_id}: {error}" for event_id, error in self.failed.items())
        )


def headers_for(event: AnyEvent) -> list[tuple[str, bytes]]:
    """Message headers that let operators route and trace without decoding the value."""
    return _headers(event.event_id, _KIND_BYTES[event.kind], _ACTION_BYTES[event.action])


_SCHEMA_HEADER = ("govpub-schema", SCHEMA_VERSION.encode())
# Looked up, not encoded per event (an enum's ``value`` is a descriptor call).
_KIND_BYTES = {kind: kind.value.encode() for kind in Kind}
_ACTION_BYTES = {action: action.value.encode() for action in Action}


def _headers(event_id: str, kind: bytes, action: bytes) -> list[tuple[str, bytes]]:
    return [
        _SCHEMA_HEADER,
        ("govpub-event-id", event_id.encode()),
        ("govpub-kind", kind),
        ("govpub-action", action),
    ]


class _Outgoing(NamedTuple):
    """What is sent for one event: only strings and bytes, so that a batch of thousands
    does not keep thousands of validated models (each a tree of objects the garbage
    collector walks again and again while the batch is sent: a quarter of the
    Publisher's time). The headers are built when the message is sent, not kept: five
    more containers an event that lived through the batch made the collector's full
    passes over the whole heap more frequent."""

    event_id: str
    document_id: str
    topic: str
    value: bytes
    kind: bytes
    action: bytes


class Publisher:
    """Sends validated events to their topics. Use as a context manager."""

    def __init__(
        self,
        bus: Bus,
        topics: Topics,
        *,
        ledger: VersionLedger | None = None,
        gate: Gate | None = None,
        ack_timeout: float = 30.0,
    ) -> None:
        self.bus = bus
        self.topics = topics
        self.ledger = ledger
        self.gate = gate
        self.ack_timeout = ack_timeout
        self._producer: Producer | None = None
        self._topic_of = {kind: topics.for_kind(kind) for kind in Kind}

    def open(self) -> Self:
        """Create the topics if needed and connect the producer."""
        if self._producer is None:
            self.bus.ensure_topics(self.topics.content)
            self._producer = self.bus.producer()
        return self

    def prepare(
        self, event: AnyEvent | Mapping[str, Any] | str | bytes, *, gate: Gate | None = None
    ) -> AnyEvent:
        """Validate (if needed) and run the gate; raises the error that refuses the event.

        ``gate`` replaces the publisher's own gate for this call (for example one bound to
        the credential of an ingest request); by default the publisher's gate runs.
        """
        return self._prepare(event, gate)[0]

    def _prepare(
        self, event: AnyEvent | Mapping[str, Any] | str | bytes, gate: Gate | None
    ) -> tuple[AnyEvent, bytes]:
        # ``dict`` first: the common case, without the ABC's instance check.
        if type(event) is not dict and not isinstance(event, Mapping | str | bytes):
            # A model instance may have been built with model_construct: validate its dump.
            event = event.model_dump(mode="json", exclude_none=True)
        validated = parse_event(event)
        gate = gate if gate is not None else self.gate
        checked = gate(validated) if gate is not None else validated
        encoded = encode_event(checked)
        if len(encoded) > MAX_EVENT_BYTES:
            raise EventValidationError(
                [FieldError("", f"event is larger than {MAX_EVENT_BYTES} bytes")]
            )
        return checked, encoded

    def publish(
        self, event: AnyEvent | Mapping[str, Any] | str | bytes, *, gate: Gate | None = None
    ) -> Accepted:
        """Send one event and wait for the acknowledgement (``gate`` as in :meth:`prepare`)."""
        try:
            return self.publish_many([event], gate=gate)[0]
        except BatchRejected as exc:
            raise exc.errors[0] from None

    def publish_many(
        self,
        events: Iterable[AnyEvent | Mapping[str, Any] | str | bytes],
        *,
        gate: Gate | None = None,
    ) -> list[Accepted]:
        """Send a batch: all are checked first (nothing is sent if one is refused),
        then sent together and acknowledged. Returns one :class:`Accepted` per event.
        ``gate`` as in :meth:`prepare`."""
        self.open()
        assert self._producer is not None
        checked: list[AnyEvent] = []  # kept for the ledger only
        outgoing: list[_Outgoing] = []
        errors: dict[int, GovpubError] = {}
        topic_of = self._topic_of
        for index, raw in enumerate(events):
            try:
                event, value = self._prepare(raw, gate)
            except GovpubError as exc:
                errors[index] = exc
                continue
            outgoing.append(
                _Outgoing(
                    event.event_id,
                    event.document_id,
                    topic_of[event.kind],
                    value,
                    _KIND_BYTES[event.kind],
                    _ACTION_BYTES[event.action],
                )
            )
            if self.ledger is not None:
                checked.append(event)
        if errors:
            raise BatchRejected(errors)
        accepted_before = self._reserve(checked)
        # Parallel to ``outgoing``: the send's future, or None for an event accepted before.
        futures: list[SendFuture | None] = []
        for message in outgoing:
            if message.event_id in accepted_before:
                futures.append(None)
                continue
            try:
                future: SendFuture = self._producer.send(
                    message.topic,
                    message.value,
                    key=message.document_id.encode(),
                    headers=_headers(message.event_id, message.kind, message.action),
                )
            except PublishFailed as exc:
                future = _Failed(exc)
            futures.append(future)
        failed: dict[str, PublishFailed] = {}
        acked: list[tuple[str, str, int, int]] = []
        # One deadline for the whole batch: waiting ``ack_timeout`` per message would
        # keep the caller for hours when the broker is gone and nothing resolves.
        deadline = time.monotonic() + self.ack_timeout
        wedged = False
        if any(future is not None for future in futures):
            try:
                self._producer.flush(timeout=self.ack_timeout)
            except PublishFailed as exc:
                log.warning("flush failed: %s", exc)
                wedged = True
        ordered: list[Accepted] = []
        for message, pending in zip(outgoing, futures, strict=True):
            if pending is None:
                topic, partition, offset = accepted_before[message.event_id]
                ordered.append(
                    Accepted(
                        message.event_id,
                        message.document_id,
                        topic,
                        partition,
                        offset,
                        duplicate=True,
                    )
                )
                continue
            try:
                sent = pending.result(timeout=max(0.0, deadline - time.monotonic()))
            except PublishFailed as exc:
                failed[message.event_id] = exc
                continue
            if self.ledger is not None:
                acked.append((message.event_id, sent.topic, sent.partition, sent.offset))
            ordered.append(
                Accepted(
                    message.event_id, message.document_id, sent.topic, sent.partition, sent.offset
                )
            )
        if wedged:
            # A producer that could not deliver within ack_timeout (a Kafka client can
            # keep batches stuck after a broker restart) would make every later flush
            # wait as long: start the next batch on a fresh one.
            self._discard_producer()
        if self.ledger is not None:
            self.ledger.acknowledge(acked)
            self.ledger.release(list(failed))
        if failed:
            raise PartialPublish(ordered, failed)
        if log.isEnabledFor(logging.INFO):
            for accepted in ordered:
                log.info(
                    "accepted %s %s → %s[%d]@%d%s",
                    accepted.event_id,
                    accepted.document_id,
                    accepted.topic,
                    accepted.partition,
                    accepted.offset,
                    " (duplicate)" if accepted.duplicate else "",
                )
        return ordered

    def _reserve(self, events: list[AnyEvent]) -> dict[str, tuple[str, int, int]]:
        """Reserve the events' versions in the ledger (if any); returns where each event
        accepted before is stored (it is not sent again)."""
        if self.ledger is None:
            return {}
        answers = self.ledger.reserve(events)
        errors = {i: a for i, a in enumerate(answers) if isinstance(a, GovpubError)}
        if errors:
            self.ledger.release(
                [
                    a.event.event_id
                    for a in answers
                    if isinstance(a, Reservation) and a.previous is None
                ]
            )
            raise BatchRejected(errors)
        return {
            a.event.event_id: a.previous
            for a in answers
            if isinstance(a, Reservation) and a.previous is not None
        }

    def close(self) -> None:
        """Flush and close the producer."""
        if self._producer is not None:
            self._producer.close()
            self._producer = None

    def _discard_producer(self) -> None:
        log.warning("the producer did not deliver within %.0f s; replacing it", self.ack_timeout)
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.close()

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Failed:
    """A send refused before it was queued."""

    def __init__(self, error: PublishFailed) -> None:
        self._error = error

    def result(self, timeout: float | None = None) -> Any:
        raise self._error
