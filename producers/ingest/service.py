"""The ingest service: what the HTTP layer calls, with no HTTP in it.

``submit`` turns a signed body into events and publishes them through the
:class:`~producers.publisher.Publisher` with the compliance gate bound to the
request's credential; ``status`` reports what became of one event. Both return
an :class:`Answer` (status code, body, headers) and never raise for bad input.

Threads: the HTTP layer calls these from a thread pool. Each concern has its own
store connection and lock (authentication, publishing, reading), so a slow bus
acknowledgement holds back other submissions — which must be ordered anyway —
but not authentication of other requests, status queries or health checks.
"""

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

from pydantic import TypeAdapter, ValidationError

from channels.newmedia.wechat import CallbackResult, handle_publish_job_finish
from consumers.deliveries import DeliveryLog
from govpub.bus import Bus, open_bus
from govpub.errors import (
    BusError,
    ComplianceRefusal,
    DuplicateEventConflict,
    EventValidationError,
    NotPermitted,
    PublishFailed,
    StaleVersion,
)
from govpub.settings import Settings
from govpub.store import Schema, Store
from govpub.topics import Topics
from producers.compliance import AuditEntry, AuditLog, ComplianceGate, Submitter, build_gate
from producers.compliance.gate import Verdict
from producers.compliance.rules import DEPARTMENT_MISMATCH, DOCUMENT_OWNER, KIND_NOT_ALLOWED
from producers.compliance.rules import Decision as GateDecision
from producers.ingest.auth import Authenticator, Claimed, ReplayGuard
from producers.ingest.credentials import Credentials, Principal
from producers.ingest.models import (
    ComplianceFinding,
    DeadLetterInfo,
    Delivery,
    EventResult,
    EventStatus,
    Problem,
    ProblemItem,
    SubmitAnswer,
)
from producers.ingest.wechat_callback import WeChatCallbackCheck
from producers.ledger import VersionLedger
from producers.publisher import Accepted, BatchRejected, PartialPublish, Publisher
from schemas import AnyEvent, Kind
from schemas.types import EventId

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_ANSWERS = """
CREATE TABLE IF NOT EXISTS ingest_answers (
    event_id TEXT PRIMARY KEY,
    department TEXT NOT NULL,
    answer TEXT NOT NULL,
    created_at REAL NOT NULL
)
"""
ANSWERS_SCHEMA = Schema("ingest_answers", _ANSWERS)
"""The tables of this component, as versioned migrations."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, JSON body, extra headers and media type."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"


def problem(
    status: int,
    title: str,
    detail: str,
    errors: list[ProblemItem] | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Answer:
    """An error answer in the ``application/problem+json`` shape."""
    body = Problem(status=status, title=title, detail=detail, errors=errors or [], **extra)
    return Answer(status, body.model_dump(mode="json"), headers or {}, PROBLEM_JSON)


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


_EVENT_ID: TypeAdapter[str] = TypeAdapter(EventId)


def _is_event_id(value: str) -> bool:
    try:
        _EVENT_ID.validate_python(value)
    except ValidationError:
        return False
    return True


def _findings(verdict: Verdict | None) -> list[ComplianceFinding]:
    if verdict is None:
        return []
    return [
        ComplianceFinding(
            decision=f.decision.value,
            rule=f.rule,
            field=f.field,
            count=f.count,
            detail=f.detail,
        )
        for f in verdict.findings
        if f.decision is not GateDecision.CHECKED
    ]


class IngestService:
    """Authenticates, checks and publishes what departments send; answers status queries."""

    def __init__(
        self,
        settings: Settings,
        credentials: Credentials,
        *,
        clock: Callable[[], float] = time.time,
        gate_clock: Callable[[], datetime] | None = None,
        bus: Bus | None = None,
    ) -> None:
        """``clock`` is the signature window's clock, ``gate_clock`` the deadlines' clock;
        ``bus`` replaces the one ``settings`` selects (for embedding and tests)."""
        self.settings = settings
        self.credentials = credentials
        self._auth_store = Store(settings.store).open()
        self._write_store = Store(settings.store).open()
        self._read_store = Store(settings.store).open()
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self.authenticator = Authenticator(
            credentials,
            ReplayGuard(self._auth_store, window=settings.ingest_clock_skew),
            window=settings.ingest_clock_skew,
            clock=clock,
        )
        self.gate: ComplianceGate = build_gate(
            settings, self._write_store, source="ingest", clock=gate_clock
        )
        self.ledger = VersionLedger(self._write_store)
        self._audit = AuditLog(self._write_store)
        self._write_store.ensure_schema(ANSWERS_SCHEMA)
        self.publisher = Publisher(
            bus if bus is not None else open_bus(settings),
            Topics(settings.topic_prefix),
            ledger=self.ledger,
            gate=self.gate,
            ack_timeout=settings.ingest_ack_timeout,
        )
        self._read_ledger = VersionLedger(self._read_store)
        self._read_deliveries = DeliveryLog(self._read_store)
        self._read_audit = AuditLog(self._read_store)
        token = settings.wechat_callback_token
        self.wechat_callback: WeChatCallbackCheck | None = (
            None
            if token is None
            else WeChatCallbackCheck(token, window=settings.ingest_clock_skew, clock=clock)
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The service configured by ``settings`` (reads the credentials file)."""
        from govpub.errors import ConfigurationError

        if settings.ingest_credentials is None:
            raise ConfigurationError(
                "GOVPUB_INGEST_CREDENTIALS: not set; `govpub ingest` needs the TOML file of "
                "department credentials (see the README, Ingest API)"
            )
        return cls(settings, Credentials.load(settings.ingest_credentials))

    def close(self) -> None:
        """Close the producer and the store connections."""
        with self._write_lock:
            self.publisher.close()
            self._write_store.close()
        with self._read_lock:
            self._read_store.close()
        self._auth_store.close()

    # --- authentication -----------------------------------------------------------------
    def precheck(self, headers: Mapping[str, str]) -> Claimed:
        """Headers only; raises ``NotAuthenticated``."""
        return self.authenticator.precheck(headers)

    def verify(self, claimed: Claimed, method: str, target: str, body: bytes) -> Principal:
        """Signature and replay; raises ``NotAuthenticated``."""
        return self.authenticator.verify(claimed, method, target, body)

    # --- POST /v1/events ---------------------------------------------------------------
    def submit(self, principal: Principal, request_id: str, body: bytes) -> Answer:
        """Publish the event or batch in ``body`` on behalf of ``principal``."""
        answer = self._submit(principal, request_id, body)
        log.info(
            "ingest %s key=%s request=%s: %d bytes → %d",
            principal.department,
            principal.key_id,
            request_id,
            len(body),
            answer.status,
        )
        return answer

    def _submit(self, principal: Principal, request_id: str, body: bytes) -> Answer:
        items = self._items(body)
        if isinstance(items, Answer):
            return items
        submitter = Submitter("ingest", principal.key_id, request_id)
        forbidden = self._precheck_items(principal, items)
        if forbidden:
            with self._write_lock:
                self._audit_forbidden(principal, submitter, items, forbidden)
            return self._forbidden(forbidden, items)
        verdicts: dict[str, Verdict] = {}

        def gate(event: AnyEvent) -> AnyEvent:
            self._authorize(principal, event)
            verdict = self.gate.check(event, submitter=submitter)
            verdicts[event.event_id] = verdict
            return verdict.event

        with self._write_lock:
            try:
                accepted = self.publisher.publish_many(items, gate=gate)
            except BatchRejected as exc:
                answer = self._rejected(principal, submitter, items, exc)
            except PartialPublish as exc:
                results = self._results(principal, exc.accepted, verdicts, items)
                answer = self._unavailable(
                    f"the bus did not acknowledge {len(exc.failed)} event(s)",
                    accepted=results,
                    not_accepted=list(exc.failed),
                )
            except (PublishFailed, BusError) as exc:
                log.warning("ingest: bus unavailable: %s", exc)
                answer = self._unavailable(
                    "the bus is unavailable",
                    not_accepted=[e for e in map(_event_id_of, items) if e is not None],
                )
            else:
                results = self._results(principal, accepted, verdicts, items)
                answer = Answer(202, SubmitAnswer(events=results).model_dump(mode="json"))
        return answer

    def _items(self, body: bytes) -> list[Any] | Answer:
        try:
            data = json.loads(body, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            return problem(
                422,
                "invalid request",
                "the body is not valid JSON",
                [ProblemItem(index=None, path="", message=f"not valid JSON: {reason}"[:300])],
            )
        if isinstance(data, dict):
            return [data]
        limit = self.settings.ingest_max_batch
        if isinstance(data, list) and 1 <= len(data) <= limit:
            not_objects = [
                ProblemItem(index=index, path="", message="an event must be a JSON object")
                for index, item in enumerate(data)
                if not isinstance(item, dict)
            ]
            if not_objects:
                return problem(
                    422, "invalid request", "a batch is an array of event objects", not_objects
                )
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
                return problem(
                    422, "invalid request", "an event_id appears twice in the batch", repeated
                )
            return data
        message = (
            f"a batch holds 1 to {limit} events"
            if isinstance(data, list)
            else "expected an event object or an array of events"
        )
        return problem(
            422, "invalid request", message, [ProblemItem(index=None, path="", message=message)]
        )

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
    def _forbidden(forbidden: Mapping[int, NotPermitted], items: list[Any]) -> Answer:
        errors = [
            ProblemItem(
                index=index, event_id=_event_id_of(items[index]), path=e.path, message=e.reason
            )
            for index, e in sorted(forbidden.items())
        ]
        return problem(
            403,
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
    ) -> Answer:
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
            return problem(
                422,
                "refused by the compliance gate" if refused else "invalid event",
                "nothing of the request was accepted; every problem is listed in errors",
                invalid,
            )
        return problem(
            409,
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
    ) -> Answer:
        retry = self.settings.ingest_retry_after
        return problem(
            503,
            "bus unavailable",
            f"{reason}: the events listed in not_accepted are NOT accepted; send them again "
            f"(same event_id) after {retry} s. Events listed in accepted are stored; sending "
            "them again is harmless.",
            headers={"Retry-After": str(retry)},
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
            with self._write_store.transaction("ingest_answers") as conn:
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
        row = self._write_store.conn.execute(
            "SELECT answer FROM ingest_answers WHERE event_id=?", (event_id,)
        ).fetchone()
        return None if row is None else EventResult.model_validate_json(row[0])

    # --- POST /v1/callbacks/wechat ------------------------------------------------------
    def wechat_publish_finished(self, body: bytes) -> CallbackResult:
        """Record a PUBLISHJOBFINISH event pushed by WeChat (the caller checked that WeChat
        sent it): the account's delivery record becomes ``confirmed`` or ``failed``.
        Raises ``ValueError`` for a body that is not such an event."""
        with self._write_lock:
            return handle_publish_job_finish(body, self._write_store)

    # --- GET /v1/events/{event_id} -----------------------------------------------------
    def status(self, principal: Principal, event_id: str) -> Answer:
        """What became of ``event_id``, if this department sent it."""
        if not _is_event_id(event_id):
            return problem(
                422,
                "invalid event id",
                "event ids are UUIDs or ULIDs",
                [ProblemItem(index=None, path="event_id", message="not a UUID or ULID")],
            )
        with self._read_lock:
            record = self._read_ledger.lookup(event_id)
            if record is None or record.department != principal.department:
                return problem(
                    404,
                    "not found",
                    f"no event {event_id} was accepted for {principal.department}",
                )
            rows = self._read_deliveries.for_event(event_id)
            audit = self._read_audit.for_event(event_id)
        seen: set[tuple[str, str, str, int, str]] = set()
        findings = []
        for entry in audit:
            key = (entry.decision.value, entry.rule, entry.field, entry.count, entry.detail)
            if (
                entry.event_digest != record.digest
                or entry.decision in (GateDecision.CHECKED, GateDecision.REFUSED)
                or key in seen
            ):
                continue
            seen.add(key)
            findings.append(
                ComplianceFinding(
                    decision=entry.decision.value,
                    rule=entry.rule,
                    field=entry.field,
                    count=entry.count,
                    detail=entry.detail,
                )
            )
        status = EventStatus(
            event_id=record.event_id,
            accepted=record.state == "acked",
            state="acked" if record.state == "acked" else "pending",
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
                if r.state.value == "dead_lettered"
            ],
            compliance=findings,
        )
        return Answer(200, status.model_dump(mode="json"))


def _short(value: object) -> str | None:
    """A raw field kept in the audit log only if it looks like an id or a kind."""
    return value if isinstance(value, str) and _SAFE_ID.match(value) else None
