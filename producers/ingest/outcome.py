"""What the ingest API's steps answer with, without HTTP: why a request was refused.

The web layer (:mod:`producers.ingest.api`) maps each :class:`Refusal` to its status
code in one table; the submit pipeline and the status query only say which it is.
"""

from dataclasses import dataclass, field
from enum import Enum

from producers.ingest.models import EventResult, ProblemItem


class Refusal(Enum):
    """Why a request is refused."""

    INVALID_REQUEST = "invalid request"
    """Not JSON, not events, a batch over the limit, an event id that is not one."""
    NOT_PERMITTED = "not permitted"
    """The key may not publish these events (another department's, a kind it lacks)."""
    INVALID_EVENTS = "invalid events"
    """Invalid fields, or refused by the compliance gate."""
    CONFLICT = "conflict"
    """A stale version, or an event_id reused for different content."""
    NOT_FOUND = "not found"
    """No such event was accepted for the department."""
    NOT_STORED = "not stored"
    """The bus did not acknowledge: the events listed as not accepted must be sent again."""


@dataclass(frozen=True)
class Refused:
    """A refused request: why, a title and detail for people, and every problem found."""

    reason: Refusal
    title: str
    detail: str
    errors: list[ProblemItem] = field(default_factory=list)
    accepted: list[EventResult] = field(default_factory=list)
    """NOT_STORED only: events the bus did acknowledge (they are accepted)."""
    not_accepted: list[str] = field(default_factory=list)
    """NOT_STORED only: event ids NOT accepted; send them again."""
