"""Fitting text into platform limits: cut on character boundaries, with an ellipsis.

A "character" is a Unicode code point, as the platforms count them (标题不超过32个字);
a cut never separates a base character from the combining marks, variation selectors
or zero-width joiners that belong to it, so no character is ever cut in half.
"""

import math
import unicodedata

ELLIPSIS = "…"

_JOINERS = frozenset({"\u200d", "\u034f"})


def _attached(char: str) -> bool:
    """Whether ``char`` belongs to the character before it."""
    code = ord(char)
    return (
        unicodedata.combining(char) != 0
        or char in _JOINERS
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF  # skin-tone modifiers
    )


def _safe_end(text: str, end: int) -> int:
    """The largest cut position ≤ ``end`` that does not split a character sequence."""
    while 0 < end < len(text) and (_attached(text[end]) or text[end - 1] in _JOINERS):
        end -= 1
    return end


def cut(text: str, limit: int, *, ellipsis: str = ELLIPSIS) -> str:
    """``text`` if it has at most ``limit`` characters, else its start and ``ellipsis``
    within ``limit`` characters."""
    if limit < 0:
        raise ValueError("limit must not be negative")
    if len(text) <= limit:
        return text
    room = max(0, limit - len(ellipsis))
    return text[: _safe_end(text, room)].rstrip() + ellipsis[:limit]


def cut_bytes(text: str, limit: int, *, ellipsis: str = ELLIPSIS) -> str:
    """``text`` cut so that its UTF-8 encoding (with ``ellipsis``) has at most ``limit`` bytes."""
    if len(text.encode("utf-8")) <= limit:
        return text
    room = limit - len(ellipsis.encode("utf-8"))
    end = len(text.encode("utf-8")[:room].decode("utf-8", "ignore"))
    return text[: _safe_end(text, end)].rstrip() + ellipsis


def weibo_length(text: str) -> int:
    """Length as Weibo counts it against its 140-字 limit: two ASCII characters make one 字."""
    return math.ceil(sum(0.5 if ord(c) < 128 else 1.0 for c in text))


def cut_weibo(text: str, limit: int, *, ellipsis: str = ELLIPSIS) -> str:
    """``text`` cut to at most ``limit`` Weibo 字 (with ``ellipsis``)."""
    if weibo_length(text) <= limit:
        return text
    room = limit - weibo_length(ellipsis)
    used = 0.0
    end = 0
    for end, char in enumerate(text):  # noqa: B007 - end is the cut position
        used += 0.5 if ord(char) < 128 else 1.0
        if used > room:
            break
    return text[: _safe_end(text, end)].rstrip() + ellipsis
