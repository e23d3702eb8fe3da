"""``dag.test()`` of the theme-day campaign schedule on the embedded bus: phases due,
a missed phase failing the run that finds it, and one phase published by hand."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from govpub.settings import Settings
from producers.releases.quarters import RELEASE_TIMEZONE
from tests.dags.conftest import deliver_to_subscribers, test_run
from tests.outputs import Expected, assert_published_once
from tests.releases import bus_events, documents, emit, samples

DAG_ID = "theme_day_campaign"
RIVER_DAY = Expected("campaign", "theme-day-2023-river-day", "政务公开主题日：守护好一江碧水五周年")
RIVER_PREVIEW = Expected(
    "campaign", "theme-day-2023-river-preview", "政务公开主题日预告：守护好一江碧水五周年"
)
# Windows that closed, with nothing published, by 2023-07-05 09:00 (nothing ran before).
MISSED_BY_JULY_5 = [
    "theme-day-2023-farmland-preview",
    "theme-day-2023-farmland-day",
    "theme-day-2023-farmland-recap",
    "theme-day-2023-river-preview",
]


def run(at: datetime) -> dict[str, str]:
    return test_run(DAG_ID, at)


def test_the_run_at_a_phase_time_emits_that_phase_once(
    dag_bag: Any, release_settings: Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    assert DAG_ID in dag_bag.dags
    states = run(datetime(2023, 7, 5, 9, 0, tzinfo=RELEASE_TIMEZONE))
    # The phase is out; the phases missed while nothing ran fail the check, once.
    assert (states["check_calendar"], states["emit_due_phases"]) == ("success", "success")
    assert (states["check_missed_phases"], states["(run)"]) == ("failed", "failed")
    captured = capfd.readouterr()
    out = captured.out + captured.err
    assert "4 theme-day phase(s) missed their window and were not published" in out
    assert all(f"{phase} (due " in out for phase in MISSED_BY_JULY_5)
    assert (
        """airflow dags trigger theme_day_campaign --conf '{"phase":"""
        """ "theme-day-2023-farmland-preview"}'"""
    ) in out
    [event] = bus_events(release_settings, "campaign")
    assert event.document_id == RIVER_DAY.document_id
    assert (event.action.value, event.version, event.department) == ("publish", 1, "zz-zfb")
    assert event.occurred_at == datetime(2023, 7, 5, 9, 0, tzinfo=RELEASE_TIMEZONE)
    deliver_to_subscribers(release_settings)
    assert_published_once(release_settings.output_dir, RIVER_DAY)

    # The next hourly run finds the phase still in its window and sends nothing more;
    # the missed phases were reported already.
    assert run(datetime(2023, 7, 5, 10, 0, tzinfo=RELEASE_TIMEZONE))["(run)"] == "success"
    assert [e.event_id for e in bus_events(release_settings, "campaign")] == [event.event_id]
    deliver_to_subscribers(release_settings)
    assert_published_once(release_settings.output_dir, RIVER_DAY)


def test_a_phase_already_in_the_demo_data_is_not_sent_again(
    dag_bag: Any, release_settings: Settings
) -> None:
    emit(release_settings, samples())
    states = run(datetime(2023, 6, 28, 9, 0, tzinfo=RELEASE_TIMEZONE))
    assert states["emit_due_phases"] == "success"
    assert states["check_missed_phases"] == "failed"  # the farmland preview and day, missed
    events = bus_events(release_settings, "campaign")
    assert len(documents(events, RIVER_PREVIEW.document_id)) == 1
    assert [e.document_id for e in events if e.document_id != RIVER_PREVIEW.document_id] == [
        "theme-day-2023-farmland-recap"
    ]
    deliver_to_subscribers(release_settings)
    assert_published_once(release_settings.output_dir, RIVER_PREVIEW)


def test_a_missed_phase_is_published_by_hand_dated_when_it_is_published(
    dag_bag: Any, release_settings: Settings
) -> None:
    before = datetime.now(UTC)
    states = test_run(DAG_ID, None, phase="theme-day-2023-farmland-day")
    assert states["(run)"] == "success"
    assert states["emit_due_phases"] == "success"
    [event] = bus_events(release_settings, "campaign")
    assert event.document_id == "theme-day-2023-farmland-day"
    assert before <= event.occurred_at <= datetime.now(UTC)
    # Asking again publishes nothing more.
    assert test_run(DAG_ID, None, phase="theme-day-2023-farmland-day")["(run)"] == "success"
    assert len(bus_events(release_settings, "campaign")) == 1


def test_an_invalid_calendar_fails_the_check_and_emits_nothing(
    dag_bag: Any,
    release_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    calendar = tmp_path / "calendar"
    calendar.mkdir()
    (calendar / "broken.toml").write_text('id = "x"\ntheme = "主题"\n', encoding="utf-8")
    monkeypatch.setenv("GOVPUB_CAMPAIGNS_DIR", str(calendar))
    states = run(datetime(2023, 7, 5, 11, 0, tzinfo=RELEASE_TIMEZONE))
    assert states["check_calendar"] == "failed"
    assert states["emit_due_phases"] == "upstream_failed"
    assert f"{calendar / 'broken.toml'}: day: Field required" in capfd.readouterr().out
    assert bus_events(release_settings, "campaign") == []
