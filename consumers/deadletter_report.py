"""``govpub dlq list``: the dead letters as an operator reads them — oldest first, with
the event they carry, why they failed in words, and what became of the event since.

A read model over the DLQ topic and the delivery records; it changes nothing.
"""

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic_core import from_json

from consumers.deadletter import DeadLetter, Failure
from consumers.redrive import read_dead_letters
from govpub.bus import Bus, Record, TopicPartition
from govpub.deliveries import DeliveryLog
from govpub.store import Store
from govpub.topics import Topics

DISPLAY_TIMEZONE = ZoneInfo("Asia/Shanghai")
"""Operators read times in Beijing time."""

_FAILURES: dict[Failure | None, str] = {
    "invalid": "not a valid event",
    "refused": "refused by the channel (retrying cannot fix it)",
    "gave_up": "the channel kept failing",
    None: "failed",
}

_RELATIVE = re.compile(r"^(\d+)\s*([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class DeadLetterEntry:
    """One record of the DLQ topic, as listed."""

    letter_position: str
    """Where the letter is on the DLQ topic: ``<partition>:<offset>``."""
    channel: str | None
    failed_at: datetime | None
    origin: str | None
    """Where the message was read: ``<topic>[<partition>]@<offset>``."""
    event_id: str | None
    document_id: str | None
    attempts: int | None
    redrives: int | None
    why: str
    error_type: str | None
    reason: str | None
    now: str | None
    """The event's delivery state on the channel today (``None`` if unknown)."""
    redrivable: bool
    redriven: bool
    """``govpub dlq redrive`` has handled this letter (a newer letter exists if it failed
    again)."""

    def as_json(self) -> dict[str, object]:
        """A JSON-ready dict (times in RFC 3339)."""
        data = asdict(self)
        data["failed_at"] = self.failed_at.isoformat() if self.failed_at else None
        return data


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """``--since``: a date (``2026-11-28``, Beijing time), an RFC 3339 date-time, or an
    age such as ``30m``, ``6h``, ``7d``. Raises ``ValueError`` naming what is accepted."""
    value = text.strip()
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"--since {text!r}: use a date (2026-11-28), a date-time with an offset"
            " (2026-11-28T09:00:00+08:00), or an age such as 30m, 6h, 7d"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=DISPLAY_TIMEZONE)


def list_dead_letters(
    bus: Bus,
    topics: Topics,
    store: Store,
    *,
    channel: str | None = None,
    since: datetime | None = None,
) -> list[DeadLetterEntry]:
    """The dead letters on the DLQ topic, oldest first, optionally of one channel and
    from a moment on. Records that are not dead letters are listed too (unless a
    filter applies), so nothing on the topic is hidden."""
    deliveries = DeliveryLog(store)
    found = read_dead_letters(bus, topics)
    channels = {letter.channel for _, letter in found if letter is not None}
    redriven_up_to = {
        name: bus.committed_offsets(topics.redrive_group(name), [topics.dlq]) for name in channels
    }
    entries = [
        _entry(record, letter, deliveries, redriven_up_to[letter.channel] if letter else {})
        for record, letter in found
    ]
    if channel is not None:
        entries = [e for e in entries if e.channel == channel]
    if since is not None:
        entries = [e for e in entries if e.failed_at is not None and e.failed_at >= since]
    never = datetime.min.replace(tzinfo=UTC)
    return sorted(entries, key=lambda e: (e.failed_at or never, e.letter_position))


def _entry(
    record: Record,
    letter: DeadLetter | None,
    deliveries: DeliveryLog,
    redriven_up_to: dict[TopicPartition, int],
) -> DeadLetterEntry:
    position = f"{record.partition}:{record.offset}"
    if letter is None:
        return DeadLetterEntry(
            letter_position=position,
            channel=None,
            failed_at=None,
            origin=None,
            event_id=_event_id_in(record.value),
            document_id=None,
            attempts=None,
            redrives=None,
            why="not a dead letter (something else wrote to this topic)",
            error_type=None,
            reason=None,
            now=None,
            redrivable=False,
            redriven=False,
        )
    event_id = letter.event_id or _event_id_in(letter.original().value)
    now = None
    if event_id is not None:
        rows = [r for r in deliveries.for_event(event_id) if r.channel == letter.channel]
        now = rows[0].state.value if rows else None
    why = _FAILURES[letter.failure]
    reason = letter.reason
    if letter.failure == "gave_up":
        why = f"{why} ({letter.attempts} attempts)"
    elif letter.failure == "invalid":
        reason = reason.removeprefix("invalid event: ")
    return DeadLetterEntry(
        letter_position=position,
        channel=letter.channel,
        failed_at=letter.failed_at,
        origin=f"{letter.origin_topic}[{letter.origin_partition}]@{letter.origin_offset}",
        event_id=event_id,
        document_id=letter.document_id,
        attempts=letter.attempts,
        redrives=letter.redrives,
        why=why,
        error_type=letter.error_type,
        reason=reason,
        now=now,
        redrivable=not letter.value_truncated,
        redriven=record.offset < redriven_up_to.get(record.tp, 0),
    )


def _event_id_in(value: bytes) -> str | None:
    """The ``event_id`` of a message that parses as a JSON object with one, valid or not."""
    try:
        data = from_json(value)
    except ValueError:
        return None
    event_id = data.get("event_id") if isinstance(data, dict) else None
    return event_id[:64] if isinstance(event_id, str) else None


def render_dead_letters(entries: Sequence[DeadLetterEntry], dlq_topic: str) -> str:
    """The plain-text listing: a header that says what the columns mean, then one block
    per dead letter, oldest first."""
    lines = [
        f"Dead letters on {dlq_topic}, oldest first. Times are Beijing time.",
        "  letter = the letter's place on the DLQ topic (partition:offset);",
        "  from   = where the message was read (topic[partition]@offset);",
        "  now    = the event's delivery state on that channel today;",
        "  redrive done = `govpub dlq redrive` has tried it (a newer letter follows if it",
        "  failed again); waiting for redrive = the next redrive of its channel tries it.",
        "",
    ]
    for entry in entries:
        when = (
            entry.failed_at.astimezone(DISPLAY_TIMEZONE).strftime("%Y-%m-%d %H:%M:%S")
            if entry.failed_at
            else "-"
        )
        lines.append(
            f"{when}  {entry.channel or '-'}  event {entry.event_id or '-'}"
            f"  document {entry.document_id or '-'}"
        )
        detail = f": {entry.reason}" if entry.reason else ""
        lines.append(f"    why: {entry.why}{detail}")
        facts = [f"letter {entry.letter_position}"]
        if entry.origin:
            facts.append(f"from {entry.origin}")
        if entry.attempts is not None:
            facts.append(f"attempts {entry.attempts}")
        if entry.redrives:
            facts.append(f"redriven {entry.redrives}×")
        facts.append(f"now {entry.now or 'not delivered'}")
        if entry.redriven:
            facts.append("redrive done")
        elif not entry.redrivable and entry.channel:
            facts.append("not redrivable (message cut to fit the topic)")
        elif entry.channel:
            facts.append("waiting for redrive")
        lines.append("    " + " · ".join(facts))
    lines.append(f"{len(entries)} dead letter(s)")
    return "\n".join(lines)


def dead_letters_json(entries: Sequence[DeadLetterEntry]) -> str:
    """The listing for scripts: a JSON array, oldest first."""
    return json.dumps([e.as_json() for e in entries], ensure_ascii=False, indent=2)
