"""The submit pipeline of the ingest API: a signed body → events → authorised for the
request's department → through the compliance gate → published → the answer.

It has no HTTP in it: :meth:`SubmitPipeline.submit` returns :class:`Submitted` or a
:class:`~producers.ingest.outcome.Refused` naming what went wrong
(:class:`~producers.ingest.outcome.Refusal`); the web layer (:mod:`producers.ingest.api`)
maps that to a status code. Sending the same ``event_id`` again returns its first
answer (kept in ``ingest_answers``).

Threads: the web layer calls it from a thread pool. It has its own store connection and
lock: a slow bus acknowledgement holds back other submissions — which must be ordered
anyway — but not authentication, status queries or health checks.
"""

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from govpub.bus import Bus
from govpub.compliance.audit import AuditEntry, AuditLog, Submitter
from govpub.compliance.rules import DEPARTMENT_MISMATCH, DOCUMENT_OWNER, KIND_NOT_ALLOWED
from govpub.compliance.rules import Decision as GateDecision
from govpub.errors import (
    BatchRejected,
    BusError,
    ComplianceRefusal,
    DuplicateEventConflict,
    EventValidationError,
    NotPermitted,
    PublishFailed,
    StaleVersion,
)
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from producers.compliance import ComplianceGate, Verdict, build_gate
from producers.ingest.credentials import Principal
from producers.ingest.models import ComplianceFinding, EventResult, ProblemItem
from producers.ingest.outcome import Refusal, Refused
from producers.ingest.tables import ANSWERS_SCHEMA
from producers.ledger import VersionLedger
from producers.publisher import Accepted, PartialPublish, Publisher
from schemas import AnyEvent, Kind

log = logging.getLogger(__name__)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def _safe(text: str, limit: int = 500) -> str:
    """Text from the request made safe to echo: valid UTF-8 (lone surrogates replaced), bounded."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.encode("utf-8", "replace").decode("utf-8")


def _event_id_of(item: Any) -> str | None:
    """The item's event_id, if it looks like an id (it is echoed in answers)."""
    if isinstance(item, Mapping):
        value = item.get("event_id")
        if isinstance(value, str) and _SAFE_ID.match(value):
            return value
    return None


def _findings(verdict: Verdict | None) -> list[ComplianceFinding]:
    if verdict is None:
        return []
    return [
        ComplianceFinding.model_validate(f.as_dict())
        for f in verdict.findings
        if f.decision is not GateDecision.CHECKED
    ]


@dataclass(frozen=True)
class Submitted:
    """Every event of the request is stored on the bus (accepted)."""

    events: list[EventResult]


class SubmitPipeline:
    """Checks and publishes what departments send, on a store connection of its own."""

    def __init__(
        self,
        settings: Settings,
        bus: Bus,
        *,
        gate_clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``gate_clock`` is the compliance deadlines' clock (default: now)."""
        self.max_batch = settings.ingest_max_batch
        self.retry_after = settings.ingest_retry_after
        self._store = Store(settings.store).open()
        self._lock = threading.Lock()
        self.gate: ComplianceGate = build_gate(
            settings, self._store, source="ingest", clock=gate_clock
        )
        self.ledger = VersionLedger(self._store)
        self._audit = AuditLog(self._store)
        self._store.ensure_schema(ANSWERS_SCHEMA)
        self.publisher = Publisher(
            bus,
            Topics(settings.topic_prefix),
            ledger=self.ledger,
            gate=self.gate,
            ack_timeout=settings.ingest_ack_timeout,
        )

    def close(self) -> None:
        """Close the producer and the store connection."""
        with self._lock:
            self.publisher.close()
            self._store.close()

    def submit(self, principal: Principal, request_id: str, body: bytes) -> Submitted | Refused:
        """Publish the event or batch in ``body`` on behalf of ``principal``."""
        outcome = self._submit(principal, request_id, body)
        log.info(
            "ingest %s key=%s request=%s: %d bytes → %s",
            principal.department,
            principal.key_id,
            request_id,
            len(body),
            "accepted" if isinstance(outcome, Submitted) else outcome.reason.value,
        )
        return outcome

    def _submit(self, principal: Principal, request_id: str, body: bytes) -> Submitted | Refused:
        items = self._items(body)
        if isinstance(items, Refused):
            return items
        submitter = Submitter("ingest", principal.key_id, request_id)
        forbidden = self._precheck_items(principal, items)
        if forbidden:
            with self._lock:
                self._audit_forbidden(principal, submitter, items, forbidden)
            return self._forbidden(forbidden, items)
        verdicts: dict[str, Verdict] = {}
        checked = self.gate.bind(
            submitter, on_verdict=lambda v: verdicts.__setitem__(v.event.event_id, v)
        )

        def gate(event: AnyEvent) -> AnyEvent:
            self._authorize(principal, event)
            return checked(event)

        with self._lock:
            try:
                accepted = self.publisher.publish_many(items, gate=gate)
            except BatchRejected as exc:
                self.gate.not_sent(
                    [verdict.event for verdict in verdicts.values()],
                    f"the request was refused ({len(exc.errors)} of {len(items)} events):"
                    " a batch is all or nothing",
                    submitter=submitter,
                )
                return self._rejected(principal, submitter, items, exc)
            except PartialPublish as exc:
                results = self._results(principal, exc.accepted, verdicts, items)
                return self._unavailable(
                    f"the bus did not acknowledge {len(exc.failed)} event(s)",
                    accepted=results,
                    not_accepted=list(exc.failed),
                )
            except (PublishFailed, BusError) as exc:
                log.warning("ingest: bus unavailable: %s", exc)
                return self._unavailable(
                    "the bus is unavailable",
                    not_accepted=[e for e in map(_event_id_of, items) if e is not None],
                )
            return Submitted(self._results(principal, accepted, verdicts, items))

    def _items(self, body: bytes) -> list[Any] | Refused:
        try:
            data = json.loads(body, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            return _invalid_request(
                "the body is not valid JSON",
                [ProblemItem(index=None, path="", message=f"not valid JSON: {reason}"[:300])],
            )
        if isinstance(data, dict):
            return [data]
        limit = self.max_batch
        if isinstance(data, list) and 1 <= len(data) <= limit:
            not_objects = [
                ProblemItem(index=index, path="", message="an event must be a JSON object")
                for index, item in enumerate(data)
                if not isinstance(item, dict)
            ]
            if not_objects:
                return _invalid_request("a batch is an array of event objects", not_objects)
            ids = [_event_id_of(item) for item in data]
            repeated = [
                ProblemItem(
                    index=index,
                    event_id=event_id,
                    path="event_id",
                    message="appears more than once in the batch",
                )
                for index, event_id in enumerate(ids)
                if event_id is not None and ids.index(event_id) != index
            ]
            if repeated:
                return _invalid_request("an event_id appears twice in the batch", repeated)
            return data
        message = (
            f"a batch holds 1 to {limit} events"
            if isinstance(data, list)
            else "expected an event object or an array of events"
        )
        return _invalid_request(message, [ProblemItem(index=None, path="", message=message)])

    def _precheck_items(self, principal: Principal, items: list[Any]) -> dict[int, NotPermitted]:
        """Department and kind of the raw items, so a foreign event is refused (403) before
        anything about its content is reported."""
        forbidden: dict[int, NotPermitted] = {}
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                continue
            try:
                self._check_department(principal, item.get("department"))
                self._check_kind(principal, item.get("kind"))
            except NotPermitted as exc:
                forbidden[index] = exc
        return forbidden

    @staticmethod
    def _check_department(principal: Principal, department: object) -> None:
        if isinstance(department, str) and department != principal.department:
            raise NotPermitted(
                "department",
                f"key {principal.key_id} belongs to {principal.department}; "
                "it cannot publish for another department",
            )

    @staticmethod
    def _check_kind(principal: Principal, kind: object) -> None:
        known = {k.value for k in Kind}
        if isinstance(kind, str) and kind in known and Kind(kind) not in principal.kinds:
            allowed = ", ".join(sorted(k.value for k in principal.kinds))
            raise NotPermitted("kind", f"{principal.department} may publish only: {allowed}")

    def _authorize(self, principal: Principal, event: AnyEvent) -> None:
        """The authoritative check on the validated event (runs inside the gate chain)."""
        self._check_department(principal, event.department)
        self._check_kind(principal, event.kind.value)
        owner = self.ledger.department_of(event.document_id)
        if owner is not None and owner != principal.department:
            raise NotPermitted(
                "document_id",
                f"document {event.document_id} was published by another department",
            )

    def _audit_forbidden(
        self,
        principal: Principal,
        submitter: Submitter,
        items: list[Any],
        forbidden: Mapping[int, NotPermitted],
    ) -> None:
        rule_of = {
            "department": DEPARTMENT_MISMATCH.id,
            "kind": KIND_NOT_ALLOWED.id,
            "document_id": DOCUMENT_OWNER.id,
        }
        entries = []
        for index, error in sorted(forbidden.items()):
            item = items[index] if isinstance(items[index], Mapping) else {}
            entries.append(
                AuditEntry(
                    decision=GateDecision.REFUSED,
                    rule=rule_of.get(error.path, DEPARTMENT_MISMATCH.id),
                    department=principal.department,
                    submitter=submitter,
                    event_id=_event_id_of(item),
                    document_id=_short(item.get("document_id")),
                    kind=_short(item.get("kind")),
                    action=_short(item.get("action")),
                    field=error.path,
                    count=1,
                    detail=error.reason,
                )
            )
        self._audit.record(entries)

    @staticmethod
    def _forbidden(forbidden: Mapping[int, NotPermitted], items: list[Any]) -> Refused:
        errors = [
            ProblemItem(
                index=index, event_id=_event_id_of(items[index]), path=e.path, message=e.reason
            )
            for index, e in sorted(forbidden.items())
        ]
        return Refused(
            Refusal.NOT_PERMITTED,
            "not permitted",
            "the key may not publish these events; nothing was accepted",
            errors,
        )

    def _rejected(
        self,
        principal: Principal,
        submitter: Submitter,
        items: list[Any],
        exc: BatchRejected,
    ) -> Refused:
        forbidden = {i: e for i, e in exc.errors.items() if isinstance(e, NotPermitted)}
        if forbidden:
            self._audit_forbidden(principal, submitter, items, forbidden)
            return self._forbidden(forbidden, items)
        invalid: list[ProblemItem] = []
        conflicts: list[ProblemItem] = []
        for index, error in sorted(exc.errors.items()):
            event_id = _event_id_of(items[index])
            if isinstance(error, EventValidationError):
                rule = error.rule if isinstance(error, ComplianceRefusal) else None
                invalid.extend(
                    ProblemItem(
                        index=index,
                        event_id=event_id,
                        path=_safe(e.path, 300),
                        message=_safe(e.message),
                        rule=rule,
                    )
                    for e in error.errors
                )
            elif isinstance(error, StaleVersion):
                conflicts.append(
                    ProblemItem(
                        index=index,
                        event_id=event_id,
                        path="version",
                        message=f"version {error.version} is stale for document "
                        f"{error.document_id}; version {error.current} is already accepted "
                        f"(send {error.current + 1} or later)",
                    )
                )
            elif isinstance(error, DuplicateEventConflict):
                conflicts.append(
                    ProblemItem(
                        index=index,
                        event_id=event_id,
                        path="event_id",
                        message="this event_id was already accepted with different content",
                    )
                )
            else:
                invalid.append(
                    ProblemItem(index=index, event_id=event_id, path="", message=_safe(str(error)))
                )
        if invalid:
            refused = all(item.rule is not None for item in invalid)
            return Refused(
                Refusal.INVALID_EVENTS,
                "refused by the compliance gate" if refused else "invalid event",
                "nothing of the request was accepted; every problem is listed in errors",
                invalid,
            )
        return Refused(
            Refusal.CONFLICT,
            "conflict",
            "nothing of the request was accepted; a version is stale or an event_id was reused",
            conflicts,
        )

    def _unavailable(
        self,
        reason: str,
        *,
        accepted: list[EventResult] | None = None,
        not_accepted: list[str],
    ) -> Refused:
        retry = self.retry_after
        return Refused(
            Refusal.NOT_STORED,
            "bus unavailable",
            f"{reason}: the events listed in not_accepted are NOT accepted; send them again "
            f"(same event_id) after {retry} s. Events listed in accepted are stored; sending "
            "them again is harmless.",
            accepted=accepted or [],
            not_accepted=not_accepted,
        )

    def _results(
        self,
        principal: Principal,
        accepted: list[Accepted],
        verdicts: Mapping[str, Verdict],
        items: list[Any],
    ) -> list[EventResult]:
        index_of = {_event_id_of(item): i for i, item in enumerate(items)}
        results = []
        first_answers: list[tuple[str, str]] = []
        for item in accepted:
            index = index_of.get(item.event_id, 0)
            stored = self._first_answer(item.event_id) if item.duplicate else None
            if stored is not None:
                results.append(stored.model_copy(update={"index": index, "duplicate": True}))
                continue
            verdict = verdicts.get(item.event_id)
            event = verdict.event if verdict is not None else None
            result = EventResult(
                index=index,
                event_id=item.event_id,
                document_id=item.document_id,
                version=event.version if event is not None else 0,
                kind=event.kind.value if event is not None else "",
                action=event.action.value if event is not None else "",
                duplicate=item.duplicate,
                topic=item.topic,
                partition=item.partition,
                offset=item.offset,
                compliance=_findings(verdict),
            )
            results.append(result)
            if not item.duplicate:
                first_answers.append((item.event_id, result.model_dump_json()))
        if first_answers:
            now = time.time()
            with self._store.transaction("ingest_answers") as conn:
                conn.executemany(
                    "INSERT INTO ingest_answers (event_id, department, answer,"
                    " created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [
                        (event_id, principal.department, answer, now)
                        for event_id, answer in first_answers
                    ],
                )
        return results

    def _first_answer(self, event_id: str) -> EventResult | None:
        row = self._store.conn.execute(
            "SELECT answer FROM ingest_answers WHERE event_id=?", (event_id,)
        ).fetchone()
        return None if row is None else EventResult.model_validate_json(row[0])


def _short(value: object) -> str | None:
    """A raw field kept in the audit log only if it looks like an id or a kind."""
    return value if isinstance(value, str) and _SAFE_ID.match(value) else None


def _invalid_request(detail: str, errors: list[ProblemItem]) -> Refused:
    return Refused(Refusal.INVALID_REQUEST, "invalid request", detail, errors)
