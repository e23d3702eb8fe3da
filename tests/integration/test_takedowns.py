"""Take-downs at the end of the display period, as the DAG's tasks run them: planned from
the document catalog, emitted through the gate and the ledger, once — on both transports
for the main path; the bad requests on the embedded bus."""

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from govpub.app.releases import plan_takedowns, sync_catalog
from govpub.compliance.rules import NOT_PUBLISHED_REASON
from govpub.errors import TakedownRefused
from govpub.settings import Settings
from govpub.store import Store
from producers.factory import open_publisher
from producers.releases.log import ReleaseLog
from producers.releases.quarters import RELEASE_TIMEZONE
from producers.releases.takedown import TAKEDOWN_REASON, emit_takedowns
from schemas import PenaltyEvent, RetractEvent
from tests import factories
from tests.releases import bus_events, emit


def publish(settings: Settings, events: list[dict[str, Any]]) -> None:
    """Send events as departments do: through the compliance gate and the ledger."""
    with (
        Store(settings.store) as store,
        open_publisher(settings, store, source="test") as publisher,
    ):
        publisher.publish_many(events)


def decisions() -> list[dict[str, Any]]:
    """Work-safety decisions of 2023 (one year of display unless they say otherwise)."""
    return [
        factories.penalty("cf-a", decided_on="2023-05-05"),  # displayed until 2024-05-04
        factories.penalty("cf-b", decided_on="2023-05-05", display_until="2024-06-30"),
        factories.penalty("cf-c", decided_on="2023-06-01", display_until="2026-05-31"),
        factories.policy("policy-1"),
    ]


def withdrawals(settings: Settings) -> list[RetractEvent]:
    return [e for e in bus_events(settings, "penalty", timeout=30) if isinstance(e, RetractEvent)]


def test_decisions_are_taken_down_once_whatever_runs_them(settings: Settings) -> None:
    publish(settings, decisions())
    sync_catalog(settings, timeout=60)
    # On 5 May 2024 only cf-a's display has ended.
    first = plan_takedowns(settings, date(2024, 5, 5))
    assert [(t.document_id, t.version, t.display_until) for t in first.takedowns] == [
        ("cf-a", 2, date(2024, 5, 4))
    ]
    assert first.upcoming == []
    # On 25 June cf-b ends within the week: it is listed as upcoming, not taken down.
    later = plan_takedowns(settings, date(2024, 6, 25))
    assert [t.document_id for t in later.takedowns] == ["cf-a"]
    assert [(u.document_id, u.takedown_on) for u in later.upcoming] == [("cf-b", date(2024, 7, 1))]

    run = emit_takedowns(settings, later, source="test", run_id="r1")
    assert [r.document_id for r in run.emitted] == ["cf-a"]
    # The same plan again (a retry): the ledger answers with the first acceptance.
    again = emit_takedowns(settings, later, source="test", run_id="r2")
    assert (again.emitted, again.already_emitted) == ([], ["cf-a"])
    sync_catalog(settings, timeout=60)
    # A backfilled day and the next day find cf-a withdrawn; cf-b ends on 30 June.
    assert plan_takedowns(settings, date(2024, 5, 5)).takedowns == []
    july = plan_takedowns(settings, date(2024, 7, 1))
    assert [t.document_id for t in july.takedowns] == ["cf-b"]
    emit_takedowns(settings, july, source="test", run_id="r3")

    [cf_a, cf_b] = sorted(withdrawals(settings), key=lambda e: e.document_id)
    assert (cf_a.document_id, cf_a.version, cf_a.kind.value) == ("cf-a", 2, "penalty")
    assert cf_a.payload.reason == TAKEDOWN_REASON
    assert cf_a.payload.display_ended_on == date(2024, 5, 4)
    assert cf_a.payload.revoked_on is None
    # Dated when the display period ended, whichever run emitted it.
    assert cf_a.occurred_at == datetime(2024, 5, 5, tzinfo=RELEASE_TIMEZONE)
    assert cf_b.occurred_at == datetime(2024, 7, 1, tzinfo=RELEASE_TIMEZONE)
    with Store(settings.store) as store:
        logged = {(r.document_id, r.action, r.run_id) for r in ReleaseLog(store).latest(10)}
    assert logged == {("cf-a", "retract", "r1"), ("cf-b", "retract", "r3")}


def test_the_gate_wrote_the_take_down_date_into_each_decision(settings: Settings) -> None:
    publish(settings, decisions())
    published = {
        e.document_id: e.payload.display_until
        for e in bus_events(settings, "penalty", timeout=30)
        if isinstance(e, PenaltyEvent)
    }
    assert published == {
        "cf-a": date(2024, 5, 4),
        "cf-b": date(2024, 6, 30),
        "cf-c": date(2026, 5, 31),
    }


@pytest.fixture
def embedded(make_settings: Callable[..., Settings]) -> Settings:
    settings = make_settings()
    publish(settings, decisions())
    return settings


def test_a_decision_published_without_a_date_is_taken_down_after_its_period(
    embedded: Settings,
) -> None:
    # Sent before the gate wrote take-down dates (no gate here): its configured period.
    emit(
        embedded,
        [
            factories.penalty(
                "cf-old",
                decided_on="2023-03-01",
                domain="市场监管",
                penalty_types=["警告"],
                fine_amount=None,
            )
        ],
    )
    sync_catalog(embedded, timeout=60)
    plan = plan_takedowns(embedded, date(2023, 6, 1))
    assert [(t.document_id, t.display_until) for t in plan.takedowns] == [
        ("cf-old", date(2023, 5, 31))
    ]


def test_one_decision_can_be_named(embedded: Settings) -> None:
    sync_catalog(embedded, timeout=60)
    plan = plan_takedowns(embedded, date(2024, 5, 5), document_id="cf-a")
    assert [t.document_id for t in plan.takedowns] == ["cf-a"]
    emit_takedowns(embedded, plan, source="test", run_id="r1")
    sync_catalog(embedded, timeout=60)
    done = plan_takedowns(embedded, date(2024, 5, 6), document_id="cf-a")
    assert (done.takedowns, done.note) == ([], "cf-a is already withdrawn (公示期满)")


@pytest.mark.parametrize(
    ("document_id", "message"),
    [
        ("cf-nope", "cf-nope is not published: the document catalog has not seen it"),
        ("policy-1", "policy-1 is a policy document, not a penalty decision"),
        (
            "cf-c",
            "the display period of cf-c runs until 2026-05-31: it is taken down on 2026-06-01,"
            " not on 2024-05-05",
        ),
    ],
)
def test_a_take_down_of_what_is_not_an_ended_penalty_decision_is_refused(
    embedded: Settings, document_id: str, message: str
) -> None:
    sync_catalog(embedded, timeout=60)
    with pytest.raises(TakedownRefused, match=message):
        plan_takedowns(embedded, date(2024, 5, 5), document_id=document_id)


def test_a_never_published_decision_is_neither_listed_nor_taken_down(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    # Only a bus record that skipped the gate can carry one.
    emit(settings, [factories.penalty("cf-minor", decided_on="2023-01-05", is_minor=True)])
    sync_catalog(settings, timeout=60)
    assert plan_takedowns(settings, date(2025, 1, 1)).takedowns == []
    # The channels' guard withdrew it on the catalog too (issue 20's follow-up), with the
    # public reason: naming it finds nothing left to take down.
    named = plan_takedowns(settings, date(2025, 1, 1), document_id="cf-minor")
    assert named.takedowns == []
    assert named.note == f"cf-minor is already withdrawn ({NOT_PUBLISHED_REASON})"


def test_a_version_sent_after_the_plan_is_left_to_the_next_run(embedded: Settings) -> None:
    sync_catalog(embedded, timeout=60)
    plan = plan_takedowns(embedded, date(2024, 7, 1))
    assert [t.document_id for t in plan.takedowns] == ["cf-a", "cf-b"]
    # The department extends cf-b's display before the withdrawals go out.
    publish(
        embedded,
        [factories.penalty("cf-b", 2, decided_on="2023-05-05", display_until="2025-06-30")],
    )
    run = emit_takedowns(embedded, plan, source="test", run_id="r1")
    assert [r.document_id for r in run.emitted] == ["cf-a"]
    [skipped] = run.skipped
    assert skipped.startswith("cf-b: version 2 was accepted after the catalog was read")
    sync_catalog(embedded, timeout=60)
    assert plan_takedowns(embedded, date(2024, 7, 2)).takedowns == []
    assert [u.takedown_on for u in plan_takedowns(embedded, date(2025, 6, 25)).upcoming] == [
        date(2025, 6, 30) + timedelta(days=1)
    ]
