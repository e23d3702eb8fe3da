"""Rendering the website's outputs: one target (a document's page, a list's index or
archive page, a sitemap, the home page…) at a time, from the state in the store, into
a :class:`~govpub.files.FileTree`.

The channel renders the targets of a flush itself; a large one (a replay) is shared
with forked processes (:mod:`channels.website.parallel`), each with an
:class:`Outputs` of its own on its own connection to the store.
"""

from collections.abc import Callable, Mapping
from datetime import datetime
from importlib import resources

from channels.urls import SiteUrls
from channels.website.paths import (
    HOME_PATH,
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
)
from channels.website.state import (
    ASSETS_TARGET,
    HOME_TARGET,
    LIBRARY_TARGET,
    SECTIONS_TARGET,
    SITEMAP_INDEX_TARGET,
    Document,
    WebsiteState,
    pages_for,
    parse_target,
)
from govpub.files import FileTree
from schemas import AnyEvent, ConsultationEvent, ContentEvent, Kind, ReportEvent, parse_event

HOME_LATEST = 20
"""Newest documents on the home page."""
HOME_PER_KIND = 5
"""Newest documents of each kind on the home page."""
SITEMAP_PAGES = 10
"""List pages per sitemap file: a sitemap file covers ``SITEMAP_PAGES × PAGE_SIZE``
positions of a kind list."""
RECENT_WITHDRAWALS = 20
"""Latest withdrawals listed in ``api/<list>.json``."""


class Outputs:
    """Renders targets of the website into ``tree``; ``clock`` tells the day, which
    decides the consultations the column's index lists as open."""

    def __init__(
        self,
        state: WebsiteState,
        renderer: SiteRenderer,
        tree: FileTree,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.state = state
        self.renderer = renderer
        self.tree = tree
        self.page_size = state.page_size
        self._clock = clock

    @property
    def _sitemap_size(self) -> int:
        return self.page_size * SITEMAP_PAGES

    def write_assets(self) -> None:
        """The stylesheet."""
        css = resources.files("channels.website").joinpath("static/site.css").read_bytes()
        self.tree.write(STYLESHEET_PATH, css)

    def render(self, target: str, applied: Mapping[str, ContentEvent] | None = None) -> None:
        """Render ``target``; ``applied`` holds events decoded already, by document id."""
        kind, *args = parse_target(target)
        if kind == "doc":
            event = applied.get(args[0]) if applied else None
            # The stored event's JSON (a few KB) is read only when it is needed: when the
            # event at hand is not the version the document holds.
            doc = self.state.document(args[0], with_event=event is None)
            if doc is not None and event is not None and event.version != doc.version:
                event = None
                doc = self.state.document(args[0])
            if doc is not None:
                # Only a withdrawal notice depends on the take-down dates.
                dates = (
                    self.state.display_dates([doc.document_id]).get(doc.document_id)
                    if doc.withdrawn
                    else None
                )
                self.tree.write(
                    SiteUrls.document_path(doc.kind, doc.document_id),
                    self.renderer.document(
                        doc,
                        event,
                        dates,
                        lineage=self._lineage(doc) if doc.kind == Kind.POLICY.value else None,
                    ),
                )
                if doc.kind == Kind.REPORT.value:
                    self._render_report_data(doc, event)
        elif kind == "index":
            self._render_index(ListRef(args[0]))
        elif kind == "page":
            self._render_page(ListRef(args[0]), int(args[1]))
        elif kind == "sitemap":
            self._render_sitemap(ListRef(args[0]), int(args[1]))
        elif kind == "delete":
            self.tree.remove(args[0])
        elif target == HOME_TARGET:
            self._render_home()
        elif target == LIBRARY_TARGET:
            self._render_library_index()
        elif kind == "library":
            self._render_library_page(args[0], int(args[1]), int(args[2]))
        elif target == SECTIONS_TARGET:
            lists = [ListRef.for_kind(k) for k in Kind]
            lists += [info.ref for info in self.state.department_lists()]
            self.tree.write(SECTIONS_SITEMAP_PATH, self.renderer.sections_sitemap(lists))
        elif target == SITEMAP_INDEX_TARGET:
            self._render_sitemap_index()
        elif target == ASSETS_TARGET:
            self.write_assets()
        else:
            raise ValueError(f"unknown website output {target!r}")

    def _lineage(self, doc: Document) -> Lineage:
        """A policy's validity history and revision chain, from the library tables."""
        state = self.state
        earlier_ids, later_ids = state.revision_chain(doc.document_id)
        earlier = [d for p in earlier_ids if (d := state.document(p)) is not None]
        later = [d for p in later_ids if (d := state.document(p)) is not None]
        return Lineage(state.validity_history(doc.document_id), earlier, later)

    def _render_library_index(self) -> None:
        for path, data in self.renderer.library_index(self.state.library_counts()).items():
            self.tree.write(path, data)

    def _render_library_page(self, validity: str, year: int, page: int) -> None:
        entries = self.state.library_page(validity, year, page)
        html_path, api_path = library_page_paths(validity, year, page)
        if entries is None:
            self.tree.remove(html_path)
            self.tree.remove(api_path)
            return
        pages = self.state.library_pages(self.state.conn, validity, year)
        html, data = self.renderer.library_page(validity, year, page, entries, pages=pages)
        self.tree.write(html_path, html)
        self.tree.write(api_path, data)

    def _render_report_data(self, doc: Document, applied: ContentEvent | None) -> None:
        """A report's table as CSV and JSON beside its page; removed when it is withdrawn."""
        if doc.withdrawn:
            for suffix in REPORT_DATA_SUFFIXES:
                self.tree.remove(report_data_path(doc.document_id, suffix))
            return
        event: AnyEvent | None = applied
        if event is None or event.version != doc.version:
            event = parse_event(doc.event)
        assert isinstance(event, ReportEvent)
        self.tree.write(
            report_data_path(doc.document_id, "json"), self.renderer.report_json(doc, event)
        )
        self.tree.write(report_data_path(doc.document_id, "csv"), self.renderer.report_csv(event))

    def _render_index(self, ref: ListRef) -> None:
        state, size = self.state, self.page_size
        info = state.list_info(ref)
        docs = state.newest_in(ref, size)
        older = state.position_of_newest(ref, size)
        older_page = state.page_of(older) if older is not None else None
        self.tree.write(
            ref.index_path,
            self.renderer.list_index(
                info, docs, older_page=older_page, open_now=self._open_consultations(ref)
            ),
        )
        withdrawn = state.recently_withdrawn(ref, RECENT_WITHDRAWALS)
        dates = state.display_dates(d.document_id for d in [*docs, *withdrawn])
        self.tree.write(ref.api_path, self.renderer.list_index_json(info, docs, withdrawn, dates))

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
            self.tree.remove(ref.page_path(number))
            self.tree.remove(ref.api_page_path(number))
            return
        shown, withdrawn = self.state.page(ref, number)
        self.tree.write(
            ref.page_path(number), self.renderer.list_page(ref, number, info.pages, shown)
        )
        dates = self.state.display_dates(d.document_id for d in [*shown, *withdrawn])
        self.tree.write(
            ref.api_page_path(number),
            self.renderer.list_page_json(info, number, shown, withdrawn, dates),
        )

    def _render_sitemap(self, ref: ListRef, chunk: int) -> None:
        info = self.state.list_info(ref)
        if chunk > pages_for(info.pages, SITEMAP_PAGES):
            self.tree.remove(ref.sitemap_path(chunk))
            return
        entries = self.state.sitemap_entries(
            ref, (chunk - 1) * self._sitemap_size, chunk * self._sitemap_size - 1
        )
        self.tree.write(ref.sitemap_path(chunk), self.renderer.documents_sitemap(entries))

    def _render_sitemap_index(self) -> None:
        files = []
        for kind in Kind:
            ref = ListRef.for_kind(kind)
            chunks = pages_for(self.state.list_info(ref).pages, SITEMAP_PAGES)
            files += [ref.sitemap_path(c) for c in range(1, chunks + 1)]
        self.tree.write(SITEMAP_PATH, self.renderer.sitemap_index(files))

    def _render_home(self) -> None:
        state = self.state
        sections = []
        for kind in Kind:
            ref = ListRef.for_kind(kind)
            info = state.list_info(ref)
            items = [self.renderer.item(d) for d in state.newest_in(ref, HOME_PER_KIND)]
            sections.append(Section(ref, kind.label, info.listed, items))
        self.tree.write(
            HOME_PATH,
            self.renderer.home(state.latest(HOME_LATEST), sections, state.department_lists()),
        )
