"""Assertions on what subscribers see: the feeds now, the website's pages after merge.

Each surface is one check function in :data:`SURFACES`; a release test calls
:func:`assert_published_once` and every surface is checked. Adding a surface (the
website channel's ``<kind>/<document_id>.html``) is one more line in the list.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import feedparser


@dataclass(frozen=True)
class Expected:
    """A document that must appear exactly once, with this title."""

    kind: str
    document_id: str
    title: str
    guid_prefix: str = "urn:govpub:zhuzhou"

    @property
    def guid(self) -> str:
        """The stable feed item id (README: ``urn:govpub:zhuzhou:<kind>:<document_id>``)."""
        return f"{self.guid_prefix}:{self.kind}:{self.document_id}"


def feed_items(path: Path, guid: str) -> list[feedparser.FeedParserDict]:
    """Entries of the feed at ``path`` whose id is ``guid``."""
    assert path.is_file(), f"{path} was not written"
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo, f"{path}: {parsed.get('bozo_exception')}"
    return [entry for entry in parsed.entries if entry.get("id") == guid]


def _check_feeds(output_dir: Path, expected: Expected, suffix: str) -> None:
    for feed in ("all", expected.kind):
        path = output_dir / "feeds" / f"{feed}.{suffix}"
        items = feed_items(path, expected.guid)
        assert len(items) == 1, f"{path}: {len(items)} items with guid {expected.guid}"
        assert items[0].title == expected.title


def check_rss(output_dir: Path, expected: Expected) -> None:
    """RSS 2.0: ``feeds/all.xml`` and ``feeds/<kind>.xml``."""
    _check_feeds(output_dir, expected, "xml")


def check_atom(output_dir: Path, expected: Expected) -> None:
    """Atom: ``feeds/all.atom`` and ``feeds/<kind>.atom``."""
    _check_feeds(output_dir, expected, "atom")


def check_website(output_dir: Path, expected: Expected) -> None:
    """The website: the document's own page, and one entry in its kind's index."""
    page = output_dir / expected.kind / f"{expected.document_id}.html"
    assert page.is_file(), f"{page} was not written"
    assert expected.title in page.read_text("utf-8")
    index = json.loads((output_dir / "api" / f"{expected.kind}.json").read_text("utf-8"))
    entries = [item for item in index["items"] if item["id"] == expected.document_id]
    assert len(entries) == 1, f"api/{expected.kind}.json: {len(entries)} entries"


SURFACES: list[Callable[[Path, Expected], None]] = [check_rss, check_atom, check_website]


def assert_published_once(output_dir: Path, expected: Expected) -> None:
    """The document is on every surface exactly once."""
    for check in SURFACES:
        check(output_dir, expected)
