"""The release path on both transports: the embedded log and a real Kafka broker.

Catalog catch-up (a consumer group), planning from the catalog, an approval on record,
emission through the ledger, and the re-run that emits nothing — the same code the DAG
tasks call.
"""

from datetime import UTC, datetime

import pytest

from govpub.app.releases import emit_batches, plan_batch, sync_catalog
from govpub.settings import Settings
from producers.releases.approval import answered_decision, approval_requests
from producers.releases.campaigns import emit_due_phases, load_calendar
from producers.releases.exposure import load_exposure_config
from producers.releases.quarters import RELEASE_TIMEZONE, Quarter
from tests.releases import SAMPLE_BATCH, bus_events, documents, emit, samples

pytestmark = pytest.mark.usefixtures("store_location")

RELEASE_DAY = datetime(2023, 7, 1, 9, 0, tzinfo=RELEASE_TIMEZONE)


def test_a_quarter_is_released_once(settings: Settings) -> None:
    emit(settings, samples(without=[SAMPLE_BATCH]))
    sync = sync_catalog(settings, timeout=60)
    assert sync.stats.delivered == len(samples()) - 1
    config = load_exposure_config()
    quarter = Quarter(2023, 2)
    plan = plan_batch(settings, config, "work-safety", quarter, now=RELEASE_DAY)
    assert (plan.action, plan.version) == ("publish", 1)
    [request] = approval_requests([plan], config, triggered_by=None)
    approved_at = datetime(2023, 7, 1, 2, 0, tzinfo=UTC)
    answer = {
        "chosen_options": ["Approve"],
        "responded_at": approved_at,
        "responded_by_user": {"id": "zz-yjj-reviewer", "name": "zz-yjj-reviewer"},
    }
    decision = answered_decision(request, plan, answer, source="test", run_id="r1", basis="t")
    [release] = emit_batches(settings, [plan], [decision], source="test", run_id="r1")
    sync_catalog(settings, timeout=60)
    assert plan_batch(settings, config, "work-safety", quarter, now=RELEASE_DAY).action == (
        "unchanged"
    )
    [event] = documents(bus_events(settings, "exposure", timeout=30), SAMPLE_BATCH)
    assert event.event_id == release.event_id
    assert event.occurred_at == approved_at


def test_a_campaign_phase_is_emitted_once(settings: Settings) -> None:
    calendar = load_calendar()
    moment = datetime(2023, 7, 5, 9, 0, tzinfo=RELEASE_TIMEZONE)
    first = emit_due_phases(settings, calendar, moment, source="test", run_id="r1")
    again = emit_due_phases(settings, calendar, moment, source="test", run_id="r2")
    assert [r.document_id for r in first.emitted] == ["theme-day-2023-river-day"]
    assert again.emitted == []
    assert again.already_published == ["theme-day-2023-river-day"]
    assert len(bus_events(settings, "campaign", timeout=30)) == 1
