"""The one module that touches feedgen: plain data in, RSS 2.0 or Atom bytes out.

Output is deterministic for the same items (the build date is the newest item's
date, not the clock), so re-rendering an unchanged feed changes no byte and
pollers' ETags stay valid.
"""

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from feedgen.feed import FeedGenerator

from channels.text import plain_text


@dataclass(frozen=True)
class FeedMeta:
    """Feed-level fields."""

    feed_id: str
    title: str
    link: str
    self_rss: str
    self_atom: str
    description: str
    author: str
    language: str = "zh-CN"
    fallback_date: datetime | None = None


@dataclass(frozen=True)
class FeedEntry:
    """One entry; ``guid`` never changes for the same published item."""

    guid: str
    title: str
    link: str
    summary: str
    published: datetime
    updated: datetime
    categories: Sequence[str] = field(default_factory=tuple)
    author: str | None = None


def _as_html(text: str) -> str:
    # RSS readers render <description> as HTML: plain text is escaped so that markup in
    # it stays text, and line breaks survive.
    return html.escape(text, quote=False).replace("\n", "<br/>")


# Titles, names and categories are plain text, but many readers render an RSS <title> as
# HTML after decoding the XML once: escaping for XML alone would let "<img onerror=…>"
# run there. So no text field carries anything that reads as a tag (channels.text).


def _generator(
    meta: FeedMeta, entries: Sequence[FeedEntry], self_url: str, *, html_summary: bool
) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(meta.feed_id)
    fg.title(plain_text(meta.title))
    fg.description(plain_text(meta.description))
    fg.subtitle(plain_text(meta.description))
    fg.author({"name": plain_text(meta.author)})
    # feedgen takes the last link as RSS <channel><link>: the site page, not the feed.
    fg.link(href=self_url, rel="self")
    fg.link(href=meta.link, rel="alternate")
    fg.language(meta.language)
    fg.generator("govpub")
    newest = max((e.updated for e in entries), default=meta.fallback_date)
    if newest is not None:
        fg.updated(newest)
        fg.lastBuildDate(newest)
    # feedgen prepends by default; append keeps our newest-first order.
    for entry in entries:
        fe = fg.add_entry(order="append")
        fe.id(entry.guid)
        fe.guid(entry.guid, permalink=False)
        fe.title(plain_text(entry.title))
        fe.link(href=entry.link, rel="alternate")
        summary = plain_text(entry.summary)
        # Atom <content> without a type is text (RFC 4287 §3.1.1): no escaping needed there.
        fe.description(_as_html(summary) if html_summary else summary)
        fe.published(entry.published)
        fe.updated(entry.updated)
        if entry.author:
            fe.author({"name": plain_text(entry.author)})
        for term in entry.categories:
            fe.category(term=plain_text(term))
    return fg


def render_rss(meta: FeedMeta, entries: Sequence[FeedEntry]) -> bytes:
    """RSS 2.0 document (UTF-8)."""
    return bytes(_generator(meta, entries, meta.self_rss, html_summary=True).rss_str(pretty=True))


def render_atom(meta: FeedMeta, entries: Sequence[FeedEntry]) -> bytes:
    """Atom 1.0 document (UTF-8)."""
    return bytes(
        _generator(meta, entries, meta.self_atom, html_summary=False).atom_str(pretty=True)
    )
