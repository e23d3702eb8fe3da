"""Public URLs and paths of the output tree, in one place so that every channel
links to the same, stable addresses (an item keeps its URL across updates).

Paths are plain strings relative to the output root (``penalty/index.html``): pages
build thousands of them, and a ``PurePosixPath`` costs several times as much."""

from dataclasses import dataclass
from pathlib import PurePosixPath

from schemas.enums import Kind


@dataclass(frozen=True)
class SiteUrls:
    """Paths relative to the output root, and absolute URLs under ``base``."""

    base: str

    def __post_init__(self) -> None:
        if not self.base.endswith("/"):
            object.__setattr__(self, "base", self.base + "/")

    def absolute(self, path: str | PurePosixPath) -> str:
        """``base`` + a relative path."""
        return self.base + str(path).lstrip("/")

    @staticmethod
    def document_path(kind: Kind | str, document_id: str) -> str:
        """``<kind>/<document_id>.html``."""
        return f"{Kind(kind).value}/{document_id}.html"

    document_href = document_path
    """The same path (the name lists and sitemaps use for a link's target)."""

    @staticmethod
    def kind_index_path(kind: Kind | str) -> str:
        """``<kind>/index.html``."""
        return f"{Kind(kind).value}/index.html"

    @staticmethod
    def department_index_path(department: str) -> str:
        """``dept/<department>/index.html``."""
        return f"dept/{department}/index.html"

    @staticmethod
    def feed_path(feed: str, fmt: str) -> str:
        """``feeds/<feed>.xml`` (RSS 2.0) or ``feeds/<feed>.atom``; ``feed`` may be
        ``all``, a kind, or ``dept/<department>``."""
        suffix = {"rss": "xml", "atom": "atom"}[fmt]
        return f"feeds/{feed}.{suffix}"

    def document(self, kind: Kind | str, document_id: str) -> str:
        """Absolute URL of a document's page."""
        return self.base + self.document_href(kind, document_id)

    def kind_index(self, kind: Kind | str) -> str:
        """Absolute URL of a kind's index."""
        return self.absolute(f"{Kind(kind).value}/")

    def department_index(self, department: str) -> str:
        """Absolute URL of a department's index."""
        return self.absolute(f"dept/{department}/")

    def feed(self, feed: str, fmt: str) -> str:
        """Absolute URL of a feed."""
        return self.absolute(self.feed_path(feed, fmt))
