"""The runner re-checks every event it takes from the bus, before the channel sees it."""

import logging
from collections.abc import Callable
from typing import Any

import pytest

from channels.memory import MemoryChannel
from consumers import ChannelRunner, read_dead_letters
from consumers.safety import ChannelGuard
from govpub.bus import open_bus
from govpub.compliance.audit import AuditLog
from govpub.compliance.identifiers import id_check_char
from govpub.compliance.policy import CompliancePolicy
from govpub.compliance.rules import NOT_PUBLISHED_REASON
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from producers.factory import open_publisher
from schemas import RetractEvent, encode_event, parse_event
from tests import factories

ID_NUMBER = "43020319851111100" + id_check_char("43020319851111100")


def to_bus(settings: Settings, *raw: dict[str, Any]) -> None:
    """Straight onto the topics, as a client that never passed the gate would."""
    bus = open_bus(settings)
    topics = Topics(settings.topic_prefix)
    bus.ensure_topics(topics.all)
    producer = bus.producer()
    try:
        for item in raw:
            event = parse_event(item)
            producer.send(
                topics.for_kind(event.kind.value),
                encode_event(event),
                key=event.document_id.encode(),
            ).result(timeout=30)
    finally:
        producer.close()


def deliver(settings: Settings, store: Store) -> MemoryChannel:
    channel = MemoryChannel()
    runner = ChannelRunner(
        channel, open_bus(settings), store, Topics(settings.topic_prefix), poll_timeout=0.2
    )
    runner.run(until_idle=True)
    return channel


@pytest.fixture
def local(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


def raw_penalty(**payload: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "party_type": "自然人",
        "party_name": "李建国",
        "title": "<img src=x onerror=alert(1)>李建国行政处罚决定",
        "facts": f"当事人李 建国（身份证{ID_NUMBER[:6]} {ID_NUMBER[6:]}，手机139-0080-7233）。",
    }
    return factories.penalty("pen-raw", **{**fields, **payload})


def test_a_penalty_that_skipped_the_gate_is_masked_audited_and_warned(
    local: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    to_bus(local, raw_penalty())
    with Store(local.store) as store, caplog.at_level(logging.WARNING):
        channel = deliver(local, store)
        [event] = channel.applied
        payload = event.payload
        assert payload.party_name == "李某某"  # type: ignore[union-attr]
        assert payload.title == "李某某行政处罚决定"  # type: ignore[union-attr]
        dumped = event.model_dump_json()
        for secret in ("建国", ID_NUMBER[6:], "0080"):
            assert secret not in dumped
        rows = AuditLog(store).for_event(event.event_id)
        assert {(r.decision.value, r.rule) for r in rows} >= {
            ("masked", "party_name"),
            ("masked", "id_number"),
            ("masked", "mobile_number"),
            ("sanitized", "text_markup"),
        }
        assert all(r.submitter.source == "channel:memory" for r in rows)
    assert "came from the bus with what the compliance gate removes" in caplog.text
    assert ID_NUMBER not in caplog.text
    assert "建国" not in caplog.text


def test_a_later_exposure_citing_it_is_masked_with_the_name(local: Settings) -> None:
    to_bus(local, raw_penalty())
    with Store(local.store) as store:
        deliver(local, store)
        batch = factories.envelope(
            "exposure",
            "exp-raw",
            1,
            {
                "title": "典型案例",
                "domain": "安全生产",
                "candidate_quarter": "2023Q2",
                "cases": [
                    {
                        "title": "李建国案",
                        "case_summary": "建国称不知情。",
                        "decision_ref": "pen-raw",
                    }
                ],
            },
            department="zz-yjj",
        )
        to_bus(local, batch)
        [event] = deliver(local, store).applied
        assert "建国" not in event.model_dump_json()


def test_gated_events_pass_unchanged_and_leave_no_audit(local: Settings) -> None:
    with Store(local.store) as store:
        with open_publisher(local, store, source="test") as publisher:
            publisher.publish(raw_penalty())
        before = store.conn.execute("SELECT COUNT(*) FROM compliance_audit").fetchone()[0]
        guard = ChannelGuard("memory", store, CompliancePolicy())
        channel = deliver(local, store)
        [event] = channel.applied
        assert guard(event) == event
        after = store.conn.execute("SELECT COUNT(*) FROM compliance_audit").fetchone()[0]
        assert after == before


def test_an_event_that_cannot_be_made_safe_is_dead_lettered(local: Settings) -> None:
    to_bus(local, factories.policy("pol-x", title="<script>alert(1)</script>"))
    with Store(local.store) as store:
        channel = deliver(local, store)
    assert channel.applied == []
    letters = [
        letter for _, letter in read_dead_letters(open_bus(local), Topics(local.topic_prefix))
    ]
    assert len(letters) == 1
    assert letters[0] is not None
    assert "payload.title" in letters[0].reason


def test_departments_that_publish_names_keep_them_on_the_channels(local: Settings) -> None:
    to_bus(local, raw_penalty(title="李建国行政处罚决定"))
    policy = CompliancePolicy(publish_party_names=frozenset({"zz-yjj"}))
    with Store(local.store) as store:
        channel = MemoryChannel()
        runner = ChannelRunner(
            channel,
            open_bus(local),
            store,
            Topics(local.topic_prefix),
            poll_timeout=0.2,
            guard=ChannelGuard("memory", store, policy),
        )
        runner.run(until_idle=True)
        [event] = channel.applied
        assert event.payload.party_name == "李建国"  # type: ignore[union-attr]
        assert ID_NUMBER[6:] not in event.model_dump_json()


@pytest.mark.parametrize("flag", ["is_minor", "involves_secrets", "security_risk"])
def test_a_penalty_never_to_be_published_is_withdrawn_on_every_channel(
    local: Settings, flag: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Written straight onto the topic, it reaches no channel as a publication: each gets
    a withdrawal with the public reason, which takes an earlier version down too."""
    first = factories.penalty("pen-flagged", version=1)
    flagged = factories.penalty("pen-flagged", version=2, **{flag: True})
    flagged["action"] = "update"
    to_bus(local, first, flagged)
    with Store(local.store) as store, caplog.at_level(logging.WARNING):
        channel = deliver(local, store)
        rows = AuditLog(store).for_event(flagged["event_id"])
    published, withdrawn = channel.applied
    assert published.event_id == first["event_id"]
    assert isinstance(withdrawn, RetractEvent)
    assert (withdrawn.event_id, withdrawn.version) == (flagged["event_id"], 2)
    assert withdrawn.payload.reason == NOT_PUBLISHED_REASON
    assert "pen-flagged" not in channel.documents
    assert [(r.decision.value, r.field) for r in rows] == [("refused", f"payload.{flag}")]
    assert "flagged never to be published" in caplog.text


# --- licensing and enforcement decisions: the same protection as a penalty ----------------

PHONE = "139-0080-7233"


def raw_licence() -> dict[str, Any]:
    """A licence refused to a natural person, with her identity number (split in two) and
    phone number in the reasons and the content, as a careless client would send it."""
    return factories.licence(
        "lic-raw",
        applicant_type="自然人",
        applicant="王小红",
        title="王小红食品经营许可决定",
        decision="不予",
        reasons=f"申请人王 小红（身份证号{ID_NUMBER[:6]} {ID_NUMBER[6:]}，电话{PHONE}）经营场所不符合要求。",
        content=f"小红申请在荷塘区开办餐馆，联系手机{PHONE}。",
    )


def raw_enforcement() -> dict[str, Any]:
    """A 扣押 against a natural person, his identity and phone numbers in the facts."""
    return factories.enforcement(
        "enf-raw",
        party_type="自然人",
        party_name="赵大海",
        title="赵大海扣押决定",
        measures=["扣押"],
        facts=f"当事人赵大海（公民身份号码{ID_NUMBER}，手机{PHONE}）无证运输烟花爆竹。",
        objects="赵大海所有的烟花爆竹120箱",
    )


@pytest.mark.parametrize(
    ("raw", "person", "name_field", "masked_name"),
    [
        (raw_licence, "王小红", "applicant", "王某某"),
        (raw_enforcement, "赵大海", "party_name", "赵某某"),
    ],
)
def test_a_decision_about_a_person_that_skipped_the_gate_is_masked_and_audited(
    local: Settings,
    raw: Callable[[], dict[str, Any]],
    person: str,
    name_field: str,
    masked_name: str,
) -> None:
    to_bus(local, raw())
    with Store(local.store) as store:
        [event] = deliver(local, store).applied
        payload = event.payload.model_dump()
        assert payload[name_field] == masked_name
        assert payload["title"].startswith(masked_name)
        dumped = event.model_dump_json()
        for secret in (person, person[1:], ID_NUMBER[6:], "0080"):
            assert secret not in dumped, secret
        rules = {(r.decision.value, r.rule) for r in AuditLog(store).for_event(event.event_id)}
        assert rules >= {
            ("masked", "party_name"),
            ("masked", "id_number"),
            ("masked", "mobile_number"),
        }


@pytest.mark.parametrize(
    ("factory", "flag"),
    [
        (factories.licence, "involves_secrets"),
        (factories.licence, "security_risk"),
        (factories.enforcement, "is_minor"),
        (factories.enforcement, "security_risk"),
    ],
)
def test_a_licence_or_enforcement_never_to_be_published_is_withdrawn(
    local: Settings, factory: Callable[..., dict[str, Any]], flag: str
) -> None:
    first = factory("dec-flagged", version=1)
    flagged = factory("dec-flagged", version=2, **{flag: True})
    flagged["action"] = "update"
    to_bus(local, first, flagged)
    with Store(local.store) as store:
        channel = deliver(local, store)
        rows = AuditLog(store).for_event(flagged["event_id"])
    published, withdrawn = channel.applied
    assert published.event_id == first["event_id"]
    assert isinstance(withdrawn, RetractEvent)
    assert withdrawn.kind.value == first["kind"]
    assert withdrawn.payload.reason == NOT_PUBLISHED_REASON
    assert "dec-flagged" not in channel.documents
    assert [(r.decision.value, r.field) for r in rows] == [("refused", f"payload.{flag}")]


@pytest.mark.parametrize(("raw", "person"), [(raw_licence, "王小红"), (raw_enforcement, "赵大海")])
def test_the_gate_masks_the_same_decision_before_the_bus(
    local: Settings, raw: Callable[[], dict[str, Any]], person: str
) -> None:
    with Store(local.store) as store:
        with open_publisher(local, store, source="test") as publisher:
            publisher.publish(raw())
        [event] = deliver(local, store).applied
        dumped = event.model_dump_json()
        for secret in (person, person[1:], ID_NUMBER[6:], "0080"):
            assert secret not in dumped, secret
        sources = {r.submitter.source for r in AuditLog(store).for_event(event.event_id)}
        assert "channel:memory" not in sources  # nothing left for the channel to mask
