"""Plain text from department-supplied HTML, for summaries in feeds and posts.

Markup is dropped, not trusted: what comes out is text that every channel escapes
again on output.
"""

import re
from html.parser import HTMLParser

# Characters XML 1.0 cannot carry (C0 controls except tab/newline/CR, surrogates, U+FFFE/F).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_SPACES = re.compile(r"[ \t\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "table",
        "ul",
        "ol",
        "blockquote",
    ]
)
_SKIP_TAGS = frozenset(("script", "style", "template", "noscript", "iframe", "object"))
# A "<" that would start a tag, written as is or escaped once or more (&lt;, &amp;lt;…).
_TAG_START = re.compile(r"(?:<|&(?:amp;)*lt;)(?=[A-Za-z/!?])")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def plain_text(text: str) -> str:
    """``text`` with nothing a reader could take for markup: a ``<`` that would start a tag
    (also written ``&lt;``) becomes a full-width ``＜``. For fields that are text on every
    platform — feed titles and descriptions, Weibo statuses, WeChat titles and digests —
    whichever way a reader renders them (as text, as HTML, or decoding twice).
    Idempotent; text without such a ``<`` is returned unchanged."""
    return _TAG_START.sub("＜", clean_xml_text(text))


def clean_xml_text(text: str) -> str:
    """Drop characters that XML 1.0 cannot carry."""
    return _NOT_XML.sub("", text)


def html_to_text(html: str) -> str:
    """The readable text of an HTML fragment, paragraphs kept as blank-line-separated lines."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return clean_xml_text(_BLANK_LINES.sub("\n", "\n".join(lines)).strip())


def shorten(text: str, limit: int, *, ellipsis: str = "…") -> str:
    """Cut ``text`` to at most ``limit`` characters (whole characters, never mid-code-point)."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(ellipsis))].rstrip() + ellipsis
