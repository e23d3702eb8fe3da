"""Markup hygiene: an allow-list for HTML bodies, no markup at all in plain text.

The gate's module that talks to nh3 (an html5ever-based sanitiser, so it parses
markup the way browsers do); the website cuts once more when it renders. Rule ids: ``html_sanitize`` and ``text_markup`` in
:mod:`govpub.compliance.rules`.
"""

import html
import re

import nh3

ALLOWED_TAGS = frozenset(
    [
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "caption",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "div",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "h1",
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
        "span",
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
    ]
)
"""Tags a body may keep: text structure, tables, links and images. No forms, frames,
scripts, styles, SVG or MathML."""

ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start"},
    "abbr": {"title"},
}
"""Attributes kept per tag; no event handlers, no ``style`` (CSS can exfiltrate and
overlay), no ``class``/``id`` (the site's own CSS and scripts must not be targeted)."""

URL_SCHEMES = frozenset({"http", "https", "mailto"})
"""Schemes a link or image may use; ``javascript:``, ``data:`` and ``vbscript:`` are dropped."""

# Something a browser would start a tag, comment or entity with.
_MARKUP_START = re.compile(r"<[A-Za-z/!?]|&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);?")
_MAX_PASSES = 4


# An escaped "<" (escaped once or several times) that would start a tag once the text is
# decoded: by a channel that turns the body into text, then by a reader (or a careless
# aggregator, decoding twice) that renders that text as HTML.
_ESCAPED_TAG_START = re.compile(r"&(?:amp;)*lt;(?=[A-Za-z/!?])")


def sanitize_html(fragment: str) -> str:
    """Reduce an HTML fragment to the allow-list (tags, attributes, URL schemes).

    Links get ``rel="noopener noreferrer"``; comments, scripts and styles go, with
    their content. Text that reads like a tag (``&lt;script&gt;``) keeps its words but
    gets a full-width ``＜``: channels turn bodies into text for feeds and posts, and RSS
    readers render that text as HTML, so no "<" that starts a tag may come out of it.
    """
    cleaned = nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return _ESCAPED_TAG_START.sub("＜", cleaned)


def strip_markup(text: str) -> str:
    """Plain text with every tag removed (script and style with their content).

    Entities are decoded, and the result is cleaned again until nothing changes, so
    ``&lt;script&gt;`` cannot come back as a tag once a channel decodes it. Text without
    markup (``a < b``, ``5>3``) is returned unchanged.
    """
    current = text
    for _ in range(_MAX_PASSES):
        if not _MARKUP_START.search(current):
            return current
        cleaned = html.unescape(nh3.clean(current, tags=set(), strip_comments=True))
        if cleaned == current:
            return current
        current = cleaned
    # Still markup after several rounds of decoding: drop the angle brackets outright.
    return current.replace("<", "").replace(">", "")
