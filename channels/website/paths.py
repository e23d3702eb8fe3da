"""Where the website's files live: the paginated lists (one per kind, one per
department), their JSON twins, and the sitemap files.

Every path is relative to the output root and stable: a list page keeps its
number for as long as the list exists (see :mod:`channels.website.state`).
"""

from dataclasses import dataclass
from pathlib import PurePosixPath

from channels.urls import SiteUrls
from schemas.enums import Kind

SITEMAP_PATH = "sitemap.xml"
"""The sitemap index (``<sitemapindex>``) that search engines are pointed at."""

SECTIONS_SITEMAP_PATH = "sitemaps/sections.xml"
"""Sitemap of the home page and of every kind and department index."""

STYLESHEET_PATH = "assets/site.css"

HOME_PATH = "index.html"

LIBRARY_DIR = "library"
"""The library of 规章 and 行政规范性文件 (文件库): ``index.html`` and one page per validity."""
LIBRARY_INDEX_PATH = "library/index.html"
LIBRARY_API_PATH = "api/library.json"
LIBRARY_SLUGS = {
    "现行有效": "in-force",
    "已修订": "amended",
    "已废止": "repealed",
    "已失效": "expired",
}
"""Each validity's pages: ``library/<slug>/<year>/<n>.html``, by year of ``written_on``."""


def library_page_paths(validity: str, year: int, page: int) -> tuple[str, str]:
    """Library page ``page`` of the documents of ``validity`` written in ``year``, and its
    JSON twin."""
    slug = LIBRARY_SLUGS[validity]
    return (
        f"{LIBRARY_DIR}/{slug}/{year}/{page}.html",
        f"api/library/{slug}/{year}/{page}.json",
    )


@dataclass(frozen=True, order=True)
class ListRef:
    """A paginated list of documents: every document of a kind, or of a department.

    ``key`` is ``<kind>`` or ``dept/<code>``, the same names the feeds use.
    """

    key: str

    @classmethod
    def for_kind(cls, kind: Kind | str) -> "ListRef":
        """The list of one kind."""
        return cls(Kind(kind).value)

    @classmethod
    def for_department(cls, code: str) -> "ListRef":
        """The list of one department."""
        return cls(f"dept/{code}")

    @property
    def kind(self) -> Kind | None:
        """The kind of a kind list, ``None`` for a department list."""
        return None if self.is_department else Kind(self.key)

    @property
    def department(self) -> str | None:
        """The code of a department list, ``None`` for a kind list."""
        return self.key.removeprefix("dept/") if self.is_department else None

    @property
    def is_department(self) -> bool:
        """True for a department's list."""
        return self.key.startswith("dept/")

    @property
    def index_path(self) -> str:
        """``<kind>/index.html`` or ``dept/<code>/index.html``."""
        if self.department is not None:
            return SiteUrls.department_index_path(self.department)
        return SiteUrls.kind_index_path(self.key)

    def page_path(self, number: int) -> str:
        """``…/page/<n>.html``: page 1 holds the oldest documents."""
        return f"{self.key}/page/{number}.html"

    @property
    def api_path(self) -> str:
        """``api/<kind>.json`` or ``api/dept/<code>.json``."""
        return f"api/{self.key}.json"

    def api_page_path(self, number: int) -> str:
        """``api/<list>/page/<n>.json``: the same documents as HTML page ``n``."""
        return f"api/{self.key}/page/{number}.json"

    def sitemap_path(self, chunk: int) -> str:
        """``sitemaps/<kind>-<n>.xml`` (kind lists only: documents are listed once)."""
        return f"sitemaps/{self.key}-{chunk}.xml"


class Linker:
    """Relative links from the page at ``page`` (a path relative to the root).

    Relative links keep the site working under any base URL and from ``file://``.
    Pages make dozens of links, so the page's directory is split once
    (``posixpath.relpath`` would resolve both paths on every call), and each link is
    computed once per page.
    """

    def __init__(self, page: str | PurePosixPath) -> None:
        self._base = [p for p in str(page).split("/")[:-1] if p not in ("", ".")]
        self._links: dict[str, str] = {}

    def __call__(self, target: str | PurePosixPath) -> str:
        """The link to ``target``."""
        target = str(target)
        link = self._links.get(target)
        if link is None:
            link = self._links[target] = self._link(target)
        return link

    def _link(self, target: str) -> str:
        parts = [p for p in target.split("/") if p not in ("", ".")]
        common = 0
        for mine, theirs in zip(self._base, parts, strict=False):
            if mine != theirs:
                break
            common += 1
        return "/".join([".."] * (len(self._base) - common) + parts[common:]) or "."


def report_data_path(document_id: str, suffix: str) -> str:
    """``api/report/<document_id>.json`` or ``.csv``: a report's table as data."""
    return f"api/{Kind.REPORT.value}/{document_id}.{suffix}"


REPORT_DATA_SUFFIXES = ("csv", "json")
"""The data files written beside a report's page."""
