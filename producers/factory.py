"""The publisher every entry point uses (``govpub emit``, the demo, the release DAGs):
the configured bus, the version ledger and the compliance gate, assembled in one place."""

from collections.abc import Callable
from datetime import datetime

from govpub.bus import open_bus
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from producers.compliance import build_gate
from producers.ledger import VersionLedger
from producers.publisher import Publisher


def open_publisher(
    settings: Settings,
    store: Store,
    *,
    source: str,
    clock: Callable[[], datetime] | None = None,
) -> Publisher:
    """A publisher on ``settings.bus`` whose version ledger and gate audit live in
    ``store``; ``source`` names the entry point in the audit log (``emit``, ``dag``…);
    ``clock`` is the publication time the gate's deadlines are measured against (now)."""
    return Publisher(
        open_bus(settings),
        Topics(settings.topic_prefix),
        ledger=VersionLedger(store),
        gate=build_gate(settings, store, source=source, clock=clock),
    )
