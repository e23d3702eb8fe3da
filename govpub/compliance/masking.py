"""Personal numbers: found on normalised text, masked where they are written.

:func:`find_numbers` reads a :class:`~govpub.compliance.normalize.TextView` and
returns what to mask; :func:`mask_text` does both for a plain string. Rules and
legal sources: :mod:`govpub.compliance.rules`.

How a number is found. Digits, and the separators people put between groups of
them (spaces of every width, hyphens and dashes, dots, slashes, brackets), form a
*chain*: ``430203-19851111-1009``, ``(139)0080-7233``, ``0731-2288 1236``. Within a
chain, every run of adjacent groups is a candidate, tried in this order:

1. an identity number — 18 characters with a valid GB 11643 check character and
   birth date — and a bank card (16–19 digits passing Luhn) are masked wherever they
   stand: inside a 文号 or ``第…号``, before 元 or 万, after any label;
2. a 15-digit identity number (birth date checked);
3. after 账号/账户/卡号 (``Scope.FULL``), the account number;
4. a mobile number (1[3-9] and 9 digits, with or without +86);
5. (``Scope.FULL``) a landline with its area code (``0731-22881234``,
   ``+86-731-22881240``), or a local number after 电话/拨打/联系方式… — unless it
   is an organisation's published line: after 咨询电话, 联系电话, 办公电话, 举报电话
   (and the like) of an organisation named just before the label (…局, …中心,
   …公司). Service numbers (12345, 95588, 400-…) never match.

What keeps its protection — from everything but an identity number, and from
cards too when it is a credit code — is the thing itself, not what surrounds a
number: a date (``2023-05-08``), an amount (the digits right before 元/万/亿), the
serial of a 文号 (``〔2023〕12号``, ``第12号``: from landlines and accounts only — a
mobile number there is masked), and a 统一社会信用代码 (the event's own, or one
with a valid GB 32100 check after 信用代码). A number that merely *contains* a
protected piece is not protected.

Masking replaces digits with ``*`` in the original text (identity numbers keep the
6-digit area code, mobiles the first 3 and last 4 digits, landlines the area code,
cards and accounts the last 4), so separators and everything around stay as written
and the result has no number any detector would match again (masking is idempotent).
"""

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum

from govpub.compliance import rules
from govpub.compliance.identifiers import is_credit_code, is_id15, is_id18, luhn_ok
from govpub.compliance.normalize import TextView, digit_run, view

MASK = "*"
ADDRESS_MASK = "***"


class Scope(Enum):
    """Which numbers to mask."""

    PERSONAL = "personal"
    """Identity numbers, bank cards and mobile numbers: in every kind of document."""
    FULL = "full"
    """Also landlines, labelled accounts (and addresses when asked): penalty and exposure
    text, where the numbers are a party's."""


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``original[start:end]`` with ``replacement`` (``rule`` says why)."""

    start: int
    end: int
    replacement: str
    rule: str


@dataclass(frozen=True)
class Detection:
    """One number (or address) found: its rule and the edits that mask it."""

    rule: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class Masked:
    """The masked text and how many matches of each rule were masked."""

    text: str
    counts: dict[str, int]

    @property
    def changed(self) -> bool:
        """Whether anything was masked."""
        return bool(self.counts)


# --- chains of digit groups ----------------------------------------------------------
_SEPARATORS = r"\s\-\u2010-\u2015\u2212\u2043\uFE58_.\u00B7\u2022\u2027\u30FB/\\|~()\[\]"
_CHAIN = re.compile(
    rf"(?<![0-9])[0-9]+(?:[{_SEPARATORS}]{{1,4}}[0-9]+)*(?:[{_SEPARATORS}]{{0,2}}[Xx](?![A-Za-z0-9]))?"
)
_GROUP = re.compile(r"[0-9]+|[Xx]$")
_RAW_SEPARATORS = _SEPARATORS + "\uff08\uff09\uff0d\uff0e\uff0f\uff3b\uff3d\uff3f\uff5c\uff5e"

_MAX_DIGITS = 21  # 0086 + an 11-digit mobile, 86 + area + local, a 19-digit card

# --- context around a chain (on the view: full-width punctuation is ASCII there) ------
_LABEL_TAIL = r"\s*(?:号码)?\s*(?:为|是)?\s*:?\s*[(\[]?\s*$"
_PHONE_LABEL = re.compile(
    rf"(?:电话|手机|座机|固话|传真|联系方式|号码|热线|Tel|TEL|tel|拨打|致电|来电|呼叫){_LABEL_TAIL}"
)
_OFFICE_SUBJECT = (
    r"(?:局|委|办|厅|院|站|队|处|科|中心|政府|机关|公司|集团|窗口|大厅|平台|部门|单位|街道|社区|"
    r"协会|银行|医院|学校|热线|服务台|管委会|派出所|法院|检察院)"
)
_OFFICE_LABEL = re.compile(
    rf"{_OFFICE_SUBJECT}(?:的)?\s*(?:咨询|联系|办公|举报|投诉|监督|服务|值班|受理)(?:电话|热线)"
    rf"{_LABEL_TAIL}"
)
_LIST_GAP = re.compile(r"^\s*(?:、|,|;|或|和|及|/)\s*$")
_ACCOUNT_LABEL = re.compile(
    r"(?:银行账号|银行帐号|开户账号|账号|帐号|账户|帐户|银行卡号|卡号|银行卡)\s*(?:为|是)?\s*:?\s*$"
)
_CREDIT_LABEL = re.compile(r"(?:统一社会信用代码|社会信用代码|信用代码)\s*(?:为|是)?\s*:?\s*$")
_ORG_CODE_LABEL = re.compile(r"(?:注册号|组织机构代码|纳税人识别号|税号)\s*(?:为|是)?\s*:?\s*$")
_AMOUNT_AFTER = re.compile(r"\s*(?:元|万|亿|圆|块|美元|港元|欧元)")
_AMOUNT_BEFORE = re.compile(r"(?:¥|RMB|人民币)\s*$")
_SERIAL_BEFORE = re.compile(r"(?:第|[〔\[【(]\s*[0-9]{4}\s*[〕\]】)]\s*第?)\s*$")
_SERIAL_AFTER = re.compile(r"\s*号")
_CODE_TOKEN = re.compile(
    r"(?<![0-9A-Za-z])(?=[0-9]*[A-HJ-NPQRTUWXY])[0-9A-HJ-NPQRTUWXY]{18}(?![0-9A-Za-z])"
)
"""Shaped like a 统一社会信用代码 and holding a letter: a code, not a card or phone."""
_YEAR_IN_BRACKETS = re.compile(r"[(\[【〔]\s*$")
_BRACKET_CLOSE = re.compile(r"^\s*[)\]】〕]\s*$")
_DATE_SHAPE = re.compile(r"^([0-9]{4})[-/.]([0-9]{1,2})(?:[-/.]([0-9]{1,2}))?$")
_CONTEXT = 48

_ADDRESS = re.compile(
    r"(?:家庭住址|现住址|户籍地址|户籍所在地|户籍地|居住地址|居住地|住址|住所地|住所)"
    r"\s*(?:为|是|在)?\s*:?\s*(?P<address>[^,，。;；\n()（）:：]{2,80})"
)
_ADDRESS_PART = r"[^,，。;；\n()（）:：]"
_ADDRESS_UNWORDED = re.compile(
    # How decisions write where a person lives without a label: "…，男，住湖南省株洲市…",
    # "家住…", "现住…". A bare 住 only after a separator and not starting a word of its own
    # (住房, 住宿, 住院, 住建…), and only before a place: an administrative unit or a street.
    r"(?:(?:家住|现住|暂住|居住在|住在)|(?<=[,，、(（;；\s])住(?![房宿院建户址所]))"
    rf"(?P<address>(?={_ADDRESS_PART}{{0,15}}?(?:省|市|县|区|镇|乡|村|街道|路|街|巷|小区|号))"
    rf"{_ADDRESS_PART}{{2,80}})"
)


_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])(?P<local>[A-Za-z0-9][A-Za-z0-9._%+-]{0,63})@"
    r"(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
)
_GOVERNMENT_MAIL = re.compile(r"(?:^|\.)gov\.cn$", re.IGNORECASE)
_IM_ACCOUNT = re.compile(
    r"(?:(?:QQ|qq)\s*(?:号码|号)?|微信\s*(?:号|账号)?|WeChat|wechat)\s*(?:为|是)?\s*:?\s*"
    r"(?P<account>[A-Za-z0-9][A-Za-z0-9_-]{4,19})(?![A-Za-z0-9_-])"
)
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE = re.compile(
    rf"(?<![A-Za-z0-9])(?P<plate>[{_PROVINCES}][A-HJ-NP-Z][\s·.-]?"
    r"(?P<serial>[A-HJ-NP-Z0-9]{4,5}[A-HJ-NP-Z0-9挂学]))(?![A-Za-z0-9])"
)
PERSONAL_DETAIL_HINT = re.compile(rf"住|居|户籍|[@＠]|QQ|qq|微信|WeChat|wechat|[{_PROVINCES}]")
"""A cheap test on raw text: could it hold an address, a contact or a plate at all."""


class _Kind(Enum):
    ID18 = rules.ID_NUMBER.id
    ID15 = "id15"
    CARD = rules.BANK_CARD.id
    ACCOUNT = rules.BANK_ACCOUNT.id
    MOBILE = rules.MOBILE_NUMBER.id
    LANDLINE = rules.LANDLINE_NUMBER.id
    LOCAL = "local"


_RULE = {
    _Kind.ID18: rules.ID_NUMBER.id,
    _Kind.ID15: rules.ID_NUMBER.id,
    _Kind.CARD: rules.BANK_CARD.id,
    _Kind.ACCOUNT: rules.BANK_ACCOUNT.id,
    _Kind.MOBILE: rules.MOBILE_NUMBER.id,
    _Kind.LANDLINE: rules.LANDLINE_NUMBER.id,
    _Kind.LOCAL: rules.LANDLINE_NUMBER.id,
}

# What each protected thing shields (an identity number is never shielded).
_SHIELD_AMOUNT = frozenset({_Kind.ID15, _Kind.ACCOUNT, _Kind.MOBILE, _Kind.LANDLINE, _Kind.LOCAL})
_SHIELD_DATE = _SHIELD_AMOUNT
_SHIELD_SERIAL = frozenset({_Kind.ACCOUNT, _Kind.LANDLINE, _Kind.LOCAL})
_SHIELD_CREDIT = frozenset(
    {_Kind.CARD, _Kind.ID15, _Kind.ACCOUNT, _Kind.MOBILE, _Kind.LANDLINE, _Kind.LOCAL}
)
_SHIELD_ORG_CODE = frozenset({_Kind.ACCOUNT, _Kind.MOBILE, _Kind.LANDLINE, _Kind.LOCAL})


def _is_date(text: str) -> bool:
    match = _DATE_SHAPE.match(text)
    if match is None:
        return False
    year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3) or 1)
    try:
        date(year, month, day)
    except ValueError:
        return False
    return 1900 <= year <= 2100


def _landline_split(digits: str) -> int | None:
    """Length of the area code of a landline written with it (``0731`` + 7–8 digits), or
    ``None`` if ``digits`` is not one."""
    if len(digits) < 10 or digits[0] != "0" or digits[1] == "0" or not digits.isdigit():
        return None
    # 010 and 02x have 3 digits, the others 4: try the usual length first.
    for area in (3, 4) if digits[1] in "12" else (4, 3):
        local = digits[area:]
        if 7 <= len(local) <= 8 and local[0] in "23456789":
            return area
    return None


@dataclass
class _Chain:
    start: int
    end: int
    groups: list[tuple[int, int]]  # view spans of the digit groups (an X is its own group)
    text: str  # the view's text of the chain
    shields: list[tuple[int, int, frozenset[_Kind]]]  # (first group, last group, kinds)
    first: int  # the first group a number may start at (1 after a 文号's year)
    dates: list[tuple[int, int]]  # groups that write a date (2023-05-08): part of no number
    plus: bool  # written with a leading +
    account: bool
    local_label: bool
    office: bool


class _NumberScanner:
    def __init__(self, text_view: TextView, scope: Scope, keep: Sequence[str]) -> None:
        self.view = text_view
        self.text = text_view.text
        self.scope = scope
        self.keep = keep
        self.detections: list[Detection] = []
        self.codes = [
            m.span() for m in _CODE_TOKEN.finditer(self.text) if not is_id18(m.group().upper())
        ]

    def scan(self) -> list[Detection]:
        previous: _Chain | None = None
        for match in _CHAIN.finditer(self.text):
            chain = self._chain(match, previous)
            self._scan_chain(chain)
            previous = chain
        return self.detections

    # context -------------------------------------------------------------------------
    def _before(self, start: int) -> str:
        return self.text[max(0, start - _CONTEXT) : start]

    def _chain(self, match: re.Match[str], previous: _Chain | None) -> _Chain:
        start, end = match.span()
        groups = [g.span() for g in _GROUP.finditer(self.text, start, end)]
        before = self._before(start)
        chain_text = self.text[start:end]
        full = self.scope is Scope.FULL
        office = bool(full and _OFFICE_LABEL.search(before))
        if full and not office and previous is not None and previous.office:
            office = bool(_LIST_GAP.match(self.text[previous.end : start]))
        chain = _Chain(
            start=start,
            end=end,
            groups=groups,
            text=chain_text,
            shields=[],
            first=0,
            dates=self._dates(groups),
            plus=before.endswith("+"),
            account=full and bool(_ACCOUNT_LABEL.search(before)),
            local_label=full and bool(_PHONE_LABEL.search(before)),
            office=office,
        )
        last = len(groups) - 1
        if (
            last >= 1
            and _YEAR_IN_BRACKETS.search(before)
            and re.fullmatch(r"(?:19|20)[0-9]{2}", self.text[groups[0][0] : groups[0][1]])
            and _BRACKET_CLOSE.match(self.text[groups[0][1] : groups[1][0]])
            and _SERIAL_AFTER.match(self.text, end)
        ):
            # 株政办发(1990)1000000号: the year of a 文号 is no digit group of its serial.
            chain.first = 1
        while chain.first <= last and any(
            a <= groups[chain.first][0] and groups[chain.first][1] <= b for a, b in self.codes
        ):
            # The tail of a credit code ("…BJT8N0") runs on into the next number when only
            # a space parts them: the code's digits are no part of that number.
            chain.first += 1
        if _is_date(chain_text):
            chain.shields.append((0, last, _SHIELD_DATE))
        digits = self._digits(chain, 0, last)
        in_code = any(a <= start and end <= b for a, b in self.codes)
        if (
            in_code
            or digits in self.keep
            or (_CREDIT_LABEL.search(before) and is_credit_code(digits))
        ):
            chain.shields.append((0, last, _SHIELD_CREDIT))
        elif _ORG_CODE_LABEL.search(before):
            chain.shields.append((0, last, _SHIELD_ORG_CODE))
        if _AMOUNT_AFTER.match(self.text, end) or _AMOUNT_BEFORE.search(before):
            # The amount is the last group, with the groups joined to it by "." or ",".
            first = last
            while first > 0 and self.text[groups[first - 1][1] : groups[first][0]] in (".", ","):
                first -= 1
            if _AMOUNT_BEFORE.search(before):
                first = 0
            chain.shields.append((first, last, _SHIELD_AMOUNT))
        if _SERIAL_BEFORE.search(before) and _SERIAL_AFTER.match(self.text, end):
            chain.shields.append((0, last, _SHIELD_SERIAL))
        return chain

    def _dates(self, groups: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Runs of three groups that write a date with one separator (2023-05-08, 2023/5/8)."""
        found = []
        for index in range(len(groups) - 2):
            (a, b), (c, d), (e, f) = groups[index : index + 3]
            gap = self.text[b:c]
            one_separator = len(gap) == 1 and gap in "-/." and self.text[d:e] == gap
            if one_separator and _is_date(self.text[a:f]):
                found.append((index, index + 2))
        return found

    def _digits(self, chain: _Chain, first: int, last: int) -> str:
        return "".join(self.text[s:e] for s, e in chain.groups[first : last + 1]).upper()

    def _shielded(self, chain: _Chain, first: int, last: int, kind: _Kind) -> bool:
        if kind is not _Kind.ID18 and any(a <= last and first <= b for a, b in chain.dates):
            return True  # a date is never part of a card or phone number (but of an ID, maybe)
        return any(a <= first and last <= b and kind in kinds for a, b, kinds in chain.shields)

    # detection -----------------------------------------------------------------------
    def _scan_chain(self, chain: _Chain) -> None:
        count = len(chain.groups)
        index = chain.first
        if chain.account:
            digits = self._digits(chain, 0, count - 1)
            if (
                10 <= len(digits) <= 30
                and digits.isdigit()
                and not self._valid_id_or_card(chain)
                and not self._shielded(chain, 0, count - 1, _Kind.ACCOUNT)
            ):
                self._record(chain, 0, count - 1, _Kind.ACCOUNT)
                return
        while index < count:
            found = self._best_at(chain, index)
            if found is None:
                index += 1
                continue
            last, kind = found
            self._record(chain, index, last, kind)
            index = last + 1

    def _valid_id_or_card(self, chain: _Chain) -> bool:
        return any(self._best_at(chain, i) is not None for i in range(len(chain.groups)))

    def _ranges(self, chain: _Chain, first: int) -> list[tuple[int, str]]:
        ranges: list[tuple[int, str]] = []
        digits = ""
        for last in range(first, len(chain.groups)):
            start, end = chain.groups[last]
            digits += self.text[start:end].upper()
            if len(digits) > _MAX_DIGITS:
                break
            ranges.append((last, digits))
        return ranges

    def _best_at(self, chain: _Chain, first: int) -> tuple[int, _Kind] | None:
        ranges = self._ranges(chain, first)
        for last, digits in ranges:
            if len(digits) == 18 and is_id18(digits):
                return last, _Kind.ID18
        for last, digits in reversed(ranges):
            if (
                16 <= len(digits) <= 19
                and digits.isdigit()
                and luhn_ok(digits)
                and not self._shielded(chain, first, last, _Kind.CARD)
            ):
                return last, _Kind.CARD
        for last, digits in ranges:
            if (
                len(digits) == 15
                and is_id15(digits)
                and not self._shielded(chain, first, last, _Kind.ID15)
            ):
                return last, _Kind.ID15
        for last, digits in ranges:
            if self._is_mobile(chain, first, digits) and not self._shielded(
                chain, first, last, _Kind.MOBILE
            ):
                return last, _Kind.MOBILE
        if self.scope is not Scope.FULL or chain.office:
            return None
        for last, digits in ranges:
            if self._landline_area(chain, first, digits) is not None and not self._shielded(
                chain, first, last, _Kind.LANDLINE
            ):
                return last, _Kind.LANDLINE
        if first == 0 and chain.local_label:
            for last, digits in ranges:
                if (
                    7 <= len(digits) <= 8
                    and digits[0] in "23456789"
                    and (last == len(chain.groups) - 1 or len(digits) == 8)
                    and not self._shielded(chain, first, last, _Kind.LOCAL)
                ):
                    return last, _Kind.LOCAL
        return None

    @staticmethod
    def _country(chain: _Chain, first: int, digits: str) -> str:
        """The ``86``/``0086`` prefix the number is written with, if any."""
        if digits.startswith("0086"):
            return "0086"
        if digits.startswith("86") and ((chain.plus and first == 0) or len(digits) in (13, 12, 11)):
            return "86"
        return ""

    def _is_mobile(self, chain: _Chain, first: int, digits: str) -> bool:
        if len(digits) == 11:
            return digits[0] == "1" and digits[1] in "3456789"
        prefix = self._country(chain, first, digits)
        rest = digits[len(prefix) :]
        return bool(prefix) and len(rest) == 11 and rest[0] == "1" and rest[1] in "3456789"

    def _landline_area(self, chain: _Chain, first: int, digits: str) -> int | None:
        """Digits to keep (country and area code) if ``digits`` is a landline."""
        area = _landline_split(digits)
        if area is not None:
            return area
        prefix = self._country(chain, first, digits)
        if prefix:
            area = _landline_split("0" + digits[len(prefix) :])
            if area is not None:
                return len(prefix) + area - 1
        return None

    def _record(self, chain: _Chain, first: int, last: int, kind: _Kind) -> None:
        positions = [
            index for start, end in chain.groups[first : last + 1] for index in range(start, end)
        ]
        digits = "".join(self.text[i] for i in positions)
        head, tail = 0, 0
        if kind in (_Kind.ID18, _Kind.ID15):
            head = 6
        elif kind in (_Kind.CARD, _Kind.ACCOUNT):
            tail = 4
        elif kind is _Kind.MOBILE:
            head, tail = len(digits) - 8, 4
        elif kind is _Kind.LANDLINE:
            head = self._landline_area(chain, first, digits.upper()) or 0
        masked = positions[head : len(positions) - tail]
        edits = tuple(
            Edit(origin, origin + 1, MASK, _RULE[kind])
            for origin in (self.view.origin(i) for i in masked)
        )
        self.detections.append(Detection(_RULE[kind], edits))


def has_number(text: str) -> bool:
    """Whether ``text`` (as written) might hold a number :func:`find_numbers` masks: a cheap
    test that lets most text skip the detectors."""
    # Fewer than 7 digits close together cannot make any number we mask.
    return digit_run(7, _RAW_SEPARATORS).search(text) is not None


def find_numbers(
    text_view: TextView,
    *,
    scope: Scope = Scope.FULL,
    keep: Iterable[str] = (),
    addresses: bool = False,
) -> list[Detection]:
    """Personal numbers (and, with ``addresses``, labelled home addresses) in ``text_view``.

    ``text_view`` should be the view with numerals (:meth:`TextView.numerals`); ``keep``
    lists codes never to treat as personal (the event's own credit code) unless they
    are identity numbers.
    """
    kept = tuple(literal.upper() for literal in keep if literal)
    detections = _NumberScanner(text_view, scope, kept).scan()
    if addresses and scope is Scope.FULL:
        detections += _personal_details(text_view)
    return detections


def _personal_details(text_view: TextView) -> list[Detection]:
    """A natural person's labelled address, e-mail address, QQ or WeChat account and
    vehicle plate (found on the normalised text, masked where they are written)."""
    text = text_view.text
    found: list[Detection] = []

    def masked(start: int, end: int, replacement: str | None, rule: str) -> None:
        origin_start = text_view.origin(start)
        origin_end = text_view.origin(end - 1) + 1
        value = replacement if replacement is not None else MASK * (end - start)
        found.append(Detection(rule, (Edit(origin_start, origin_end, value, rule),)))

    for pattern in (_ADDRESS, _ADDRESS_UNWORDED):
        for match in pattern.finditer(text):
            if match.group("address").strip(" *") != "":
                masked(*match.span("address"), ADDRESS_MASK, rules.HOME_ADDRESS.id)
    for match in _EMAIL.finditer(text):
        if not _GOVERNMENT_MAIL.search(match.group("domain")):
            start, end = match.span("local")
            masked(start + 1, end, None, rules.PERSONAL_CONTACT.id)
    for match in _IM_ACCOUNT.finditer(text):
        if match.group("account").strip("*") != "":
            masked(*match.span("account"), ADDRESS_MASK, rules.PERSONAL_CONTACT.id)
    for match in _PLATE.finditer(text):
        start, end = match.span("serial")
        masked(start, end - 1, None, rules.VEHICLE_PLATE.id)
    return found


def apply_edits(original: str, detections: Iterable[Detection]) -> tuple[str, dict[str, int]]:
    """``original`` with the detections' edits applied, and how many of each rule were.

    Edits that overlap an earlier one are dropped, and so is a detection left with none.
    """
    chosen: list[Edit] = []
    taken: list[tuple[int, int]] = []
    counts: Counter[str] = Counter()
    for detection in detections:
        edits = [
            edit
            for edit in detection.edits
            if not any(edit.start < end and start < edit.end for start, end in taken)
            and original[edit.start : edit.end] != edit.replacement
        ]
        if not edits:
            continue
        counts[detection.rule] += 1
        chosen.extend(edits)
        taken.extend((edit.start, edit.end) for edit in edits)
    if not chosen:
        return original, {}
    out: list[str] = []
    cursor = 0
    for edit in sorted(chosen, key=lambda e: e.start):
        out.append(original[cursor : edit.start])
        out.append(edit.replacement)
        cursor = edit.end
    out.append(original[cursor:])
    return "".join(out), dict(counts)


def mask_text(
    text: str,
    *,
    keep: Iterable[str] = (),
    addresses: bool = False,
    scope: Scope = Scope.FULL,
) -> Masked:
    """Mask personal numbers in plain ``text``; ``keep`` lists codes never to treat as
    personal (e.g. the event's credit code) unless they are identity numbers.
    ``addresses`` also masks labelled home addresses (natural persons).
    """
    keep = tuple(keep)
    counts: Counter[str] = Counter()
    for _ in range(_MAX_PASSES):
        if not has_number(text) and not addresses:
            break
        detections = find_numbers(
            view(text).numerals(), scope=scope, keep=keep, addresses=addresses
        )
        masked, found = apply_edits(text, _address_first(detections))
        if not found:
            break
        # Masking can leave a number that only stands out once its neighbour is masked: a
        # card number read across a space keeps its last four digits, which then start a
        # telephone number ("103194990404040 0104-2000000"). So mask until nothing more
        # is found, and masking masked text changes nothing.
        text = masked
        counts.update(found)
    return Masked(text, dict(counts))


_MAX_PASSES = 4
"""Masking passes over one text at most (the second nearly always finds nothing)."""


def _address_first(detections: list[Detection]) -> list[Detection]:
    """An address is masked whole: numbers inside it need no edits of their own."""
    return sorted(detections, key=lambda d: d.rule != rules.HOME_ADDRESS.id)


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
