"""Personal-information maskers for penalty and exposure text.

:func:`mask_text` finds identity numbers, mobile and landline numbers, bank card
and account numbers (and, for natural persons, labelled home addresses) and
masks them in place; :func:`mask_person_name` anonymises a natural person's name.
Rules and legal sources: :mod:`producers.compliance.rules`.

Precision matters as much as recall: 文号 (株政办发〔2023〕5号), decision numbers,
dates, amounts (50000.00元) and 统一社会信用代码 must survive. So only numbers that
pass their check (GB 11643 check character and birth date; Luhn for cards) are
masked, and those shapes are protected before any detector runs. Full-width
digits (１３８…) are recognised too. Masking is idempotent: masked output
contains no number any detector would match again.
"""

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from producers.compliance import rules
from producers.compliance.identifiers import is_id15, is_id18, luhn_ok

MASK = "*"
ADDRESS_MASK = "***"

# One-to-one, so offsets in the normalised text are offsets in the original.
_NORMALISE = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        "Ｘ": "X",
        "ｘ": "x",
        "－": "-",
        "＋": "+",
        "\u3000": " ",
    }
)

_D = "[0-9]"
_NOT_DIGIT_BEFORE = "(?<![0-9])"
_NOT_DIGIT_AFTER = "(?![0-9])"

# --- shapes that are never personal information --------------------------------------
_CREDIT_SHAPE = re.compile(
    r"(?<![0-9A-Za-z])[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Za-z])"
)
_LABELLED_CODE = re.compile(
    r"(?:统一社会信用代码|社会信用代码|信用代码|注册号|组织机构代码|纳税人识别号)"
    r"\s*(?:为|是)?\s*[:：]?\s*([0-9A-Za-z]{8,20})(?![0-9A-Za-z])"
)
_DOC_NUMBER = re.compile(
    r"[〔\[［(（【]\s*[0-9]{4}\s*[〕\]］)）】]\s*第?\s*[0-9]+\s*号|第\s*[0-9]+\s*号"
)
_AMOUNT = re.compile(
    r"(?<![0-9.,])(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?\s*(?:元|万元|亿元|万|亿|圆)"
)
_DATE = re.compile(
    r"(?<![0-9])[0-9]{4}(?:年[0-9]{1,2}月(?:[0-9]{1,2}日)?|[-/.][0-9]{1,2}[-/.][0-9]{1,2})(?![0-9])"
)

# --- personal information -------------------------------------------------------------
_ID18 = re.compile(rf"{_NOT_DIGIT_BEFORE}{_D}{{6}} ?{_D}{{8}} ?{_D}{{3}}[0-9Xx]{_NOT_DIGIT_AFTER}")
_ID15 = re.compile(rf"{_NOT_DIGIT_BEFORE}{_D}{{15}}{_NOT_DIGIT_AFTER}")
_CARD = re.compile(
    rf"{_NOT_DIGIT_BEFORE}(?:{_D}{{16,19}}|{_D}{{4}}(?:[ -]{_D}{{4}}){{2,3}}[ -]{_D}{{1,4}}){_NOT_DIGIT_AFTER}"
)
_MOBILE = re.compile(
    rf"{_NOT_DIGIT_BEFORE}(?:(?:\+|00)?86[ -]?)?1[3-9]{_D}[ -]?{_D}{{4}}[ -]?{_D}{{4}}{_NOT_DIGIT_AFTER}"
)
_LANDLINE = re.compile(
    rf"{_NOT_DIGIT_BEFORE}(?P<area>[(（]0[1-9]{_D}{{1,2}}[)）]|0[1-9]{_D}{{1,2}})[ -]?"
    rf"{_D}{{7,8}}(?:(?:-|转|ext\.?){_D}{{1,6}})?{_NOT_DIGIT_AFTER}"
)
_LABELLED_LANDLINE = re.compile(
    rf"(?:电话|联系电话|座机|固话|传真|联系方式|Tel|TEL|tel)\s*(?:号码)?\s*[:：]?\s*"
    rf"(?P<number>{_D}{{7,8}}){_NOT_DIGIT_AFTER}"
)
_ACCOUNT = re.compile(
    rf"(?:银行账号|银行帐号|开户账号|账号|帐号|账户|帐户|银行卡号|卡号)\s*(?:为|是)?\s*[:：]?\s*"
    rf"(?P<number>{_D}(?:[ -]?{_D}){{9,29}}){_NOT_DIGIT_AFTER}"
)
_ADDRESS = re.compile(
    r"(?:家庭住址|现住址|户籍地址|户籍所在地|户籍地|居住地址|居住地|住址|住所地|住所)"
    r"\s*(?:为|是|在)?\s*[:：]?\s*(?P<address>[^，。；;,\n（）()：:]{2,80})"
)


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    rule: str
    replacement: str

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end


@dataclass(frozen=True)
class Masked:
    """The masked text and how many matches of each rule were masked."""

    text: str
    counts: dict[str, int]

    @property
    def changed(self) -> bool:
        """Whether anything was masked."""
        return bool(self.counts)


def _mask_digits(original: str, normalised: str, *, head: int, tail: int) -> str:
    """Replace digits (and a trailing X) by ``*``, keeping ``head`` first and ``tail`` last."""
    positions = [i for i, c in enumerate(normalised) if c.isascii() and (c.isdigit() or c in "Xx")]
    kept = set(positions[:head]) | set(positions[len(positions) - tail :] if tail else [])
    masked = set(positions) - kept
    return "".join(MASK if i in masked else c for i, c in enumerate(original))


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isascii() and c.isdigit())


class _Scanner:
    """Collects non-overlapping masks over one text, highest-priority rule first."""

    def __init__(self, original: str, protected: list[tuple[int, int]]) -> None:
        self.original = original
        self.normalised = original.translate(_NORMALISE)
        self.protected = protected
        self.spans: list[_Span] = []

    def _free(self, start: int, end: int) -> bool:
        if any(p_start < end and start < p_end for p_start, p_end in self.protected):
            return False
        return not any(span.overlaps(start, end) for span in self.spans)

    def scan(
        self,
        pattern: re.Pattern[str],
        rule: str,
        valid: Callable[[str], bool],
        mask: Callable[[str, str, re.Match[str]], str],
        group: int | str = 0,
    ) -> None:
        for match in pattern.finditer(self.normalised):
            start, end = match.span(group)
            if start < 0 or not self._free(start, end):
                continue
            normalised = self.normalised[start:end]
            if not valid(normalised):
                continue
            replacement = mask(self.original[start:end], normalised, match)
            self.spans.append(_Span(start, end, rule, replacement))

    def result(self) -> Masked:
        out: list[str] = []
        cursor = 0
        for span in sorted(self.spans, key=lambda s: s.start):
            out.append(self.original[cursor : span.start])
            out.append(span.replacement)
            cursor = span.end
        out.append(self.original[cursor:])
        return Masked("".join(out), dict(Counter(span.rule for span in self.spans)))


def _protected_spans(normalised: str, keep: Iterable[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for literal in keep:
        literal = literal.translate(_NORMALISE)
        if literal:
            spans.extend((m.start(), m.end()) for m in re.finditer(re.escape(literal), normalised))
    for match in _CREDIT_SHAPE.finditer(normalised):
        # A code of digits only (or digits and a final X) could also be an identity or card
        # number: only a label or the event's own credit_code (``keep``) protects it then.
        if not match.group()[:17].isdigit():
            spans.append(match.span())
    spans.extend(m.span(1) for m in _LABELLED_CODE.finditer(normalised))
    for pattern in (_DOC_NUMBER, _AMOUNT, _DATE):
        spans.extend(m.span() for m in pattern.finditer(normalised))
    return spans


def _is_id18(text: str) -> bool:
    return is_id18(text.replace(" ", "").upper())


def _is_card(text: str) -> bool:
    digits = _digits(text)
    return 16 <= len(digits) <= 19 and luhn_ok(digits)


def _is_account(text: str) -> bool:
    return 10 <= len(_digits(text)) <= 30


def _always(text: str) -> bool:
    return True


def mask_text(text: str, *, keep: Iterable[str] = (), addresses: bool = False) -> Masked:
    """Mask personal numbers in ``text``; ``keep`` lists literals never to touch (e.g. the
    event's credit code). ``addresses`` also masks labelled home addresses (natural persons).

    Identity numbers keep their 6-digit area code, mobile numbers their first 3 and last 4
    digits, landlines their area code, cards and accounts their last 4 digits.
    """
    scanner = _Scanner(text, [])
    scanner.protected = _protected_spans(scanner.normalised, keep)
    scanner.scan(
        _ID18,
        rules.ID_NUMBER.id,
        _is_id18,
        lambda o, n, m: _mask_digits(o, n, head=6, tail=0),
    )
    scanner.scan(
        _ID15, rules.ID_NUMBER.id, is_id15, lambda o, n, m: _mask_digits(o, n, head=6, tail=0)
    )
    scanner.scan(
        _CARD, rules.BANK_CARD.id, _is_card, lambda o, n, m: _mask_digits(o, n, head=0, tail=4)
    )
    scanner.scan(
        _MOBILE,
        rules.MOBILE_NUMBER.id,
        _always,
        lambda o, n, m: _mask_digits(o, n, head=len(_digits(n)) - 8, tail=4),
    )
    scanner.scan(
        _LANDLINE,
        rules.LANDLINE_NUMBER.id,
        _always,
        lambda o, n, m: _mask_digits(o, n, head=len(_digits(m.group("area"))), tail=0),
    )
    scanner.scan(
        _LABELLED_LANDLINE,
        rules.LANDLINE_NUMBER.id,
        _always,
        lambda o, n, m: _mask_digits(o, n, head=0, tail=0),
        group="number",
    )
    scanner.scan(
        _ACCOUNT,
        rules.BANK_ACCOUNT.id,
        _is_account,
        lambda o, n, m: _mask_digits(o, n, head=0, tail=4),
        group="number",
    )
    if addresses:
        scanner.scan(
            _ADDRESS,
            rules.HOME_ADDRESS.id,
            lambda n: n.strip() != ADDRESS_MASK,
            lambda o, n, m: ADDRESS_MASK,
            group="address",
        )
    return scanner.result()


# --- names ------------------------------------------------------------------------------
_COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "太史",
        "端木",
        "上官",
        "司马",
        "东方",
        "独孤",
        "南宫",
        "万俟",
        "闻人",
        "夏侯",
        "诸葛",
        "尉迟",
        "公羊",
        "赫连",
        "澹台",
        "皇甫",
        "宗政",
        "濮阳",
        "公冶",
        "太叔",
        "申屠",
        "公孙",
        "慕容",
        "仲孙",
        "钟离",
        "长孙",
        "宇文",
        "司徒",
        "鲜于",
        "司空",
        "闾丘",
        "子车",
        "亓官",
        "司寇",
        "巫马",
        "公西",
        "颛孙",
        "壤驷",
        "公良",
        "漆雕",
        "乐正",
        "宰父",
        "谷梁",
        "拓跋",
        "夹谷",
        "轩辕",
        "令狐",
        "段干",
        "百里",
        "呼延",
        "东郭",
        "南门",
        "羊舌",
        "微生",
        "公户",
        "公玉",
        "公仪",
        "梁丘",
        "公仲",
        "公上",
        "公门",
        "公山",
        "公坚",
        "左丘",
        "公伯",
        "西门",
        "公祖",
        "第五",
        "公乘",
        "贯丘",
        "公皙",
        "南荣",
        "东里",
        "东宫",
        "仲长",
        "子书",
        "子桑",
        "即墨",
        "达奚",
        "褚师",
    ]
)
_HAN = re.compile(r"^[\u3400-\u9fff]+$")
_ALREADY_MASKED = re.compile(r"[某*＊×]")
_NAME_SPLIT = re.compile(r"[（(，,、\s]")


def split_person_name(party_name: str) -> tuple[str, str]:
    """``(name, rest)``: the leading name and what follows it (``（男，1980年生）``)."""
    match = _NAME_SPLIT.search(party_name)
    if match is None:
        return party_name, ""
    return party_name[: match.start()], party_name[match.start() :]


def is_masked_name(name: str) -> bool:
    """True when ``name`` is already anonymised (张某, 张某某, 张**)."""
    return bool(_ALREADY_MASKED.search(name[1:])) if name else True


def mask_person_name(name: str) -> str:
    """Anonymise a natural person's name: the surname stays, each other character becomes 某.

    张三 → 张某, 张三丰 → 张某某, 欧阳娜娜 → 欧阳某某; a name in another script keeps its first
    letter (买买提·艾力 → 买某, John Smith → J某). Already-masked names are returned as they are.
    """
    name = name.strip()
    if not name or is_masked_name(name):
        return name
    if _HAN.match(name):
        surname = name[:2] if len(name) >= 3 and name[:2] in _COMPOUND_SURNAMES else name[:1]
        return surname + "某" * max(1, len(name) - len(surname))
    return name[0] + "某"
