"""What ``govpub status`` shows of compliance: the deadlines the gate flagged and the
take-downs of penalty decisions (due, overdue, unfinished, waiting in WeChat's queue).

A read model over the state store — the compliance audit log, the document catalog,
the delivery records and WeChat's deletion queue — built by
:func:`read_compliance_status`, then rendered as text or as JSON (``govpub status
--json``, for scripts). It only reads.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from channels.catalog.channel import CatalogChannel
from channels.catalog.state import DocumentCatalog
from channels.newmedia.wechat.deletions import AccountQueue, DeleteQueue
from govpub.bus import Bus
from govpub.compliance.audit import AuditEntry, AuditLog
from govpub.compliance.rules import DISCLOSURE_DEADLINE, PENALTY_DEADLINE, WITHDRAWAL_DEADLINE
from govpub.deliveries import DeliveryLog, DeliveryRow
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from producers.releases.display import DisplayPeriods
from producers.releases.quarters import RELEASE_TIMEZONE
from producers.releases.takedown import UPCOMING_DAYS, Upcoming, due_takedowns

LATEST = 5
"""How many of each list ``govpub status`` shows (the counts are complete)."""

FLAGS = (
    (PENALTY_DEADLINE.id, "late penalties"),
    (DISCLOSURE_DEADLINE.id, "late disclosures"),
    (WITHDRAWAL_DEADLINE.id, "late withdrawals"),
)
"""The deadline rules operators watch, with what they are called."""


@dataclass(frozen=True)
class Flags:
    """The events one deadline rule flagged: how many, and the latest."""

    rule: str
    label: str
    count: int
    latest: list[AuditEntry]


@dataclass(frozen=True)
class ComplianceStatus:
    """Compliance flags and take-downs on day ``as_of`` (Asia/Shanghai)."""

    as_of: date
    flags: list[Flags]
    overdue: list[Upcoming]
    """Display ended before an earlier day's run: not withdrawn yet (is the DAG running?)."""
    due: list[Upcoming]
    """Taken down by a run in the next :data:`UPCOMING_DAYS` days (today's included)."""
    unfinished_count: int
    unfinished: list[DeliveryRow]
    """Withdrawals not done on some channel or target (failed, dead-lettered, waiting)."""
    wechat_queue: list[AccountQueue]
    catalog_behind: int = 0
    """Events on the bus the document catalog has not read: the take-downs are as of the
    catalog's last sync (the DAG syncs it before each run), so decisions published since
    are missing from due and overdue until it catches up."""

    def as_json(self, latest: int = LATEST) -> dict[str, Any]:
        """JSON-ready: counts, and the first ``latest`` of each list."""
        return {
            "as_of": self.as_of.isoformat(),
            "flags": {
                f.rule: {
                    "label": f.label,
                    "count": f.count,
                    "latest": [_flag_json(e) for e in f.latest[:latest]],
                }
                for f in self.flags
            },
            "takedowns": {
                "catalog_behind": self.catalog_behind,
                "due_within_days": UPCOMING_DAYS,
                "due": {
                    "count": len(self.due),
                    "soonest": [_due_json(d) for d in self.due[:latest]],
                },
                "overdue": {
                    "count": len(self.overdue),
                    "oldest": [_due_json(d) for d in self.overdue[:latest]],
                },
                "unfinished": {
                    "count": self.unfinished_count,
                    "latest": [_row_json(r) for r in self.unfinished[:latest]],
                },
                "wechat_delete_queue": [_queue_json(q) for q in self.wechat_queue],
            },
        }


def today_in_china(now: datetime | None = None) -> date:
    """The calendar day in Asia/Shanghai (take-downs and deadlines count there)."""
    return (now or datetime.now(UTC)).astimezone(RELEASE_TIMEZONE).date()


def read_compliance_status(
    settings: Settings,
    store: Store,
    *,
    today: date,
    latest: int = LATEST,
    catalog_behind: int = 0,
) -> ComplianceStatus:
    """Read the compliance flags and the take-downs from ``store`` on day ``today``;
    ``catalog_behind`` is the catalog's lag on the bus (:func:`catalog_lag`)."""
    audit = AuditLog(store)
    flags = []
    for rule, label in FLAGS:
        count, entries = audit.flagged(rule, limit=latest)
        flags.append(Flags(rule, label, count, entries))
    display = DisplayPeriods.load(settings.penalty_display_config)
    ending = due_takedowns(
        DocumentCatalog(store), display, ending_before=today + timedelta(days=UPCOMING_DAYS)
    )
    takedowns = [
        Upcoming(document_id=e.document_id, department=e.department, display_until=until)
        for e, until in ending
    ]
    count, rows = DeliveryLog(store).unfinished("retract", limit=latest)
    return ComplianceStatus(
        as_of=today,
        flags=flags,
        overdue=[t for t in takedowns if t.takedown_on < today],
        due=[t for t in takedowns if t.takedown_on >= today],
        unfinished_count=count,
        unfinished=rows,
        wechat_queue=DeleteQueue(store).summary(),
        catalog_behind=catalog_behind,
    )


def channel_lag(settings: Settings, bus: Bus, channel: str) -> int:
    """How many content events ``channel``'s consumer group has not committed."""
    topics = Topics(settings.topic_prefix)
    lag = bus.committed_lag(topics.channel_group(channel), topics.content)
    return sum(max(0, behind) for behind in lag.values())


def catalog_lag(settings: Settings, bus: Bus) -> int:
    """How many content events the document catalog has not read (:attr:`catalog_behind`)."""
    return channel_lag(settings, bus, CatalogChannel.name)


def render_compliance_status(status: ComplianceStatus, latest: int = LATEST) -> list[str]:
    """The text lines of ``govpub status``'s compliance section."""
    lines = ["compliance flags (the gate accepted these events late; govpub status --json):"]
    for flag in status.flags:
        lines.append(f"  {flag.label} ({flag.rule}): {flag.count}")
        for entry in flag.latest[:latest]:
            lines.append(
                f"    {_moment(entry.recorded_at)} {entry.document_id} ({entry.kind}"
                f" {entry.action}, event {entry.event_id}): {entry.detail}"
            )
    lines.append("")
    lines.append(f"take-downs of penalty decisions (公示期满), as of {status.as_of}:")
    if status.catalog_behind:
        lines += [
            f"  the document catalog is {status.catalog_behind}"
            f" event{'' if status.catalog_behind == 1 else 's'} behind the bus: decisions"
            " published since its last sync are not counted below",
            "  (govpub consume --channel catalog --until-idle brings it up to date, as each"
            " take-down run does)",
        ]
    lines.append(f"  due in the next {UPCOMING_DAYS} days: {len(status.due)}")
    lines += [f"    {_due_text(t)}" for t in status.due[:latest]]
    lines.append(f"  overdue (display ended, not withdrawn yet): {len(status.overdue)}")
    lines += [f"    {_due_text(t)}" for t in status.overdue[:latest]]
    if status.overdue:
        lines.append(
            "    (is the penalty_display_takedown DAG running? Each run takes down what ended"
            " before its day.)"
        )
    lines.append(f"  withdrawals not finished on every channel: {status.unfinished_count}")
    for row in status.unfinished[:latest]:
        target = f" → {row.target}" if row.target else ""
        why = row.last_error or row.detail
        lines.append(
            f"    {row.document_id} v{row.version} {row.channel}{target}: {row.state.value}"
            + (f" ({why})" if why else "")
        )
    if status.wechat_queue:
        lines.append("  WeChat deletions waiting (10 a day per account):")
        for queue in status.wechat_queue:
            failing = f", {queue.failing} failing" if queue.failing else ""
            lines.append(
                f"    {queue.account}: {queue.waiting} waiting{failing}, next at"
                f" {_moment(queue.next_due_at)}: {', '.join(queue.documents[:latest])}"
            )
    return lines


def _moment(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, RELEASE_TIMEZONE).isoformat(timespec="minutes")


def _due_text(takedown: Upcoming) -> str:
    return (
        f"{takedown.takedown_on} {takedown.document_id} ({takedown.department}, displayed"
        f" until {takedown.display_until})"
    )


def _flag_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "document_id": entry.document_id,
        "event_id": entry.event_id,
        "kind": entry.kind,
        "action": entry.action,
        "department": entry.department,
        "recorded_at": datetime.fromtimestamp(entry.recorded_at, UTC).isoformat(),
        "detail": entry.detail,
    }


def _due_json(takedown: Upcoming) -> dict[str, Any]:
    return {
        "document_id": takedown.document_id,
        "department": takedown.department,
        "display_until": takedown.display_until.isoformat(),
        "takedown_on": takedown.takedown_on.isoformat(),
    }


def _row_json(row: DeliveryRow) -> dict[str, Any]:
    return {
        "document_id": row.document_id,
        "event_id": row.event_id,
        "version": row.version,
        "channel": row.channel,
        "target": row.target or None,
        "state": row.state.value,
        "detail": row.detail,
        "last_error": row.last_error,
        "updated_at": datetime.fromtimestamp(row.updated_at, UTC).isoformat(),
    }


def _queue_json(queue: AccountQueue) -> dict[str, Any]:
    return {
        "account": queue.account,
        "waiting": queue.waiting,
        "failing": queue.failing,
        "oldest_queued_at": datetime.fromtimestamp(queue.oldest_queued_at, UTC).isoformat(),
        "next_due_at": datetime.fromtimestamp(queue.next_due_at, UTC).isoformat(),
        "documents": list(queue.documents),
    }
