"""The party register forgets names when no document may need them any more: a penalty
decision's some days after its display ended, any other entry by age. On both store
backends, with decisions sent through the compliance gate and read back from the
document catalog, as the daily take-down runs it."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from govpub.app.releases import forget_party_names, sync_catalog
from govpub.compliance.parties import StoredPartyRegister
from govpub.settings import Settings
from govpub.store import Store
from producers.factory import open_publisher
from producers.releases.retention import names_to_forget
from tests import factories


def publish(settings: Settings, events: list[dict[str, Any]]) -> None:
    with (
        Store(settings.store) as store,
        open_publisher(settings, store, source="test") as publisher,
    ):
        publisher.publish_many(events)


def register(settings: Settings) -> dict[str, tuple[str, ...]]:
    with Store(settings.store) as store:
        parties = StoredPartyRegister(store)
        return parties.names(parties.recorded())


def person(document_id: str, name: str, **payload: Any) -> dict[str, Any]:
    return factories.penalty(document_id, party_type="自然人", party_name=name, **payload)


def test_a_decisions_names_are_forgotten_after_its_display_ends(
    make_settings: Callable[..., Settings], store_location: str
) -> None:
    settings = make_settings(party_names_keep_days=30)
    publish(
        settings,
        [
            person("pr-a", "张三丰", decided_on="2023-05-05"),  # one year: until 2024-05-04
            person("pr-b", "李四光", decided_on="2023-05-05", display_until="2025-05-04"),
            factories.penalty("pr-c"),  # a company: no person, nothing to keep
        ],
    )
    assert register(settings) == {"pr-a": ("张三丰",), "pr-b": ("李四光",), "pr-c": ()}
    sync_catalog(settings, timeout=60)

    # Thirty days after 4 May 2024 pr-a's names are still kept; the day after, forgotten.
    kept = forget_party_names(settings, date(2024, 6, 3))
    assert (kept.after_display, kept.by_age, kept.kept) == ([], [], 3)
    gone = forget_party_names(settings, date(2024, 6, 4))
    assert (gone.after_display, gone.by_age) == (["pr-a", "pr-c"], [])
    assert register(settings) == {"pr-b": ("李四光",)}
    assert "张三丰" not in gone.note
    assert "2 document(s) forgotten" in gone.note
    # Repeating the day forgets nothing more; pr-b goes once its own period is over.
    assert forget_party_names(settings, date(2024, 6, 4)).after_display == []
    assert forget_party_names(settings, date(2025, 6, 4)).after_display == ["pr-b"]
    assert register(settings) == {}


def test_a_withdrawn_decision_keeps_its_names_until_its_period_would_have_ended(
    make_settings: Callable[..., Settings], store_location: str
) -> None:
    settings = make_settings(party_names_keep_days=0)
    publish(settings, [person("pr-w", "王五", decided_on="2023-05-05")])
    publish(settings, [factories.retract("penalty", "pr-w", 2)])
    sync_catalog(settings, timeout=60)
    # A withdrawal's reason or a correction may still cite the decision: kept until
    # the end of its display period, as if it had stayed.
    assert forget_party_names(settings, date(2024, 5, 4)).after_display == []
    assert forget_party_names(settings, date(2024, 5, 5)).after_display == ["pr-w"]


def test_entries_without_a_display_end_are_forgotten_by_age() -> None:
    recorded = {
        "exposure-2023q2": datetime(2023, 7, 1, 2, tzinfo=UTC),
        "exposure-2024q1": datetime(2024, 4, 1, 2, tzinfo=UTC),
        "decision-x": datetime(2023, 7, 1, 2, tzinfo=UTC),
    }
    ends = {"decision-x": date(2027, 1, 31)}  # displayed longer than the age limit
    plan = names_to_forget(recorded, ends, on=date(2024, 7, 2), keep_days=30, max_age_days=366)
    assert (plan.after_display, plan.by_age, plan.kept) == ([], ["exposure-2023q2"], 2)
    # A decision still displayed is never forgotten by age.
    later = names_to_forget(recorded, ends, on=date(2026, 1, 1), keep_days=30, max_age_days=366)
    assert later.by_age == ["exposure-2023q2", "exposure-2024q1"]
    assert later.after_display == []


def test_the_boundary_day_counts_in_the_time_zone_of_the_releases() -> None:
    # Recorded at 23:30 UTC on 1 July: already 2 July in Zhuzhou.
    recorded = {"exposure": datetime(2023, 7, 1, 23, 30, tzinfo=UTC)}
    keep = names_to_forget(recorded, {}, on=date(2023, 7, 3), keep_days=0, max_age_days=1)
    assert keep.by_age == []
    forget = names_to_forget(
        recorded, {}, on=date(2023, 7, 2) + timedelta(days=2), keep_days=0, max_age_days=1
    )
    assert forget.by_age == ["exposure"]
