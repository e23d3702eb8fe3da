"""The website channel: the portal's disclosure section (政府信息公开) as static files.

Delivery guarantee: at-least-once from the runner, idempotent here. ``apply``
records the document and which outputs it touches in the store (the events of a
batch in one transaction, each event all or nothing); ``flush`` commits them, then
renders exactly those outputs and writes each file atomically, skipping files whose
bytes did not change. A large flush is rendered in several processes.

One writer at a time: the home page and the lists are shared by every document, so
two processes rendering them would race. The channel says so (``single_writer``);
the runner holds a lease for it, and a second ``website`` consumer waits as a standby
until the first is gone (see :mod:`consumers.lease`). The outputs still to render are
versioned, so that a mark made while a flush renders is never lost either.

Every document has one page at ``<kind>/<document_id>.html`` that keeps its URL
across updates. An update re-renders it in place with the date it was updated;
a withdrawal (``action: retract``) replaces it with a notice giving the date and
the public reason, and takes the document out of every index. A penalty decision
taken down because its display period ended (``display_ended_on``) gets a notice
that no longer names the decision or its party: its display is over, so the page
says only that it ended, and the JSON index lists it under ``withdrawn`` without its
title. Exposure candidates are not published on their own: they appear in their
quarter's batch.

Cost per event does not grow with the number of documents: an event renders its
own page, the indexes of its kind and department (newest documents only), the
archive page it is on, one sitemap slice and the home page; see
:mod:`channels.website.state` for how pages are numbered.
"""

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import PurePosixPath
from typing import Self

from channels.base import ChannelBase, ChannelContext
from channels.urls import SiteUrls
from channels.website.outputs import (
    HOME_LATEST,
    HOME_PER_KIND,
    RECENT_WITHDRAWALS,
    SITEMAP_PAGES,
    Outputs,
)
from channels.website.parallel import (
    PARALLEL_MIN_TARGETS,
    can_fork,
    processes_for,
    render_forked,
)
from channels.website.paths import (
    HOME_PATH,
    LIBRARY_DIR,
    REPORT_DATA_SUFFIXES,
    SECTIONS_SITEMAP_PATH,
    SITEMAP_PATH,
    STYLESHEET_PATH,
    ListRef,
    report_data_path,
)
from channels.website.render import SiteRenderer, local_date, summary_of
from channels.website.state import (
    ASSETS_TARGET,
    HOME_TARGET,
    LIBRARY_TARGET,
    LOCK,
    SECTIONS_TARGET,
    SITEMAP_INDEX_TARGET,
    STATE_TABLES,
    DisplayDates,
    Document,
    LibraryRow,
    WebsiteState,
    delete_target,
    doc_target,
    index_target,
    page_target,
    pages_for,
    parse_target,
    sitemap_target,
    sort_key_of,
)
from consumers.channel import NOT_ROUTED, Outcome, Rebuild
from consumers.lease import Lease
from govpub.compliance.rules import NOT_PUBLISHED_REASON, never_publish
from govpub.deliveries import DeliveryState
from govpub.errors import LeaseLost, PermanentDeliveryError, TransientDeliveryError
from govpub.files import FileTree, sync_filesystem
from govpub.store import Connection, Store
from schemas import (
    AnyEvent,
    ContentEvent,
    ExposureEvent,
    Kind,
    PenaltyEvent,
    PolicyEvent,
    RetractEvent,
)
from schemas.events import encode_event
from schemas.types import RESERVED_DOCUMENT_IDS

__all__ = [
    "HOME_LATEST",
    "HOME_PER_KIND",
    "NOT_PUBLISHED_REASON",
    "PAGE_SIZE",
    "RECENT_WITHDRAWALS",
    "SITEMAP_PAGES",
    "WebsiteChannel",
]

log = logging.getLogger(__name__)

PAGE_SIZE = 20
"""Documents per list page (and per page of the JSON index)."""
WRITER_THREADS = 2
"""Threads that write a process's files while it renders the next page (see
:class:`~govpub.files.FileTree`)."""


class WebsiteChannel(ChannelBase):
    """Static HTML, JSON and sitemaps under the output directory."""

    name = "website"
    state_tables = STATE_TABLES
    single_writer = True

    def __init__(
        self,
        store: Store,
        context: ChannelContext,
        *,
        page_size: int = PAGE_SIZE,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        settings = context.settings
        self.output_dir = context.output_dir
        self.page_size = page_size
        self.state = WebsiteState(store, page_size=page_size)
        self.urls = SiteUrls(str(settings.site_url))
        self.renderer = SiteRenderer(self.urls, site_title=settings.site_title, page_size=page_size)
        self._fresh = context.rebuild is Rebuild.FRESH
        self._record = context.rebuild is Rebuild.IN_PLACE
        # A replay renders every library page once, at its end: it does not place each
        # policy in its group (a count that, events arriving from several partitions out
        # of order, read much of the group per policy).
        self._rebuilding = context.rebuild is not None
        # Today's date (Asia/Shanghai) decides which consultations the column lists as open.
        self._clock = clock or (lambda: datetime.now(UTC))
        self._outputs = Outputs(self.state, self.renderer, self._tree(), clock=self._clock)
        self._processes = processes_for(settings.render_processes)
        # Paths written by forked render processes (a replay in place removes the others).
        self._written_elsewhere: set[str] = set()
        self._started = False
        self._lease: Lease | None = None
        # The transaction that holds the changes of the batch being applied.
        self._batch: ExitStack | None = None
        self._lost = False
        # Targets this batch has marked already (the same home page, 5,000 times a batch).
        self._marked: set[str] = set()
        # Events applied since the last flush, so that their pages are rendered without
        # decoding the stored JSON again (a cache only: flush falls back to the store).
        self._applied: dict[str, ContentEvent] = {}

    @classmethod
    def from_context(cls, context: ChannelContext) -> Self:
        """Build from settings and the runner's store."""
        return cls(context.store, context)

    def hold(self, lease: Lease | None) -> None:
        """Write only while ``lease`` is held (the runner passes the channel's lease)."""
        self._lease = lease

    @staticmethod
    def outputs() -> list[PurePosixPath]:
        """Paths under the output root that belong to this channel (a replay swaps them)."""
        return [
            PurePosixPath(HOME_PATH),
            PurePosixPath(SITEMAP_PATH),
            PurePosixPath(SECTIONS_SITEMAP_PATH).parent,
            PurePosixPath(STYLESHEET_PATH).parent,
            PurePosixPath("api"),
            PurePosixPath(LIBRARY_DIR),
            PurePosixPath("dept"),
            *(PurePosixPath(kind.value) for kind in Kind),
        ]

    # apply --------------------------------------------------------------------------

    def _transaction(self) -> ExitStack:
        """The batch's transaction, begun by its first event and committed by ``flush``.

        It holds the whole store (no keys): each event is applied in a nested transaction
        (a savepoint) of it, and so is whatever the runner writes between two events on
        the same store (the compliance guard's audit and party register), which a keyed
        transaction would have to name. Rendering happens after its commit.
        """
        if self._batch is None:
            batch = ExitStack()
            batch.enter_context(self.state.store.transaction())
            self._batch = batch
        return self._batch

    def apply(self, event: AnyEvent) -> Outcome | None:
        """Record the document (or its withdrawal) and the outputs it touches."""
        # The schema refuses these ids; an event built without validation is refused here.
        if event.document_id.lower() in RESERVED_DOCUMENT_IDS:
            raise PermanentDeliveryError(
                f"document_id {event.document_id!r} is reserved on the website"
            )
        self._transaction()
        # A batch may take longer to apply than the lease lasts (5,000 events on a busy
        # machine): renewed as it goes, inside the batch's transaction, or its commit
        # would find the lease expired and the batch would be retried for ever. The
        # renewal is seen by others at the commit; until then the batch's transaction
        # holds the store, so no standby can take the lease over meanwhile.
        try:
            self._tick()
        except LeaseLost:
            self._abandon()  # nothing of the batch is committed; its events come again
            raise
        if isinstance(event, RetractEvent):
            return self._withdraw(
                event,
                event.payload.reason,
                event.payload.replaced_by,
                absent="was not published",
                display_ended_on=event.payload.display_ended_on,
            )
        if isinstance(event, ExposureEvent) and not event.payload.is_batch:
            return NOT_ROUTED  # candidates are published in the quarterly batch
        # The runner's guard turns such a document into a withdrawal; this is for an
        # event handed to the channel directly.
        flags = never_publish(event.payload)
        if flags:
            why = flags[0][2]
            outcome = self._withdraw(event, NOT_PUBLISHED_REASON, None, absent=None)
            if outcome is None:
                return Outcome(DeliveryState.RETRACTED, f"withdrawn: {why}")
            return Outcome(DeliveryState.SKIPPED, f"never published: {why}")
        self._publish(event)
        return None

    def _publish(self, event: ContentEvent) -> None:
        previous = self.state.document(event.document_id, with_event=False)
        subtitle, badge = summary_of(event)
        doc = Document(
            document_id=event.document_id,
            kind=event.kind.value,
            department=event.department,
            title=event.payload.title,
            subtitle=subtitle,
            badge=badge,
            version=event.version,
            # A document keeps its place in every list for life, withdrawn or not.
            sort_key=previous.sort_key if previous else sort_key_of(event.occurred_at),
            published_at=previous.published_at if previous else event.occurred_at,
            updated_at=event.occurred_at,
            withdrawn=False,
            withdrawn_at=None,
            withdrawn_reason=None,
            replaced_by=None,
            event=encode_event(event).decode("utf-8"),
        )
        old_lists = previous.lists if previous else frozenset()
        state = self.state
        marks = [doc_target(doc.document_id), HOME_TARGET, SECTIONS_TARGET]
        marks += [index_target(ref) for ref in sorted(doc.lists | old_lists)]
        dates = (
            DisplayDates(event.payload.display_until) if isinstance(event, PenaltyEvent) else None
        )
        library = self._library_row(event)
        recorded = state.library_row(event.document_id)
        chain = self._chain(event.document_id) if library or recorded else set()
        with state.store.transaction(LOCK) as conn:
            library_before = self._library_place(conn, doc.document_id)
            state.save(conn, doc)
            state.save_display(conn, doc.document_id, dates)
            if library is not None:
                state.save_library(
                    conn, library, version=event.version, occurred_on=local_date(event.occurred_at)
                )
                was_shown = previous is not None and not previous.withdrawn
                state.count_library(conn, recorded, shown=-int(was_shown), slots=-1)
                state.count_library(conn, library, shown=+1, slots=+1)
                # The library's index, the page of its slot before and after (a slot
                # that joins or leaves a validity and year is numbered at the flush,
                # which marks the pages whose slots move), and the pages of the policies
                # in its revision chain, before and after: each shows the whole chain (a
                # successor may come after the policy it replaced, from another
                # partition: the chain names it only then).
                marks += self._library_targets(conn, doc.document_id, library_before)
                chain |= self._chain(event.document_id)
                marks += [doc_target(d) for d in sorted(chain)]
            elif recorded is not None:
                # Once a policy, now a document of another kind: it leaves the library,
                # and the slots after its own move up one.
                was_shown = previous is not None and not previous.withdrawn
                state.count_library(conn, recorded, shown=-int(was_shown), slots=-1)
                state.forget_library(conn, recorded.document_id)
                marks += self._library_targets(conn, doc.document_id, library_before)
                marks += [doc_target(d) for d in sorted(chain)]
            for ref in sorted(old_lists - doc.lists):
                assert previous is not None
                state.remove_entry(conn, ref, previous)
            for ref in sorted(doc.lists - old_lists):
                state.add_entry(conn, ref, doc)
            for ref in sorted(doc.lists & old_lists):
                if previous is not None and previous.withdrawn:
                    state.count_listed(conn, ref, +1)
                position = state.position(ref, doc)
                if position is not None:
                    marks.append(page_target(ref, state.page_of(position)))
            if previous is not None and previous.kind != doc.kind:
                old_path = SiteUrls.document_path(previous.kind, previous.document_id)
                marks.append(delete_target(old_path))
                if previous.kind == Kind.REPORT.value:
                    marks += [
                        delete_target(report_data_path(previous.document_id, suffix))
                        for suffix in REPORT_DATA_SUFFIXES
                    ]
            marked = self._mark(conn, marks)
        self._marked.update(marked)  # only once the event's changes are in the batch
        self._applied[event.document_id] = event

    @staticmethod
    def _library_row(event: ContentEvent) -> LibraryRow | None:
        if not isinstance(event, PolicyEvent):
            return None
        p = event.payload
        return LibraryRow(
            event.document_id,
            p.doc_class.value,
            p.validity.value,
            p.written_on.year,
            p.superseded_by,
        )

    def _chain(self, document_id: str) -> set[str]:
        """The other policies of ``document_id``'s revision chain (each page shows it)."""
        earlier, later = self.state.revision_chain(document_id)
        return {*earlier, *later}

    def _library_place(self, conn: Connection, document_id: str) -> str | None:
        """The library page of the document's slot (``None`` in a replay: _prepare marks
        every page)."""
        return None if self._rebuilding else self.state.library_place(conn, document_id)

    def _library_targets(self, conn: Connection, document_id: str, before: str | None) -> list[str]:
        """The library's outputs a change of a policy touches itself: the index and the
        page of its slot before and after (the pages whose slots move are marked when
        they are numbered again, at the flush)."""
        after = self._library_place(conn, document_id)
        return [LIBRARY_TARGET, *(t for t in dict.fromkeys((before, after)) if t is not None)]

    def _mark(self, conn: Connection, targets: list[str]) -> list[str]:
        """Mark the targets not marked yet in this batch (once is enough: the batch's
        marks become visible together, when it commits); returns those marked now."""
        fresh = [t for t in dict.fromkeys(targets) if t not in self._marked]
        if fresh:
            self.state.mark_many(conn, fresh)
        return fresh

    def _withdraw(
        self,
        event: AnyEvent,
        reason: str,
        replaced_by: str | None,
        *,
        absent: str | None,
        display_ended_on: date | None = None,
    ) -> Outcome | None:
        previous = self.state.document(event.document_id)
        if previous is None:
            return Outcome(DeliveryState.RETRACTED, absent) if absent else NOT_ROUTED
        dates = self.state.display_dates([event.document_id]).get(event.document_id)
        doc = replace(
            previous,
            version=event.version,
            withdrawn=True,
            withdrawn_at=event.occurred_at,
            withdrawn_reason=reason,
            replaced_by=replaced_by,
        )
        state = self.state
        marks = [doc_target(doc.document_id), HOME_TARGET, SECTIONS_TARGET]
        with state.store.transaction(LOCK) as conn:
            # Its slot's page: the only library page it changes (it keeps the slot).
            is_policy = previous.kind == Kind.POLICY.value
            row = state.library_row(previous.document_id) if is_policy else None
            state.save(conn, doc)
            if dates is not None or display_ended_on is not None:
                until = dates.display_until if dates is not None else None
                state.save_display(conn, doc.document_id, DisplayDates(until, display_ended_on))
            for ref in sorted(doc.lists):
                if not previous.withdrawn:
                    state.count_listed(conn, ref, -1)
                position = state.position(ref, doc)
                if position is not None:
                    marks.append(page_target(ref, state.page_of(position)))
                marks.append(index_target(ref))
            if is_policy:
                if not previous.withdrawn:
                    state.count_library(conn, row, shown=-1, slots=0)
                marks += self._library_targets(conn, doc.document_id, None)
                # The other pages of its revision chain no longer show it.
                marks += [doc_target(d) for d in sorted(self._chain(previous.document_id))]
            marked = self._mark(conn, marks)
        self._marked.update(marked)
        return None

    # flush --------------------------------------------------------------------------

    def flush(self, *, backlog: bool = False) -> None:
        """Commit the batch, then render every output touched since the last flush, each
        file atomically; a large flush in several processes (with a backlog too: the
        site's pages are written with the batch that changes them)."""
        try:
            self._flush()
        finally:
            self._applied.clear()

    def _flush(self) -> None:
        state = self.state
        self._commit_batch()
        pending = state.pending()
        if not pending:
            return
        removals, targets = self._targets(pending)
        tree = self._outputs.tree
        written, unchanged = tree.written, tree.unchanged
        self._tick()
        if self._processes > 1 and len(targets) >= PARALLEL_MIN_TARGETS and can_fork():
            self._written_elsewhere |= render_forked(
                targets, self._processes, self._render_here, self._render_in_child
            )
        else:
            self._render_here(targets)
        self._tick()
        rendered = time.monotonic()
        # One sync for the whole flush, before the outputs are marked done (and before the
        # runner records the delivery and commits): cheaper than one fsync per file.
        sync_filesystem(self.output_dir)
        self._done(pending)
        log.debug(
            "website: rendered %d outputs (%d files written by this process, %d unchanged),"
            " made durable in %.2f s",
            len(removals) + len(targets),
            tree.written - written,
            tree.unchanged - unchanged,
            time.monotonic() - rendered,
        )

    def _render_here(self, targets: Sequence[str]) -> set[str]:
        for target in targets:
            self._render(target)
        self._outputs.tree.wait()
        return set()  # this process's paths are in its tree

    def _render_in_child(self, targets: Sequence[str]) -> set[str]:
        """In a forked render process: a connection of its own, the rest inherited."""
        store = Store(self.state.store.location).open()
        tree = self._tree()
        try:
            outputs = Outputs(
                WebsiteState(store, page_size=self.page_size),
                self.renderer,
                tree,
                clock=self._clock,
            )
            for target in targets:
                outputs.render(target, self._applied)
            tree.wait()
            return tree.paths or set()
        finally:
            tree.close()
            store.close()

    def _tree(self) -> FileTree:
        return FileTree(
            self.output_dir, fresh=self._fresh, threads=WRITER_THREADS, record=self._record
        )

    def _commit_batch(self) -> None:
        """Number what the batch changed, mark what follows from it, and commit."""
        if self._lost:
            raise TransientDeliveryError(
                "website: a batch could not be committed; this channel must be restarted"
                " (the batch's events were not committed and will be delivered again)"
            )
        self._transaction()
        try:
            self._prepare()
        except LeaseLost:
            self._abandon()
            raise
        self._commit()
        self._started = True

    def _targets(self, pending: Mapping[str, int]) -> tuple[list[str], list[str]]:
        """Removes the files of the removal targets among ``pending`` (first, so that a
        document moved away and back is written last); returns them and the targets
        left to render, with the sitemap of every archive page among them."""
        work = set(pending)
        for target in pending:
            parts = parse_target(target)
            if parts[0] == "page" and not ListRef(parts[1]).is_department:
                chunk = (int(parts[2]) - 1) // SITEMAP_PAGES + 1
                work.add(sitemap_target(ListRef(parts[1]), chunk))
        removals = sorted(t for t in work if t.startswith("delete|"))
        for target in removals:
            self._render(target)
        return removals, sorted(work.difference(removals))

    def _done(self, rendered: Mapping[str, int]) -> None:
        with self.state.store.transaction(LOCK) as conn:
            if self._lease is not None:
                self._lease.fence(conn)
            self.state.done(conn, rendered)

    def _prepare(self) -> None:
        """Number the lists changed by the batch and mark the outputs that follow from
        it, in the batch's transaction (a savepoint: a failure here undoes only this)."""
        state = self.state
        with state.store.transaction(LOCK) as conn:
            if not self._started:
                # Every kind has an index from the start: the navigation links to all of them.
                state.mark_many(conn, (index_target(ListRef.for_kind(k)) for k in Kind))
                state.mark_many(
                    conn,
                    (
                        HOME_TARGET,
                        SECTIONS_TARGET,
                        SITEMAP_INDEX_TARGET,
                        LIBRARY_TARGET,
                        ASSETS_TARGET,
                    ),
                )
            state.renumber_library(conn)
            if self._rebuilding:
                state.mark_many(conn, [LIBRARY_TARGET, *state.library_targets(conn)])
            for ref, old_pages, new_pages in state.renumber(conn):
                if ref.is_department:
                    continue
                old_chunks = pages_for(old_pages, SITEMAP_PAGES)
                new_chunks = pages_for(new_pages, SITEMAP_PAGES)
                if old_chunks != new_chunks:
                    state.mark(conn, SITEMAP_INDEX_TARGET)
                    state.mark_many(
                        conn,
                        (
                            sitemap_target(ref, c)
                            for c in range(new_chunks + 1, old_chunks + 1)  # gone
                        ),
                    )
            if self._lease is not None:
                # Fenced: a process that lost its lease commits none of the batch.
                self._lease.fence(conn)

    def _commit(self) -> None:
        batch, self._batch = self._batch, None
        self._marked.clear()
        if batch is None:
            return
        try:
            batch.close()
        except BaseException:
            # The batch's changes are gone (the store rolls back a failed commit): no
            # later flush may report its events done. The runner gives up on the batch;
            # its events come again.
            self._lost = True
            raise

    def _abandon(self) -> None:
        batch, self._batch = self._batch, None
        self._marked.clear()
        if batch is not None:
            batch.__exit__(LeaseLost, LeaseLost("batch abandoned"), None)

    def _tick(self) -> None:
        if self._lease is not None:
            self._lease.check()

    def _render(self, target: str) -> None:
        self._tick()
        self._outputs.render(target, self._applied)

    def written(self) -> set[str]:
        """Built for a replay in place: every path written or found unchanged."""
        return (self._outputs.tree.paths or set()) | self._written_elsewhere

    def close(self) -> None:
        """Undo a batch applied but never flushed (its events were not committed either),
        and stop the writing threads."""
        try:
            self._abandon()
        finally:
            self._outputs.tree.close()
