"""The ``Channel`` protocol: what the runner delivers to (feeds, website, new media).

The consumer runner calls ``apply`` for each new event of a batch, in partition
order, then ``flush`` once for the batch, then records the deliveries and commits.
A crash anywhere before the commit replays the batch, so both methods must be
idempotent: applying the same event twice leaves the same output. Dedupe by
``event_id`` and ordering by version are done by the runner, not by channels.

Channels themselves live in ``channels/`` (one package each); this is their contract
with the runner, so that ``consumers`` never imports a channel.
"""

from dataclasses import dataclass, field
from typing import Protocol

from govpub.deliveries import DeliveryState
from schemas import AnyEvent


@dataclass(frozen=True)
class Outcome:
    """What ``apply`` did; ``None`` from ``apply`` means confirmed (or retracted)."""

    state: DeliveryState
    detail: str = ""
    remote_ids: dict[str, str] = field(default_factory=dict)


NOT_ROUTED = Outcome(DeliveryState.SKIPPED, "not routed to this channel")


class Channel(Protocol):
    """An output that events are delivered to."""

    name: str

    def apply(self, event: AnyEvent) -> Outcome | None:
        """Take one event into the channel's state; raise a ``DeliveryError`` on failure."""
        ...

    def flush(self) -> None:
        """Write out everything ``apply`` changed since the last flush."""
        ...

    def idle(self) -> None:
        """Background work while no events arrive (the runner calls it between empty
        polls): asking a platform about jobs it has not finished, say."""
        ...

    def close(self) -> None:
        """Release files, sessions, connections."""
        ...
