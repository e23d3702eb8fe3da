"""What every channel package builds on: :class:`ChannelContext` (what a channel is
built from) and :class:`ChannelBase` (no-op hooks, context-manager support).

The contract with the runner — the ``Channel`` protocol, ``Outcome`` and ``NOT_ROUTED``
— is :mod:`consumers.channel`; a channel package implements it and registers itself in
:mod:`channels.registry`.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Self

from consumers.channel import Rebuild
from govpub.settings import SectionT, Settings, section
from govpub.store import Store


@dataclass(frozen=True)
class ChannelContext:
    """What a channel is built from: settings and the runner's state store."""

    settings: Settings
    store: Store
    rebuild: Rebuild | None = None
    """Set by a replay (``govpub replay``): how the channel writes its outputs."""

    @property
    def output_dir(self) -> Path:
        """Root of the published output tree."""
        return self.settings.output_dir

    def section(self, kind: type[SectionT]) -> SectionT:
        """The channel's settings section (``context.section(WeChatSettings)``)."""
        return section(self.settings, kind)


class ChannelBase:
    """Convenience base: no-op ``flush``/``idle``/``close`` and context-manager support."""

    name = "base"

    def flush(self, *, backlog: bool = False) -> None:
        """Nothing buffered by default."""

    def idle(self) -> None:
        """Nothing to do between events by default."""

    def close(self) -> None:
        """Nothing to release by default."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
