"""Every variant of issue 12, through the gate: what leaked before must not leak now,
and what is official (office phone lines, 文号, amounts, dates, credit codes) stays."""

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from govpub.compliance.identifiers import id_check_char, luhn_check_digit
from govpub.errors import ComplianceRefusal, EventValidationError
from govpub.settings import Settings
from govpub.store import Store
from producers.compliance import ComplianceGate, build_gate
from schemas import AnyEvent, parse_event
from tests import factories

ID_NUMBER = "43020319851111100" + id_check_char("43020319851111100")
ID_BIRTH = ID_NUMBER[6:14]
CARD_613 = "622202011480901507" + luhn_check_digit("622202011480901507")
CARD_19 = "622202012257740731" + luhn_check_digit("622202012257740731")
MOBILE = "13900807233"


@pytest.fixture
def gate(make_settings: Callable[..., Settings], tmp_path: Path) -> ComplianceGate:
    store = Store(tmp_path / "state.db")
    moment = datetime.fromisoformat("2023-05-08T10:00:00+08:00")
    return build_gate(make_settings(), store, source="test", clock=lambda: moment)


def person(facts: str, party_name: str = "李建国", **payload: Any) -> dict[str, Any]:
    return factories.penalty(
        party_type="自然人",
        party_name=party_name,
        title="违法储存危险化学品行政处罚决定",
        facts=facts,
        **payload,
    )


def facts_of(gate: ComplianceGate, raw: dict[str, Any]) -> str:
    event = gate(parse_event(raw))
    return str(event.payload.facts)  # type: ignore[union-attr]


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


@pytest.mark.parametrize(
    "written",
    [
        f"{ID_NUMBER[:6]}-{ID_NUMBER[6:14]}-{ID_NUMBER[14:]}",
        f"{ID_NUMBER[:6]} {ID_NUMBER[6:10]} {ID_NUMBER[10:14]} {ID_NUMBER[14:]}",
        f"{ID_NUMBER[:6]}\u00a0{ID_NUMBER[6:]}",
        f"{ID_NUMBER[:6]}.{ID_NUMBER[6:]}",
        f"{ID_NUMBER[:6]}／{ID_NUMBER[6:]}",
        f"{ID_NUMBER[:9]}\u200b{ID_NUMBER[9:]}",
        ID_NUMBER.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    ],
)
def test_identity_numbers_with_separators(gate: ComplianceGate, written: str) -> None:
    facts = facts_of(gate, person(f"当事人身份证号{written}，经查属实。"))
    assert ID_BIRTH not in digits(
        facts.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    )
    assert facts.startswith("当事人身份证号" + written[:6])  # the area code stays, as written
    assert facts.endswith("，经查属实。")


@pytest.mark.parametrize(
    "written",
    [
        "139\u00a00080\u00a07233",
        "139–0080–7233",
        "139.0080.7233",
        "139  0080  7233",
        "(139)0080-7233",
        "+86 139 0080 7233",
        "１３９００８０７２３３",
        "一三九〇〇八〇七二三三",
    ],
)
def test_mobile_numbers_with_separators(gate: ComplianceGate, written: str) -> None:
    facts = facts_of(gate, person(f"当事人手机{written}。"))
    assert "0080" not in facts
    assert "〇〇八〇" not in facts
    assert "００８０" not in facts


@pytest.mark.parametrize(
    ("written", "local"),
    [
        ("0731-2288 1236", "1236"),
        ("0731-2288-1237", "1237"),
        ("电话：2288-1239", "1239"),
        ("+86-731-22881240", "1240"),
        ("拨打22881243", "1243"),
    ],
)
def test_landlines_with_separators(gate: ComplianceGate, written: str, local: str) -> None:
    facts = facts_of(gate, person(f"当事人联系方式：{written}。"))
    assert local not in facts


def test_a_card_grouped_six_and_thirteen(gate: ComplianceGate) -> None:
    facts = facts_of(gate, person(f"违法所得转入卡号{CARD_613[:6]} {CARD_613[6:]}。"))
    assert CARD_613[:6] not in facts
    assert CARD_613[6:-4] not in facts


@pytest.mark.parametrize(
    "written",
    [
        f"第{MOBILE}号",
        f"转账{CARD_19}元",
        f"纳税人识别号：{ID_NUMBER}",
        f"决定书〔2023〕{ID_NUMBER}号",
        f"罚款{ID_NUMBER}万元",
    ],
)
def test_protected_shapes_do_not_shield_numbers_that_check_out(
    gate: ComplianceGate, written: str
) -> None:
    facts = facts_of(gate, person(f"经查，{written}。"))
    assert not any(secret in facts for secret in (MOBILE, CARD_19, ID_NUMBER))


def test_an_identity_number_as_credit_code_is_refused(gate: ComplianceGate) -> None:
    # GB 32100 passes one identity number in 31: the gate refuses what the schema lets through.
    raw = factories.penalty(facts=f"当事人编号{ID_NUMBER}。")
    if not _credit_code_valid(ID_NUMBER):
        with pytest.raises(EventValidationError) as schema:
            parse_event({**raw, "payload": {**raw["payload"], "credit_code": ID_NUMBER}})
        assert "credit_code" in str(schema.value)
    code = _identity_passing_gb32100()
    event = parse_event({**raw, "payload": {**raw["payload"], "credit_code": code}})
    with pytest.raises(ComplianceRefusal) as info:
        gate(event)
    assert info.value.rule == "id_number"
    assert [e.path for e in info.value.errors] == ["payload.credit_code"]


def test_a_natural_person_has_no_credit_code() -> None:
    raw = factories.penalty(
        party_type="自然人", party_name="李建国", credit_code="91430211MA4PXR123G"
    )
    with pytest.raises(EventValidationError) as info:
        parse_event(raw)
    assert "natural person" in str(info.value)


def test_official_numbers_keep_their_protection(gate: ComplianceGate) -> None:
    text = (
        "株洲示例化工有限公司（统一社会信用代码91430211MA4PXR123G）于2023-05-05被（株）应急罚"
        "〔2023〕12号、第22881234号决定处以罚款50000.00元、13907331234元。"
    )
    assert facts_of(gate, factories.penalty(facts=text)) == text


# --- names ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("party_name", "facts", "gone", "kept"),
    [
        ("王伟", "当事人王　伟在王府井经营。", ["王　伟"], ["王府井", "王　某"]),
        ("王　伟", "当事人王伟在王府井经营，王某府。", ["王伟"], ["王府井", "王某府"]),
        ("李建国", "当事人李 建国称不知情。", ["李 建国", "建国"], ["李 某某"]),
        ("李建国", "当事人李建國称不知情。", ["李建國", "建國"], ["李某某"]),
        ("李建国", "当事人\uf9e1建国称不知情。", ["建国"], []),
        ("李建国", "当事人李\u200b建国称不知情。", ["建国"], []),
        ("李建国", "建国称不知情，李建国认可。", ["建国"], ["某某称", "李某某认可"]),
        ("当事人李建国", "李建国称不知情。", ["建国"], ["李某某称"]),
        ("李建国、王小明", "李建国与王小明合伙。", ["建国", "小明"], ["李某某与王某某"]),
        ("李建国和王小明", "李建国与王小明合伙。", ["建国", "小明"], []),
        ("李建國", "当事人李建国称不知情。", ["建国"], []),
    ],
)
def test_party_names_in_every_spelling(
    gate: ComplianceGate, party_name: str, facts: str, gone: list[str], kept: list[str]
) -> None:
    event = gate(parse_event(person(facts, party_name=party_name)))
    payload = event.payload
    for text in (payload.facts, payload.party_name):  # type: ignore[union-attr]
        for secret in gone:
            assert secret not in text
    for word in kept:
        assert word in payload.facts  # type: ignore[union-attr]


def test_every_co_party_is_masked_in_the_party_name(gate: ComplianceGate) -> None:
    event = gate(parse_event(person("经查属实。", party_name="李建国、王小明；张三")))
    assert event.payload.party_name == "李某某、王某某；张某"  # type: ignore[union-attr]


def test_an_individual_business_named_after_its_operator(gate: ComplianceGate) -> None:
    raw = factories.penalty(
        party_type="个体工商户",
        party_name="李建国五金店",
        facts="李建国五金店经营者李建国无证经营。",
    )
    event = gate(parse_event(raw))
    assert event.payload.party_name == "李某某五金店"  # type: ignore[union-attr]
    assert "建国" not in event.payload.facts  # type: ignore[union-attr]


def test_the_decision_number_is_scanned(gate: ComplianceGate) -> None:
    event = gate(parse_event(person("经查属实。", decision_number="株应急罚〔2023〕李建国号")))
    assert event.payload.decision_number == "株应急罚〔2023〕李某某号"  # type: ignore[union-attr]
    numbered = gate(
        parse_event(person("经查属实。", decision_number=f"株应急罚〔2023〕{MOBILE}号"))
    )
    assert MOBILE not in numbered.payload.decision_number  # type: ignore[union-attr]


def _exposure(document_id: str, **payload: Any) -> dict[str, Any]:
    body = {"title": "典型案例", "domain": "安全生产", "candidate_quarter": "2023Q2", **payload}
    return factories.envelope("exposure", document_id, 1, body, department="zz-yjj")


def test_exposures_are_masked_with_the_party_of_the_decision_they_cite(
    gate: ComplianceGate,
) -> None:
    gate(parse_event(person("经查属实。", party_name="王大明", document_id="pen-wdm")))
    summary = "王大明（个体，手机139 0150 2391）非法储存危险化学品，王大明称不知情。"
    candidate = gate(parse_event(_exposure("exp-c1", case_summary=summary, decision_ref="pen-wdm")))
    text = candidate.payload.case_summary  # type: ignore[union-attr]
    assert "大明" not in text
    assert "0150" not in text
    batch = gate(
        parse_event(
            _exposure(
                "exp-b1",
                cases=[
                    {
                        "title": "王大明非法储存案",
                        "case_summary": summary,
                        "decision_ref": "pen-wdm",
                    }
                ],
            )
        )
    )
    case = batch.payload.cases[0]  # type: ignore[union-attr]
    assert "大明" not in case.title
    assert "大明" not in case.case_summary


def test_an_exposure_citing_an_unknown_decision_is_flagged(gate: ComplianceGate) -> None:
    verdict = gate.check(
        parse_event(_exposure("exp-u", case_summary="某案。", decision_ref="nowhere"))
    )
    assert [(f.rule, f.field) for f in verdict.flags] == [("party_name", "payload.decision_ref")]


def test_withdrawal_reasons_are_masked_with_the_party(gate: ComplianceGate) -> None:
    gate(parse_event(person("经查属实。", party_name="李建国", document_id="pen-ljg")))
    reason = f"当事人李建国（手机{MOBILE}）已缴清罚款，李建国申请撤回。"
    retraction = gate(parse_event(factories.retract("penalty", "pen-ljg", 2, reason=reason)))
    text = retraction.payload.reason  # type: ignore[union-attr]
    assert "建国" not in text
    assert MOBILE not in text


# --- every kind ---------------------------------------------------------------------------
def _kinds(text: str) -> list[dict[str, Any]]:
    return [
        factories.policy(body=f"<p>{text}</p>", title="公示"),
        factories.envelope(
            "meeting",
            "m-1",
            1,
            {
                "title": "常务会议",
                "meeting_type": "常务会议",
                "held_on": "2023-05-05",
                "press_release": f"<p>{text}</p>",
                "decisions": [text],
            },
        ),
        factories.envelope(
            "campaign",
            "c-1",
            1,
            {
                "title": "主题日",
                "theme": "耕地保护",
                "day": "2023-05-05",
                "phase": "day",
                "body": f"<p><b>{text[:8]}</b>{text[8:]}</p>",
            },
        ),
    ]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_every_kind_masks_identity_card_and_mobile_numbers(
    gate: ComplianceGate, index: int
) -> None:
    text = f"公示名单：身份证号{ID_NUMBER}，补贴卡号{CARD_19}，手机{MOBILE}。"
    event = gate(parse_event(_kinds(text)[index]))
    dumped = event.model_dump_json()
    for secret in (ID_NUMBER, CARD_19, MOBILE, ID_BIRTH):
        assert secret not in dumped


@pytest.mark.parametrize("index", [0, 1, 2])
def test_published_office_lines_and_service_numbers_stay(gate: ComplianceGate, index: int) -> None:
    text = "市应急管理局咨询电话：0731-28681234，举报电话12350，服务热线12345、400-888-1234。"
    event = parse_event(_kinds(text)[index])
    assert gate(event) == event


def test_office_lines_stay_in_penalties_and_personal_lines_go(gate: ComplianceGate) -> None:
    office = "株洲市应急管理局联系电话：0731-28681234、0731-28681235；举报电话12350。"
    personal = "当事人联系电话：0731-22881236。"
    facts = facts_of(gate, person(office + personal))
    assert office in facts
    assert "22881236" not in facts


@pytest.mark.parametrize(
    "body",
    [
        "<p>手机139&nbsp;0080&nbsp;7233</p>",
        "<p>手机139\u00a00080\u00a07233</p>",
        "<p>手机&#49;&#51;&#57;&#48;&#48;&#56;&#48;&#55;&#50;&#51;&#51;</p>",
        "<p>手机<span>139</span><i>0080</i>7233</p>",
    ],
)
def test_numbers_in_html_bodies_in_any_spelling(gate: ComplianceGate, body: str) -> None:
    event = gate(parse_event(factories.policy(body=body)))
    assert "0080" not in event.payload.body  # type: ignore[union-attr]


def test_html_markup_is_kept_and_only_text_is_masked(gate: ComplianceGate) -> None:
    body = f'<p>手机<b>139</b>0080<a href="https://example.org/{MOBILE}">7233</a></p>'
    event = gate(parse_event(factories.policy(body=body)))
    cleaned = event.payload.body  # type: ignore[union-attr]
    assert "0080" not in cleaned.split("<a")[0]
    assert f'href="https://example.org/{MOBILE}"' in cleaned  # markup is never rewritten
    assert cleaned.count("<b>") == 1
    assert "</a></p>" in cleaned


def test_the_gate_stays_idempotent_on_every_variant(gate: ComplianceGate) -> None:
    raw = person(
        f"李 建国（身份证{ID_NUMBER[:6]}-{ID_NUMBER[6:]}，手机(139)0080-7233，卡号{CARD_613[:6]} "
        f"{CARD_613[6:]}，电话0731-2288 1236）称不知情。",
        party_name="当事人：李建国、王小明",
    )
    once: AnyEvent = gate(parse_event(raw))
    assert gate.protector.protect(once).event == once
    assert not gate.protector.protect(once).changed


def _credit_code_valid(value: str) -> bool:
    from schemas.codes import is_credit_code

    return is_credit_code(value)


def _identity_passing_gb32100() -> str:
    """An identity number that is also a valid credit code (about one in 31 are)."""
    from schemas.codes import is_credit_code

    for sequence in range(1000):
        first17 = f"43020319851111{sequence:03d}"
        candidate = first17 + id_check_char(first17)
        if is_credit_code(candidate):
            return candidate
    raise AssertionError("no identity number passes GB 32100")  # pragma: no cover


def test_emit_refuses_what_cannot_be_made_safe_and_keeps_what_was_accepted(
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from govpub.app.cli import main
    from tests.unit.test_channel_guard import deliver

    settings = make_settings()
    for name, value in (
        ("GOVPUB_BUS", settings.bus),
        ("GOVPUB_STORE", str(settings.store)),
        ("GOVPUB_OUTPUT_DIR", str(settings.output_dir)),
        ("GOVPUB_TOPIC_PREFIX", settings.topic_prefix),
    ):
        monkeypatch.setenv(name, value)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(factories.penalty("pen-ok")), "utf-8")
    assert main(["emit", str(good)]) == 0
    bad = tmp_path / "bad.json"
    raw = factories.penalty("pen-bad")
    raw["payload"]["credit_code"] = _identity_passing_gb32100()
    bad.write_text(json.dumps(raw), "utf-8")
    assert main(["emit", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "payload.credit_code" in err
    assert "identity number" in err
    with Store(settings.store) as store:
        delivered = deliver(settings, store).applied
    assert [e.document_id for e in delivered] == ["pen-ok"]


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("document_id", factories.policy(f"gs-{ID_NUMBER}")),
        (
            "payload.attachments.0.url",
            factories.policy(
                attachments=[{"title": "名单", "url": f"https://x.example/?m={MOBILE}"}]
            ),
        ),
    ],
)
def test_a_personal_number_in_a_code_or_url_is_refused(
    gate: ComplianceGate, path: str, raw: dict[str, Any]
) -> None:
    with pytest.raises(ComplianceRefusal) as info:
        gate(parse_event(raw))
    assert [e.path for e in info.value.errors] == [path]


def test_an_identity_number_with_a_detached_check_character(gate: ComplianceGate) -> None:
    first17 = "43020319851111100"
    facts = facts_of(gate, person(f"身份证号{first17} {id_check_char(first17)}。"))
    assert ID_BIRTH not in facts


@pytest.mark.parametrize(
    ("written", "secret", "kept"),
    [
        ("邮箱 liwei1985@qq.com", "iwei1985", "@qq.com"),
        ("邮箱ｌｉｗｅｉ＠１６３．ｃｏｍ", "ｉｗｅｉ", "＠１６３．ｃｏｍ"),
        ("QQ号 123456789", "123456789", "QQ号"),
        ("微信号：liwei_1985", "liwei_1985", "微信号"),
        ("驾驶湘B12345号小型轿车", "1234", "湘B"),
        ("车牌湘B·D12345", "D1234", "湘B·"),
    ],
)
def test_a_natural_persons_contacts_and_plate(
    gate: ComplianceGate, written: str, secret: str, kept: str
) -> None:
    facts = facts_of(gate, person(f"经查，当事人{written}。"))
    assert secret not in facts
    assert kept in facts


@pytest.mark.parametrize(
    "written",
    ["可发送至zzyjj@zhuzhou.gov.cn", "备案号粤B2-20090059", "型号为HX5000A的设备"],
)
def test_offices_mail_and_codes_that_are_no_plates_stay(gate: ComplianceGate, written: str) -> None:
    assert written in facts_of(gate, person(f"经查，{written}。"))


def test_a_companys_contacts_stay(gate: ComplianceGate) -> None:
    """An organisation's mailbox and lorry are not a person's details."""
    text = "经查，该公司（邮箱 sales@example.com，车辆湘B12345）"
    assert text in facts_of(gate, factories.penalty(facts=text + "。"))
