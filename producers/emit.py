"""Reading events from files for ``govpub emit``: one JSON object, a JSON array, or JSON Lines.

The whole input is validated before anything is sent; every bad entry is
reported with its line (or item) number and its field errors.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from govpub.errors import EventValidationError, FieldError, GovpubError
from schemas import AnyEvent

MAX_INPUT_BYTES = 256 * 1024 * 1024
"""Largest file ``govpub emit`` reads at once."""


@dataclass(frozen=True)
class Entry:
    """One event read from the input, with where it was found."""

    where: str  # "line 3" or "item 2"
    data: Any


@dataclass(frozen=True)
class Problem:
    """Why one entry was refused."""

    where: str
    errors: tuple[FieldError, ...]

    def __str__(self) -> str:
        return "\n".join(f"{self.where}: {error}" for error in self.errors)


def read_entries(text: str) -> list[Entry | Problem]:
    """Split the input into entries; JSON that does not parse becomes a :class:`Problem`."""
    stripped = text.strip()
    if not stripped:
        return []
    try:
        whole = json.loads(stripped)
    except (ValueError, RecursionError):
        whole = None
    else:
        if isinstance(whole, list):
            return [Entry(f"item {i}", item) for i, item in enumerate(whole, start=1)]
        if isinstance(whole, dict):
            return [Entry("line 1", whole)]
    entries: list[Entry | Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(Entry(f"line {number}", json.loads(line)))
        except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
            message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            entries.append(
                Problem(f"line {number}", (FieldError("", f"not valid JSON: {message}"),))
            )
        except RecursionError:
            entries.append(Problem(f"line {number}", (FieldError("", "nested too deeply"),)))
    return entries


def validate_entries(
    entries: list[Entry | Problem], prepare: Callable[[Any], AnyEvent]
) -> tuple[list[tuple[str, AnyEvent]], list[Problem]]:
    """Validate every entry with ``prepare``; returns ``(where, event)`` pairs and every
    problem found."""
    events: list[tuple[str, AnyEvent]] = []
    problems: list[Problem] = []
    for entry in entries:
        if isinstance(entry, Problem):
            problems.append(entry)
            continue
        try:
            events.append((entry.where, prepare(entry.data)))
        except GovpubError as exc:
            problems.append(problem_for(entry.where, exc))
    return events, problems


def problem_for(where: str, error: GovpubError) -> Problem:
    """A :class:`Problem` from any refusal (field errors are kept one per line)."""
    if isinstance(error, EventValidationError):
        return Problem(where, error.errors)
    return Problem(where, (FieldError("", str(error)),))
