"""What became of one event (``GET /v1/events/{event_id}``): a small read model over the
version ledger, the delivery records, the dead letters among them and the compliance
audit, on a store connection of its own. No HTTP in it: the web layer maps a
:class:`~producers.ingest.outcome.Refused` to its status code."""

import threading
from datetime import UTC, datetime

from pydantic import TypeAdapter, ValidationError

from govpub.compliance.audit import AuditLog
from govpub.compliance.rules import Decision
from govpub.deliveries import DeliveryLog, DeliveryState
from govpub.store import Store
from producers.ingest.credentials import Principal
from producers.ingest.models import (
    ComplianceFinding,
    DeadLetterInfo,
    Delivery,
    EventStatus,
    ProblemItem,
)
from producers.ingest.outcome import Refusal, Refused
from producers.ledger import LedgerState, VersionLedger
from schemas.types import EventId

_EVENT_ID: TypeAdapter[str] = TypeAdapter(EventId)


def _is_event_id(value: str) -> bool:
    try:
        _EVENT_ID.validate_python(value)
    except ValidationError:
        return False
    return True


class StatusQuery:
    """Answers what became of an event, for the department that sent it."""

    def __init__(self, store: Store) -> None:
        self._store = store.open()
        self._lock = threading.Lock()
        self._ledger = VersionLedger(self._store)
        self._deliveries = DeliveryLog(self._store)
        self._audit = AuditLog(self._store)

    def close(self) -> None:
        """Close the store connection."""
        with self._lock:
            self._store.close()

    def status(self, principal: Principal, event_id: str) -> EventStatus | Refused:
        """What became of ``event_id``, if ``principal``'s department sent it."""
        if not _is_event_id(event_id):
            return Refused(
                Refusal.INVALID_REQUEST,
                "invalid event id",
                "event ids are UUIDs or ULIDs",
                [ProblemItem(index=None, path="event_id", message="not a UUID or ULID")],
            )
        with self._lock:
            record = self._ledger.lookup(event_id)
            if record is None or record.department != principal.department:
                return Refused(
                    Refusal.NOT_FOUND,
                    "not found",
                    f"no event {event_id} was accepted for {principal.department}",
                )
            rows = self._deliveries.for_event(event_id)
            audit = self._audit.for_event(event_id)
        seen: set[tuple[str, str, str, int, str]] = set()
        findings = []
        for entry in audit:
            key = (entry.decision.value, entry.rule, entry.field, entry.count, entry.detail)
            if (
                entry.event_digest != record.digest
                or entry.decision in (Decision.CHECKED, Decision.REFUSED)
                or key in seen
            ):
                continue
            seen.add(key)
            findings.append(ComplianceFinding.model_validate(entry.finding.as_dict()))
        acked = record.state is LedgerState.ACKED
        return EventStatus(
            event_id=record.event_id,
            accepted=acked,
            state="acked" if acked else "pending",
            document_id=record.document_id,
            version=record.version,
            kind=record.kind,
            department=record.department,
            accepted_at=datetime.fromtimestamp(record.accepted_at, UTC),
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            deliveries=[
                Delivery(
                    channel=r.channel,
                    target=r.target,
                    state=r.state.value,
                    attempts=r.attempts,
                    detail=r.detail,
                    last_error=r.last_error,
                    updated_at=datetime.fromtimestamp(r.updated_at, UTC),
                )
                for r in rows
            ],
            dead_letters=[
                DeadLetterInfo(
                    channel=r.channel,
                    reason=r.last_error or "",
                    attempts=r.attempts,
                    origin=r.origin,
                )
                for r in rows
                if r.state is DeliveryState.DEAD_LETTERED
            ],
            compliance=findings,
        )
