"""Natural persons' names: who a party is, and where their names stand in text.

:func:`party_persons` reads a penalty's ``party_name`` — labels such as 当事人 removed,
co-parties split on 、，,；/ (and on 和 or 及 where every part is a name) — and returns
the names of the natural persons in it: every co-party of a 自然人 decision, the
operator of a 个体工商户 (``张三（某五金店）``, ``某五金店（张三）``, ``李建国五金店``),
and a person named beside an organisation.

A :class:`NameMatcher` finds those names in a :class:`~govpub.compliance.normalize.TextView`
— so after NFKC, without zero-width characters, with any spaces between the
characters (``王　伟``, ``李 建国``), in simplified or traditional form (OpenCC:
``李建國``) — and also the given name alone when it has two characters or more
(``建国称…``). A match is masked character by character: the surname stays, every
other character of the name becomes 某, and nothing else changes (``王　伟`` never
turns ``王府井`` into ``王某府井``).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import opencc

from govpub.compliance import rules
from govpub.compliance.masking import (
    _COMPOUND_SURNAMES,
    Detection,
    Edit,
    is_masked_name,
    mask_person_name,
)
from govpub.compliance.normalize import TextView, fold_text, spellings
from schemas import PartyType

_LABEL = re.compile(
    r"^\s*(?:当事人|被处罚人|被处罚单位|被处罚对象|违法行为人|行为人|违法嫌疑人|经营者|姓名|名称)"
    r"\s*(?:姓名|名称)?\s*(?:为|是)?\s*:?\s*"
)
_SPLIT = re.compile(r"[、,;/\n]")
_BRACKETED = re.compile(r"[(\[【]([^()\[\]【】]*)[)\]】]")
_CONJUNCTION = re.compile(r"[和及与]")
_HAN_NAME = re.compile(
    r"^[\u3400-\u9fff\uf900-\ufaff]{2,4}$|^[\u3400-\u9fff]{1,6}·[\u3400-\u9fff·]{1,12}$"
)
_LATIN_NAME = re.compile(r"^[A-Za-z][A-Za-z .'\-]{1,60}$")
_HAN = re.compile(r"^[\u3400-\u9fff\uf900-\ufaff]+$")
_BUSINESS_SUFFIX = re.compile(
    r"(?:店|部|行|厂|社|所|馆|场|站|坊|铺|庄|园|中心|公司|工作室|经营户|门市|商行|超市|诊所|作坊)$"
)
_ORGANISATION = re.compile(
    r"公司|厂|店|部|行|社|所|中心|协会|学校|医院|集团|银行|局|委|院|站|场|馆|有限|工作室|合作|单位|政府"
)
_REGION = re.compile(
    r"^(?:[\u3400-\u9fff]{1,8}?(?:省|自治区|市|自治州|州|盟|区|县|旗|镇|乡|街道|村))+"
)
_TRADE_MARK = frozenset("记氏家某*＊×")
_NAME_GAP = r"[\s·•・.\-_]{0,3}"
_NAME_GAP_CHARS = frozenset(" \t\n\r·•・.-_")
_OPENCC_CONFIGS = ("s2t", "t2s", "s2tw", "tw2s", "s2hk", "hk2s")


@cache
def _surnames() -> frozenset[str]:
    text = resources.files("govpub.compliance").joinpath("data/surnames.txt").read_text("utf-8")
    chars = "".join(line for line in text.splitlines() if not line.startswith("#"))
    return frozenset(chars.replace(" ", ""))


@cache
def _converters() -> tuple[opencc.OpenCC, ...]:
    return tuple(opencc.OpenCC(config) for config in _OPENCC_CONFIGS)


@cache
def _char_forms(char: str) -> str:
    """``char`` in simplified and traditional forms (OpenCC), each with its other
    spellings (compatibility ideographs)."""
    forms = {char}
    for converter in _converters():
        converted = converter.convert(char)
        if len(converted) == 1:
            forms.add(converted)
    return "".join(sorted({spelling for form in forms for spelling in spellings(form)}))


def _surname_length(name: str) -> int:
    return 2 if len(name) >= 3 and name[:2] in _COMPOUND_SURNAMES else 1


def _is_surname_start(text: str) -> int:
    """Length of the surname ``text`` starts with (simplified or traditional), or 0."""
    if text[:2] in _COMPOUND_SURNAMES:
        return 2
    if not text:
        return 0
    surnames = _surnames()
    if text[0] in surnames or any(form in surnames for form in _char_forms(text[0])):
        return 1
    return 0


def _plausible_name(text: str) -> bool:
    return bool(_HAN_NAME.match(text) or _LATIN_NAME.match(text))


def _split_on_conjunctions(piece: str) -> list[str]:
    """``李建国和王小明`` → both names; ``王和平`` stays whole (a name with 和 in it)."""
    positions = [m.start() for m in _CONJUNCTION.finditer(piece)]
    if not positions:
        return [piece]
    best: list[str] = [piece]
    # Few conjunctions in a party name: try every way of splitting on them.
    for mask in range(1, 1 << min(len(positions), 6)):
        parts, cursor = [], 0
        for bit, position in enumerate(positions[:6]):
            if mask >> bit & 1:
                parts.append(piece[cursor:position])
                cursor = position + 1
        parts.append(piece[cursor:])
        if all(_HAN_NAME.match(part) for part in parts) and len(parts) > len(best):
            best = parts
    return best


def _operator(piece: str, inner: list[str]) -> str | None:
    """The operator's name in a 个体工商户's name, if it is there."""
    outer = _BRACKETED.sub("", piece).strip()
    if inner:
        a, b = outer, inner[0].strip()
        if _HAN_NAME.match(a) and not _BUSINESS_SUFFIX.search(a):
            return a
        if _HAN_NAME.match(b) and not _BUSINESS_SUFFIX.search(b):
            return b
        return None
    if _HAN_NAME.match(outer) and not _BUSINESS_SUFFIX.search(outer) and _is_surname_start(outer):
        return outer
    # 李建国五金店: a person's name before the trade; 株洲市荷塘区张记五金店: a trade name.
    rest = _REGION.sub("", outer)
    surname = _is_surname_start(rest)
    if not surname or not _HAN.match(rest) or not _BUSINESS_SUFFIX.search(rest):
        return None
    if len(rest) < surname + 3 or rest[surname] in _TRADE_MARK:
        return None
    # Given names have one or two characters; taking two masks a little more, never less.
    given = 2 if len(rest) >= surname + 4 else 1
    return rest[: surname + given]


def party_persons(party_type: PartyType, party_name: str) -> tuple[str, ...]:
    """Names of the natural persons in ``party_name`` (as folded text, no spaces), in order."""
    text = fold_text(party_name)
    while True:
        stripped = _LABEL.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    names: list[str] = []
    depth_free = _BRACKETED.sub(lambda m: m.group(0).replace("、", "\0").replace(",", "\1"), text)
    for raw_piece in _SPLIT.split(depth_free):
        piece = _LABEL.sub("", raw_piece.replace("\0", "、").replace("\1", ",").strip())
        if not piece:
            continue
        inner = [m.group(1) for m in _BRACKETED.finditer(piece)]
        outer = "".join(_BRACKETED.sub("", piece).split())
        if party_type is PartyType.NATURAL_PERSON:
            if _HAN.match(outer):
                candidates = _split_on_conjunctions(outer)
            else:  # a name in another script keeps its spaces (John Smith)
                candidates = [" ".join(_BRACKETED.sub("", piece).split())]
        elif party_type is PartyType.INDIVIDUAL_BUSINESS:
            operator = _operator("".join(piece.split()), inner)
            candidates = [operator] if operator else []
        else:
            candidates = [
                part
                for part in _split_on_conjunctions(outer)
                if _HAN_NAME.match(part)
                and _is_surname_start(part)
                and not _ORGANISATION.search(part)
            ]
        for name in candidates:
            plausible = len(name) >= 2 and _plausible_name(name) and not is_masked_name(name)
            if plausible and name not in names:
                names.append(name)
    return tuple(names)


@dataclass(frozen=True)
class _Alternative:
    name: str
    given_only: bool
    surname: int


class NameMatcher:
    """Finds the given names (and their given names alone) in views of text."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(dict.fromkeys(fold_text("".join(n.split())) for n in names if n))
        alternatives: list[tuple[int, int, str, _Alternative]] = []
        chars: set[str] = set()
        for name in self.names:
            if _HAN.match(name):
                forms = [_char_forms(c) for c in name]
                chars.update("".join(forms))
                surname = _surname_length(name)
                pattern = _NAME_GAP.join(f"[{re.escape(f)}]" for f in forms)
                alternatives.append((0, -len(name), pattern, _Alternative(name, False, surname)))
                if len(name) - surname >= 2:
                    given = _NAME_GAP.join(f"[{re.escape(f)}]" for f in forms[surname:])
                    alternatives.append(
                        (1, -(len(name) - surname), given, _Alternative(name, True, surname))
                    )
            elif len(name) >= 2:
                words = name.split()
                chars.update(spellings(name[0].lower()) + spellings(name[0].upper()))
                pattern = r"(?i:" + r"\s+".join(re.escape(w) for w in words) + ")"
                alternatives.append((0, -len(name), pattern, _Alternative(name, False, 0)))
        alternatives.sort(key=lambda a: (a[0], a[1]))
        self._alternatives = [a[3] for a in alternatives]
        self._pattern = (
            re.compile("|".join(f"(?P<n{i}>{a[2]})" for i, a in enumerate(alternatives)))
            if alternatives
            else None
        )
        self._prefilter = re.compile(f"[{re.escape(''.join(sorted(chars)))}]") if chars else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def might_match(self, text: str) -> bool:
        """A cheap pre-check on the text as written."""
        return self._prefilter is not None and self._prefilter.search(text) is not None

    def find(self, text_view: TextView) -> list[Detection]:
        """Every name in ``text_view``, as edits of the original text."""
        if self._pattern is None:
            return []
        detections = []
        for match in self._pattern.finditer(text_view.text):
            group = match.lastgroup
            assert group is not None
            alternative = self._alternatives[int(group[1:])]
            start, end = match.span()
            if not _HAN.match(alternative.name):
                replacement = mask_person_name(alternative.name)
                edit = Edit(
                    text_view.origin(start),
                    text_view.origin(end - 1) + 1,
                    replacement,
                    rules.PARTY_NAME.id,
                )
                detections.append(Detection(rules.PARTY_NAME.id, (edit,)))
                continue
            edits = []
            position = 0
            for index in range(start, end):
                if text_view.text[index] in _NAME_GAP_CHARS:
                    continue
                if alternative.given_only or position >= alternative.surname:
                    origin = text_view.origin(index)
                    edits.append(Edit(origin, origin + 1, "某", rules.PARTY_NAME.id))
                position += 1
            detections.append(Detection(rules.PARTY_NAME.id, tuple(edits)))
        return detections
