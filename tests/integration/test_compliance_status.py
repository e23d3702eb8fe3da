"""``govpub status`` and ``govpub status --json``: the deadlines the gate flagged and the
take-downs due, overdue and unfinished, read from a real state store."""

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from govpub.app.compliance_status import read_compliance_status, today_in_china
from govpub.app.releases import sync_catalog
from govpub.settings import Settings
from govpub.store import Store
from producers.factory import open_publisher
from tests import factories
from tests.integration.test_cli import govpub

pytestmark = pytest.mark.usefixtures("store_location")


def send(settings: Settings, events: list[dict[str, Any]]) -> None:
    """Through the gate (its clock is now), as departments send them."""
    with Store(settings.store) as store, open_publisher(settings, store, source="test") as p:
        p.publish_many(events)


def decision(document_id: str, decided: date, until: date) -> dict[str, Any]:
    event = factories.penalty(
        document_id, decided_on=decided.isoformat(), display_until=until.isoformat()
    )
    event["occurred_at"] = f"{decided.isoformat()}T16:00:00+08:00"
    return event


@pytest.fixture
def state(make_settings: Callable[..., Settings]) -> tuple[Settings, date]:
    settings = make_settings()
    today = today_in_china()
    decided = today - timedelta(days=800)
    revoked = factories.retract("penalty", "cf-revoked", 2, reason="经行政复议被撤销")
    revoked["payload"]["revoked_on"] = (today - timedelta(days=30)).isoformat()
    revoked["occurred_at"] = f"{today.isoformat()}T08:00:00+08:00"
    send(
        settings,
        [
            decision("cf-due", decided, today + timedelta(days=3)),
            decision("cf-overdue", decided, today - timedelta(days=10)),
            decision("cf-later", decided, today + timedelta(days=60)),
            decision("cf-revoked", decided, today + timedelta(days=60)),
            factories.policy("policy-1"),  # formed in 2023: late
        ],
    )
    send(settings, [revoked])
    sync_catalog(settings, timeout=60)
    return settings, today


def test_the_read_model_counts_flags_and_take_downs(state: tuple[Settings, date]) -> None:
    settings, today = state
    with Store(settings.store) as store:
        status = read_compliance_status(settings, store, today=today)
    flags = {f.rule: f for f in status.flags}
    assert flags["penalty_deadline"].count == 4  # each decision published 800 days late
    assert flags["disclosure_deadline"].count == 1
    assert [e.document_id for e in flags["disclosure_deadline"].latest] == ["policy-1"]
    [late] = flags["withdrawal_deadline"].latest
    assert (late.document_id, late.action) == ("cf-revoked", "retract")
    assert "limit 3, 行政处罚法" in late.detail
    assert [(t.document_id, t.takedown_on) for t in status.due] == [
        ("cf-due", today + timedelta(days=4))
    ]
    assert [t.document_id for t in status.overdue] == ["cf-overdue"]
    # A week later cf-due is overdue too, and cf-later still far away.
    with Store(settings.store) as store:
        later = read_compliance_status(settings, store, today=today + timedelta(days=7))
    assert [t.document_id for t in later.overdue] == ["cf-overdue", "cf-due"]
    assert later.due == []


def test_govpub_status_shows_them_and_json_is_for_scripts(state: tuple[Settings, date]) -> None:
    settings, _ = state
    text = govpub(settings, "status")
    assert text.returncode == 0, text.stderr
    out = text.stdout
    assert "  late penalties (penalty_deadline): 4" in out
    assert "  late disclosures (disclosure_deadline): 1" in out
    assert "  late withdrawals (withdrawal_deadline): 1" in out
    assert "take-downs of penalty decisions (公示期满)" in out
    assert "  due in the next 7 days: 1" in out
    assert "  overdue (display ended, not withdrawn yet): 1" in out
    assert "cf-overdue (zz-yjj, displayed until" in out
    assert "is the penalty_display_takedown DAG running?" in out

    answer = govpub(settings, "status", "--json")
    assert answer.returncode == 0, answer.stderr
    data = json.loads(answer.stdout)
    assert {rule: f["count"] for rule, f in data["flags"].items()} == {
        "penalty_deadline": 4,
        "disclosure_deadline": 1,
        "withdrawal_deadline": 1,
    }
    assert data["flags"]["withdrawal_deadline"]["latest"][0]["document_id"] == "cf-revoked"
    takedowns = data["takedowns"]
    assert takedowns["due_within_days"] == 7
    assert takedowns["due"]["count"] == 1
    assert [t["document_id"] for t in takedowns["due"]["soonest"]] == ["cf-due"]
    assert [t["document_id"] for t in takedowns["overdue"]["oldest"]] == ["cf-overdue"]
    assert takedowns["unfinished"] == {"count": 0, "latest": []}
    assert takedowns["wechat_delete_queue"] == []

    both = govpub(settings, "status", "--json", "--document", "cf-due")
    assert both.returncode == 2
    assert "not with --document" in both.stderr


def test_status_says_when_the_catalog_is_behind(state: tuple[Settings, date]) -> None:
    # The take-downs are read from the catalog: one decision published since its last
    # sync is not counted, and status says so instead of reporting "overdue: 1" as all.
    settings, today = state
    send(settings, [decision("cf-since", today - timedelta(days=800), today - timedelta(days=5))])
    out = govpub(settings, "status").stdout
    assert "  the document catalog is 1 event behind the bus" in out
    assert "  overdue (display ended, not withdrawn yet): 1" in out
    assert (
        json.loads(govpub(settings, "status", "--json").stdout)["takedowns"]["catalog_behind"] == 1
    )
    sync_catalog(settings, timeout=60)
    out = govpub(settings, "status").stdout
    assert "behind the bus" not in out
    assert "  overdue (display ended, not withdrawn yet): 2" in out
