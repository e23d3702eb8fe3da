"""The root of govpub's exception tree, and the errors of event validation.

They live here because ``schemas`` imports nothing of ``govpub``; import them (and the
rest of the tree) from :mod:`govpub.errors`, which re-exports these.
"""

from collections.abc import Sequence
from dataclasses import dataclass


class GovpubError(Exception):
    """Base of every error govpub raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    """One problem with one field: a dotted path (``payload.title``) and the reason."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class EventValidationError(GovpubError):
    """An event does not match its schema; ``errors`` lists every bad field."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(str(e) for e in self.errors) or "invalid event")
