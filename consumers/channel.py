"""The ``Channel`` protocol: what the runner delivers to (feeds, website, new media).

The consumer runner calls ``apply`` for each new event of a batch, in partition
order, then ``flush`` once for the batch, then records the deliveries and commits
(``flush(backlog=True)`` when more events are waiting: see ``Channel.flush``).
A crash anywhere before the commit replays the batch, so both methods must be
idempotent: applying the same event twice leaves the same output. Dedupe by
``event_id`` and ordering by version are done by the runner, not by channels.

Channels themselves live in ``channels/`` (one package each); this is their contract
with the runner, so that ``consumers`` never imports a channel.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from govpub.deliveries import DeliveryState

if TYPE_CHECKING:
    # For the annotation only: the registry and the channels' settings import this
    # module, and need not build the event models.
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

    def apply(self, event: "AnyEvent") -> Outcome | None:
        """Take one event into the channel's state; raise a ``DeliveryError`` on failure."""
        ...

    def flush(self, *, backlog: bool = False) -> None:
        """Write out everything ``apply`` changed since the last flush.

        ``backlog``: the batch was full, so more events are waiting. A channel may then
        hold back output that the next batches would rewrite anyway (a feed that every
        batch changes), as long as the state it is rendered from is stored. The runner
        flushes again without ``backlog`` as soon as a batch is not full, a poll finds
        nothing, or it stops: held-back output is written then.
        """
        ...

    def idle(self) -> None:
        """Background work while no events arrive (the runner calls it between empty
        polls): asking a platform about jobs it has not finished, say."""
        ...

    def close(self) -> None:
        """Release files, sessions, connections."""
        ...


class Rebuild(StrEnum):
    """How a replay (``govpub replay``) has a channel write its whole output again."""

    FRESH = "fresh"
    """``output_dir`` is a new, empty tree that nobody reads until the replay moves it into
    place: files may be created where they belong, without a temporary file each."""
    IN_PLACE = "in_place"
    """``output_dir`` is the live tree: every file is replaced atomically, a file that
    holds its bytes already is left alone, and the channel says which paths it wrote
    (``written()``); the replay removes the channel's other files."""
