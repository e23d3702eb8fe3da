"""The website channel: the portal's disclosure section (政府信息公开) as static files.

Delivery guarantee: at-least-once from the runner, idempotent here. ``apply``
records the document and which outputs it touches (in the store, in one
transaction); ``flush`` renders exactly those outputs and writes each file
atomically, skipping files whose bytes did not change.

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
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import PurePosixPath
from typing import Self

from channels.base import ChannelBase, ChannelContext
from channels.urls import SiteUrls
from channels.website.paths import (
    HOME_PATH,
    LIBRARY_DIR,
    REPORT_DATA_SUFFIXES,
    SECTIONS_SITEMAP_PATH,
    SITEMAP_PATH,
    STYLESHEET_PATH,
    ListRef,
    library_page_paths,
    report_data_path,
)
from channels.website.render import (
    OPEN_STAGE,
    Lineage,
    OpenConsultations,
    Section,
    SiteRenderer,
    local_date,
    summary_of,
)
from channels.website.state import (
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
    library_target,
    page_target,
    pages_for,
    parse_target,
    sitemap_target,
    sort_key_of,
)
from consumers.channel import NOT_ROUTED, Outcome
from govpub.compliance.rules import NOT_PUBLISHED_REASON, never_publish
from govpub.deliveries import DeliveryState
from govpub.errors import PermanentDeliveryError
from govpub.files import atomic_write, sync_filesystem
from govpub.store import Store
from schemas import (
    AnyEvent,
    ConsultationEvent,
    ContentEvent,
    ExposureEvent,
    Kind,
    PenaltyEvent,
    PolicyEvent,
    ReportEvent,
    RetractEvent,
    parse_event,
)
from schemas.events import encode_event
from schemas.types import RESERVED_DOCUMENT_IDS

log = logging.getLogger(__name__)

PAGE_SIZE = 20
"""Documents per list page (and per page of the JSON index)."""
HOME_LATEST = 20
"""Newest documents on the home page."""
HOME_PER_KIND = 5
"""Newest documents of each kind on the home page."""
SITEMAP_PAGES = 10
"""List pages per sitemap file: a sitemap file covers ``SITEMAP_PAGES × PAGE_SIZE``
positions of a kind list."""
RECENT_WITHDRAWALS = 20
"""Latest withdrawals listed in ``api/<list>.json``."""


class WebsiteChannel(ChannelBase):
    """Static HTML, JSON and sitemaps under the output directory."""

    name = "website"
    state_tables = STATE_TABLES

    def __init__(
        self,
        store: Store,
        context: ChannelContext,
        *,
        page_size: int = PAGE_SIZE,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.output_dir = context.output_dir
        self.page_size = page_size
        self.state = WebsiteState(store, page_size=page_size)
        self.urls = SiteUrls(str(context.settings.site_url))
        self.renderer = SiteRenderer(
            self.urls, site_title=context.settings.site_title, page_size=page_size
        )
        self._clock = clock or (lambda: datetime.now(UTC))
        self._started = False
        # Events applied since the last flush, so that their pages are rendered without
        # decoding the stored JSON again (a cache only: flush falls back to the store).
        self._applied: dict[str, ContentEvent] = {}

    @classmethod
    def from_context(cls, context: ChannelContext) -> Self:
        """Build from settings and the runner's store."""
        return cls(context.store, context)

    @staticmethod
    def outputs() -> list[PurePosixPath]:
        """Paths under the output root that belong to this channel (a replay swaps them)."""
        return [
            HOME_PATH,
            SITEMAP_PATH,
            SECTIONS_SITEMAP_PATH.parent,
            STYLESHEET_PATH.parent,
            PurePosixPath("api"),
            LIBRARY_DIR,
            PurePosixPath("dept"),
            *(PurePosixPath(kind.value) for kind in Kind),
        ]

    # apply --------------------------------------------------------------------------

    def apply(self, event: AnyEvent) -> Outcome | None:
        """Record the document (or its withdrawal) and the outputs it touches."""
        # The schema refuses these ids; an event built without validation is refused here.
        if event.document_id.lower() in RESERVED_DOCUMENT_IDS:
            raise PermanentDeliveryError(
                f"document_id {event.document_id!r} is reserved on the website"
            )
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
        previous = self.state.document(event.document_id)
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
        dates = (
            DisplayDates(event.payload.display_until) if isinstance(event, PenaltyEvent) else None
        )
        library = self._library_row(event)
        recorded = state.library_row(event.document_id)
        with state.store.transaction(LOCK) as conn:
            state.save(conn, doc)
            state.save_display(conn, doc.document_id, dates)
            if library is not None:
                saved = state.save_library(
                    conn,
                    library,
                    recorded=recorded,
                    version=event.version,
                    occurred_on=local_date(event.occurred_at),
                )
                if previous is not None and not previous.withdrawn:
                    state.count_library(conn, recorded, -1)
                state.count_library(conn, saved, +1)
                # The library's index and the pages the document leaves and joins, and
                # the successors whose revision chain names this one.
                state.mark_many(conn, self._library_targets(saved, recorded))
                successors = {library.superseded_by}
                if recorded is not None:
                    successors.add(recorded.superseded_by)
                state.mark_many(conn, (doc_target(s) for s in sorted(x for x in successors if x)))
            elif recorded is not None:
                # Once a policy, now a document of another kind: it leaves the library.
                if previous is not None and not previous.withdrawn:
                    state.count_library(conn, recorded, -1)
                state.forget_library(conn, recorded.document_id)
                state.mark_many(conn, self._library_targets(recorded))
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
                    state.mark(conn, page_target(ref, state.page_of(position)))
            state.mark_many(conn, (index_target(ref) for ref in sorted(doc.lists | old_lists)))
            if previous is not None and previous.kind != doc.kind:
                old_path = SiteUrls.document_path(previous.kind, previous.document_id)
                state.mark(conn, delete_target(str(old_path)))
                if previous.kind == Kind.REPORT.value:
                    state.mark_many(
                        conn,
                        (
                            delete_target(str(report_data_path(previous.document_id, suffix)))
                            for suffix in REPORT_DATA_SUFFIXES
                        ),
                    )
            state.mark_many(conn, (doc_target(doc.document_id), HOME_TARGET, SECTIONS_TARGET))
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

    @staticmethod
    def _library_targets(*rows: LibraryRow | None) -> list[str]:
        """The library's outputs that show any of ``rows``: its index and their pages."""
        listed = [r for r in rows if r is not None and r.listed]
        if not listed:
            return []
        return [LIBRARY_TARGET, *sorted({library_target(r) for r in listed})]

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
        with state.store.transaction(LOCK) as conn:
            state.save(conn, doc)
            if dates is not None or display_ended_on is not None:
                until = dates.display_until if dates is not None else None
                state.save_display(conn, doc.document_id, DisplayDates(until, display_ended_on))
            for ref in sorted(doc.lists):
                if not previous.withdrawn:
                    state.count_listed(conn, ref, -1)
                position = state.position(ref, doc)
                if position is not None:
                    state.mark(conn, page_target(ref, state.page_of(position)))
                state.mark(conn, index_target(ref))
            state.mark_many(conn, (doc_target(doc.document_id), HOME_TARGET, SECTIONS_TARGET))
            if previous.kind == Kind.POLICY.value:
                row = state.library_row(previous.document_id)
                if not previous.withdrawn:
                    state.count_library(conn, row, -1)
                state.mark_many(conn, self._library_targets(row))
        return None

    # flush --------------------------------------------------------------------------

    @property
    def _sitemap_size(self) -> int:
        return self.page_size * SITEMAP_PAGES

    def flush(self) -> None:
        """Render every output touched since the last flush, each file atomically."""
        try:
            self._flush()
        finally:
            self._applied.clear()

    def _flush(self) -> None:
        state = self.state
        with state.store.transaction(LOCK) as conn:
            if not self._started:
                # Every kind has an index from the start: the navigation links to all of them.
                state.mark_many(conn, (index_target(ListRef.for_kind(k)) for k in Kind))
                state.mark_many(
                    conn, (HOME_TARGET, SECTIONS_TARGET, SITEMAP_INDEX_TARGET, LIBRARY_TARGET)
                )
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
        if not self._started:
            self._write_assets()
            self._started = True
        targets = state.pending()
        if not targets:
            return
        work = set(targets)
        for target in targets:
            parts = parse_target(target)
            if parts[0] == "page" and not ListRef(parts[1]).is_department:
                chunk = (int(parts[2]) - 1) // SITEMAP_PAGES + 1
                work.add(sitemap_target(ListRef(parts[1]), chunk))
        # Removals first, so that a document moved away and back is written last.
        for target in sorted(work, key=lambda t: (not t.startswith("delete|"), t)):
            self._render(target)
        # One sync for the whole flush, before the outputs are marked done (and before the
        # runner records the delivery and commits): cheaper than one fsync per file.
        sync_filesystem(self.output_dir)
        with state.store.transaction(LOCK) as conn:
            state.done(conn, targets)
        log.debug("website: rendered %d outputs", len(work))

    def _write(self, path: PurePosixPath, data: bytes) -> None:
        atomic_write(self.output_dir / path, data, durable=False)

    def _remove(self, path: PurePosixPath) -> None:
        (self.output_dir / path).unlink(missing_ok=True)

    def _write_assets(self) -> None:
        css = resources.files("channels.website").joinpath("static/site.css").read_bytes()
        self._write(STYLESHEET_PATH, css)

    def _render(self, target: str) -> None:
        kind, *args = parse_target(target)
        if kind == "doc":
            doc = self.state.document(args[0])
            if doc is not None:
                dates = self.state.display_dates([doc.document_id]).get(doc.document_id)
                self._write(
                    SiteUrls.document_path(doc.kind, doc.document_id),
                    self.renderer.document(
                        doc,
                        self._applied.get(doc.document_id),
                        dates,
                        lineage=self._lineage(doc) if doc.kind == Kind.POLICY.value else None,
                    ),
                )
                if doc.kind == Kind.REPORT.value:
                    self._render_report_data(doc)
        elif kind == "index":
            self._render_index(ListRef(args[0]))
        elif kind == "page":
            self._render_page(ListRef(args[0]), int(args[1]))
        elif kind == "sitemap":
            self._render_sitemap(ListRef(args[0]), int(args[1]))
        elif kind == "delete":
            self._remove(PurePosixPath(args[0]))
        elif target == HOME_TARGET:
            self._render_home()
        elif target == LIBRARY_TARGET:
            self._render_library_index()
        elif kind == "library":
            self._render_library_page(args[0], int(args[1]), int(args[2]))
        elif target == SECTIONS_TARGET:
            lists = [ListRef.for_kind(k) for k in Kind]
            lists += [info.ref for info in self.state.department_lists()]
            self._write(SECTIONS_SITEMAP_PATH, self.renderer.sections_sitemap(lists))
        elif target == SITEMAP_INDEX_TARGET:
            self._render_sitemap_index()
        else:
            raise ValueError(f"unknown website output {target!r}")

    def _lineage(self, doc: Document) -> Lineage:
        """A policy's validity history and revision chain, from the library tables."""
        state = self.state
        later: list[Document] = []
        seen = {doc.document_id}
        row = state.library_row(doc.document_id)
        while row is not None and row.superseded_by and row.superseded_by not in seen:
            seen.add(row.superseded_by)
            successor = state.document(row.superseded_by)
            if successor is None:
                break
            later.append(successor)
            row = state.library_row(row.superseded_by)
        earlier: list[Document] = []
        frontier = [doc.document_id]
        while frontier:
            found = [p for d in frontier for p in state.superseded_of(d) if p not in seen]
            seen.update(found)
            earlier = [d for p in found if (d := state.document(p)) is not None] + earlier
            frontier = found
        return Lineage(state.validity_history(doc.document_id), earlier, later)

    def _render_library_index(self) -> None:
        for path, data in self.renderer.library_index(self.state.library_counts()).items():
            self._write(path, data)

    def _render_library_page(self, validity: str, year: int, page: int) -> None:
        entries = self.state.library_page(validity, year, page)
        html_path, api_path = library_page_paths(validity, year, page)
        if not entries:
            self._remove(html_path)
            self._remove(api_path)
            return
        html, data = self.renderer.library_page(validity, year, page, entries)
        self._write(html_path, html)
        self._write(api_path, data)

    def _render_report_data(self, doc: Document) -> None:
        """A report's table as CSV and JSON beside its page; removed when it is withdrawn."""
        if doc.withdrawn:
            for suffix in REPORT_DATA_SUFFIXES:
                self._remove(report_data_path(doc.document_id, suffix))
            return
        event: AnyEvent | None = self._applied.get(doc.document_id)
        if event is None or event.version != doc.version:
            event = parse_event(doc.event)
        assert isinstance(event, ReportEvent)
        self._write(
            report_data_path(doc.document_id, "json"), self.renderer.report_json(doc, event)
        )
        self._write(report_data_path(doc.document_id, "csv"), self.renderer.report_csv(event))

    def _render_index(self, ref: ListRef) -> None:
        state, size = self.state, self.page_size
        info = state.list_info(ref)
        docs = state.newest_in(ref, size)
        older = state.position_of_newest(ref, size)
        older_page = state.page_of(older) if older is not None else None
        self._write(
            ref.index_path,
            self.renderer.list_index(
                info, docs, older_page=older_page, open_now=self._open_consultations(ref)
            ),
        )
        withdrawn = state.recently_withdrawn(ref, RECENT_WITHDRAWALS)
        dates = state.display_dates(d.document_id for d in [*docs, *withdrawn])
        self._write(ref.api_path, self.renderer.list_index_json(info, docs, withdrawn, dates))

    def _open_consultations(self, ref: ListRef) -> OpenConsultations | None:
        """The consultations still open, soonest closing first, for the column's index
        (``None`` for every other list)."""
        if ref != ListRef.for_kind(Kind.CONSULTATION):
            return None
        today = local_date(self._clock())
        found = []
        for doc in self.state.shown_with_badge(Kind.CONSULTATION.value, OPEN_STAGE):
            event = parse_event(doc.event)
            assert isinstance(event, ConsultationEvent)
            if event.payload.closes_on >= today:
                found.append((event.payload.closes_on, doc))
        found.sort(key=lambda pair: (pair[0], pair[1].document_id))
        return OpenConsultations(today, [(doc, closes_on) for closes_on, doc in found])

    def _render_page(self, ref: ListRef, number: int) -> None:
        info = self.state.list_info(ref)
        if number > info.pages:
            self._remove(ref.page_path(number))
            self._remove(ref.api_page_path(number))
            return
        shown, withdrawn = self.state.page(ref, number)
        self._write(ref.page_path(number), self.renderer.list_page(ref, number, info.pages, shown))
        dates = self.state.display_dates(d.document_id for d in [*shown, *withdrawn])
        self._write(
            ref.api_page_path(number),
            self.renderer.list_page_json(info, number, shown, withdrawn, dates),
        )

    def _render_sitemap(self, ref: ListRef, chunk: int) -> None:
        info = self.state.list_info(ref)
        if chunk > pages_for(info.pages, SITEMAP_PAGES):
            self._remove(ref.sitemap_path(chunk))
            return
        entries = self.state.sitemap_entries(
            ref, (chunk - 1) * self._sitemap_size, chunk * self._sitemap_size - 1
        )
        self._write(ref.sitemap_path(chunk), self.renderer.documents_sitemap(entries))

    def _render_sitemap_index(self) -> None:
        files = []
        for kind in Kind:
            ref = ListRef.for_kind(kind)
            chunks = pages_for(self.state.list_info(ref).pages, SITEMAP_PAGES)
            files += [ref.sitemap_path(c) for c in range(1, chunks + 1)]
        self._write(SITEMAP_PATH, self.renderer.sitemap_index(files))

    def _render_home(self) -> None:
        state = self.state
        sections = []
        for kind in Kind:
            ref = ListRef.for_kind(kind)
            info = state.list_info(ref)
            items = [self.renderer.item(d) for d in state.newest_in(ref, HOME_PER_KIND)]
            sections.append(Section(ref, kind.label, info.listed, items))
        self._write(
            HOME_PATH,
            self.renderer.home(state.latest(HOME_LATEST), sections, state.department_lists()),
        )
