"""The RSS channel: RSS 2.0 and Atom feeds, for everything, per kind and per department.

Delivery guarantee: at-least-once from the runner, idempotent here. Each item has a
stable ``guid`` (``<guid_prefix>:<kind>:<document_id>``) and keeps it across updates;
an update replaces the item's text and its Atom ``updated`` date. Feeds list items
in true time order: by first publication, newest first.

Withdrawal (``action: retract``): the original item and its text leave every feed,
and a withdrawal notice takes its place under a new guid (``…:withdrawn``), dated
when it was withdrawn and giving the reason. A new guid is used on purpose: most
readers never re-read an item they have already shown, so only a new entry tells
a subscriber that the document was withdrawn and why.

A penalty decision taken down because its display period ended (``display_ended_on``,
公示期满) leaves the feeds without a notice: nothing was wrong with it, its display is
simply over, and a new entry naming it would show it to every subscriber once more on
the day it should disappear.
"""

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Self

from channels.base import ChannelBase, ChannelContext
from channels.rss.feedgen_adapter import FeedEntry, FeedMeta, render_atom, render_rss
from channels.rss.settings import RssSettings
from channels.rss.tables import SCHEMA
from channels.summary import summarize
from channels.urls import SiteUrls
from consumers.channel import NOT_ROUTED, Outcome
from govpub.deliveries import DeliveryState
from govpub.departments import department_name
from govpub.files import atomic_write, sync_filesystem
from govpub.store import Connection, Store
from schemas import AnyEvent, ExposureEvent, Kind, RetractEvent

log = logging.getLogger(__name__)

LOCK = "rss_items"
"""The store lock of the feeds' items (see :meth:`govpub.store.Store.transaction`)."""

_COLUMNS = (
    "document_id, kind, department, title, summary, categories, version,"
    " published_at, updated_at, withdrawn, withdrawn_reason"
)
_REPLACE = ", ".join(
    f"{column}=excluded.{column}"
    for column in [*[c.strip() for c in _COLUMNS.split(",")][1:], "sort_at"]
)


def _utc_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class _Item:
    document_id: str
    kind: str
    department: str
    title: str
    summary: str
    categories: list[str]
    version: int
    published_at: datetime
    updated_at: datetime
    withdrawn: bool
    withdrawn_reason: str | None


@dataclass(frozen=True)
class _Pending:
    """An item changed in this batch; ``inherit``: keep the stored first-publication date;
    ``remove``: the item leaves the feeds without a notice (a take-down, 公示期满)."""

    item: _Item
    inherit: bool
    remove: bool = False


def _feeds_of(kind: str, department: str) -> set[str]:
    return {"all", kind, f"dept/{department}"}


class RssChannel(ChannelBase):
    """Keeps feed items in the state store and renders the affected feeds on flush."""

    name = "rss"
    state_tables = ("rss_items", "rss_feeds")

    def __init__(
        self,
        store: Store,
        context: ChannelContext,
        *,
        guid_prefix: str = "urn:govpub:zhuzhou",
    ) -> None:
        self.store = store
        self.settings = context.settings
        self.output_dir = context.output_dir
        self.urls = SiteUrls(str(context.settings.site_url))
        self.guid_prefix = guid_prefix
        section = context.section(RssSettings)
        self.limit = section.feed_items
        self.backlog_interval_ms = round(section.feed_backlog_interval * 1000)
        self._dirty: set[str] = set()
        # Feeds whose files are behind their items, with the generation to write them from
        # (None until the first flush reads those any process of the channel left behind).
        self._owed: dict[str, int] | None = None
        self._pending: dict[str, _Pending] = {}
        self._written: set[str] = set()  # a few paths a feed: for a replay in place
        store.ensure_schema(SCHEMA)

    @classmethod
    def from_context(cls, context: ChannelContext) -> Self:
        """Build from settings and the runner's store."""
        return cls(context.store, context, guid_prefix=context.section(RssSettings).guid_prefix)

    @staticmethod
    def outputs() -> list[PurePosixPath]:
        """Paths under the output root that belong to this channel (a replay swaps them)."""
        return [PurePosixPath("feeds")]

    def written(self) -> set[str]:
        """The feeds written since the channel was built (a replay removes the others)."""
        return set(self._written)

    def apply(self, event: AnyEvent) -> Outcome | None:
        """Take the event into this batch's pending items (written and rendered on flush)."""
        if isinstance(event, RetractEvent):
            return self._withdraw(event)
        if isinstance(event, ExposureEvent) and not event.payload.is_batch:
            return NOT_ROUTED  # candidates are published in the quarterly batch
        title, summary, categories = summarize(event)
        earlier = self._pending.get(event.document_id)
        published, inherit = event.occurred_at, True
        if earlier is not None:
            # A republication after a withdrawal starts a new item; an update keeps the first date.
            if earlier.item.withdrawn:
                inherit = False
            else:
                published, inherit = earlier.item.published_at, earlier.inherit
        self._pending[event.document_id] = _Pending(
            _Item(
                document_id=event.document_id,
                kind=event.kind.value,
                department=event.department,
                title=title,
                summary=summary,
                categories=categories,
                version=event.version,
                published_at=published,
                updated_at=event.occurred_at,
                withdrawn=False,
                withdrawn_reason=None,
            ),
            inherit,
        )
        return None

    def _withdraw(self, event: RetractEvent) -> Outcome | None:
        earlier = self._pending.get(event.document_id)
        if earlier is not None:
            item, inherit = earlier.item, earlier.inherit
        else:
            # Withdrawals are rare: one lookup each is cheaper than batching them.
            loaded = self._load([event.document_id]).get(event.document_id)
            if loaded is None:
                return Outcome(DeliveryState.RETRACTED, "was not in the feeds")
            item, inherit = loaded, False
        self._pending[event.document_id] = _Pending(
            replace(
                item,
                version=event.version,
                updated_at=event.occurred_at,
                withdrawn=True,
                withdrawn_reason=event.payload.reason,
            ),
            inherit,
            remove=event.payload.display_ended_on is not None,
        )
        return None

    def _load(self, document_ids: Sequence[str]) -> dict[str, _Item]:
        found: dict[str, _Item] = {}
        ids = list(document_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self.store.conn.execute(
                f"SELECT {_COLUMNS} FROM rss_items"
                f" WHERE document_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for row in rows:
                item = self._item(row)
                found[item.document_id] = item
        return found

    def _write_pending(self, conn: Connection) -> None:
        if not self._pending:
            return
        stored = self._load(list(self._pending))
        rows = []
        removed = []
        for document_id, pending in self._pending.items():
            item = pending.item
            before = stored.get(document_id)
            if before is not None:
                self._dirty |= _feeds_of(before.kind, before.department)
                if pending.inherit and not before.withdrawn:
                    item = replace(item, published_at=before.published_at)
            self._dirty |= _feeds_of(item.kind, item.department)
            if pending.remove:
                removed.append((document_id,))
                continue
            sort_at = item.updated_at if item.withdrawn else item.published_at
            rows.append(
                (
                    item.document_id,
                    item.kind,
                    item.department,
                    item.title,
                    item.summary,
                    json.dumps(item.categories, ensure_ascii=False),
                    item.version,
                    item.published_at.isoformat(),
                    item.updated_at.isoformat(),
                    int(item.withdrawn),
                    item.withdrawn_reason,
                    _utc_key(sort_at),
                )
            )
        conn.executemany(
            f"INSERT INTO rss_items ({_COLUMNS}, sort_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            f" ON CONFLICT (document_id) DO UPDATE SET {_REPLACE}",
            rows,
        )
        conn.executemany("DELETE FROM rss_items WHERE document_id=?", removed)

    @staticmethod
    def _item(row: tuple[object, ...]) -> _Item:
        return _Item(
            document_id=str(row[0]),
            kind=str(row[1]),
            department=str(row[2]),
            title=str(row[3]),
            summary=str(row[4]),
            categories=json.loads(str(row[5])),
            version=int(str(row[6])),
            published_at=datetime.fromisoformat(str(row[7])),
            updated_at=datetime.fromisoformat(str(row[8])),
            withdrawn=bool(row[9]),
            withdrawn_reason=None if row[10] is None else str(row[10]),
        )

    def flush(self, *, backlog: bool = False) -> None:
        """Store this batch's items, then render every feed they touch, RSS and Atom,
        each replaced atomically, all made durable by one sync.

        With ``backlog`` (more events are waiting), a feed that this process or another of
        the channel wrote less than ``GOVPUB_FEED_BACKLOG_INTERVAL`` ago is held back: the
        next batches change it again, and a backlog delivered by several processes would
        otherwise have each of them write every feed with each of its batches. A feed held
        back is written by the first flush after the interval, or by the next flush
        without ``backlog``, which the runner makes as soon as the backlog is delivered
        (or it stops). Its items are stored either way; a feed left behind by a process
        that stopped without writing it is written by the next process's first flush.

        With several processes of this channel, the feeds are rendered outside the
        store's lock. Storing the items bumps each touched feed's generation in the same
        transaction. A feed is then rendered from the state as it is (which holds at least
        that generation) and written, under the lock, only if no process has written it
        from a later generation; one that has, rendered a state that holds these items, so
        the feed is skipped. The last write of a feed is therefore never an older state's,
        and no process's items are lost.
        """
        owed = self._owed
        if owed is None:
            owed = self._owed = self._left_behind()
        if self._pending or self._dirty:
            with self.store.transaction(LOCK) as conn:
                self._write_pending(conn)
                for feed in sorted(self._dirty):
                    owed[feed] = max(owed.get(feed, 0), self._bump(conn, feed))
            self._pending.clear()
            self._dirty.clear()
        due = sorted(owed)
        if backlog and self.backlog_interval_ms > 0:
            due = self._due(due)
        log.debug("rss: %d feeds to write, %d held back", len(due), len(owed) - len(due))
        if not due:
            return
        for feed in due:
            self._render(feed, owed[feed])
            del owed[feed]  # not before: a flush that failed is tried again
        sync_filesystem(self.output_dir)

    def _left_behind(self) -> dict[str, int]:
        """The feeds whose files are older than their items, and their generations."""
        rows = self.store.conn.execute(
            "SELECT feed, changed FROM rss_feeds WHERE changed > rendered"
        ).fetchall()
        return {str(feed): int(changed) for feed, changed in rows}

    def _due(self, feeds: Sequence[str]) -> list[str]:
        """Those of ``feeds`` that no process of the channel has written within the
        backlog interval (by the clocks of the hosts that wrote them: a host's clock that
        is ahead holds a feed back for longer, at most until the backlog is delivered)."""
        # One row a feed: a few dozen.
        rows = self.store.conn.execute("SELECT feed, rendered_at_ms FROM rss_feeds")
        written = {str(feed): int(at) for feed, at in rows}
        recent = time.time() * 1000 - self.backlog_interval_ms
        return [feed for feed in feeds if written.get(feed, 0) <= recent]

    @staticmethod
    def _bump(conn: Connection, feed: str) -> int:
        """Count a change of ``feed``'s items; returns the feed's new generation."""
        conn.execute(
            "INSERT INTO rss_feeds (feed, changed) VALUES (?, 1)"
            " ON CONFLICT (feed) DO UPDATE SET changed = rss_feeds.changed + 1",
            (feed,),
        )
        return int(
            conn.execute("SELECT changed FROM rss_feeds WHERE feed=?", (feed,)).fetchone()[0]
        )

    def _generations(self, feed: str) -> tuple[int, int]:
        """``(changed, rendered)`` of ``feed``."""
        row = self.store.conn.execute(
            "SELECT changed, rendered FROM rss_feeds WHERE feed=?", (feed,)
        ).fetchone()
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    def _render(self, feed: str, needed: int) -> None:
        """Write ``feed`` from a state of generation ``needed`` or later, unless another
        process has already written it from one."""
        changed, rendered = self._generations(feed)
        if rendered >= needed:
            return
        # Read after the generation: the items are those of ``changed`` or later.
        meta = self._meta(feed)
        entries = [self._entry(item) for item in self._latest(feed)]
        files = {
            self.urls.feed_path(feed, fmt): render(meta, entries)
            for fmt, render in (("rss", render_rss), ("atom", render_atom))
        }
        with self.store.transaction(LOCK) as conn:
            row = conn.execute("SELECT rendered FROM rss_feeds WHERE feed=?", (feed,)).fetchone()
            if int(row[0]) >= changed:
                return  # written meanwhile from a state at least as new as this one
            for path, data in files.items():
                atomic_write(self.output_dir / path, data, durable=False)
                self._written.add(path)
            conn.execute(
                "UPDATE rss_feeds SET rendered=?, rendered_at_ms=? WHERE feed=?",
                (changed, round(time.time() * 1000), feed),
            )

    def _latest(self, feed: str) -> list[_Item]:
        sql = f"SELECT {_COLUMNS} FROM rss_items"
        params: list[object] = []
        if feed.startswith("dept/"):
            sql += " WHERE department=?"
            params.append(feed.removeprefix("dept/"))
        elif feed != "all":
            sql += " WHERE kind=?"
            params.append(feed)
        sql += " ORDER BY sort_at DESC, document_id LIMIT ?"
        params.append(self.limit)
        return [self._item(row) for row in self.store.conn.execute(sql, params)]

    def _meta(self, feed: str) -> FeedMeta:
        site = self.settings.site_title
        if feed == "all":
            title, link, about = f"{site} — 全部信息", self.urls.absolute(""), "全部公开信息"
        elif feed.startswith("dept/"):
            code = feed.removeprefix("dept/")
            name = department_name(code)
            title, link, about = f"{name} — 政府信息公开", self.urls.department_index(code), name
        else:
            label = Kind(feed).label
            title, link, about = f"{site} — {label}", self.urls.kind_index(feed), label
        return FeedMeta(
            feed_id=f"{self.guid_prefix}:feed:{feed}",
            title=title,
            link=link,
            self_rss=self.urls.feed(feed, "rss"),
            self_atom=self.urls.feed(feed, "atom"),
            description=f"{site}：{about}（最新 {self.limit} 条）",
            author=site,
            fallback_date=datetime(2000, 1, 1, tzinfo=UTC),
        )

    def _entry(self, item: _Item) -> FeedEntry:
        guid = f"{self.guid_prefix}:{item.kind}:{item.document_id}"
        link = self.urls.document(item.kind, item.document_id)
        author = department_name(item.department)
        if item.withdrawn:
            when = item.updated_at.date().isoformat()
            return FeedEntry(
                guid=f"{guid}:withdrawn",
                title=f"【已撤回】{item.title}",
                link=link,
                summary=f"该信息已于 {when} 撤回。撤回原因：{item.withdrawn_reason}",
                published=item.updated_at,
                updated=item.updated_at,
                categories=[*item.categories, "已撤回"],
                author=author,
            )
        summary = item.summary
        if item.updated_at > item.published_at:
            summary = f"（更新于 {item.updated_at.date().isoformat()}）\n{summary}"
        return FeedEntry(
            guid=guid,
            title=item.title,
            link=link,
            summary=summary,
            published=item.published_at,
            updated=max(item.updated_at, item.published_at),
            categories=item.categories,
            author=author,
        )
