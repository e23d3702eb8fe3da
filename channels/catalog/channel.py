"""The catalog channel: keeps the latest state of every document in the state store.

It publishes nothing; scheduled releases (the quarterly exposure DAG, the annual report)
query it through :class:`~channels.catalog.state.DocumentCatalog` instead of reading
other channels' output. It can be replayed (``govpub replay --channel catalog``): it owns
no files, only its tables, which a replay rebuilds from the topics.

Delivery guarantee: at-least-once from the runner, idempotent here (recording an event
twice leaves the same row; an older version never replaces a newer one).
"""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Self

from channels.base import ChannelBase, ChannelContext
from channels.catalog.state import CATALOG_TABLES, DocumentCatalog
from consumers.channel import Outcome
from govpub.deliveries import DeliveryState
from govpub.store import Store
from schemas import AnyEvent


class CatalogChannel(ChannelBase):
    """Records every event in :class:`DocumentCatalog`."""

    name = "catalog"
    state_tables = CATALOG_TABLES

    def __init__(self, store: Store, *, clock: Callable[[], datetime] | None = None) -> None:
        self.catalog = DocumentCatalog(store)
        self._clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def from_context(cls, context: ChannelContext) -> Self:
        """Build on the runner's state store."""
        return cls(context.store)

    @staticmethod
    def outputs() -> list[PurePosixPath]:
        """The catalog writes no files: a replay rebuilds its tables only."""
        return []

    @staticmethod
    def written() -> set[str]:
        """No file is ever written (see :meth:`outputs`)."""
        return set()

    def apply(self, event: AnyEvent) -> Outcome | None:
        """Record the event; a newer version already recorded makes this one a skip."""
        if not self.catalog.record(event, now=self._clock()):
            return Outcome(DeliveryState.SKIPPED, "a newer version is already in the catalog")
        return None
