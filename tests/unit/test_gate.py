"""The compliance gate on whole events: refusals, masking, markup, deadlines, audit."""

import logging
import sqlite3
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from govpub.app.demo import load_samples
from govpub.compliance.identifiers import id_check_char, luhn_check_digit
from govpub.compliance.protect import Finding
from govpub.compliance.rules import RULES, Decision
from govpub.errors import ComplianceRefusal
from govpub.settings import Settings
from govpub.store import Store
from producers.compliance import ComplianceGate, build_gate
from schemas import EnforcementEvent, LicenceEvent, PenaltyEvent, parse_event
from tests import factories

ID_NUMBER = "43021119900101123" + id_check_char("43021119900101123")
CARD = "622202123456789012" + luhn_check_digit("622202123456789012")
PHONE = "13812345678"


def at(day: str) -> Callable[[], datetime]:
    moment = datetime.fromisoformat(f"{day}T10:00:00+08:00")
    return lambda: moment


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "state.db") as opened:
        yield opened  # type: ignore[misc]


@pytest.fixture
def make_gate(
    make_settings: Callable[..., Settings], store: Store
) -> Callable[..., ComplianceGate]:
    def build(day: str = "2023-05-08", **overrides: Any) -> ComplianceGate:
        return build_gate(make_settings(**overrides), store, source="test", clock=at(day))

    return build


def person_penalty(**payload: Any) -> dict[str, Any]:
    event = factories.penalty(
        party_type="自然人",
        party_name="王小明",
        title="王小明无证经营危险化学品行政处罚决定",
        facts=(
            f"当事人王小明（身份证号{ID_NUMBER}，联系电话{PHONE}）于2023年4月1日在住所储存危险化学品，"
            f"违法所得经银行卡{CARD}收取。住址：株洲市荷塘区某路1号。"
        ),
        **payload,
    )
    event["payload"].pop("credit_code", None)
    return event


def audit_rows(store: Store) -> list[tuple[Any, ...]]:
    return list(store.conn.execute("SELECT * FROM compliance_audit ORDER BY id"))


def test_a_natural_persons_penalty_is_masked_everywhere(
    make_gate: Callable[..., ComplianceGate], store: Store
) -> None:
    event = parse_event(person_penalty())
    verdict = make_gate().check(event)
    assert isinstance(verdict.event, PenaltyEvent)
    payload = verdict.event.payload
    assert payload.party_name == "王某某"
    assert payload.title == "王某某无证经营危险化学品行政处罚决定"
    assert "王小明" not in payload.facts
    for secret in (ID_NUMBER, PHONE, CARD, "某路1号"):
        assert secret not in payload.facts
    assert "430211************" in payload.facts
    assert "138****5678" in payload.facts
    assert CARD[-4:] in payload.facts
    # What must stay, stays.
    assert payload.decision_number == "（株）应急罚〔2023〕12号"
    assert "2023年4月1日" in payload.facts
    assert str(payload.fine_amount) == "50000.00"
    masked = {(f.rule, f.field) for f in verdict.findings if f.decision is Decision.MASKED}
    assert masked == {
        ("party_name", "payload.party_name"),
        ("party_name", "payload.title"),
        ("party_name", "payload.facts"),
        ("id_number", "payload.facts"),
        ("mobile_number", "payload.facts"),
        ("bank_card", "payload.facts"),
        ("home_address", "payload.facts"),
    }


def test_the_audit_log_records_every_decision_and_no_personal_data(
    make_gate: Callable[..., ComplianceGate], store: Store
) -> None:
    event = parse_event(person_penalty())
    verdict = make_gate().check(event)
    rows = audit_rows(store)
    decisions = {(r[11], r[12], r[13]) for r in rows}  # decision, rule, field
    assert ("masked", "id_number", "payload.facts") in decisions
    assert ("checked", "gate", "") in decisions
    assert all(r[2] == "test" and r[3] == "zz-yjj" and r[6] == event.event_id for r in rows)
    assert {r[16] for r in rows} == {verdict.digest}
    # Nothing personal anywhere in the state store, not even in pieces — but the party
    # register, which keeps the anonymised name (and only it) to mask later citations.
    dump = "\n".join(
        line for line in sqlite3.connect(store.path).iterdump() if "compliance_parties" not in line
    )
    for secret in (ID_NUMBER, PHONE, CARD, "王小明", "小明", "某路1号", ID_NUMBER[6:14]):
        assert secret not in dump
    register = list(store.conn.execute("SELECT document_id, names FROM compliance_parties"))
    assert register == [(event.document_id, '["王小明"]')]


def test_running_the_gate_on_its_own_output_changes_and_records_nothing(
    make_gate: Callable[..., ComplianceGate], store: Store
) -> None:
    gate = make_gate()
    first = gate(parse_event(person_penalty()))
    count = len(audit_rows(store))
    assert gate(first) == first
    assert len(audit_rows(store)) == count


def test_the_gate_is_deterministic(make_gate: Callable[..., ComplianceGate]) -> None:
    raw = person_penalty()
    assert make_gate()(parse_event(raw)) == make_gate()(parse_event(raw))


@pytest.mark.parametrize("flag", ["is_minor", "involves_secrets", "security_risk"])
def test_never_publish_rules_refuse_and_name_the_field(
    make_gate: Callable[..., ComplianceGate], store: Store, flag: str
) -> None:
    event = parse_event(factories.penalty(**{flag: True}))
    with pytest.raises(ComplianceRefusal) as info:
        make_gate()(event)
    assert [e.path for e in info.value.errors] == [f"payload.{flag}"]
    assert "never published" in str(info.value)
    assert info.value.rule in RULES
    rows = audit_rows(store)
    assert [(r[11], r[13]) for r in rows] == [("refused", f"payload.{flag}")]


def test_every_hard_block_is_reported_at_once(make_gate: Callable[..., ComplianceGate]) -> None:
    event = parse_event(factories.penalty(is_minor=True, security_risk=True))
    with pytest.raises(ComplianceRefusal) as info:
        make_gate()(event)
    assert {e.path for e in info.value.errors} == {"payload.is_minor", "payload.security_risk"}


def test_an_authority_may_publish_names(make_gate: Callable[..., ComplianceGate]) -> None:
    gate = make_gate(compliance_publish_party_names=["zz-yjj"])
    verdict = gate.check(parse_event(person_penalty()))
    assert isinstance(verdict.event, PenaltyEvent)
    assert verdict.event.payload.party_name == "王小明"
    assert PHONE not in verdict.event.payload.facts  # numbers are masked regardless
    assert any(f.decision is Decision.KEPT and f.rule == "party_name" for f in verdict.findings)


def test_organisations_keep_their_name_and_credit_code(
    make_gate: Callable[..., ComplianceGate],
) -> None:
    raw = factories.penalty()
    event = parse_event(raw)
    verdict = make_gate().check(event)
    # Unchanged but for the take-down date: one year for 安全生产 (the shipped periods).
    assert verdict.event.payload == event.payload.model_copy(
        update={"display_until": date(2024, 5, 4)}
    )
    assert [f.decision for f in verdict.findings] == [Decision.CHECKED]


@pytest.mark.parametrize(
    ("party_name", "expected"),
    [
        ("张三（株洲市荷塘区某五金店）", "张某（株洲市荷塘区某五金店）"),
        ("株洲市荷塘区某五金店（张三）", "株洲市荷塘区某五金店（张某）"),
        ("株洲市荷塘区张记五金店", "株洲市荷塘区张记五金店"),
        ("张某某（株洲市荷塘区某五金店）", "张某某（株洲市荷塘区某五金店）"),
    ],
)
def test_individual_businesses_mask_the_operator_only(
    make_gate: Callable[..., ComplianceGate], party_name: str, expected: str
) -> None:
    event = parse_event(factories.penalty(party_type="个体工商户", party_name=party_name))
    result = make_gate()(event)
    assert isinstance(result, PenaltyEvent)
    assert result.payload.party_name == expected


def test_markup_is_removed_from_text_and_bodies(make_gate: Callable[..., ComplianceGate]) -> None:
    policy = parse_event(
        factories.policy(
            title="通知<script>alert(1)</script>",
            body='<p onclick="x()">正文<img src=x onerror=alert(1)><a href="javascript:1">链接</a></p>',
        )
    )
    verdict = make_gate().check(policy)
    payload = verdict.event.payload
    assert payload.title == "通知"  # type: ignore[union-attr]
    assert payload.body == '<p>正文<img src="x"><a rel="noopener noreferrer">链接</a></p>'  # type: ignore[union-attr]
    rules = {(f.rule, f.field) for f in verdict.findings if f.decision is Decision.SANITIZED}
    assert rules == {("text_markup", "payload.title"), ("html_sanitize", "payload.body")}


def test_policy_bodies_keep_published_phone_numbers(
    make_gate: Callable[..., ComplianceGate],
) -> None:
    event = parse_event(factories.policy(body="<p>咨询电话：0731-28681234</p>"))
    assert make_gate()(event) == event


def test_a_field_emptied_by_the_gate_is_refused(make_gate: Callable[..., ComplianceGate]) -> None:
    event = parse_event(factories.penalty(title="<script>alert(1)</script>"))
    with pytest.raises(ComplianceRefusal) as info:
        make_gate()(event)
    assert info.value.errors[0].path == "payload.title"
    assert "after the compliance gate" in info.value.errors[0].message


def test_retraction_reasons_and_exposure_text_are_masked(
    make_gate: Callable[..., ComplianceGate],
) -> None:
    gate = make_gate()
    retraction = parse_event(
        factories.retract("penalty", "doc-1", 2, reason=f"当事人电话{PHONE}有误")
    )
    assert PHONE not in gate(retraction).payload.reason  # type: ignore[union-attr]
    exposure = parse_event(
        factories.envelope(
            "exposure",
            "exp-1",
            1,
            {
                "title": "典型案例",
                "domain": "安全生产",
                "candidate_quarter": "2023Q2",
                "case_summary": f"当事人（身份证号{ID_NUMBER}）非法储存危险化学品。",
                "decision_ref": "doc-1",
            },
            department="zz-yjj",
        )
    )
    assert ID_NUMBER not in gate(exposure).payload.case_summary  # type: ignore[union-attr]


def test_late_penalties_are_flagged_not_refused(
    make_gate: Callable[..., ComplianceGate], caplog: pytest.LogCaptureFixture
) -> None:
    event = parse_event(factories.penalty(decided_on="2023-09-28"))
    on_time = make_gate("2023-10-13").check(event)
    assert on_time.flags == []
    with caplog.at_level(logging.WARNING):
        late = make_gate("2023-10-16").check(event)
    assert [(f.rule, f.field, f.count) for f in late.flags] == [
        ("penalty_deadline", "payload.decided_on", 8)
    ]
    assert "国办发〔2018〕118号" in late.flags[0].detail
    assert late.event == on_time.event  # a flag never changes the event
    assert "penalty_deadline" in caplog.text


def test_updates_of_penalties_are_not_flagged(make_gate: Callable[..., ComplianceGate]) -> None:
    event = parse_event(factories.penalty(version=2))
    assert make_gate("2025-01-01").check(event).flags == []


def test_proactive_disclosure_deadline(make_gate: Callable[..., ComplianceGate]) -> None:
    raw = factories.policy()
    raw["occurred_at"] = "2023-09-01T09:00:00+08:00"
    event = parse_event(raw)
    # After Friday 2023-09-01: 19 working days in September (09-29 is 中秋), 国庆 until
    # 10-06, then Saturday 10-07 is worked: the 20th working day.
    assert make_gate("2023-10-07").check(event).flags == []
    flags = make_gate("2023-10-08").check(event).flags
    assert [(f.rule, f.count) for f in flags] == [("disclosure_deadline", 21)]


def test_beyond_the_calendar_the_flag_says_so(make_gate: Callable[..., ComplianceGate]) -> None:
    event = parse_event(factories.penalty(decided_on="2026-12-01"))
    flags = make_gate("2031-03-03").check(event).flags
    assert "no holiday data for 2027–2031" in flags[0].detail


def test_every_sample_event_passes_the_gate_unchanged(
    make_gate: Callable[..., ComplianceGate],
) -> None:
    gate = make_gate("2023-05-08")
    for sample in load_samples():
        event = parse_event(sample)
        if isinstance(event, PenaltyEvent) and event.payload.display_until is None:
            # The one addition: the take-down date of the decision's display period.
            until = gate.display.display_until(event.payload)
            event = event.model_copy(
                update={"payload": event.payload.model_copy(update={"display_until": until})}
            )
        assert gate(event) == event, sample["document_id"]


def test_without_a_store_decisions_are_not_kept(make_settings: Callable[..., Settings]) -> None:
    gate = build_gate(make_settings(), None, clock=at("2023-05-08"))
    assert gate.audit is None
    assert gate(parse_event(person_penalty())).payload.party_name == "王某某"  # type: ignore[union-attr]


# --- licensing and enforcement decisions: masked and checked like penalties ----------


def test_a_natural_person_applicant_is_masked_like_a_penalised_party(
    make_gate: Callable[..., ComplianceGate], store: Store
) -> None:
    event = parse_event(
        factories.licence(
            applicant_type="自然人",
            applicant="王小明",
            title="王小明出租汽车驾驶员从业资格许可决定",
            decision="不予",
            reasons=f"申请人王小明（联系电话{PHONE}，住址：株洲市荷塘区某路1号）驾龄不满三年。",
        )
    )
    verdict = make_gate().check(event)
    assert isinstance(verdict.event, LicenceEvent)
    payload = verdict.event.payload
    assert payload.applicant == "王某某"
    assert payload.title == "王某某出租汽车驾驶员从业资格许可决定"
    assert payload.reasons is not None
    for secret in ("王小明", "小明", PHONE, "某路1号"):
        assert secret not in payload.reasons
    # Recorded in the party register: a withdrawal citing the decision is masked too.
    retraction = parse_event(
        factories.retract(
            "licence",
            "doc-licence-1",
            2,
            reason="王小明提交虚假材料，许可依法撤销",
            department="zz-yjj",
        )
    )
    assert "王小明" not in make_gate()(retraction).payload.reason  # type: ignore[union-attr]


def test_an_enforcement_against_a_person_is_masked_and_organisations_are_kept(
    make_gate: Callable[..., ComplianceGate],
) -> None:
    person = parse_event(
        factories.enforcement(
            party_type="自然人",
            party_name="李建国",
            measures=["冻结"],
            objects=f"李建国名下银行账户（账号{CARD}）存款",
        )
    )
    result = make_gate()(person)
    assert isinstance(result, EnforcementEvent)
    assert result.payload.party_name == "李某某"
    assert result.payload.objects is not None
    assert CARD not in result.payload.objects
    assert "李建国" not in result.payload.objects
    company = parse_event(factories.enforcement())
    verdict = make_gate().check(company)
    assert verdict.event == company
    assert [f.decision for f in verdict.findings] == [Decision.CHECKED]


def test_an_identity_number_is_never_a_licence_credit_code(
    make_gate: Callable[..., ComplianceGate],
) -> None:
    raw = factories.licence()
    event = parse_event(raw).model_copy(
        update={"payload": parse_event(raw).payload.model_copy(update={"credit_code": ID_NUMBER})}
    )
    with pytest.raises(ComplianceRefusal) as info:
        make_gate()(event)
    assert [e.path for e in info.value.errors] == ["payload.credit_code"]


@pytest.mark.parametrize(
    ("factory", "flag"),
    [
        (factories.enforcement, "is_minor"),
        (factories.enforcement, "involves_secrets"),
        (factories.licence, "involves_secrets"),
        (factories.licence, "security_risk"),
    ],
)
def test_decisions_that_must_never_be_published_are_refused(
    make_gate: Callable[..., ComplianceGate],
    factory: Callable[..., dict[str, Any]],
    flag: str,
) -> None:
    with pytest.raises(ComplianceRefusal) as info:
        make_gate()(parse_event(factory(**{flag: True})))
    assert [e.path for e in info.value.errors] == [f"payload.{flag}"]


@pytest.mark.parametrize(
    ("factory", "rule", "setting"),
    [
        (factories.licence, "licence_deadline", "compliance_licence_deadline_days"),
        (factories.enforcement, "enforcement_deadline", "compliance_enforcement_deadline_days"),
    ],
)
def test_licensing_and_enforcement_decisions_have_seven_working_days(
    make_gate: Callable[..., ComplianceGate],
    factory: Callable[..., dict[str, Any]],
    rule: str,
    setting: str,
) -> None:
    raw = factory(decided_on="2023-09-28")
    raw["payload"].pop("ends_on", None)
    event = parse_event(raw)
    # Thursday 28 September: 29 September is 中秋 and the 国庆 holiday runs to 6 October;
    # Saturday 7 October is worked, so 13 October is the 6th working day, 16 October the 8th.
    assert make_gate("2023-10-13").check(event).flags == []
    flags = make_gate("2023-10-16").check(event).flags
    assert [(f.rule, f.field, f.count) for f in flags] == [(rule, "payload.decided_on", 8)]
    assert rule in RULES
    # Configurable: a region with a shorter period flags earlier.
    assert make_gate("2023-10-13", **{setting: 5}).check(event).flags[0].rule == rule
    assert make_gate("2025-01-01").check(parse_event(factory(version=2))).flags == []


# --- display periods ---------------------------------------------------------------------


def test_the_gate_writes_the_take_down_date_of_the_decision(
    make_gate: Callable[..., ComplianceGate],
) -> None:
    gate = make_gate()
    work_safety = gate(parse_event(factories.penalty(decided_on="2023-05-05")))
    assert work_safety.payload.display_until == date(2024, 5, 4)  # type: ignore[union-attr]
    warning = factories.penalty(
        decided_on="2023-05-05", domain="市场监管", penalty_types=["警告"], fine_amount=None
    )
    assert gate(parse_event(warning)).payload.display_until == date(2023, 8, 4)  # type: ignore[union-attr]
    # The department's own date stays (within the bounds).
    given = factories.penalty(decided_on="2023-05-05", display_until="2025-12-31")
    assert gate(parse_event(given)).payload.display_until == date(2025, 12, 31)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("display_until", "bound"),
    [
        ("2023-12-31", "the minimum for 安全生产 decisions is 1 year (until 2024-05-04 or later"),
        ("2026-05-05", "the maximum for every penalty decision is 3 years (until 2026-05-04"),
    ],
)
def test_a_display_period_outside_its_bounds_is_refused_with_the_field(
    make_gate: Callable[..., ComplianceGate], store: Store, display_until: str, bound: str
) -> None:
    event = parse_event(factories.penalty(decided_on="2023-05-05", display_until=display_until))
    with pytest.raises(ComplianceRefusal) as info:
        make_gate()(event)
    [error] = info.value.errors
    assert error.path == "payload.display_until"
    assert bound in error.message
    assert info.value.rule == "display_period"
    rows = audit_rows(store)
    assert [(r[11], r[12], r[13]) for r in rows] == [
        ("refused", "display_period", "payload.display_until")
    ]


def test_the_display_periods_are_configurable(
    make_gate: Callable[..., ComplianceGate], tmp_path: Path
) -> None:
    path = tmp_path / "display.toml"
    path.write_text(
        '[default]\nperiod = { months = 6 }\nmaximum = { years = 1 }\nsource = "本地规定"\n',
        encoding="utf-8",
    )
    gate = make_gate(penalty_display_config=path)
    decided = factories.penalty(decided_on="2023-05-05")
    assert gate(parse_event(decided)).payload.display_until == date(2023, 11, 4)  # type: ignore[union-attr]
    with pytest.raises(ComplianceRefusal, match="the maximum for every penalty decision is 1 year"):
        gate(parse_event(factories.penalty(decided_on="2023-05-05", display_until="2024-06-01")))


# --- the withdrawal clock (行政处罚法 Art. 48, 85) -------------------------------------


def withdrawal(revoked_on: str, withdrawn_at: str) -> dict[str, Any]:
    event = factories.retract("penalty", "doc-penalty-1", 2, reason="该决定经行政复议被撤销。")
    event["payload"]["revoked_on"] = revoked_on
    event["occurred_at"] = f"{withdrawn_at}T10:00:00+08:00"
    return event


def clock_flags(gate: ComplianceGate, raw: dict[str, Any]) -> list[Finding]:
    """The withdrawal-clock flags of a withdrawal of a decision the gate has seen."""
    gate(parse_event(factories.penalty("doc-penalty-1", decided_on="2023-04-20")))
    return [f for f in gate.check(parse_event(raw)).flags if f.rule == "withdrawal_deadline"]


def test_a_withdrawal_within_three_working_days_is_not_flagged(
    make_gate: Callable[..., ComplianceGate],
) -> None:
    # Revoked on Friday 28 April 2023; the Labour Day holiday runs 29 April to 3 May, so
    # Thursday 4 May is the first working day after it and Friday 5 May the second.
    raw = withdrawal("2023-04-28", "2023-05-05")
    assert clock_flags(make_gate("2023-05-05"), raw) == []
    # Saturday 6 May is a make-up working day (the third): still in time.
    assert clock_flags(make_gate("2023-05-06"), raw) == []


def test_a_late_withdrawal_is_flagged_with_its_working_days(
    make_gate: Callable[..., ComplianceGate], store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    gate = make_gate("2023-05-08")
    gate(parse_event(factories.penalty("doc-penalty-1", decided_on="2023-04-20")))
    event = parse_event(withdrawal("2023-04-28", "2023-05-08"))
    verdict = gate.check(event)  # 4 May, 5 May, 6 May, 8 May
    assert [(f.rule, f.field, f.count) for f in verdict.flags] == [
        ("withdrawal_deadline", "payload.revoked_on", 4)
    ]
    assert "published 4 working days after the decision was changed, revoked or found" in (
        verdict.flags[0].detail
    )
    assert "limit 3, 行政处罚法 第四十八条、第八十五条" in verdict.flags[0].detail
    assert verdict.event == event  # accepted as sent
    assert "withdrawal_deadline" in caplog.text
    flagged = [(r[9], r[12]) for r in audit_rows(store) if r[11] == "flagged"]
    assert ("retract", "withdrawal_deadline") in flagged


def test_the_withdrawal_deadline_is_configurable(make_gate: Callable[..., ComplianceGate]) -> None:
    gate = make_gate("2023-05-08", compliance_withdrawal_deadline_days=5)
    assert clock_flags(gate, withdrawal("2023-04-28", "2023-05-08")) == []


def test_withdrawals_without_revoked_on_are_not_measured(
    make_gate: Callable[..., ComplianceGate],
) -> None:
    plain = factories.retract("penalty", "doc-penalty-1", 2)
    assert clock_flags(make_gate("2025-01-01"), plain) == []
    takedown = factories.retract("penalty", "doc-penalty-1", 2, reason="公示期满")
    takedown["payload"]["display_ended_on"] = "2024-05-04"
    assert clock_flags(make_gate("2025-01-01"), takedown) == []
