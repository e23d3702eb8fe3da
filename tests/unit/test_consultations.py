"""Consultations (征求意见) and links between documents: the schema's rules and the gate's
(window, a result for a consultation nobody published, superseded_by, consultation_ref and
adopted_as naming a missing document or making a loop), each refused with its field path."""

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from govpub.compliance.policy import CompliancePolicy
from govpub.compliance.rules import Decision
from govpub.errors import ComplianceRefusal, EventValidationError
from govpub.settings import Settings
from govpub.store import Store
from producers.compliance import ComplianceGate, build_gate
from producers.compliance.calendar import WorkingCalendar
from producers.compliance.documents import MemoryDocumentRegister
from producers.ledger import VersionLedger
from schemas import ConsultationEvent, parse_event
from tests import factories


def errors_of(data: Any) -> dict[str, str]:
    with pytest.raises(EventValidationError) as info:
        parse_event(data)
    return {e.path: e.message for e in info.value.errors}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "state.db") as opened:
        yield opened  # type: ignore[misc]


@pytest.fixture
def make_gate(
    make_settings: Callable[..., Settings], store: Store
) -> Callable[..., ComplianceGate]:
    moment = datetime.fromisoformat("2023-04-03T10:00:00+08:00")

    def build(**overrides: Any) -> ComplianceGate:
        return build_gate(make_settings(**overrides), store, source="test", clock=lambda: moment)

    return build


def refusal(gate: ComplianceGate, raw: dict[str, Any]) -> tuple[str, dict[str, str]]:
    with pytest.raises(ComplianceRefusal) as info:
        gate(parse_event(raw))
    return info.value.rule, {e.path: e.message for e in info.value.errors}


# --- the schema -------------------------------------------------------------------------


def test_a_consultation_is_its_own_kind_and_stands_open() -> None:
    event = parse_event(factories.consultation())
    assert isinstance(event, ConsultationEvent)
    assert event.payload.stage == "征求意见中"
    assert event.payload.window_days == 30


def test_a_consultation_closing_before_it_opens_is_refused_at_closes_on() -> None:
    errors = errors_of(factories.consultation(opens_on="2023-05-10", closes_on="2023-05-01"))
    assert errors == {"payload.closes_on": "closes_on 2023-05-01 is before opens_on 2023-05-10"}


def test_a_consultation_needs_a_way_to_respond_and_its_interpretation() -> None:
    errors = errors_of(factories.consultation(respond={}, interpretation=None))
    assert "payload.respond" in errors
    assert "payload.interpretation" in errors
    assert "payload.respond.email" in errors_of(factories.consultation(respond={"email": "x"}))


def test_a_result_cannot_count_more_opinions_than_were_received() -> None:
    result = {
        "published_on": "2023-05-20",
        "received": 2,
        "adopted": 2,
        "not_adopted": [{"opinion": "建议延长开放时间。", "reason": "另行研究。"}],
    }
    errors = errors_of(factories.consultation(closed=True, result=result))
    assert errors == {
        "payload.result.received": "adopted (2) and not_adopted (1) add up to more than"
        " received (2)"
    }
    early = dict(result, published_on="2023-04-20", adopted=1)
    assert "payload.result" in errors_of(factories.consultation(result=early))


# --- the gate: the window -----------------------------------------------------------------


def test_a_window_shorter_than_the_minimum_is_refused_at_closes_on(
    make_gate: Callable[..., ComplianceGate],
) -> None:
    rule, errors = refusal(make_gate(), factories.consultation(closes_on="2023-04-20"))
    assert rule == "consultation_window"
    assert list(errors) == ["payload.closes_on"]
    assert "18 days, shorter than the minimum of 30" in errors["payload.closes_on"]


def test_the_minimum_window_is_a_setting(make_gate: Callable[..., ComplianceGate]) -> None:
    gate = make_gate(compliance_consultation_min_days=15)
    assert gate(parse_event(factories.consultation(closes_on="2023-04-20")))
    rule, _ = refusal(make_gate(compliance_consultation_min_days=31), factories.consultation())
    assert rule == "consultation_window"


def test_a_shorter_window_with_its_reason_is_accepted_and_flagged(
    make_gate: Callable[..., ComplianceGate],
) -> None:
    raw = factories.consultation(
        closes_on="2023-04-12", shortened_reason="防汛形势紧急，需尽快出台。"
    )
    verdict = make_gate().check(parse_event(raw))
    [flag] = verdict.flags
    assert (flag.rule, flag.field, flag.count) == ("consultation_window", "payload.closes_on", 10)
    assert "防汛形势紧急" in flag.detail


# --- the gate: results and links ------------------------------------------------------------


RESULT = {"published_on": "2023-05-10", "received": 3, "adopted": 1}


def test_a_result_for_a_consultation_nobody_published_is_refused(
    make_gate: Callable[..., ComplianceGate],
) -> None:
    rule, errors = refusal(
        make_gate(), factories.consultation("zq-unknown", 2, closed=True, result=RESULT)
    )
    assert rule == "consultation_result"
    assert errors == {
        "payload.result": "no consultation zq-unknown was published: a result is published as"
        " an update of its consultation"
    }


def test_a_draft_goes_to_its_result_and_the_adopted_policy_links_both_ways(
    make_gate: Callable[..., ComplianceGate], store: Store
) -> None:
    gate = make_gate()
    gate(parse_event(factories.consultation("zq-1")))
    gate(parse_event(factories.policy("pol-adopted", consultation_ref="zq-1")))
    done = gate(
        parse_event(
            factories.consultation("zq-1", 2, closed=True, result=RESULT, adopted_as="pol-adopted")
        )
    )
    assert isinstance(done, ConsultationEvent)
    assert done.payload.stage == "结果已公布"
    # Refused: links to documents nobody published, or of the wrong kind.
    _, errors = refusal(gate, factories.policy("pol-2", consultation_ref="zq-missing"))
    assert errors == {
        "payload.consultation_ref": "consultation_ref zq-missing names a document nobody published"
    }
    _, errors = refusal(gate, factories.policy("pol-3", consultation_ref="pol-adopted"))
    assert errors == {
        "payload.consultation_ref": "consultation_ref pol-adopted is a policy, not a consultation"
    }
    _, errors = refusal(gate, factories.consultation("zq-1", 3, adopted_as="pol-missing"))
    assert list(errors) == ["payload.adopted_as"]


def test_superseded_by_must_name_a_published_document_and_make_no_loop(
    make_gate: Callable[..., ComplianceGate], store: Store
) -> None:
    gate = make_gate()
    for name in ("a", "b", "c"):
        gate(parse_event(factories.policy(f"pol-{name}")))
    rule, errors = refusal(gate, factories.policy("pol-a", 2, superseded_by="pol-missing"))
    assert (rule, errors) == (
        "document_links",
        {"payload.superseded_by": "superseded_by pol-missing names a document nobody published"},
    )
    _, errors = refusal(gate, factories.policy("pol-a", 2, superseded_by="pol-a"))
    assert errors == {"payload.superseded_by": "superseded_by names the document itself"}
    # a → b → c, then c → a would close the loop.
    gate(parse_event(factories.policy("pol-a", 2, validity="已修订", superseded_by="pol-b")))
    gate(parse_event(factories.policy("pol-b", 2, validity="已修订", superseded_by="pol-c")))
    _, errors = refusal(gate, factories.policy("pol-c", 2, superseded_by="pol-a"))
    assert errors == {
        "payload.superseded_by": "superseded_by pol-a makes a loop: pol-a is itself superseded,"
        " in turn, by pol-c"
    }
    rows = store.conn.execute(
        "SELECT decision, rule, field FROM compliance_audit WHERE decision=?",
        (Decision.REFUSED.value,),
    ).fetchall()
    assert ("refused", "document_links", "payload.superseded_by") in rows


def test_a_document_published_before_the_register_is_known_from_the_version_ledger(
    make_gate: Callable[..., ComplianceGate], store: Store
) -> None:
    VersionLedger(store).reserve([parse_event(factories.policy("pol-old"))])
    gate = make_gate()
    assert gate(parse_event(factories.policy("pol-x", superseded_by="pol-old")))


# --- the year's list of major decisions ------------------------------------------------------


def test_a_major_decision_without_a_consultation_is_flagged_and_links_are_checked(
    make_gate: Callable[..., ComplianceGate],
) -> None:
    gate = make_gate()
    gate(parse_event(factories.consultation("zq-1")))
    gate(parse_event(factories.policy("pol-park", consultation_ref="zq-1")))
    items = [
        {
            "title": "制定《株洲市城市公园管理办法》",
            "organizer": "株洲市司法局",
            "consultation_ref": "zq-1",
            "adopted_as": "pol-park",
        },
        {"title": "编制《株洲市绿心中央公园规划》", "organizer": "株洲市自然资源和规划局"},
    ]
    verdict = gate.check(parse_event(factories.decision_list(items=items)))
    [flag] = verdict.flags
    assert (flag.rule, flag.field) == (
        "major_decision_consultation",
        "payload.items.1.consultation_ref",
    )
    assert "绿心中央公园规划" in flag.detail
    broken = [dict(items[0], consultation_ref="zq-missing"), dict(items[1], adopted_as="zq-1")]
    rule, errors = refusal(gate, factories.decision_list("doc-decisions-b", items=broken))
    assert rule == "document_links"
    assert errors == {
        "payload.items.0.consultation_ref": "consultation_ref zq-missing names a document"
        " nobody published",
        "payload.items.1.adopted_as": "adopted_as zq-1 is a consultation, not a policy",
    }


def test_a_decision_list_needs_items() -> None:
    assert "payload.items" in errors_of(factories.decision_list(items=[]))


def test_a_gate_without_a_store_checks_links_against_what_it_passed() -> None:
    gate = ComplianceGate(
        CompliancePolicy(), WorkingCalendar.load(None), documents=MemoryDocumentRegister()
    )
    gate(parse_event(factories.policy("pol-a")))
    assert gate(parse_event(factories.policy("pol-b", superseded_by="pol-a")))
    rule, errors = refusal(gate, factories.policy("pol-c", superseded_by="pol-z"))
    assert (rule, list(errors)) == ("document_links", ["payload.superseded_by"])
    # Without any register only a link to the document itself is refused.
    bare = ComplianceGate(CompliancePolicy(), WorkingCalendar.load(None))
    assert bare(parse_event(factories.policy("pol-c", superseded_by="pol-z")))
    _, errors = refusal(bare, factories.policy("pol-c", superseded_by="pol-c"))
    assert list(errors) == ["payload.superseded_by"]
