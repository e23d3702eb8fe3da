"""Event models: the single source of truth for what departments may send.

Use :func:`parse_event` to validate input from outside and :func:`encode_event`
to put an event on the bus.
"""

from schemas.enums import (
    Action,
    CampaignPhase,
    DocClass,
    Kind,
    MeetingType,
    PartyType,
    PenaltyType,
    Validity,
)
from schemas.events import (
    MAX_EVENT_BYTES,
    SCHEMA_VERSION,
    AnyEvent,
    CampaignEvent,
    ContentEvent,
    Envelope,
    Event,
    ExposureEvent,
    MeetingEvent,
    PenaltyEvent,
    PolicyEvent,
    RetractEvent,
    encode_event,
    event_adapter,
    parse_event,
)
from schemas.payloads import (
    CampaignPayload,
    ExposureCase,
    ExposurePayload,
    Interpretation,
    Link,
    MeetingPayload,
    PenaltyPayload,
    PolicyPayload,
    RetractionPayload,
)

__all__ = [
    "MAX_EVENT_BYTES",
    "SCHEMA_VERSION",
    "Action",
    "AnyEvent",
    "CampaignEvent",
    "CampaignPayload",
    "CampaignPhase",
    "ContentEvent",
    "DocClass",
    "Envelope",
    "Event",
    "ExposureCase",
    "ExposureEvent",
    "ExposurePayload",
    "Interpretation",
    "Kind",
    "Link",
    "MeetingEvent",
    "MeetingPayload",
    "MeetingType",
    "PartyType",
    "PenaltyEvent",
    "PenaltyPayload",
    "PenaltyType",
    "PolicyEvent",
    "PolicyPayload",
    "RetractEvent",
    "RetractionPayload",
    "Validity",
    "encode_event",
    "event_adapter",
    "parse_event",
]
