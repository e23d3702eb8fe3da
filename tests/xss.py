"""XSS vectors and a checker for what may reach a page or a feed, shared by the tests."""

import html
import re
from html.parser import HTMLParser

from govpub.compliance.sanitize import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, URL_SCHEMES

VECTORS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="java\tscript:alert(1)">x</a>',
    '<iframe src="javascript:alert(1)"></iframe>',
    "<body onload=alert(1)>",
    "<style>@import 'javascript:alert(1)';</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<<script>script>alert(1)<</script>/script>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&amp;lt;img src=x onerror=alert(1)&amp;gt;",
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<object data="javascript:alert(1)"></object>',
    "<form action=javascript:alert(1)><input type=submit></form>",
    "<details open ontoggle=alert(1)>",
    "<!--<img src=x onerror=alert(1)>-->",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '"><script>alert(1)</script>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
]
"""Classic vectors (OWASP cheat sheet style), each as it would be pasted into a field."""

_EVENT_ATTRIBUTE = re.compile(r"\bon[a-z]+\s*=", re.IGNORECASE)
_TAG = re.compile(r"<\s*[A-Za-z!/?]")


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        allowed = ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel"}
        for name, value in attrs:
            if name not in allowed:
                self.problems.append(f"attribute {name} on <{tag}>")
            if name in ("href", "src") and value is not None:
                scheme = value.split(":", 1)[0].strip().lower() if ":" in value else ""
                if scheme and scheme not in URL_SCHEMES:
                    self.problems.append(f"{name} scheme {scheme!r}")

    def handle_comment(self, data: str) -> None:
        self.problems.append("comment")


def html_problems(fragment: str) -> list[str]:
    """What in an HTML fragment is outside the allow-list (empty: safe to render)."""
    parser = _Audit()
    parser.feed(fragment)
    parser.close()
    return parser.problems


def text_problems(text: str) -> list[str]:
    """Markup in text that a reader would render as HTML, even after decoding entities."""
    problems = []
    for layer in (text, html.unescape(text), html.unescape(html.unescape(text))):
        if _TAG.search(layer):
            problems.append(f"markup in {layer[:80]!r}")
        if _EVENT_ATTRIBUTE.search(layer) and "<" in layer:
            problems.append(f"event handler in {layer[:80]!r}")
    return problems
