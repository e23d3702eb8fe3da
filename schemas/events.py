"""The event envelope and the discriminated union of all events.

An event is one JSON object. ``kind`` selects the payload model and the topic;
``action: retract`` carries a :class:`RetractionPayload` whatever the kind.
"""

from collections.abc import Mapping
from datetime import timedelta, timezone
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import from_json

from schemas.enums import Action, Kind
from schemas.errors import EventValidationError, FieldError
from schemas.payloads import (
    CampaignPayload,
    ConsultationPayload,
    DecisionListPayload,
    EnforcementPayload,
    ExposurePayload,
    LicencePayload,
    MeetingPayload,
    PenaltyPayload,
    PolicyPayload,
    ReportPayload,
    RetractionPayload,
    StrictModel,
)
from schemas.rules import rule_errors
from schemas.types import DepartmentCode, DocumentId, EventId, Timestamp

SCHEMA_VERSION = "1"
"""Version of the event contract; bumped only with a breaking change."""

_CHINA = timezone(timedelta(hours=8))
"""Dates in payloads are dates where the authorities work (UTC+8, no daylight saving)."""

MAX_EVENT_BYTES = 1_048_576
"""Largest encoded event accepted anywhere (1 MiB)."""

PublishOrUpdate = Literal[Action.PUBLISH, Action.UPDATE]


class Envelope(StrictModel):
    """Fields every event carries."""

    event_id: EventId
    document_id: DocumentId = Field(description="stable id of the document; the Kafka key")
    version: Annotated[int, Field(ge=1, le=2**31 - 1)] = Field(
        description="increases per document; an older or equal version is stale"
    )
    department: DepartmentCode
    occurred_at: Timestamp = Field(description="when the information was formed or changed")


class PolicyEvent(Envelope):
    """A policy or normative document is published or updated."""

    kind: Literal[Kind.POLICY]
    action: PublishOrUpdate
    payload: PolicyPayload


class PenaltyEvent(Envelope):
    """An administrative penalty decision is published or updated."""

    kind: Literal[Kind.PENALTY]
    action: PublishOrUpdate
    payload: PenaltyPayload


class ExposureEvent(Envelope):
    """A typical-case exposure candidate or quarterly batch is published or updated."""

    kind: Literal[Kind.EXPOSURE]
    action: PublishOrUpdate
    payload: ExposurePayload


class MeetingEvent(Envelope):
    """A government meeting's information is published or updated."""

    kind: Literal[Kind.MEETING]
    action: PublishOrUpdate
    payload: MeetingPayload


class CampaignEvent(Envelope):
    """A theme-day campaign phase is published or updated."""

    kind: Literal[Kind.CAMPAIGN]
    action: PublishOrUpdate
    payload: CampaignPayload


class LicenceEvent(Envelope):
    """An administrative licensing decision is published or updated."""

    kind: Literal[Kind.LICENCE]
    action: PublishOrUpdate
    payload: LicencePayload


class EnforcementEvent(Envelope):
    """An administrative enforcement decision is published or updated."""

    kind: Literal[Kind.ENFORCEMENT]
    action: PublishOrUpdate
    payload: EnforcementPayload


class ReportEvent(Envelope):
    """A table of the annual disclosure report is published or updated."""

    kind: Literal[Kind.REPORT]
    action: PublishOrUpdate
    payload: ReportPayload


class ConsultationEvent(Envelope):
    """A draft for public comment is published, or updated (closed, its result, the
    document adopted from it)."""

    kind: Literal[Kind.CONSULTATION]
    action: PublishOrUpdate
    payload: ConsultationPayload


class DecisionListEvent(Envelope):
    """The year's list of major administrative decisions is published or updated."""

    kind: Literal[Kind.DECISION_LIST]
    action: PublishOrUpdate
    payload: DecisionListPayload


class RetractEvent(Envelope):
    """A published document of any kind is withdrawn, with a public reason."""

    kind: Kind
    action: Literal[Action.RETRACT]
    payload: RetractionPayload

    @field_validator("payload")
    @classmethod
    def _penalty_dates(cls, payload: RetractionPayload, info: ValidationInfo) -> RetractionPayload:
        # Reported at ``payload`` (a field validator's place): both rules need the envelope.
        kind, occurred_at = info.data.get("kind"), info.data.get("occurred_at")
        for name in ("revoked_on", "display_ended_on"):
            if getattr(payload, name) is not None and kind not in (None, Kind.PENALTY):
                raise ValueError(f"{name} belongs to the withdrawal of a penalty decision")
        if payload.revoked_on is not None and occurred_at is not None:
            withdrawn_on = occurred_at.astimezone(_CHINA).date()
            if payload.revoked_on > withdrawn_on:
                raise ValueError(
                    f"revoked_on {payload.revoked_on} is after the withdrawal itself"
                    f" (occurred_at, {withdrawn_on} in China)"
                )
        return payload


ContentEvent = (
    PolicyEvent
    | PenaltyEvent
    | ExposureEvent
    | MeetingEvent
    | CampaignEvent
    | LicenceEvent
    | EnforcementEvent
    | ReportEvent
    | ConsultationEvent
    | DecisionListEvent
)

DecisionEvent = PenaltyEvent | LicenceEvent | EnforcementEvent
"""Decisions about a party (行政处罚, 行政许可, 行政强制): ``payload.party`` names it, and
they are published within 7 working days (国办发〔2018〕118号)."""

_TAGS = {k.value for k in Kind} | {"retract"}


def _event_tag(value: Any) -> str | None:
    if type(value) is dict or isinstance(value, Mapping):
        action, kind = value.get("action"), value.get("kind")
    else:
        action, kind = getattr(value, "action", None), getattr(value, "kind", None)
    if action == Action.RETRACT:
        return "retract"
    # A kind that is not a string (an object, a list) is invalid, not a crash.
    return kind if isinstance(kind, str) and kind in _TAGS else None


Event = Annotated[
    Annotated[PolicyEvent, Tag("policy")]
    | Annotated[PenaltyEvent, Tag("penalty")]
    | Annotated[ExposureEvent, Tag("exposure")]
    | Annotated[MeetingEvent, Tag("meeting")]
    | Annotated[CampaignEvent, Tag("campaign")]
    | Annotated[LicenceEvent, Tag("licence")]
    | Annotated[EnforcementEvent, Tag("enforcement")]
    | Annotated[ReportEvent, Tag("report")]
    | Annotated[ConsultationEvent, Tag("consultation")]
    | Annotated[DecisionListEvent, Tag("decision_list")]
    | Annotated[RetractEvent, Tag("retract")],
    Discriminator(
        _event_tag,
        custom_error_type="invalid_kind",
        custom_error_message="kind must be one of " + ", ".join(k.value for k in Kind),
    ),
]
"""Any govpub event; validate with :func:`parse_event`."""

AnyEvent = (
    PolicyEvent
    | PenaltyEvent
    | ExposureEvent
    | MeetingEvent
    | CampaignEvent
    | LicenceEvent
    | EnforcementEvent
    | ReportEvent
    | ConsultationEvent
    | DecisionListEvent
    | RetractEvent
)


@cache
def event_adapter() -> TypeAdapter[AnyEvent]:
    """The pydantic adapter for :data:`Event` (built once, on first use)."""
    return TypeAdapter(Event)


def _field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for err in exc.errors(include_url=False):
        loc = list(err["loc"])
        # The union tag is an implementation detail, not a field of the event.
        if loc and loc[0] in _TAGS:
            loc = loc[1:]
        path = ".".join(str(part) for part in loc)
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        if err["type"] == "invalid_kind":
            path = "kind"
        elif err["type"] == "json_invalid":
            path, message = "", f"not valid JSON: {err['ctx'].get('error', message)}"
        errors.append(FieldError(path, message))
    return errors


def parse_event(data: bytes | str | Mapping[str, Any]) -> AnyEvent:
    """Validate one event from JSON text or a mapping.

    Raises :class:`EventValidationError` naming every bad field and the reason, whatever
    the input: nesting too deep, numbers too large and broken encodings are field errors
    too, never another exception.
    """
    try:
        return _parse(data)
    except ValidationError as exc:
        raise EventValidationError(_with_rule_errors(_field_errors(exc), data)) from None
    except RecursionError:
        # Python's own recursion limit, reached by a deeply nested mapping from a caller.
        raise EventValidationError([FieldError("", "nested too deeply")]) from None


_PAYLOAD_MODELS: dict[str, type[StrictModel]] = {
    "policy": PolicyPayload,
    "penalty": PenaltyPayload,
    "exposure": ExposurePayload,
    "meeting": MeetingPayload,
    "campaign": CampaignPayload,
    "licence": LicencePayload,
    "enforcement": EnforcementPayload,
    "report": ReportPayload,
    "consultation": ConsultationPayload,
    "decision_list": DecisionListPayload,
    "retract": RetractionPayload,
}


def _rule_errors(data: bytes | str | Mapping[str, Any]) -> list[FieldError]:
    """The payload rules an invalid event breaks besides its field errors (pydantic
    checks rules only once every field is valid)."""
    raw: object = data
    if isinstance(data, bytes | str):
        try:
            raw = from_json(data)
        except ValueError:
            return []
    if not isinstance(raw, Mapping):
        return []
    model = _PAYLOAD_MODELS.get(_event_tag(raw) or "")
    if model is None:
        return []
    return [
        FieldError(".".join(["payload", *(str(part) for part in loc)]), reason)
        for loc, reason in rule_errors(model, raw.get("payload"))
    ]


def _with_rule_errors(
    errors: list[FieldError], data: bytes | str | Mapping[str, Any]
) -> list[FieldError]:
    """``errors`` plus every broken payload rule, one error per rule (a model whose
    fields were all valid reported its broken rules as one joined message)."""
    rules = _rule_errors(data)
    if not rules:
        return errors

    def reported(path: str, reason: str) -> bool:
        # A rule located at a field (Rule.at) was raised by its model at the model's path.
        return any(
            r.message == reason and (r.path == path or r.path.startswith(f"{path}.")) for r in rules
        )

    kept = [e for e in errors if not all(reported(e.path, p) for p in e.message.split("; "))]
    return kept + rules


def _parse(data: bytes | str | Mapping[str, Any]) -> AnyEvent:
    adapter = event_adapter()
    if type(data) is dict:  # the Publisher's common case, without the ABC's instance check
        return adapter.validate_python(data)
    if not isinstance(data, bytes | str):
        if not isinstance(data, Mapping):
            raise EventValidationError([FieldError("", "an event must be a JSON object")])
        return adapter.validate_python(data)
    if len(data) > MAX_EVENT_BYTES:
        raise EventValidationError(
            [FieldError("", f"event is larger than {MAX_EVENT_BYTES} bytes")]
        )
    head = data.lstrip()[:1]
    if head in (b"{", "{"):
        # pydantic's own JSON parser: one pass, no intermediate dict (the consumer's hot
        # path); it bounds nesting and number sizes itself.
        return adapter.validate_json(data)
    try:
        # jiter, like validate_json: bounded nesting, so no RecursionError on "[[[[…".
        from_json(data)
    except ValueError as exc:
        raise EventValidationError([FieldError("", f"not valid JSON: {exc}")]) from None
    raise EventValidationError([FieldError("", "an event must be a JSON object")])


def encode_event(event: AnyEvent) -> bytes:
    """Encode an event as compact UTF-8 JSON, the form it travels in on the bus."""
    # model_dump_json's own serializer, without its bytes → str → bytes round trip.
    return event.__pydantic_serializer__.to_json(event, exclude_none=True)
