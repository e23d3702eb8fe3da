"""Department-supplied HTML, cut down to an allow-list with nh3 (ammonia).

Nothing in an event is trusted as markup: bodies keep structure (paragraphs,
headings, lists, tables, links) and lose everything else — scripts and styles
with their content, event-handler attributes, ``style``/``class``/``id``,
frames, forms, relative URLs and URLs other than http(s) and mailto. The result is the only
HTML from an event that templates mark safe.

This is a second cut after the compliance gate's (``govpub/compliance/sanitize.py``),
on purpose: a message on the bus may come from a client that never passed the gate, and
the page's own layout (its ``h1``, no ``div``/``span`` styling hooks) is stricter than what
the gate lets through to every channel.
"""

from functools import cache

import nh3
from markupsafe import Markup

_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "caption",
        "code",
        "dd",
        "del",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "small",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "u",
        "ul",
    }
)
# Removed together with their content, not just unwrapped.
_DROP_WITH_CONTENT = frozenset(
    {"script", "style", "template", "noscript", "iframe", "object", "embed", "svg", "math"}
)
_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "width", "height"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}
_SCHEMES = frozenset({"http", "https", "mailto"})


@cache
def _cleaner() -> nh3.Cleaner:
    # Built on first use, not at import (no work at import time).
    return nh3.Cleaner(
        tags=set(_TAGS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
        url_schemes=set(_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        # A relative URL would resolve against the portal, not the department's site.
        url_relative="deny",
        strip_comments=True,
    )


def sanitize_html(html: str) -> Markup:
    """``html`` reduced to the allow-list, ready to be inserted into a page.

    Headings start at ``h2`` because the page title is the one ``h1``; a
    department's ``h1`` is unwrapped to its text.
    """
    return Markup(_cleaner().clean(html))  # noqa: S704 - the output of the allow-list cleaner
