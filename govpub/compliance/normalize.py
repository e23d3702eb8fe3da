"""Text as the detectors see it, mapped back to the text as written.

Personal data hides in many spellings of the same thing: full-width digits
(１３９…), a compatibility ideograph for 李, a zero-width space inside a number or
a name, a no-break or ideographic space between digit groups, digits written 一三九…,
a number split by inline tags in an HTML body. A :class:`TextView` is the text after

* NFKC, character by character (only single-character results: full-width forms,
  compatibility ideographs, odd spaces, circled and mathematical digits), and every
  other decimal digit (Arabic-Indic, Devanagari…) as its ASCII digit;
* format characters and combining marks removed (zero-width spaces and joiners,
  soft hyphens, bidi controls, variation selectors, underlines 1̲);
* for HTML: tags removed (inline tags join their neighbours, block tags become a
  line break) and entities decoded, so that only text nodes are seen;
* for the number detectors only (:meth:`TextView.numerals`): Chinese numerals
  (〇一二三… 零壹贰…) as digits.

Each character of the view knows where it came from, so a detector's match is
masked in the original text and everything around it stays as it was written.
"""

import bisect
import html
import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import cache

_HTML_TAG = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9]*)(?:[^>\"']|\"[^\"]*\"|'[^']*')*>|<!--.*?-->", re.S
)
_HTML_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_INLINE_TAGS = frozenset(
    [
        "a",
        "abbr",
        "b",
        "bdi",
        "bdo",
        "cite",
        "code",
        "data",
        "del",
        "dfn",
        "em",
        "font",
        "i",
        "ins",
        "kbd",
        "mark",
        "q",
        "rp",
        "rt",
        "ruby",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "time",
        "tt",
        "u",
        "var",
        "wbr",
    ]
)
"""Tags that do not break a line: text on both sides reads as one word."""

_CHINESE_NUMERALS = {
    "〇": "0",
    "零": "0",
    "一": "1",
    "壹": "1",
    "二": "2",
    "贰": "2",
    "貳": "2",
    "三": "3",
    "叁": "3",
    "參": "3",
    "四": "4",
    "肆": "4",
    "五": "5",
    "伍": "5",
    "六": "6",
    "陆": "6",
    "陸": "6",
    "七": "7",
    "柒": "7",
    "八": "8",
    "捌": "8",
    "九": "9",
    "玖": "9",
}

# Ranges worth folding: everything below the CJK ideographs, compatibility ideographs and
# forms, half/full width forms, mathematical digits, enclosed alphanumerics, the
# compatibility ideographs supplement, tags and variation selectors supplement.
_FOLD_RANGES = (
    (0x0080, 0x3400),
    (0xA620, 0xA630),
    (0xF900, 0x10000),
    (0x1D400, 0x1D800),
    (0x1F100, 0x1F200),
    (0x2F800, 0x2FA20),
    (0xE0000, 0xE0200),
)
_DROPPED_CATEGORIES = frozenset({"Cf", "Mn", "Me"})


@dataclass(frozen=True)
class _Tables:
    fold: dict[int, str]
    numerals: dict[int, str]
    drop: re.Pattern[str]
    drop_chars: frozenset[str]
    unfold: dict[str, str]
    """For each folded character, the characters that fold to it (itself included)."""
    digitish: str
    """A character class body: everything a view reads as a digit."""


@cache
def _tables() -> _Tables:
    """Built once, on first use: a few tens of milliseconds."""
    fold: dict[int, str] = {}
    dropped: list[str] = []
    for start, end in _FOLD_RANGES:
        for code in range(start, min(end, sys.maxunicode + 1)):
            char = chr(code)
            category = unicodedata.category(char)
            if category in _DROPPED_CATEGORIES:
                dropped.append(char)
                continue
            if category == "Nd":
                fold[code] = str(unicodedata.digit(char))
                continue
            if category in ("Zs", "Zl", "Zp") and char not in "\u2028\u2029":
                fold[code] = " "
                continue
            folded = unicodedata.normalize("NFKC", char)
            if folded != char and len(folded) == 1:
                if unicodedata.category(folded) in _DROPPED_CATEGORIES:
                    dropped.append(char)
                else:
                    fold[code] = folded
    for code, folded in list(fold.items()):
        if folded in _CHINESE_NUMERALS:
            continue
        if unicodedata.category(folded) == "Nd" and not folded.isascii():
            fold[code] = str(unicodedata.digit(folded))
    numerals = {ord(k): v for k, v in _CHINESE_NUMERALS.items()}
    unfold: dict[str, str] = {}
    for code, folded in fold.items():
        unfold[folded] = unfold.get(folded, folded) + chr(code)
    drop_class = _char_class(dropped)
    digitish = [str(d) for d in range(10)] + list(_CHINESE_NUMERALS)
    digitish += [
        chr(code) for code, folded in fold.items() if folded.isascii() and folded.isdigit()
    ]
    return _Tables(
        fold=fold,
        numerals=numerals,
        drop=re.compile(f"[{drop_class}]+"),
        drop_chars=frozenset(dropped),
        unfold=unfold,
        digitish=_char_class(digitish),
    )


def _char_class(chars: list[str]) -> str:
    """A regex character class body with runs of consecutive code points as ranges (a
    long list of single characters makes every search slow)."""
    codes = sorted({ord(c) for c in chars})
    parts: list[str] = []
    index = 0
    while index < len(codes):
        end = index
        while end + 1 < len(codes) and codes[end + 1] == codes[end] + 1:
            end += 1
        first, last = chr(codes[index]), chr(codes[end])
        parts.append(re.escape(first) if index == end else f"{re.escape(first)}-{re.escape(last)}")
        index = end + 1
    return "".join(parts)


@cache
def digit_run(count: int, separators: str) -> re.Pattern[str]:
    """A pattern for ``count`` characters read as digits, on the text as written, with at
    most 4 ``separators`` (a character class body), spaces or invisible characters
    between each: a cheap pre-check before building a view."""
    tables = _tables()
    gap = f"[{separators}\\s{tables.drop.pattern[1:-2]}]{{0,4}}"
    digit = f"[{tables.digitish}]"
    return re.compile(f"{digit}(?:{gap}{digit}){{{count - 1}}}")


def spellings(char: str) -> str:
    """``char`` and every character the view folds to it (李 and its compatibility form)."""
    return _tables().unfold.get(char, char)


def fold_text(text: str) -> str:
    """``text`` as a view sees it (no mapping back): for names, labels and comparisons."""
    tables = _tables()
    return tables.drop.sub("", text).translate(tables.fold)


@dataclass(frozen=True)
class TextView:
    """Normalised text (``text``) and where each of its characters is in ``original``."""

    original: str
    text: str
    _view_starts: tuple[int, ...]
    _origin_starts: tuple[int, ...]

    def origin(self, index: int) -> int:
        """The position in ``original`` of the view's character at ``index``."""
        segment = bisect.bisect_right(self._view_starts, index) - 1
        return self._origin_starts[segment] + (index - self._view_starts[segment])

    def numerals(self) -> "TextView":
        """The same view with Chinese numerals read as digits (for the number detectors)."""
        return TextView(
            self.original,
            self.text.translate(_tables().numerals),
            self._view_starts,
            self._origin_starts,
        )


class _Builder:
    """Collects view pieces, each mapped linearly onto the original."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.view_starts: list[int] = []
        self.origin_starts: list[int] = []
        self.length = 0

    def add(self, piece: str, origin: int) -> None:
        if not piece:
            return
        self.parts.append(piece)
        self.view_starts.append(self.length)
        self.origin_starts.append(origin)
        self.length += len(piece)

    def add_text(self, text: str, start: int, end: int, drop: re.Pattern[str]) -> None:
        """``text[start:end]`` without the dropped characters."""
        cursor = start
        for match in drop.finditer(text, start, end):
            self.add(text[cursor : match.start()], cursor)
            cursor = match.end()
        self.add(text[cursor:end], cursor)


def view(text: str) -> TextView:
    """The view of plain text."""
    tables = _tables()
    if tables.drop.search(text) is None:
        return TextView(text, text.translate(tables.fold), (0,), (0,))
    builder = _Builder()
    builder.add_text(text, 0, len(text), tables.drop)
    folded = "".join(builder.parts).translate(tables.fold)
    return TextView(
        text, folded, tuple(builder.view_starts) or (0,), tuple(builder.origin_starts) or (0,)
    )


def html_view(fragment: str) -> TextView:
    """The view of the text nodes of an HTML fragment (entities decoded)."""
    tables = _tables()
    builder = _Builder()
    cursor = 0
    for tag in _HTML_TAG.finditer(fragment):
        _add_html_text(builder, fragment, cursor, tag.start(), tables.drop)
        name = (tag.group(2) or "").lower()
        if tag.group(0).startswith("<!--"):
            pass
        elif name not in _INLINE_TAGS:
            builder.add("\n", tag.start())
        cursor = tag.end()
    _add_html_text(builder, fragment, cursor, len(fragment), tables.drop)
    folded = "".join(builder.parts).translate(tables.fold)
    return TextView(
        fragment, folded, tuple(builder.view_starts) or (0,), tuple(builder.origin_starts) or (0,)
    )


def _add_html_text(
    builder: _Builder, fragment: str, start: int, end: int, drop: re.Pattern[str]
) -> None:
    cursor = start
    for entity in _HTML_ENTITY.finditer(fragment, start, end):
        builder.add_text(fragment, cursor, entity.start(), drop)
        decoded = html.unescape(entity.group(0))
        decoded = drop.sub("", decoded)
        if decoded:
            # One view character for the entity (a decoded &nbsp; is a space).
            builder.add(decoded[:1], entity.start())
        cursor = entity.end()
    builder.add_text(fragment, cursor, end, drop)
