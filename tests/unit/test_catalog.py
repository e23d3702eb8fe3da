"""The document catalog and its channel: latest state per document, and the queries
scheduled releases rely on."""

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import pytest

from channels.base import ChannelContext
from channels.catalog import CatalogChannel
from channels.catalog.state import DocumentCatalog, PenaltyStanding
from channels.registry import create_channel
from govpub.app.channels import run_channels
from govpub.deliveries import DeliveryState
from govpub.settings import Settings
from govpub.store import Store
from producers.releases.display import DisplayPeriods
from schemas import parse_event
from tests import factories
from tests.releases import emit, samples

pytestmark = pytest.mark.usefixtures("store_location")

NOW = datetime(2023, 7, 1, 1, 0, tzinfo=UTC)


def candidate(
    document_id: str,
    decision_ref: str,
    *,
    quarter: str = "2023Q2",
    domain: str = "安全生产",
    occurred_at: str = "2023-06-10T09:00:00+08:00",
    version: int = 1,
) -> dict[str, object]:
    payload = {
        "title": f"{document_id} 案",
        "domain": domain,
        "candidate_quarter": quarter,
        "case_summary": "案情摘要。",
        "decision_ref": decision_ref,
    }
    return factories.envelope(
        "exposure", document_id, version, payload, department="zz-yjj", occurred_at=occurred_at
    )


@pytest.fixture
def catalog(store_location: str) -> Iterator[DocumentCatalog]:
    with Store(store_location) as store:
        yield DocumentCatalog(store)


def record(catalog: DocumentCatalog, *events: dict[str, object]) -> None:
    for event in events:
        catalog.record(parse_event(event), now=NOW)


def test_keeps_the_latest_version_and_the_first_publication(catalog: DocumentCatalog) -> None:
    first = factories.penalty("p-1", 1)
    second = factories.penalty("p-1", 2, title="更正后的标题")
    record(catalog, first, second)
    entry = catalog.get("p-1")
    assert entry is not None
    assert (entry.kind, entry.version, entry.action) == ("penalty", 2, "update")
    assert entry.title == "更正后的标题"
    assert entry.payload is not None
    assert entry.payload["decision_number"] == "（株）应急罚〔2023〕12号"
    assert entry.first_published_at == datetime.fromisoformat(first["occurred_at"])
    assert entry.updated_at == datetime.fromisoformat(second["occurred_at"])
    assert entry.department == "zz-yjj"


def test_recording_is_idempotent_and_older_versions_never_win(catalog: DocumentCatalog) -> None:
    v1, v2 = factories.penalty("p-1", 1), factories.penalty("p-1", 2, title="第二版")
    assert catalog.record(parse_event(v2), now=NOW)
    assert catalog.record(parse_event(v2), now=NOW)  # the same event again: same row
    assert not catalog.record(parse_event(v1), now=NOW)
    other_v2 = factories.penalty("p-1", 2, title="另一个第二版")
    assert not catalog.record(parse_event(other_v2), now=NOW)
    entry = catalog.get("p-1")
    assert entry is not None
    assert (entry.version, entry.title) == (2, "第二版")
    assert catalog.count() == 1


def test_a_retraction_keeps_the_payload_and_marks_the_document(catalog: DocumentCatalog) -> None:
    record(catalog, factories.penalty("p-1", 1), factories.retract("penalty", "p-1", 2, "复议撤销"))
    entry = catalog.get("p-1")
    assert entry is not None
    assert entry.retracted
    assert entry.retract_reason == "复议撤销"
    assert entry.version == 2
    assert entry.payload is not None
    assert entry.payload["party_name"] == "株洲示例化工有限公司"
    # Withdrawn before it was ever seen: still known as withdrawn.
    record(catalog, factories.retract("penalty", "p-unseen", 3))
    unseen = catalog.get("p-unseen")
    assert unseen is not None
    assert unseen.retracted
    assert unseen.payload is None


def test_exposure_candidates_of_a_quarter_and_domain(catalog: DocumentCatalog) -> None:
    record(
        catalog,
        candidate("c-late", "p-1", occurred_at="2023-06-20T09:00:00+08:00"),
        # Earlier in UTC although its local text sorts later: order is by instant.
        candidate("c-early", "p-1", occurred_at="2023-06-20T08:00:00+09:00"),
        candidate("c-other-quarter", "p-1", quarter="2023Q3"),
        candidate("c-other-domain", "p-1", domain="食品安全"),
        candidate("c-withdrawn", "p-1"),
        factories.retract("exposure", "c-withdrawn", 2),
        {
            **candidate("batch", "p-1"),
            "payload": {
                "title": "批次",
                "domain": "安全生产",
                "candidate_quarter": "2023Q2",
                "cases": [{"title": "案", "case_summary": "摘要", "decision_ref": "p-1"}],
            },
        },
    )
    found = catalog.exposure_candidates("2023Q2", "安全生产")
    assert [entry.document_id for entry in found] == ["c-early", "c-late"]
    assert all(entry.role == "candidate" for entry in found)
    batch = catalog.get("batch")
    assert batch is not None
    assert batch.role == "batch"


ON = date(2023, 7, 1)
DISPLAY = DisplayPeriods.load()


@pytest.mark.parametrize(
    ("events", "standing"),
    [
        ([], PenaltyStanding.NOT_PUBLISHED),
        ([factories.policy("p-1")], PenaltyStanding.NOT_A_PENALTY),
        (
            [factories.penalty("p-1", 1), factories.retract("penalty", "p-1", 2)],
            PenaltyStanding.RETRACTED,
        ),
        ([factories.penalty("p-1", 1, is_minor=True)], PenaltyStanding.NOT_PUBLISHABLE),
        ([factories.penalty("p-1", 1, involves_secrets=True)], PenaltyStanding.NOT_PUBLISHABLE),
        ([factories.penalty("p-1", 1, decided_on="2023-07-02")], PenaltyStanding.NOT_YET_DECIDED),
        ([factories.penalty("p-1", 1, decided_on="2022-06-30")], PenaltyStanding.DISPLAY_ENDED),
        (
            [factories.penalty("p-1", 1, decided_on="2023-05-05", display_until="2023-06-30")],
            PenaltyStanding.DISPLAY_ENDED,
        ),
        # One year of display, the day of the decision included: until 2023-07-01.
        ([factories.penalty("p-1", 1, decided_on="2022-07-02")], PenaltyStanding.IN_EFFECT),
        (
            [factories.penalty("p-1", 1, decided_on="2020-01-01", display_until="2023-07-01")],
            PenaltyStanding.IN_EFFECT,
        ),
    ],
)
def test_penalty_standing(
    catalog: DocumentCatalog, events: list[dict[str, object]], standing: PenaltyStanding
) -> None:
    record(catalog, *events)
    check = catalog.penalty_standing("p-1", on=ON, display_until=DISPLAY.display_until)
    assert check.standing is standing
    assert "p-1" in check.reason
    assert check.in_effect is (standing is PenaltyStanding.IN_EFFECT)


def test_a_decision_without_display_until_is_displayed_for_its_period(
    catalog: DocumentCatalog,
) -> None:
    # Published before the gate wrote take-down dates: its configured period applies
    # (警告 alone outside a domain entry: 3 months in the shipped file).
    record(
        catalog,
        factories.penalty(
            "p-1",
            1,
            decided_on="2023-03-05",
            domain="市场监管",
            penalty_types=["警告"],
            fine_amount=None,
        ),
    )
    check = catalog.penalty_standing("p-1", on=ON, display_until=DISPLAY.display_until)
    assert check.standing is PenaltyStanding.DISPLAY_ENDED
    assert check.display_until == date(2023, 6, 4)
    assert "2023-06-04" in check.reason


def test_displayed_penalties_end_before_a_day(catalog: DocumentCatalog) -> None:
    record(
        catalog,
        factories.penalty("p-early", 1, decided_on="2023-01-05", display_until="2024-01-04"),
        factories.penalty("p-late", 1, decided_on="2023-01-05", display_until="2025-01-04"),
        factories.penalty("p-none", 1, decided_on="2023-01-05"),  # sent without a date
        factories.penalty("p-gone", 1, decided_on="2023-01-05", display_until="2024-01-04"),
        factories.retract("penalty", "p-gone", 2),
        factories.policy("policy-1"),
    )
    found = catalog.displayed_penalties(ending_before=date(2024, 6, 1))
    # Without a date the caller computes the end: it is always listed.
    assert [(p.document_id, p.display_until) for p in found] == [
        ("p-none", None),
        ("p-early", date(2024, 1, 4)),
    ]
    assert found[1].payload.decided_on == date(2023, 1, 5)
    # An update that extends the display moves the date.
    record(
        catalog,
        factories.penalty("p-early", 2, decided_on="2023-01-05", display_until="2025-01-04"),
    )
    assert [p.document_id for p in catalog.displayed_penalties(ending_before=date(2024, 6, 1))] == [
        "p-none"
    ]


def test_decisions_recorded_before_the_take_down_dates_were_kept_are_found(
    catalog: DocumentCatalog,
) -> None:
    record(
        catalog, factories.penalty("p-1", 1, decided_on="2023-01-05", display_until="2024-01-04")
    )
    # As a catalog written by an earlier govpub: no catalog_display rows at all.
    with catalog.store.transaction() as conn:
        conn.execute("DELETE FROM catalog_display")
    found = catalog.displayed_penalties(ending_before=date(2024, 6, 1))
    assert [(p.document_id, p.display_until) for p in found] == [("p-1", date(2024, 1, 4))]


def test_the_channel_is_registered_and_reports_stale_events(store_location: str) -> None:
    settings = Settings(_env_file=None, store=store_location)
    with Store(settings.store) as store:
        channel = create_channel("catalog", ChannelContext(settings, store))
        assert isinstance(channel, CatalogChannel)
        assert channel.name == "catalog"
        assert channel.apply(parse_event(factories.penalty("p-1", 2))) is None
        outcome = channel.apply(parse_event(factories.penalty("p-1", 1)))
        assert outcome is not None
        assert outcome.state is DeliveryState.SKIPPED


def test_the_catalog_consumer_takes_in_the_sample_events(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    events = samples()
    emit(settings, events)
    [result] = run_channels(settings, ["catalog"], until_idle=True)
    assert result.error is None
    assert result.stats is not None
    assert result.stats.delivered == len(events)
    with Store(settings.store) as store:
        catalog = DocumentCatalog(store)
        assert catalog.count() == len({e["document_id"] for e in events})
        ids = [e.document_id for e in catalog.exposure_candidates("2023Q2", "安全生产")]
        assert ids == ["exposure-candidate-2023q2-001", "exposure-candidate-2023q2-002"]
        withdrawn = catalog.penalty_standing(
            "zzyj-cf-2023-0009", on=ON, display_until=DISPLAY.display_until
        )
        assert withdrawn.standing is PenaltyStanding.RETRACTED
        assert "行政复议" in withdrawn.reason
        assert catalog.penalty_standing(
            "zzyj-cf-2023-0012", on=ON, display_until=DISPLAY.display_until
        ).in_effect


# --- history -------------------------------------------------------------------------


def test_every_version_is_kept_once_with_its_time_and_payload(catalog: DocumentCatalog) -> None:
    first = factories.policy("p-1", 1)
    repealed = factories.policy("p-1", 2, validity="已废止")
    repealed["occurred_at"] = "2024-01-01T00:30:00+08:00"
    withdrawal = factories.retract("policy", "p-1", 3, department="zz-zfb")
    record(catalog, first, repealed, repealed, withdrawal, factories.penalty("q-1"))
    [history] = catalog.histories(["policy"])
    assert history.document_id == "p-1"
    assert history.kind == "policy"
    assert [(v.version, v.action) for v in history.versions] == [
        (1, "publish"),
        (2, "update"),
        (3, "retract"),
    ]
    # Stored in UTC, read back as the same instant.
    assert history.versions[1].occurred_at == datetime(2023, 12, 31, 16, 30, tzinfo=UTC)
    assert history.versions[1].payload["validity"] == "已废止"
    assert history.versions[2].payload == {"reason": "依法撤销"}
    assert [h.document_id for h in catalog.histories(["policy", "penalty"])] == ["p-1", "q-1"]
    assert list(catalog.histories(["meeting"])) == []


def test_an_older_version_arriving_late_is_not_history(catalog: DocumentCatalog) -> None:
    record(catalog, factories.penalty("p-1", 2), factories.penalty("p-1", 1))
    [history] = catalog.histories(["penalty"])
    assert [v.version for v in history.versions] == [2]


def test_documents_recorded_before_the_history_are_named(
    catalog: DocumentCatalog,
) -> None:
    record(catalog, factories.penalty("p-1"), factories.penalty("p-2"))
    assert catalog.without_history() == []
    with catalog.store.transaction() as conn:  # a catalog from before catalog_versions
        conn.execute("DELETE FROM catalog_versions WHERE document_id='p-2'")
    assert catalog.without_history() == ["p-2"]


def test_a_replay_rebuilds_the_catalog_and_its_history(
    make_settings: Callable[..., Settings],
) -> None:
    from govpub.app.channels import replay_channel

    settings = make_settings()
    emit(settings, samples())
    run_channels(settings, ["catalog"], until_idle=True)
    with Store(settings.store) as store:
        store.conn.execute("DELETE FROM catalog_versions")
        assert DocumentCatalog(store).without_history() != []
    result = replay_channel(settings, "catalog")
    assert result.records == len(samples())
    with Store(settings.store) as store:
        catalog = DocumentCatalog(store)
        assert catalog.without_history() == []
        [amended] = [h for h in catalog.histories(["policy"]) if h.document_id == "zzsf-2021-0012"]
        assert [v.payload["validity"] for v in amended.versions] == ["现行有效", "已修订"]
        assert catalog.get("zzyj-cf-2023-0009").retracted  # type: ignore[union-attr]
