"""Turning the website's state into bytes: HTML (Jinja2, autoescaped), JSON and
sitemaps.

Everything here is a pure function of its arguments and the settings: no clock,
no random, no file system. Re-rendering unchanged data gives the same bytes, so
a replay equals the incremental build and unchanged files are never rewritten.
"""

import csv
import html
import io
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, cast

from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemBytecodeCache,
    PackageLoader,
    StrictUndefined,
)
from jinja2.bccache import Bucket
from markupsafe import Markup

from channels.report import cell_text
from channels.urls import SiteUrls
from channels.website.paths import (
    HOME_PATH,
    LIBRARY_API_PATH,
    LIBRARY_INDEX_PATH,
    SECTIONS_SITEMAP_PATH,
    STYLESHEET_PATH,
    Linker,
    ListRef,
    library_page_paths,
    report_data_path,
)
from channels.website.sanitize import sanitize_html
from channels.website.state import (
    LIBRARY_CLASS_VALUES,
    LIBRARY_PAGE_SIZE,
    NEIGHBOURS,
    DisplayDates,
    Document,
    LibraryEntry,
    ListInfo,
    pages_for,
)
from govpub.departments import department_name
from schemas import (
    CampaignEvent,
    ConsultationEvent,
    ContentEvent,
    DecisionListEvent,
    EnforcementEvent,
    ExposureEvent,
    Kind,
    LicenceEvent,
    MeetingEvent,
    PenaltyEvent,
    PolicyEvent,
    ReportEvent,
    Validity,
    parse_event,
)
from schemas.enums import CampaignPhase, PartyType

log = logging.getLogger(__name__)

CHINA_TIME = timezone(timedelta(hours=8), "CST")
"""Dates on the portal are China Standard Time, whatever offset an event carried."""

PHASE_LABELS = {
    CampaignPhase.PREVIEW: "活动预告",
    CampaignPhase.DAY: "活动当日",
    CampaignPhase.RECAP: "活动回顾",
}
_QUARTERS = {"1": "第一季度", "2": "第二季度", "3": "第三季度", "4": "第四季度"}
_VALIDITY_NOTES = {
    Validity.AMENDED: "本文件已修订",
    Validity.REPEALED: "本文件已废止",
    Validity.EXPIRED: "本文件已失效",
}
INDEX_RECENT_PAGES = 5
"""A list's index links to its newest archive pages, this many."""
LIBRARY_INDEX_FIRST_PAGES = 3
"""How many of a year's first library pages the library's index links (and its last)."""
DISPLAY_ENDED_TITLE = "行政处罚决定（公示期满）"
"""What stands for the title of a decision taken down at the end of its display period:
its notice and its JSON entry no longer name it (its party is usually in its title)."""

DisplayMap = Mapping[str, DisplayDates]
"""Take-down dates of penalty decisions, by document id (other documents have none)."""


def _xml_text(value: str) -> str:
    """``value`` as XML character data (``&``, ``<``, ``>`` escaped, as
    ``xml.sax.saxutils.escape`` does, whose import pulls in ``urllib.request``)."""
    return html.escape(value, quote=False)


def _api_url(urls: SiteUrls, paths: tuple[str, str] | None) -> str | None:
    """The absolute URL of the JSON twin in ``paths`` (HTML, JSON), if any."""
    return None if paths is None else urls.absolute(paths[1])


def local_date(moment: datetime) -> date:
    """The calendar date of ``moment`` in China."""
    return moment.astimezone(CHINA_TIME).date()


def time_tag(value: date) -> Markup:
    """``<time datetime="2023-05-05">2023-05-05</time>``.

    A filter rather than a template macro: pages show many dates, and a Jinja2 macro
    call costs several times a Python function call.
    """
    text = value.isoformat()
    # A date's isoformat() is digits and hyphens: nothing in it needs escaping.
    return Markup(f'<time datetime="{text}">{text}</time>')  # noqa: S704


def quarter_label(quarter: str) -> str:
    """``2023Q2`` → ``2023年第二季度``."""
    year, number = quarter.split("Q")
    return f"{year}年{_QUARTERS[number]}"


def money(amount: Decimal) -> str:
    """Yuan with thousands separators: ``50,000.00 元``."""
    return f"{amount:,.2f} 元"


def _json_number(value: Decimal | None) -> int | float | None:
    """A table value as a JSON number: an integer when it is one (counts)."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def summary_of(event: ContentEvent) -> tuple[str, str]:
    """``(subtitle, badge)`` shown beside a document's title in lists."""
    if isinstance(event, PolicyEvent):
        p = event.payload
        badge = "" if p.validity is Validity.IN_FORCE else p.validity.value
        return p.doc_number or p.issuer, badge
    if isinstance(event, PenaltyEvent):
        return event.payload.decision_number, ""
    if isinstance(event, LicenceEvent):
        q = event.payload
        return f"{q.decision_number} · {q.item} · {q.decision.value}", ""
    if isinstance(event, EnforcementEvent):
        e = event.payload
        return f"{e.decision_number} · {'、'.join(m.value for m in e.measures)}", ""
    if isinstance(event, ExposureEvent):
        x = event.payload
        return f"{quarter_label(x.candidate_quarter)} · {x.domain} · {len(x.cases)} 起", ""
    if isinstance(event, MeetingEvent):
        m = event.payload
        return f"{m.meeting_type.value} · {m.held_on.isoformat()}", ""
    if isinstance(event, ReportEvent):
        r = event.payload
        return f"{r.year}年 · {r.scope_name} · {r.table}", ""
    if isinstance(event, ConsultationEvent):
        k = event.payload
        return f"{k.organizer} · {k.opens_on.isoformat()} 至 {k.closes_on.isoformat()}", k.stage
    if isinstance(event, DecisionListEvent):
        d = event.payload
        missing = sum(1 for item in d.items if item.consultation_ref is None)
        badge = f"{missing} 项未征求意见" if missing else ""
        return f"{d.year}年 · {d.issuer} · {len(d.items)} 项", badge
    assert isinstance(event, CampaignEvent)
    c = event.payload
    return f"{c.theme} · {PHASE_LABELS[c.phase]}", ""


@dataclass(frozen=True)
class Item:
    """One document in a list."""

    title: str
    path: str
    url: str
    kind_label: str
    department: str
    department_name: str
    subtitle: str
    badge: str
    published_on: date
    updated_on: date | None


@dataclass(frozen=True)
class Lineage:
    """A policy's validity history (each validity and the day it began, oldest first) and
    its revision chain: the documents it replaced, in turn (oldest first), and those
    that replaced it, in turn."""

    history: list[tuple[str, date]]
    earlier: list[Document]
    later: list[Document]


OPEN_STAGE = "征求意见中"
"""The list badge of a consultation still open (``ConsultationPayload.stage``)."""


@dataclass(frozen=True)
class OpenConsultations:
    """The consultations open on ``today`` with the day each closes, soonest first."""

    today: date
    documents: list[tuple[Document, date]]


@dataclass(frozen=True)
class Section:
    """A kind on the home page: its newest items and how many there are."""

    ref: ListRef
    label: str
    listed: int
    items: list[Item]


class TemplateCache(FileSystemBytecodeCache):
    """The site's templates compiled once, kept between processes: a short ``govpub
    consume`` would otherwise spend a tenth of its time compiling them again.

    Jinja2's file cache, by default in a directory of this user's own under the system's
    temporary directory (mode 0700, refused if anyone else owns it). An entry is used
    only for the same template source and Jinja2; a cache that cannot be read or
    written is passed over (the template is compiled, as without a cache), so that a
    cleaned or full temporary directory never stops the website."""

    def load_bytecode(self, bucket: Bucket) -> None:
        """Fill ``bucket`` from the cache, if it can be read."""
        try:
            super().load_bytecode(bucket)
        except OSError as exc:
            log.debug("website: template cache not read (%s); compiling", exc)

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep ``bucket``'s compiled template, if the cache can be written."""
        try:
            super().dump_bytecode(bucket)
        except OSError as exc:
            log.debug("website: template cache not written (%s)", exc)


def user_template_cache() -> BytecodeCache | None:
    """This user's :class:`TemplateCache`, or ``None`` where its directory cannot be made
    (the templates are then compiled in every process)."""
    try:
        return TemplateCache()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a directory that is not safe
        log.debug("website: no template cache (%s)", exc)
        return None


class SiteRenderer:
    """Renders every file of the site from plain data."""

    def __init__(
        self,
        urls: SiteUrls,
        *,
        site_title: str,
        page_size: int,
        template_cache: BytecodeCache | None = None,
    ) -> None:
        """``template_cache``: where compiled templates are kept (default: this user's
        :class:`TemplateCache`)."""
        self.urls = urls
        self.site_title = site_title
        self.page_size = page_size
        self._chromes: dict[tuple[str, ...], dict[str, Markup]] = {}
        self.env = Environment(
            loader=PackageLoader("channels.website", "templates"),
            autoescape=True,  # every template, whatever its name
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # Templates are package data: a running consumer never sees them change, and
            # checking their modification time on every page cost a stat per render.
            auto_reload=False,
            bytecode_cache=template_cache or user_template_cache(),
        )
        self.env.globals.update(
            site_title=site_title,
            kinds=[(kind, kind.label) for kind in Kind],
            validity_notes=_VALIDITY_NOTES,
            phase_labels=PHASE_LABELS,
            PartyType=PartyType,
        )
        self.env.filters.update(
            sanitize=sanitize_html,
            money=money,
            local_date=local_date,
            time_tag=time_tag,
            quarter=quarter_label,
            department_name=department_name,
            cell=cell_text,
        )

    # helpers ----------------------------------------------------------------------

    def _feeds(self, feed: str, label: str) -> list[dict[str, str]]:
        return [
            {
                "type": "application/rss+xml",
                "title": f"{label}（RSS）",
                "path": SiteUrls.feed_path(feed, "rss"),
            },
            {
                "type": "application/atom+xml",
                "title": f"{label}（Atom）",
                "path": SiteUrls.feed_path(feed, "atom"),
            },
        ]

    def _page(self, template: str, path: str, **context: Any) -> bytes:
        url = Linker(path)
        html = self.env.get_template(template).render(
            page_path=path,
            url=url,
            stylesheet=STYLESHEET_PATH,
            home=HOME_PATH,
            chrome=self._chrome(path, context["feeds"], url),
            **context,
        )
        return html.encode("utf-8")

    def _chrome(self, path: str, feeds: list[dict[str, str]], url: Linker) -> dict[str, Markup]:
        """The head links, header and footer of a page: the same for every page of one
        directory with the same feeds, so rendered once for them (``chrome.html``)."""
        key = (path.rpartition("/")[0], *(f["path"] + f["title"] for f in feeds))
        chrome = self._chromes.get(key)
        if chrome is None:
            module = self.env.get_template("chrome.html").make_module(
                {"feeds": feeds, "url": url, "stylesheet": STYLESHEET_PATH, "home": HOME_PATH}
            )
            chrome = {
                "head": module.head(),  # type: ignore[attr-defined]
                "header": module.header(),  # type: ignore[attr-defined]
                "footer": module.footer(),  # type: ignore[attr-defined]
            }
            self._chromes[key] = chrome
        return chrome

    def item(self, doc: Document) -> Item:
        """How ``doc`` appears in a list."""
        path = SiteUrls.document_href(doc.kind, doc.document_id)
        return Item(
            title=doc.title,
            path=path,
            url=self.urls.absolute(path),
            kind_label=Kind(doc.kind).label,
            department=doc.department,
            department_name=department_name(doc.department),
            subtitle=doc.subtitle,
            badge=doc.badge,
            published_on=local_date(doc.published_at),
            updated_on=local_date(doc.updated_at) if doc.updated else None,
        )

    def list_label(self, ref: ListRef) -> str:
        """A list's heading: the kind's column name or the department's name."""
        if ref.department is not None:
            return department_name(ref.department)
        return Kind(ref.key).label

    def _list_feeds(self, ref: ListRef) -> list[dict[str, str]]:
        return self._feeds(ref.key, self.list_label(ref)) + self._feeds("all", "全部信息")

    # pages ------------------------------------------------------------------------

    def document(
        self,
        doc: Document,
        event: ContentEvent | None = None,
        display: DisplayDates | None = None,
        *,
        lineage: Lineage | None = None,
    ) -> bytes:
        """The page of a document (or its withdrawal notice).

        ``event`` is the document's content event when the caller has it decoded
        already; it is used only if it is the version ``doc`` holds. ``display`` are a
        penalty decision's take-down dates: one taken down at the end of its display
        period gets a notice that no longer shows it.
        """
        path = SiteUrls.document_path(doc.kind, doc.document_id)
        kind = Kind(doc.kind)
        context: dict[str, Any] = {
            "doc": doc,
            "item": self.item(doc),
            "kind": kind,
            "kind_index": ListRef.for_kind(kind).index_path,
            "department_index": ListRef.for_department(doc.department).index_path,
            "canonical": self.urls.absolute(path),
            "feeds": self._feeds(kind.value, kind.label),
        }
        if doc.withdrawn:
            assert doc.withdrawn_at is not None
            context["withdrawn_on"] = local_date(doc.withdrawn_at)
            if display is not None and display.display_ended_on is not None:
                context["display_ended_on"] = display.display_ended_on
                return self._page("display_ended.html", path, **context)
            context["replaced_by"] = (
                SiteUrls.document_path(kind, doc.replaced_by) if doc.replaced_by else None
            )
            return self._page("withdrawn.html", path, **context)
        if event is None or event.version != doc.version:
            event = cast(ContentEvent, parse_event(doc.event))
        context["p"] = event.payload
        if isinstance(event, PolicyEvent) and event.payload.superseded_by:
            context["superseded_by"] = SiteUrls.document_path(kind, event.payload.superseded_by)
        if lineage is not None:
            context["lineage"] = {
                "history": lineage.history if len(lineage.history) > 1 else [],
                "earlier": [self.item(d) for d in lineage.earlier],
                "later": [self.item(d) for d in lineage.later],
            }
        if isinstance(event, PolicyEvent) and event.payload.consultation_ref:
            context["consultation"] = SiteUrls.document_path(
                Kind.CONSULTATION, event.payload.consultation_ref
            )
        if isinstance(event, DecisionListEvent):
            context["item_links"] = [
                (
                    SiteUrls.document_path(Kind.CONSULTATION, item.consultation_ref)
                    if item.consultation_ref
                    else None,
                    SiteUrls.document_path(Kind.POLICY, item.adopted_as)
                    if item.adopted_as
                    else None,
                )
                for item in event.payload.items
            ]
        if isinstance(event, ConsultationEvent) and event.payload.adopted_as:
            context["adopted_as"] = SiteUrls.document_path(Kind.POLICY, event.payload.adopted_as)
        if isinstance(event, ExposureEvent):
            context["case_links"] = [
                SiteUrls.document_path(Kind.PENALTY, case.decision_ref)
                for case in event.payload.cases
            ]
        if isinstance(event, CampaignEvent):
            context["phase_label"] = PHASE_LABELS[event.payload.phase]
        if isinstance(event, ReportEvent):
            context["width"] = max(len(s.columns) for s in event.payload.sections)
            context["report_data"] = {
                suffix: report_data_path(doc.document_id, suffix) for suffix in ("csv", "json")
            }
        return self._page(f"{kind.value}.html", path, **context)

    # report tables as data ------------------------------------------------------------

    def report_json(self, doc: Document, event: ReportEvent) -> bytes:
        """``api/report/<id>.json``: the table with every value as a JSON number."""
        r = event.payload
        return self._json(
            {
                "id": doc.document_id,
                "kind": doc.kind,
                "title": r.title,
                "url": self.urls.document(doc.kind, doc.document_id),
                "csv": self.urls.absolute(report_data_path(doc.document_id, "csv")),
                "year": r.year,
                "scope": r.scope,
                "scope_name": r.scope_name,
                "department": doc.department,
                "department_name": department_name(doc.department),
                "format": r.report_format,
                "format_source": r.format_source,
                "table": r.table,
                "published_at": doc.published_at.isoformat(),
                "updated_at": doc.updated_at.isoformat(),
                "sections": [
                    {
                        "heading": section.heading,
                        "columns": section.columns,
                        "rows": [
                            {"label": row.label, "cells": [_json_number(v) for v in row.cells]}
                            for row in section.rows
                        ],
                    }
                    for section in r.sections
                ],
                "notes": r.notes,
            }
        )

    @staticmethod
    def report_csv(event: ReportEvent) -> bytes:
        """``api/report/<id>.csv``: one line per value (项目, 信息内容, 统计项, 数值), UTF-8
        with a byte-order mark so that spreadsheet programs read the Chinese text."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["项目", "信息内容", "统计项", "数值"])
        for section in event.payload.sections:
            for row in section.rows:
                for column, value in zip(section.columns[1:], row.cells, strict=True):
                    writer.writerow([section.heading, row.label, column, cell_text(value)])
        return ("\ufeff" + out.getvalue()).encode("utf-8")

    def list_index(
        self,
        info: ListInfo,
        docs: Sequence[Document],
        *,
        older_page: int | None,
        open_now: OpenConsultations | None = None,
    ) -> bytes:
        """A list's index: its newest documents and the way into its archive pages;
        the consultations column first lists those still open, with the days left on the
        day the page was rendered (``open_now``)."""
        ref = info.ref
        path = ref.index_path
        recent = range(max(1, info.pages - INDEX_RECENT_PAGES + 1), info.pages + 1)
        return self._page(
            "list.html",
            path,
            ref=ref,
            label=self.list_label(ref),
            heading=self.list_label(ref),
            items=[self.item(d) for d in docs],
            listed=info.listed,
            canonical=self.urls.absolute(ref.key) + "/",
            feeds=self._list_feeds(ref),
            archive={
                "older": ref.page_path(older_page) if older_page else None,
                "older_number": older_page,
                "first": ref.page_path(1) if info.pages else None,
                "recent": [(n, ref.page_path(n)) for n in reversed(recent)],
            },
            pager=None,
            open_now=(
                {
                    "today": open_now.today,
                    "items": [
                        (self.item(doc), closes_on, (closes_on - open_now.today).days + 1)
                        for doc, closes_on in open_now.documents
                    ],
                }
                if open_now is not None
                else None
            ),
        )

    def list_page(self, ref: ListRef, number: int, pages: int, docs: Sequence[Document]) -> bytes:
        """Archive page ``number`` of a list; page 1 holds the oldest documents."""
        path = ref.page_path(number)
        low, high = max(1, number - NEIGHBOURS), min(pages, number + NEIGHBOURS)
        pager = {
            "number": number,
            "newer": ref.page_path(number + 1) if number < pages else ref.index_path,
            "older": ref.page_path(number - 1) if number > 1 else None,
            "around": [(n, ref.page_path(n)) for n in range(high, low - 1, -1)],
        }
        return self._page(
            "list.html",
            path,
            ref=ref,
            label=self.list_label(ref),
            heading=f"{self.list_label(ref)} · 第 {number} 页",
            items=[self.item(d) for d in docs],
            listed=None,
            canonical=self.urls.absolute(path),
            feeds=self._list_feeds(ref),
            archive=None,
            pager=pager,
            open_now=None,
        )

    def home(
        self,
        latest: Sequence[Document],
        sections: Sequence[Section],
        departments: Sequence[ListInfo],
    ) -> bytes:
        """The home page: the newest documents of every kind, each column, each department."""
        return self._page(
            "home.html",
            HOME_PATH,
            latest=[self.item(d) for d in latest],
            sections=sections,
            departments=[(department_name(d.ref.department or ""), d) for d in departments],
            canonical=self.urls.absolute(""),
            feeds=self._feeds("all", "全部信息"),
        )

    def library_index(self, counts: Sequence[tuple[str, str, int, int, int]]) -> dict[str, bytes]:
        """``library/index.html`` and ``api/library.json``: the documents by class and
        validity, and each validity's years of ``written_on`` with how many documents a
        year shows and how many pages it has. ``counts`` are ``(class, validity, year,
        documents, slots)``: a page holds LIBRARY_PAGE_SIZE slots, and a withdrawn document
        keeps its slot (so a page may show fewer; a year's count is exact).

        The index links a year's first pages and its last, not every page: it is
        rendered at every policy event, and a year of a province's documents fills
        thousands of pages. The pages link each other (:meth:`library_page`)."""
        classes = list(LIBRARY_CLASS_VALUES)
        validities = [v.value for v in Validity]
        totals = {c: dict.fromkeys(validities, 0) for c in classes}
        by_group: dict[tuple[str, int], tuple[int, int]] = {}
        for doc_class, validity, year, number, slots in counts:
            totals[doc_class][validity] += number
            shown, held = by_group.get((validity, year), (0, 0))
            by_group[(validity, year)] = (shown + number, held + slots)
        groups: list[dict[str, Any]] = []
        for (validity, year), (shown, slots) in sorted(
            by_group.items(), key=lambda pair: (validities.index(pair[0][0]), -pair[0][1])
        ):
            if shown == 0:
                continue
            pages = pages_for(slots, LIBRARY_PAGE_SIZE)
            linked = [*range(1, min(pages, LIBRARY_INDEX_FIRST_PAGES) + 1)]
            if pages > LIBRARY_INDEX_FIRST_PAGES:
                linked.append(pages)
            groups.append(
                {
                    "validity": validity,
                    "year": year,
                    "documents": shown,
                    "pages": pages,
                    "links": [(n, library_page_paths(validity, year, n)[0]) for n in linked],
                    "first": library_page_paths(validity, year, 1),
                    "last": library_page_paths(validity, year, pages),
                }
            )
        index = LIBRARY_INDEX_PATH
        html = self._page(
            "library.html",
            index,
            heading="规章和行政规范性文件库",
            counts=totals,
            classes=classes,
            validities=validities,
            year_groups=groups,
            groups=None,
            canonical=self.urls.absolute(index),
            feeds=self._feeds("policy", Kind.POLICY.label),
        )
        data = self._json(
            {
                "counts": totals,
                "groups": [
                    {
                        "validity": g["validity"],
                        "year": g["year"],
                        "documents": g["documents"],
                        "pages": g["pages"],
                        **{
                            end: {
                                "url": self.urls.absolute(g[end][0]),
                                "api": self.urls.absolute(g[end][1]),
                            }
                            for end in ("first", "last")
                        },
                    }
                    for g in groups
                ],
            }
        )
        return {index: html, LIBRARY_API_PATH: data}

    def library_page(
        self, validity: str, year: int, page: int, entries: Sequence[LibraryEntry], *, pages: int
    ) -> tuple[bytes, bytes]:
        """Library page ``page`` of ``pages`` of ``validity`` and ``year`` (HTML, JSON): each
        document with the day its validity began and its successor, and links to the
        previous and the next page (and the first: the count of pages is not shown, so
        that a new page changes only the page before it)."""
        html_path, _ = library_page_paths(validity, year, page)
        neighbours = {
            "first": library_page_paths(validity, year, 1) if page > 2 else None,
            "previous": library_page_paths(validity, year, page - 1) if page > 1 else None,
            "next": library_page_paths(validity, year, page + 1) if page < pages else None,
        }
        classes = list(LIBRARY_CLASS_VALUES)
        groups = [
            (doc_class, [self._library_item(e) for e in entries if e.doc_class == doc_class])
            for doc_class in classes
        ]
        html = self._page(
            "library.html",
            html_path,
            heading=f"文件库 · {validity} · {year}年成文"
            + (f" · 第 {page} 页" if page > 1 else ""),
            counts=None,
            classes=classes,
            validities=None,
            year_groups=None,
            groups=groups,
            validity=validity,
            page=page,
            pager={name: paths and paths[0] for name, paths in neighbours.items()},
            canonical=self.urls.absolute(html_path),
            feeds=self._feeds("policy", Kind.POLICY.label),
        )
        data = self._json(
            {
                "validity": validity,
                "year": year,
                "page": page,
                "previous": _api_url(self.urls, neighbours["previous"]),
                "next": _api_url(self.urls, neighbours["next"]),
                "documents": [
                    {
                        "id": e.doc.document_id,
                        "title": e.doc.title,
                        "url": self.urls.document(e.doc.kind, e.doc.document_id),
                        "doc_class": e.doc_class,
                        "validity": e.validity,
                        "validity_since": e.since.isoformat() if e.since else None,
                        "superseded_by": e.superseded_by,
                        "department": e.doc.department,
                    }
                    for e in entries
                ],
            }
        )
        return html, data

    def _library_item(self, entry: LibraryEntry) -> dict[str, Any]:
        return {
            "item": self.item(entry.doc),
            "since": entry.since,
            "superseded_by": (
                SiteUrls.document_path(Kind.POLICY, entry.superseded_by)
                if entry.superseded_by
                else None
            ),
        }

    # machine-readable -------------------------------------------------------------

    def _json_item(self, doc: Document, display: DisplayMap) -> dict[str, Any]:
        item = {
            "id": doc.document_id,
            "kind": doc.kind,
            "title": doc.title,
            "url": self.urls.document(doc.kind, doc.document_id),
            "published_at": doc.published_at.isoformat(),
            "updated_at": doc.updated_at.isoformat(),
            "department": doc.department,
            "department_name": department_name(doc.department),
        }
        if doc.badge:
            # What the list's badge says: a consultation's stage (征求意见中, 已截止,
            # 结果已公布), a policy's validity when it is not in force.
            item["status"] = doc.badge
        dates = display.get(doc.document_id)
        if dates is not None and dates.display_until is not None:
            # When a syndicating site must take the decision down too.
            item["display_until"] = dates.display_until.isoformat()
        return item

    def _json_withdrawn(self, doc: Document, display: DisplayMap) -> dict[str, Any]:
        assert doc.withdrawn_at is not None
        entry = {
            "id": doc.document_id,
            "kind": doc.kind,
            "title": doc.title,
            "url": self.urls.document(doc.kind, doc.document_id),
            "withdrawn_at": doc.withdrawn_at.isoformat(),
            "reason": doc.withdrawn_reason,
            "department": doc.department,
        }
        dates = display.get(doc.document_id)
        if dates is not None and dates.display_ended_on is not None:
            entry["title"] = DISPLAY_ENDED_TITLE
            entry["display_ended_on"] = dates.display_ended_on.isoformat()
        return entry

    @staticmethod
    def _json(data: dict[str, Any]) -> bytes:
        # Compact: the index files are for machines, and without ``indent`` the json
        # module uses its C encoder.
        return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    def _json_list_head(self, ref: ListRef) -> dict[str, Any]:
        return {
            "list": ref.key,
            "title": self.list_label(ref),
            "kind": ref.kind.value if ref.kind else None,
            "department": ref.department,
            "html": self.urls.absolute(ref.index_path),
            "page_size": self.page_size,
        }

    def list_index_json(
        self,
        info: ListInfo,
        docs: Sequence[Document],
        withdrawn: Sequence[Document],
        display: DisplayMap | None = None,
    ) -> bytes:
        """``api/<list>.json``: the newest documents, the latest withdrawals, and
        where the numbered pages are. ``display``: penalty decisions' take-down dates."""
        display = display or {}
        ref = info.ref
        return self._json(
            {
                **self._json_list_head(ref),
                "total": info.listed,
                "pages": info.pages,
                "first_page": self.urls.absolute(ref.api_page_path(1)) if info.pages else None,
                "last_page": self.urls.absolute(ref.api_page_path(info.pages))
                if info.pages
                else None,
                "items": [self._json_item(d, display) for d in docs],
                "withdrawn": [self._json_withdrawn(d, display) for d in withdrawn],
            }
        )

    def list_page_json(
        self,
        info: ListInfo,
        number: int,
        docs: Sequence[Document],
        withdrawn: Sequence[Document],
        display: DisplayMap | None = None,
    ) -> bytes:
        """``api/<list>/page/<n>.json``: the documents of HTML page ``n``, and those
        withdrawn from it, so that a syndicating site can take them down too.

        Like the HTML page, it says nothing about the list as a whole (its length
        changes with every new document): only its neighbours, so that a new
        document re-renders the last pages, not all of them.
        """
        ref = info.ref
        display = display or {}
        return self._json(
            {
                **self._json_list_head(ref),
                "page": number,
                "newer": self.urls.absolute(ref.api_page_path(number + 1))
                if number < info.pages
                else None,
                "older": self.urls.absolute(ref.api_page_path(number - 1)) if number > 1 else None,
                "items": [self._json_item(d, display) for d in docs],
                "withdrawn": [self._json_withdrawn(d, display) for d in withdrawn],
            }
        )

    # sitemaps -----------------------------------------------------------------------

    def sitemap(self, entries: Sequence[tuple[str, date | None]]) -> bytes:
        """A ``<urlset>`` of ``(absolute URL, last modified)``."""
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
        ]
        for loc, modified in entries:
            lastmod = f"<lastmod>{modified.isoformat()}</lastmod>" if modified else ""
            lines.append(f"  <url><loc>{_xml_text(loc)}</loc>{lastmod}</url>")
        lines.append("</urlset>")
        return ("\n".join(lines) + "\n").encode("utf-8")

    def documents_sitemap(self, entries: Sequence[tuple[str, str, datetime]]) -> bytes:
        """The sitemap of a slice of a kind list: ``(kind, document_id, updated_at)``
        of its shown documents."""
        return self.sitemap(
            [
                (self.urls.document(kind, document_id), local_date(updated_at))
                for kind, document_id, updated_at in entries
            ]
        )

    def sections_sitemap(self, lists: Sequence[ListRef]) -> bytes:
        """The sitemap of the home page and the list indexes."""
        entries: list[tuple[str, date | None]] = [(self.urls.absolute(""), None)]
        entries += [(self.urls.absolute(ref.key) + "/", None) for ref in lists]
        return self.sitemap(entries)

    def sitemap_index(self, files: Sequence[str]) -> bytes:
        """``sitemap.xml``: a ``<sitemapindex>`` of the sitemap files."""
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
        ]
        for path in [SECTIONS_SITEMAP_PATH, *files]:
            lines.append(f"  <sitemap><loc>{_xml_text(self.urls.absolute(path))}</loc></sitemap>")
        lines.append("</sitemapindex>")
        return ("\n".join(lines) + "\n").encode("utf-8")
