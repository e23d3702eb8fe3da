"""Producers: the :class:`Publisher` SDK, ``govpub emit`` input reading, and the
version ledger that makes resubmission harmless."""

from govpub.errors import BatchRejected
from producers.ledger import VersionLedger
from producers.publisher import Accepted, Gate, PartialPublish, Publisher, already_checked

__all__ = [
    "Accepted",
    "BatchRejected",
    "Gate",
    "PartialPublish",
    "Publisher",
    "VersionLedger",
    "already_checked",
]
