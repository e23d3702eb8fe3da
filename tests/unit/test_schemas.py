"""The event contract: what is accepted, what is refused, and how refusals read."""

import json
from typing import Annotated, Any

import jsonschema
import pytest
from pydantic import ValidationError

from govpub.app.demo import load_samples
from govpub.errors import EventValidationError
from schemas import (
    Disclosure,
    EnforcementEvent,
    EnforcementMeasure,
    InterpretationForm,
    Kind,
    LicenceDecision,
    LicenceEvent,
    PenaltyEvent,
    PolicyEvent,
    RetractEvent,
    Validity,
    encode_event,
    parse_event,
)
from schemas.export import JSON_DIR, render_schemas
from schemas.payloads import RuledModel, StrictModel
from schemas.rules import Rule
from tests import factories


def errors_of(data: Any) -> dict[str, str]:
    with pytest.raises(EventValidationError) as info:
        parse_event(data)
    return {e.path: e.message for e in info.value.errors}


def test_every_sample_event_is_valid_and_round_trips() -> None:
    samples = load_samples()
    kinds = set()
    for sample in samples:
        event = parse_event(sample)
        kinds.add(event.kind)
        assert parse_event(encode_event(event)) == event
    # Reports are computed (govpub annual-report), not sent by departments.
    assert kinds == set(Kind) - {Kind.REPORT}


def test_kind_selects_the_payload_model() -> None:
    assert isinstance(parse_event(factories.policy()), PolicyEvent)
    assert isinstance(parse_event(factories.penalty()), PenaltyEvent)
    event = parse_event(factories.retract("penalty", "doc-penalty-1", 2))
    assert isinstance(event, RetractEvent)
    assert event.kind is Kind.PENALTY
    assert event.payload.reason == "依法撤销"


def test_events_are_frozen() -> None:
    event = parse_event(factories.policy())
    with pytest.raises(Exception, match="frozen"):
        event.version = 2  # type: ignore[misc]


def test_unknown_fields_are_refused_with_their_path() -> None:
    data = factories.policy()
    data["payload"]["colour"] = "red"
    data["extra"] = 1
    errors = errors_of(data)
    assert errors["payload.colour"] == "Extra inputs are not permitted"
    assert errors["extra"] == "Extra inputs are not permitted"


def test_unknown_kind_names_the_kind_field() -> None:
    data = factories.policy()
    data["kind"] = "poem"
    assert "kind must be one of" in errors_of(data)["kind"]


@pytest.mark.parametrize(
    "value",
    ["2023-05-01T10:00:00", "2023-05-01", "1683000000", "01/05/2023 10:00 +0800", 1683000000],
)
def test_occurred_at_needs_rfc3339_with_offset(value: Any) -> None:
    data = factories.policy()
    data["occurred_at"] = value
    assert "RFC 3339" in errors_of(data)["occurred_at"]


def test_rfc3339_with_z_or_offset_is_accepted() -> None:
    for value in ("2023-05-01T02:00:00Z", "2023-05-01T10:00:00.123+08:00"):
        data = factories.policy()
        data["occurred_at"] = value
        assert parse_event(data).occurred_at.utcoffset() is not None


def test_strings_are_bounded() -> None:
    data = factories.policy(title="长" * 201)
    assert "at most 200 characters" in errors_of(data)["payload.title"]


def test_control_characters_are_refused() -> None:
    data = factories.policy(title="标题\x07")
    assert errors_of(data)["payload.title"] == "must not contain control characters"


def test_enumerations_are_closed() -> None:
    errors = errors_of(factories.policy(doc_class="通知", validity="有效"))
    assert "'规章', '规划', '行政规范性文件' or '其他'" in errors["payload.doc_class"]
    assert "payload.validity" in errors
    assert "payload.penalty_types.0" in errors_of(factories.penalty(penalty_types=["罚金"]))


def test_normative_document_needs_its_interpretation() -> None:
    data = factories.policy(interpretation=None)
    message = errors_of(data)["payload"]
    assert "interpretation is required for 行政规范性文件" in message
    other = factories.policy(doc_class="其他", interpretation=None)
    assert parse_event(other).payload.validity is Validity.IN_FORCE


@pytest.mark.parametrize("doc_class", ["规章", "规划", "行政规范性文件"])
def test_three_synchronous_classes_need_their_interpretation(doc_class: str) -> None:
    message = errors_of(factories.policy(doc_class=doc_class, interpretation=None))["payload"]
    assert f"interpretation is required for {doc_class}" in message


def test_a_widely_known_document_needs_its_interpretation_whatever_its_class() -> None:
    data = factories.policy(doc_class="其他", widely_known=True, interpretation=None)
    assert "需要公众广泛知晓" in errors_of(data)["payload"]
    assert parse_event(factories.policy(doc_class="其他", widely_known=True)).payload


def test_an_interpretation_records_its_form() -> None:
    event = parse_event(factories.policy())
    assert isinstance(event, PolicyEvent)
    assert event.payload.interpretation is not None
    assert event.payload.interpretation.form is InterpretationForm.TEXT  # the default
    graphic = parse_event(
        factories.policy(
            doc_class="规划",
            interpretation={
                "title": "一图读懂",
                "url": "https://www.example.org/t.png",
                "form": "图解",
            },
        )
    )
    assert isinstance(graphic, PolicyEvent)
    assert graphic.payload.interpretation is not None
    assert graphic.payload.interpretation.form is InterpretationForm.GRAPHIC
    bad = factories.policy(interpretation={"title": "解读", "body": "<p>x</p>", "form": "海报"})
    assert "payload.interpretation.form" in errors_of(bad)


def test_an_absent_disclosure_attribute_is_proactive() -> None:
    event = parse_event(factories.policy())
    assert isinstance(event, PolicyEvent)
    assert event.payload.disclosure is Disclosure.PROACTIVE


@pytest.mark.parametrize("attribute", ["依申请公开", "不予公开"])
def test_a_document_not_proactive_needs_its_legal_reason(attribute: str) -> None:
    errors = errors_of(factories.policy(disclosure=attribute))
    assert errors == {
        "payload.disclosure_reason": (
            f"disclosure_reason (the legal reason) is required for {attribute}"
        )
    }
    reason = "《政府信息公开条例》第十六条：内部事务信息"
    event = parse_event(factories.policy(disclosure=attribute, disclosure_reason=reason))
    assert isinstance(event, PolicyEvent)
    assert event.payload.disclosure_reason == reason


def test_the_disclosure_attribute_is_a_closed_vocabulary() -> None:
    assert "payload.disclosure" in errors_of(factories.policy(disclosure="公开"))


def test_a_located_rule_is_reported_at_its_field_beside_other_errors() -> None:
    errors = errors_of(factories.policy(disclosure="不予公开", title=""))
    assert set(errors) == {"payload.title", "payload.disclosure_reason"}


def test_a_model_with_rules_that_would_not_check_them_is_refused_where_it_is_defined() -> None:
    # Rules are checked by RuledModel only: a StrictModel with rules would accept
    # whatever breaks them, so defining one fails at once.
    with pytest.raises(TypeError, match="Unchecked has __rules__: derive it from RuledModel"):

        class Unchecked(StrictModel):
            when: str
            __rules__ = (Rule(("when",), lambda model: None),)

    class Checked(RuledModel):
        when: str
        __rules__ = (Rule(("when",), lambda model: "never" if model.when == "x" else None),)

    assert Checked(when="y").when == "y"
    with pytest.raises(ValidationError, match="never"):
        Checked(when="x")


def test_fine_needs_an_amount() -> None:
    data = factories.penalty(fine_amount=None)
    assert "fine_amount is required" in errors_of(data)["payload"]


def test_retract_needs_a_reason() -> None:
    data = factories.retract("policy", "doc-policy-1", 2)
    data["payload"] = {}
    assert errors_of(data) == {"payload.reason": "Field required"}


def test_a_penalty_withdrawal_says_why_it_is_withdrawn() -> None:
    revoked = factories.retract("penalty", "doc-penalty-1", 2)
    revoked["payload"]["revoked_on"] = "2023-05-01"
    assert str(parse_event(revoked).payload.revoked_on) == "2023-05-01"  # type: ignore[union-attr]
    ended = factories.retract("penalty", "doc-penalty-1", 2, reason="公示期满")
    ended["payload"]["display_ended_on"] = "2024-05-04"
    assert str(parse_event(ended).payload.display_ended_on) == "2024-05-04"  # type: ignore[union-attr]


def test_revoked_on_and_display_ended_on_are_checked() -> None:
    both = factories.retract("penalty", "doc-penalty-1", 2)
    both["payload"] |= {"revoked_on": "2023-05-01", "display_ended_on": "2023-05-01"}
    assert errors_of(both) == {
        "payload": "a withdrawal is either a revocation (revoked_on) or the end of the display"
        " period (display_ended_on), not both"
    }
    policy = factories.retract("policy", "doc-policy-1", 2)
    policy["payload"]["revoked_on"] = "2023-05-01"
    assert errors_of(policy) == {
        "payload": "revoked_on belongs to the withdrawal of a penalty decision"
    }
    later = factories.retract("penalty", "doc-penalty-1", 2)  # withdrawn 2023-05-02 10:00 +08
    later["payload"]["revoked_on"] = "2023-05-03"
    assert errors_of(later) == {
        "payload": "revoked_on 2023-05-03 is after the withdrawal itself (occurred_at, 2023-05-02"
        " in China)"
    }
    bad = factories.retract("penalty", "doc-penalty-1", 2)
    bad["payload"]["revoked_on"] = "2023/05/01"
    assert errors_of(bad) == {"payload.revoked_on": "must be a calendar date YYYY-MM-DD"}


def test_retract_refuses_a_content_payload() -> None:
    data = factories.policy(version=2)
    data["action"] = "retract"
    assert "payload.title" in errors_of(data)


def test_document_id_is_url_and_file_safe() -> None:
    for bad in ("../etc/passwd", "a/b", "文档1", " x", ""):
        data = factories.policy(document_id=bad)
        assert "document_id" in errors_of(data), bad


def test_version_must_be_positive() -> None:
    assert "version" in errors_of(factories.policy(version=0))


def test_invalid_json_and_non_objects_are_reported() -> None:
    assert "not valid JSON" in errors_of(b"{not json")[""]
    assert errors_of(b"[1, 2]")[""] == "an event must be a JSON object"
    assert "not valid JSON" in errors_of(b"\xff\xfe")[""]


def test_oversized_input_is_refused_before_parsing() -> None:
    big = json.dumps(factories.policy(body="x" * 1_100_000))
    assert "larger than" in errors_of(big)[""]


def test_exposure_is_either_a_candidate_or_a_batch() -> None:
    base = {"title": "案例", "domain": "安全生产", "candidate_quarter": "2023Q2"}
    candidate = factories.envelope(
        "exposure", "c1", 1, {**base, "case_summary": "摘要", "decision_ref": "p1"}
    )
    assert not parse_event(candidate).payload.is_batch  # type: ignore[union-attr]
    batch = factories.envelope(
        "exposure",
        "b1",
        1,
        {**base, "cases": [{"title": "案1", "case_summary": "摘要", "decision_ref": "p1"}]},
    )
    assert parse_event(batch).payload.is_batch  # type: ignore[union-attr]
    neither = factories.envelope("exposure", "n1", 1, base)
    assert "a candidate needs" in errors_of(neither)["payload"]


def test_exported_json_schemas_are_up_to_date() -> None:
    rendered = render_schemas()
    on_disk = {p.name: p.read_text("utf-8") for p in JSON_DIR.glob("*.json")}
    assert set(on_disk) == set(rendered), "run: govpub schemas export"
    for name, text in rendered.items():
        assert on_disk[name] == text, f"{name} is out of date: run govpub schemas export"


def test_json_schema_accepts_the_samples() -> None:
    schema = json.loads((JSON_DIR / "event.schema.json").read_text("utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    for sample in load_samples():
        validator.validate(sample)


@pytest.mark.parametrize("kind", [{}, ["penalty"], 3, None])
def test_a_kind_of_the_wrong_type_is_a_field_error(kind: Any) -> None:
    event = factories.penalty()
    event["kind"] = kind
    assert errors_of(event) == {
        "kind": "kind must be one of policy, penalty, exposure, meeting, campaign, licence,"
        " enforcement, report, consultation, decision_list"
    }


@pytest.mark.parametrize("document_id", ["index", "INDEX", "con", "Nul", "com1", "LPT9"])
def test_ids_no_channel_can_use_are_refused_with_the_reason(document_id: str) -> None:
    with pytest.raises(EventValidationError) as refused:
        parse_event(factories.policy(document_id))
    (error,) = refused.value.errors
    assert error.path == "document_id"
    assert "is reserved: " in error.message
    parse_event(factories.policy(f"{document_id}-2023"))  # only the whole id is reserved


def test_every_payload_field_has_exactly_one_role() -> None:
    # A new field without a role fails here, so it can never skip masking by accident.
    from schemas.export import _PAYLOADS
    from schemas.roles import field_roles

    for model in _PAYLOADS.values():
        roles = field_roles(model)
        tops = {path.split(".")[0] for path in roles}
        assert tops == set(model.model_fields), model.__name__
    assert field_roles(_PAYLOADS["exposure"])["cases.*.case_summary"] == "plain_text"
    assert field_roles(_PAYLOADS["penalty"])["decision_number"] == "document_number"
    assert field_roles(_PAYLOADS["penalty"])["party_name"] == "party_name"
    assert field_roles(_PAYLOADS["meeting"])["decisions.*"] == "plain_text"
    assert field_roles(_PAYLOADS["policy"])["interpretation.body"] == "html_body"


def test_a_field_without_a_role_is_an_error() -> None:
    from pydantic import BaseModel

    from schemas.roles import PLAIN_TEXT, MissingRole, field_roles

    class Nested(BaseModel):
        note: str

    class Payload(BaseModel):
        title: Annotated[str, PLAIN_TEXT]
        items: list[Nested] = []

    with pytest.raises(MissingRole, match=r"items\.\*\.note has no role"):
        field_roles(Payload)


def test_roles_are_in_the_exported_json_schema() -> None:
    schema = json.loads(render_schemas()["penalty.payload.schema.json"])
    properties = schema["properties"]
    assert properties["facts"]["x-govpub-role"] == "plain_text"
    assert properties["party_name"]["x-govpub-role"] == "party_name"
    assert properties["credit_code"]["anyOf"][0]["x-govpub-role"] == "identifier"


def test_credit_codes_are_checked() -> None:
    raw = factories.penalty(credit_code="91430211MA4PXR1234")  # wrong check character
    assert "GB 32100" in errors_of(raw)["payload.credit_code"]


def test_licence_and_enforcement_decisions_have_their_own_kinds() -> None:
    licence = parse_event(factories.licence())
    enforcement = parse_event(factories.enforcement())
    assert isinstance(licence, LicenceEvent)
    assert isinstance(enforcement, EnforcementEvent)
    assert licence.payload.decision is LicenceDecision.GRANT
    assert enforcement.payload.measures == [EnforcementMeasure.SEAL_UP]
    assert EnforcementMeasure.SEAL_UP.category == "行政强制措施"
    assert EnforcementMeasure.SUBSTITUTE_PERFORMANCE.category == "行政强制执行"
    # Both name their party the same way, so the gate masks them like a penalty's.
    assert licence.payload.party == ("法人", "株洲示例化工有限公司", "91430211MA4PXR123G")
    assert enforcement.payload.party.name == "株洲示例化工有限公司"


def test_a_refusal_or_revocation_of_a_licence_needs_its_reasons() -> None:
    for decision in ("不予", "撤销"):
        errors = errors_of(factories.licence(decision=decision))
        assert errors["payload"].startswith(f"reasons are required for a {decision} decision")
    assert parse_event(factories.licence(decision="不予", reasons="不符合条件"))


def test_decision_rules_name_the_field_and_report_every_problem_at_once() -> None:
    errors = errors_of(
        factories.licence(
            applicant_type="自然人",
            applicant="李建国",
            credit_code="91430211MA4PXR123G",
            valid_until="2023-01-01",
            decided_on="2023-13-01",
        )
    )
    assert "payload.decided_on" in errors
    assert "credit_code is an organisation's code" in errors["payload"]
    errors = errors_of(
        factories.enforcement(measures=["查封", "查封"], ends_on="2023-05-01", amount="-1")
    )
    assert errors["payload.amount"].startswith("Input should be greater than or equal to 0")
    payload_errors = [
        m
        for p, m in _all_errors(
            factories.enforcement(measures=["查封", "查封"], ends_on="2023-05-01")
        )
        if p == "payload"
    ]
    assert payload_errors == [
        "measures must not repeat a type",
        "ends_on must not be before decided_on",
    ]


def test_an_enforcement_measure_must_come_from_the_law() -> None:
    errors = errors_of(factories.enforcement(measures=["没收"]))
    assert errors["payload.measures.0"].startswith("Input should be '限制公民人身自由'")


def _all_errors(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(EventValidationError) as info:
        parse_event(data)
    return [(e.path, e.message) for e in info.value.errors]


def test_a_report_row_has_one_value_per_column() -> None:
    report = factories.envelope(
        "report",
        "annual-report-2023",
        1,
        {
            "title": "2023年政府信息公开工作年度报告",
            "year": 2023,
            "scope_name": "株洲市人民政府",
            "report_format": "gov-2021",
            "format_source": "国办公开办函〔2021〕30号",
            "table": "二、主动公开政府信息情况",
            "sections": [
                {
                    "heading": "第二十条第（一）项",
                    "columns": ["信息内容", "本年制发件数", "本年废止件数"],
                    "rows": [{"label": "规章", "cells": ["1"]}],
                }
            ],
        },
    )
    assert errors_of(report) == {"payload.sections.0": "row '规章' has 1 values for 2 columns"}
    report["payload"]["sections"][0]["rows"][0]["cells"] = [1, None]
    assert parse_event(report).payload.sections[0].rows[0].cells == [1, None]  # type: ignore[union-attr]
