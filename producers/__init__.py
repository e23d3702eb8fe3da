"""Producers: the :class:`Publisher` SDK, ``govpub emit`` input reading, and the
version ledger that makes resubmission harmless.

The names below are imported on first use, not with the package: what needs only a
component's tables (``govpub store migrate``, every command bringing the store up to
date) does not load the publisher and the event models."""

from typing import TYPE_CHECKING

from schemas.lazy import lazy_names

if TYPE_CHECKING:
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

_LAZY = {
    "BatchRejected": "govpub.errors",
    "VersionLedger": "producers.ledger",
    "Accepted": "producers.publisher",
    "Gate": "producers.publisher",
    "PartialPublish": "producers.publisher",
    "Publisher": "producers.publisher",
    "already_checked": "producers.publisher",
}

__getattr__ = lazy_names(__name__, _LAZY)
