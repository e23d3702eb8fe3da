"""The ``Channel`` protocol: what every output (feeds, website, new media) implements.

The consumer runner calls ``apply`` for each new event of a batch, in partition
order, then ``flush`` once for the batch, then records the deliveries and commits.
A crash anywhere before the commit replays the batch, so both methods must be
idempotent: applying the same event twice leaves the same output. Dedupe by
``event_id`` and ordering by version are done by the runner, not by channels.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol, Self

from govpub.settings import Settings
from govpub.store import Store
from schemas import AnyEvent


class DeliveryState(StrEnum):
    """State of one event on one channel (and target)."""

    PENDING = "pending"
    SENT = "sent"
    CONFIRMED = "confirmed"
    RETRACTED = "retracted"
    SKIPPED = "skipped"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"


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


class Rebuild(StrEnum):
    """How a replay has a channel write its whole output again."""

    FRESH = "fresh"
    """``output_dir`` is a new, empty tree that nobody reads until the replay moves it into
    place: files may be created where they belong, without a temporary file each."""
    IN_PLACE = "in_place"
    """``output_dir`` is the live tree: every file is replaced atomically, a file that
    holds its bytes already is left alone, and the channel says which paths it wrote
    (``written()``); the replay removes the channel's other files."""


@dataclass(frozen=True)
class ChannelContext:
    """What a channel is built from: settings and the runner's state store."""

    settings: Settings
    store: Store
    rebuild: "Rebuild | None" = None
    """Set by a replay (``govpub replay``): how the channel writes its outputs."""

    @property
    def output_dir(self) -> Path:
        """Root of the published output tree."""
        return self.settings.output_dir


class ChannelBase:
    """Convenience base: no-op ``flush``/``idle``/``close`` and context-manager support."""

    name = "base"

    def flush(self) -> None:
        """Nothing buffered by default."""

    def idle(self) -> None:
        """Nothing to do between events by default."""

    def close(self) -> None:
        """Nothing to release by default."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
