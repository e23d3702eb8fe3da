"""``dag.test()`` of the daily consultation lifecycle on both transports, with the
website, the feeds and the catalog running for real: a consultation is closed on every
channel the day after ``closes_on``, once; a result that does not follow within the
configured working days is named in ``govpub status``, and no longer once it is out."""

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import feedparser
import pytest

from govpub.app.channels import run_channels
from govpub.app.compliance_status import read_compliance_status, render_compliance_status
from govpub.settings import Settings
from govpub.store import Store
from producers.factory import open_publisher
from producers.releases.quarters import RELEASE_TIMEZONE
from schemas import ConsultationEvent
from tests import factories
from tests.dags.conftest import test_run
from tests.releases import bus_events

DAG_ID = "consultation_lifecycle"
CHANNELS = ["catalog", "website", "rss"]


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings], transport: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings on each transport, exported as GOVPUB_* so the DAG's tasks build the same."""
    built = make_settings(transport, site_url="https://www.zhuzhou.gov.cn/zwgk/")
    exported = {
        "GOVPUB_BUS": built.bus,
        "GOVPUB_STORE": str(built.store),
        "GOVPUB_OUTPUT_DIR": str(built.output_dir),
        "GOVPUB_TOPIC_PREFIX": built.topic_prefix,
        "GOVPUB_PARTITIONS": str(built.partitions),
        "GOVPUB_SESSION_TIMEOUT": str(built.session_timeout),
        "GOVPUB_POLL_TIMEOUT": str(built.poll_timeout),
        "GOVPUB_CATALOG_SYNC_TIMEOUT": "60",
    }
    for name, value in exported.items():
        monkeypatch.setenv(name, value)
    return built


def deliver(settings: Settings) -> None:
    results = run_channels(settings, CHANNELS, until_idle=True)
    assert {r.channel: r.error for r in results} == dict.fromkeys(CHANNELS)


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 0, 30, tzinfo=RELEASE_TIMEZONE)


def closures(settings: Settings) -> list[ConsultationEvent]:
    events = bus_events(settings, "consultation", timeout=30)
    return [e for e in events if isinstance(e, ConsultationEvent) and e.payload.closed]


def overdue_on(settings: Settings, day: date) -> list[str]:
    with Store(settings.store) as store:
        status = read_compliance_status(settings, store, today=day)
    assert any("consultation results overdue" in line for line in render_compliance_status(status))
    return [o.document_id for o in status.results_overdue]


def test_a_consultation_closes_on_every_channel_and_a_late_result_is_named(
    dag_bag: Any, settings: Settings
) -> None:
    assert DAG_ID in dag_bag.dags
    with Store(settings.store) as store, open_publisher(settings, store, source="test") as p:
        p.publish_many(
            [
                factories.consultation("zq-1", title="公园管理办法（征求意见稿）"),
                factories.consultation(
                    "zq-2",
                    title="停车管理办法（征求意见稿）",
                    opens_on="2023-04-16",
                    closes_on="2023-05-15",
                ),
            ]
        )
    deliver(settings)
    out = settings.output_dir
    assert "意见反馈方式" in (out / "consultation/zq-1.html").read_text("utf-8")

    # The run of 2 May: zq-1 is open through that day.
    assert test_run(DAG_ID, at(2023, 5, 2))["(run)"] == "success"
    assert closures(settings) == []

    # The run of 3 May closes zq-1, and only it.
    states = test_run(DAG_ID, at(2023, 5, 3))
    assert (states["sync_catalog"], states["find_closing"], states["emit_closures"]) == (
        "success",
        "success",
        "success",
    )
    [closed] = closures(settings)
    assert (closed.document_id, closed.version, closed.action.value) == ("zq-1", 2, "update")
    assert closed.occurred_at.isoformat() == "2023-05-03T00:00:00+08:00"
    assert closed.payload.title == "公园管理办法（征求意见稿）"  # the rest unchanged
    deliver(settings)
    page = (out / "consultation/zq-1.html").read_text("utf-8")
    assert "已截止" in page
    assert "意见反馈方式" not in page
    feed = feedparser.parse((out / "feeds/consultation.atom").read_bytes())
    tags = {e.id.rsplit(":", 1)[-1]: {t.term for t in e.tags} for e in feed.entries}
    assert "已截止" in tags["zq-1"]
    assert "征求意见中" in tags["zq-2"]

    # Again, and a backfill: nothing more is sent.
    assert test_run(DAG_ID, at(2023, 5, 3))["(run)"] == "success"
    assert test_run(DAG_ID, at(2023, 5, 1))["(run)"] == "success"
    assert [e.event_id for e in closures(settings)] == [closed.event_id]

    # 5 June: zq-1 closed 24 working days ago (the May Day holiday counted) with no result.
    assert test_run(DAG_ID, at(2023, 6, 5))["(run)"] == "success"
    assert [e.document_id for e in closures(settings)] == ["zq-1", "zq-2"]
    assert overdue_on(settings, date(2023, 6, 5)) == ["zq-1"]

    # The result is published: nothing overdue any more.
    result = {"published_on": "2023-06-05", "received": 12, "adopted": 5}
    with Store(settings.store) as store, open_publisher(settings, store, source="test") as p:
        p.publish(factories.consultation("zq-1", 3, closed=True, result=result))
    deliver(settings)
    assert overdue_on(settings, date(2023, 6, 5)) == []
    assert "结果已公布" in (out / "consultation/zq-1.html").read_text("utf-8")
