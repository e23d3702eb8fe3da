"""The bodies the ingest API answers with; they are its public contract (see the OpenAPI
document at ``/openapi.json``)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ComplianceFinding(_Answer):
    """One decision of the compliance gate about the event (never the personal data itself)."""

    decision: Literal["masked", "sanitized", "flagged", "kept", "refused"]
    rule: str = Field(description="rule id, see the README's Compliance gate section")
    field: str = Field(description="dotted path of the field, e.g. payload.facts")
    count: int = Field(description="how many matches (masked) or working days (flagged)")
    detail: str


class EventResult(_Answer):
    """How one event of the request was answered."""

    index: int = Field(description="position in the request (0 for a single event)")
    event_id: str
    document_id: str
    version: int
    kind: str
    action: str
    duplicate: bool = Field(
        description="true when the event_id had been accepted before: this is its first answer "
        "and nothing was sent again"
    )
    topic: str
    partition: int
    offset: int
    compliance: list[ComplianceFinding]


class SubmitAnswer(_Answer):
    """202: every event of the request is stored on the bus (accepted)."""

    accepted: Literal[True] = True
    events: list[EventResult]


class ProblemItem(_Answer):
    """One refused field of one event."""

    index: int | None = Field(description="position of the event in the request")
    event_id: str | None = None
    path: str = Field(description="dotted field path, '' for the whole event or request")
    message: str
    rule: str | None = Field(default=None, description="compliance rule id, if a rule refused it")


class Problem(_Answer):
    """An error answer (``application/problem+json``); nothing of the request was accepted
    unless ``accepted`` lists it (503 after a partial acknowledgement)."""

    status: int
    title: str
    detail: str
    errors: list[ProblemItem] = []
    accepted: list[EventResult] = Field(
        default=[], description="503 only: events the bus did acknowledge (they are accepted)"
    )
    not_accepted: list[str] = Field(
        default=[], description="503 only: event ids NOT accepted; send them again later"
    )


class Delivery(_Answer):
    """The state of the event on one channel (and target)."""

    channel: str
    target: str
    state: str = Field(
        description="pending · sent · confirmed · retracted · skipped · failed · dead_lettered"
    )
    attempts: int
    detail: str
    last_error: str | None
    updated_at: datetime


class DeadLetterInfo(_Answer):
    """A channel gave up on the event; ``govpub dlq redrive`` can deliver it again."""

    channel: str
    reason: str
    attempts: int
    origin: str = Field(description="topic[partition]@offset the event was read from")


class EventStatus(_Answer):
    """200: what became of an event sent by this department."""

    event_id: str
    accepted: bool = Field(description="true once the bus has stored the event")
    state: Literal["acked", "pending"]
    document_id: str
    version: int
    kind: str
    department: str
    accepted_at: datetime
    topic: str | None
    partition: int | None
    offset: int | None
    deliveries: list[Delivery]
    dead_letters: list[DeadLetterInfo]
    compliance: list[ComplianceFinding]


class Health(_Answer):
    """200: the service is running."""

    status: Literal["ok"] = "ok"
