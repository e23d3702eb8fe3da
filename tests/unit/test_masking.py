"""The personal-data maskers: nothing personal survives, nothing official is touched.

Properties are checked with hypothesis over generated identity, phone and card
numbers (valid by construction: GB 11643 check character, Luhn digit) embedded in
Chinese text, next to the things that must stay: 文号, dates, amounts and
统一社会信用代码.
"""

import re
from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from govpub.compliance.identifiers import (
    CREDIT_CODE_ALPHABET,
    credit_code_check_char,
    id_check_char,
    is_credit_code,
    is_id15,
    is_id18,
    luhn_check_digit,
    luhn_ok,
)
from govpub.compliance.masking import mask_person_name, mask_text, split_person_name

FULL_WIDTH = str.maketrans({str(i): chr(0xFF10 + i) for i in range(10)})
TO_ASCII = str.maketrans({chr(0xFF10 + i): str(i) for i in range(10)} | {"Ｘ": "X"})

# Text around the numbers: words from penalty decisions and punctuation. No digits, and
# none of the characters that make a number something else (元 万 亿 圆 号 年 月 日 第).
CONTEXT = st.text(
    alphabet="当事人经查该公司未按规定对重大危险源进行定期检测评估处以依据作出决定书湖南省株洲荷塘区"
    "联系方式身份证为，。；：、（）《》 \n",
    min_size=1,
    max_size=12,
)
"""At least one character: numbers glued to each other are one different number."""


def _digits(draw: st.DrawFn, n: int) -> str:
    return "".join(draw(st.sampled_from("0123456789")) for _ in range(n))


@st.composite
def id18(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from("123456789")) + _digits(draw, 5)
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
    first17 = area + born.strftime("%Y%m%d") + _digits(draw, 3)
    number = first17 + id_check_char(first17)
    if draw(st.booleans()):
        number = number[:6] + " " + number[6:14] + " " + number[14:]
    if number.endswith("X") and draw(st.booleans()):
        number = number[:-1] + "x"
    return number


@st.composite
def id15(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from("123456789")) + _digits(draw, 5)
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)))
    return area + born.strftime("%y%m%d") + _digits(draw, 3)


@st.composite
def mobile(draw: st.DrawFn) -> str:
    number = "1" + draw(st.sampled_from("3456789")) + _digits(draw, 9)
    sep = draw(st.sampled_from(["", " ", "-"]))
    number = f"{number[:3]}{sep}{number[3:7]}{sep}{number[7:]}"
    return draw(st.sampled_from(["", "+86 ", "+86", "86-", "0086 "])) + number


@st.composite
def landline(draw: st.DrawFn) -> str:
    area = "0" + draw(st.sampled_from("123456789")) + _digits(draw, draw(st.integers(1, 2)))
    local = draw(st.sampled_from("23456789")) + _digits(draw, draw(st.integers(6, 7)))
    form = draw(st.sampled_from(["{a}-{l}", "{a}{l}", "({a}){l}", "（{a}）{l}", "{a} {l}"]))
    return form.format(a=area, l=local)


@st.composite
def card(draw: st.DrawFn) -> str:
    length = draw(st.integers(16, 19))
    payload = draw(st.sampled_from("3456789")) + _digits(draw, length - 2)
    number = payload + luhn_check_digit(payload)
    if draw(st.booleans()):
        sep = draw(st.sampled_from([" ", "-"]))
        number = sep.join(number[i : i + 4] for i in range(0, len(number), 4))
    return number


@st.composite
def credit_code(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from("159ANY")) + draw(st.sampled_from("123459"))
    region = _digits(draw, 6)
    org = "".join(draw(st.sampled_from(CREDIT_CODE_ALPHABET)) for _ in range(9))
    first17 = head + region + org
    return first17 + credit_code_check_char(first17)


@st.composite
def doc_number(draw: st.DrawFn) -> str:
    prefix = draw(
        st.sampled_from(
            ["株政办发", "株政发", "湘政办发", "（株）应急罚", "株市监处罚", "株应急罚字"]
        )
    )
    left, right = draw(st.sampled_from([("〔", "〕"), ("[", "]"), ("（", "）"), ("【", "】")]))
    year = draw(st.integers(1990, 2035))
    # A serial shaped like a mobile number (1[3-9] + 9 digits) is masked like one: 第13900823887号.
    number = draw(st.integers(1, 10**12).filter(lambda n: not re.fullmatch(r"1[3-9]\d{9}", str(n))))
    return f"{prefix}{left}{year}{right}{draw(st.sampled_from(['', '第']))}{number}号"


@st.composite
def a_date(draw: st.DrawFn) -> str:
    day = draw(st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)))
    form = draw(
        st.sampled_from(["%Y年%-m月%-d日", "%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日"])
    )
    return day.strftime(form)


@st.composite
def amount(draw: st.DrawFn) -> str:
    value = draw(st.integers(0, 10**12))
    cents = draw(st.integers(0, 99))
    form = draw(st.sampled_from(["plain", "cents", "grouped", "wan"]))
    if form == "plain":
        return f"{value}元"
    if form == "cents":
        return f"{value}.{cents:02d}元"
    if form == "grouped":
        return f"{value:,}.{cents:02d}元"
    return f"{value % 100_000}万元"


def _personal(draw: st.DrawFn) -> str:
    return draw(st.one_of(id18(), id15(), mobile(), card(), landline()))


def _digits_of(text: str) -> str:
    return re.sub(r"[\s\-+()（）]", "", text.translate(TO_ASCII)).upper()


def assert_nothing_personal(text: str) -> None:
    """No run of digits in ``text`` is a valid identity, mobile or card number."""
    for run in re.findall(r"[0-9X]+", _digits_of(text)):
        assert not is_id18(run), run
        assert not is_id15(run), run
        assert not (16 <= len(run) <= 19 and luhn_ok(run)), run
        assert not re.search(r"1[3-9][0-9]{9}", run), run


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_no_identity_phone_or_card_number_survives(data: st.DataObject) -> None:
    pieces, secrets = [], []
    for _ in range(data.draw(st.integers(1, 4))):
        value = _personal(data.draw)
        if data.draw(st.booleans()):
            value = value.translate(FULL_WIDTH)
        pieces += [data.draw(CONTEXT), value]
        secrets.append(value)
    text = "".join([*pieces, data.draw(CONTEXT)])
    masked = mask_text(text).text
    for secret in secrets:
        assert _digits_of(secret) not in _digits_of(masked)
    assert_nothing_personal(masked)
    assert len(masked) == len(text)  # masking replaces characters, it never moves text


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_doc_numbers_dates_amounts_and_credit_codes_are_left_alone(data: st.DataObject) -> None:
    official, pieces, secrets = [], [], []
    for _ in range(data.draw(st.integers(1, 5))):
        kind = data.draw(st.sampled_from(["doc", "date", "amount", "code", "labelled", "pii"]))
        if kind == "pii":
            secrets.append(_personal(data.draw))
            pieces += [data.draw(CONTEXT), secrets[-1]]
            continue
        if kind == "doc":
            value = data.draw(doc_number())
        elif kind == "date":
            value = data.draw(a_date())
        elif kind == "amount":
            value = data.draw(amount())
        else:
            value = data.draw(credit_code())
            assume(not is_id18(value))  # an identity number is masked whatever its label
            # A code of digits only is indistinguishable from an identity or card number
            # unless it is labelled: privacy wins there, so only labelled ones must stay.
            if kind == "labelled" or value[:17].isdigit():
                value = "统一社会信用代码：" + value
        official.append(value)
        pieces += [data.draw(CONTEXT), value]
    text = "".join([*pieces, data.draw(CONTEXT)])
    masked = mask_text(text).text
    for value in official:
        assert value in masked
    for secret in secrets:
        assert secret not in masked


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_masking_is_idempotent(data: st.DataObject) -> None:
    text = "".join(data.draw(CONTEXT) + _personal(data.draw) for _ in range(3))
    once = mask_text(text)
    twice = mask_text(once.text)
    assert twice.text == once.text
    assert not twice.changed


@given(credit_code())
def test_generated_credit_codes_are_valid(code: str) -> None:
    assert is_credit_code(code)


def test_known_identity_numbers() -> None:
    # The GB 11643-1999 worked example.
    assert id_check_char("11010519491231002") == "X"
    assert is_id18("11010519491231002X")
    assert is_id18("11010519491231002x".upper())
    assert not is_id18("110105194912310021")  # wrong check character
    assert not is_id18("110105194913310027")  # month 13
    assert is_id15("110105491231002")
    assert not is_id15("110105491331002")


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    assert luhn_check_digit("411111111111111") == "1"


def test_mask_formats_and_counts() -> None:
    text = (
        "身份证号11010519491231002X，手机13812345678，电话0731-22881234，"
        "卡号6222 0212 3456 7890 128，账号 1234 5678 9012 3456 78。"
    )
    masked = mask_text(text)
    assert masked.text == (
        "身份证号110105************，手机138****5678，电话0731-********，"
        "卡号**** **** **** ***0 128，账号 **** **** **** **56 78。"
    )
    assert masked.counts == {
        "id_number": 1,
        "mobile_number": 1,
        "landline_number": 1,
        "bank_card": 1,
        "bank_account": 1,
    }


def test_invalid_numbers_are_not_masked() -> None:
    # Fails the check character / Luhn: not an identity or card number, so kept.
    text = "案件编号110105194912310021，流水号4111111111111112。"
    assert mask_text(text).text == text


def test_labelled_local_landline_and_organisation_account() -> None:
    assert mask_text("联系电话：22881234").text == "联系电话：********"
    assert mask_text("对公账户：43001234567890").text == "对公账户：**********7890"


def test_addresses_only_when_asked() -> None:
    text = "住址：湖南省株洲市荷塘区某路1号，经查"
    assert mask_text(text).text == text
    assert mask_text(text, addresses=True).text == "住址：***，经查"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "当事人张某，男，1985年1月13日出生，住湖南省株洲市芦淞区建设路12号。",
            "当事人张某，男，1985年1月13日出生，住***。",
        ),
        (
            "申请人（电话略，住株洲市芦淞区建设路12号），经营场所",
            "申请人（电话略，住***），经营场所",
        ),
        ("家住株洲市芦淞区建设路12号3栋", "家住***"),
        ("现住天元区泰山路88号，经查", "现住***，经查"),
        # 住 starting a word of its own, or with no place after it, is no address.
        ("株洲市住房和城乡建设局，住建部门", "株洲市住房和城乡建设局，住建部门"),
        (
            "，住宿费300元，住院治疗，入住酒店，他记住了",
            "，住宿费300元，住院治疗，入住酒店，他记住了",
        ),
    ],
)
def test_addresses_written_without_a_label(text: str, masked: str) -> None:
    assert mask_text(text, addresses=True).text == masked
    assert mask_text(text).text == text  # only for a natural person


def test_nothing_shields_a_valid_identity_number() -> None:
    # A number that checks out as an identity number is one, whatever it is called: not
    # the event's own credit_code (``keep``), nor a credit-code or tax-number label.
    code = "11010519491231001"
    code += id_check_char(code)
    assert mask_text(f"代码{code}").text == "代码110105************"
    assert mask_text(f"代码{code}", keep=[code]).text == "代码110105************"
    assert mask_text(f"统一社会信用代码：{code}").text == "统一社会信用代码：110105************"
    assert mask_text(f"纳税人识别号：{code}").text == "纳税人识别号：110105************"


def test_keep_and_the_label_protect_a_credit_code_that_is_no_identity_number() -> None:
    first17 = "91430200184512345"
    code = first17 + credit_code_check_char(first17)
    assert mask_text(f"代码{code}", keep=[code]).text == f"代码{code}"
    assert mask_text(f"统一社会信用代码：{code}").text == f"统一社会信用代码：{code}"


def test_a_credit_code_and_the_number_after_it_are_told_apart() -> None:
    # Only a space between the code's last digit and a card number: the digit stays the
    # code's, the card is masked (found by hypothesis: "…BJT8N0 3000000000000004").
    code = "1144310050E3BJT8N0"
    assert mask_text(f"{code} 3000000000000004").text == f"{code} ************0004"
    assert mask_text(f"{code} 13907331234").text == f"{code} 139****1234"
    identity = "43021119900101123X"  # shaped like a code, but an identity number
    assert mask_text(f"{identity} 13907331234").text == "430211************ 139****1234"


def test_organisations_and_samples_are_untouched() -> None:
    text = (
        "株洲示例化工有限公司（统一社会信用代码91430211MA4PXR123G）于2023年5月5日被（株）应急罚"
        "〔2023〕12号决定处以罚款50000.00元；举报电话12350、12345。"
    )
    assert mask_text(text).text == text


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张某"),
        ("张三丰", "张某某"),
        ("欧阳娜娜", "欧阳某某"),
        ("司马光", "司马某"),
        ("王", "王某"),
        ("张某某", "张某某"),
        ("李**", "李**"),
        ("买买提·艾力", "买某"),
        ("John Smith", "J某"),
    ],
)
def test_person_names(name: str, masked: str) -> None:
    assert mask_person_name(name) == masked


def test_split_person_name() -> None:
    assert split_person_name("张三（男，1980年生）") == ("张三", "（男，1980年生）")
    assert split_person_name("张三") == ("张三", "")
