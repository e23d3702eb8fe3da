"""An in-memory channel for tests and for users' own test suites.

Delivery guarantee: whatever the runner gives it, in order; it keeps the last
version of each document. It can be told to fail, to exercise retries and
dead-lettering.
"""

from collections.abc import Callable

from channels.base import ChannelBase
from consumers.channel import Outcome
from schemas import AnyEvent, RetractEvent


class MemoryChannel(ChannelBase):
    """Keeps delivered events in lists; ``fail`` decides per event whether to raise."""

    name = "memory"

    def __init__(
        self, name: str = "memory", *, fail: Callable[[AnyEvent], Exception | None] | None = None
    ) -> None:
        self.name = name
        self.applied: list[AnyEvent] = []
        self.documents: dict[str, AnyEvent] = {}
        self.flushes = 0
        self.closed = False
        self._fail = fail

    def apply(self, event: AnyEvent) -> Outcome | None:
        """Record the event (or raise what ``fail`` returns for it)."""
        if self._fail is not None:
            error = self._fail(event)
            if error is not None:
                raise error
        self.applied.append(event)
        if isinstance(event, RetractEvent):
            self.documents.pop(event.document_id, None)
        else:
            self.documents[event.document_id] = event
        return None

    def flush(self, *, backlog: bool = False) -> None:
        """Count flushes."""
        self.flushes += 1

    def close(self) -> None:
        """Mark closed."""
        self.closed = True
