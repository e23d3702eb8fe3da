"""Theme-day campaigns: the calendar as data, the phase schedule, and emitting each phase once."""

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from govpub.errors import ConfigurationError, MissedPhases, ReleaseRefused
from govpub.settings import Settings
from govpub.store import Store
from producers.releases.campaigns import (
    PHASE_OFFSETS,
    RECAP_WINDOW,
    Calendar,
    emit_due_phases,
    emit_phase,
    load_calendar,
)
from producers.releases.log import ReleaseLog
from producers.releases.quarters import RELEASE_TIMEZONE
from schemas import CampaignPhase, parse_event
from tests.releases import bus_events, documents, emit, samples

pytestmark = pytest.mark.usefixtures("store_location")

WORK_POINT_THEMES = {"首倡地脱贫攻坚十周年", "守护好一江碧水五周年", "绿心中央公园规划", "耕地保护"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=RELEASE_TIMEZONE)


@pytest.fixture
def calendar() -> Calendar:
    return load_calendar()


def test_the_shipped_calendar_has_the_four_themes_from_the_second_quarter_on(
    calendar: Calendar,
) -> None:
    assert {c.theme for c in calendar.campaigns} == WORK_POINT_THEMES
    assert all(c.day.year == 2023 for c in calendar.campaigns)
    # Every phase, the preview included, falls in the second quarter of 2023 or later.
    assert min(p.publish_at for p in calendar.phases) >= at("2023-04-01T00:00:00")
    assert len(calendar.phases) == 12
    assert calendar.sources["2023-river"] == "producers/releases/data/campaigns/2023-river.toml"
    for phase in calendar.phases:
        event = parse_event(phase.event())  # every phase is a valid campaign event
        assert event.kind.value == "campaign"
        assert event.version == 1


def test_phases_are_published_at_t_minus_7_t_and_t_plus_3(calendar: Calendar) -> None:
    [river] = [c for c in calendar.campaigns if c.id == "2023-river"]
    schedule = {p.phase: p for p in river.schedule()}
    assert schedule[CampaignPhase.PREVIEW].publish_at == at("2023-06-28T09:00:00")
    assert schedule[CampaignPhase.DAY].publish_at == at("2023-07-05T09:00:00")
    assert schedule[CampaignPhase.RECAP].publish_at == at("2023-07-08T09:00:00")
    assert schedule[CampaignPhase.PREVIEW].until == schedule[CampaignPhase.DAY].publish_at
    assert schedule[CampaignPhase.DAY].until == schedule[CampaignPhase.RECAP].publish_at
    assert schedule[CampaignPhase.RECAP].until == at("2023-07-08T09:00:00") + RECAP_WINDOW
    assert PHASE_OFFSETS[CampaignPhase.PREVIEW] == -timedelta(days=7)
    assert [p.document_id for p in river.schedule()] == [
        "theme-day-2023-river-preview",
        "theme-day-2023-river-day",
        "theme-day-2023-river-recap",
    ]
    # The shipped preview is the sample event's text: the demo data and the calendar agree.
    [sample] = [e for e in samples() if e["document_id"] == "theme-day-2023-river-preview"]
    shipped = schedule[CampaignPhase.PREVIEW].event()
    assert shipped["payload"] == sample["payload"]
    assert shipped["occurred_at"] == sample["occurred_at"]


def test_what_is_due_when(calendar: Calendar) -> None:
    due = lambda moment: [p.document_id for p in calendar.due(at(moment))]  # noqa: E731
    assert due("2023-06-28T08:59:59") == ["theme-day-2023-farmland-day"]
    assert due("2023-06-28T09:00:00") == [
        "theme-day-2023-farmland-recap",
        "theme-day-2023-river-preview",
    ]
    assert due("2023-07-05T08:59:59") == [
        "theme-day-2023-farmland-recap",
        "theme-day-2023-river-preview",
    ]
    assert due("2023-07-05T09:00:00") == ["theme-day-2023-river-day"]
    assert due("2023-12-01T09:00:00") == []


CAMPAIGN = """
id = "2024-test"
theme = "测试主题"
day = 2024-05-20
department = "zz-zfb"
publish_time = 10:30:00

[phases.preview]
title = "预告"
body = "<p>预告</p>"

[phases.day]
title = "当日"
body = "<p>当日</p>"
links = [{ title = "专栏", url = "https://www.example.org/zwgk/" }]

[phases.recap]
title = "回顾"
body = "<p>回顾</p>"
"""


def test_a_new_file_changes_the_calendar_without_code(tmp_path: Path) -> None:
    (tmp_path / "2024-test.toml").write_text(CAMPAIGN, encoding="utf-8")
    (tmp_path / "notes.md").write_text("not a campaign", encoding="utf-8")
    calendar = load_calendar(tmp_path)
    [campaign] = calendar.campaigns
    assert campaign.publish_time == time(10, 30)
    assert [p.publish_at for p in calendar.phases] == [
        at("2024-05-13T10:30:00"),
        at("2024-05-20T10:30:00"),
        at("2024-05-23T10:30:00"),
    ]
    assert calendar.phases[1].event()["payload"]["links"] == [
        {"title": "专栏", "url": "https://www.example.org/zwgk/"}
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('title = "当日"\n', ""), "phases.day.title: Field required"),
        (("day = 2024-05-20", 'day = "next monday"'), "day: Input should be a valid date"),
        (('department = "zz-zfb"', 'department = "zz-x"'), "department: unknown department code"),
        (('id = "2024-test"', 'id = "2024 test"'), "id: String should match pattern"),
        (
            ("publish_time = 10:30:00", "publish_time = 10:30:00\ncolour = 1"),
            "colour: Extra inputs",
        ),
        (
            ('url = "https://www.example.org/zwgk/"', 'url = "ftp://x"'),
            "phases.day.links.0.url: String should match pattern",
        ),
        (("[phases.recap]", "[phases.recap"), "not valid TOML"),
    ],
)
def test_errors_name_the_file_and_the_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    path = tmp_path / "2024-test.toml"
    path.write_text(CAMPAIGN.replace(*change), encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_calendar(tmp_path)
    assert f"{path}: " in str(caught.value)
    assert expected in str(caught.value)


def test_two_files_with_one_id_and_a_missing_folder_are_errors(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(CAMPAIGN, encoding="utf-8")
    (tmp_path / "b.toml").write_text(CAMPAIGN, encoding="utf-8")
    with pytest.raises(
        ConfigurationError, match=r"b.toml: id: '2024-test' is already used by .*a.toml"
    ):
        load_calendar(tmp_path)
    with pytest.raises(ConfigurationError, match="is not a directory"):
        load_calendar(tmp_path / "nowhere")


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


def test_each_due_phase_is_emitted_once(settings: Settings, calendar: Calendar) -> None:
    moment = at("2023-07-04T09:00:00")
    first = emit_due_phases(settings, calendar, moment, source="test", run_id="r1")
    assert [r.document_id for r in first.emitted] == [
        "theme-day-2023-farmland-recap",
        "theme-day-2023-river-preview",
    ]
    # The farmland preview and day passed while nothing ran: reported, not sent late.
    assert first.missed == ["theme-day-2023-farmland-preview", "theme-day-2023-farmland-day"]
    assert first.newly_missed == [
        "theme-day-2023-farmland-preview (due 2023-06-18T09:00:00+08:00 to"
        " 2023-06-25T09:00:00+08:00)",
        "theme-day-2023-farmland-day (due 2023-06-25T09:00:00+08:00 to 2023-06-28T09:00:00+08:00)",
    ]
    later = moment + timedelta(minutes=59)
    again = emit_due_phases(settings, calendar, later, source="t", run_id="r2")
    assert again.emitted == []
    # Still missed, but only the first run that found them reports them.
    assert again.missed == first.missed
    assert again.newly_missed == []
    assert again.already_published == [
        "theme-day-2023-farmland-recap",
        "theme-day-2023-river-preview",
    ]
    day = emit_due_phases(settings, calendar, at("2023-07-05T09:00:00"), source="t", run_id="r3")
    assert [r.document_id for r in day.emitted] == ["theme-day-2023-river-day"]
    assert day.missed == ["theme-day-2023-farmland-preview", "theme-day-2023-farmland-day"]
    events = bus_events(settings, "campaign")
    assert sorted(e.document_id for e in events) == [
        "theme-day-2023-farmland-recap",
        "theme-day-2023-river-day",
        "theme-day-2023-river-preview",
    ]
    [day] = documents(events, "theme-day-2023-river-day")
    assert day.occurred_at == at("2023-07-05T09:00:00")
    assert day.payload.phase is CampaignPhase.DAY  # type: ignore[union-attr]
    assert day.payload.day == date(2023, 7, 5)  # type: ignore[union-attr]
    with Store(settings.store) as store:
        logged = ReleaseLog(store).latest()
    assert {(r.document_id, r.run_id) for r in logged} == {
        ("theme-day-2023-farmland-recap", "r1"),
        ("theme-day-2023-river-preview", "r1"),
        ("theme-day-2023-river-day", "r3"),
    }


def test_a_phase_published_by_hand_is_not_sent_again(
    settings: Settings, calendar: Calendar
) -> None:
    emit(settings, samples())  # the samples include the river preview, with its own event id
    result = emit_due_phases(
        settings, calendar, at("2023-06-28T09:00:00"), source="test", run_id="r1"
    )
    assert result.already_published == ["theme-day-2023-river-preview"]
    assert [r.document_id for r in result.emitted] == ["theme-day-2023-farmland-recap"]
    assert len(documents(bus_events(settings, "campaign"), "theme-day-2023-river-preview")) == 1


def test_text_changed_after_publication_is_reported_not_resent(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "calendar"
    folder.mkdir()
    path = folder / "2024-test.toml"
    path.write_text(CAMPAIGN, encoding="utf-8")
    moment = at("2024-05-20T11:00:00")
    emitted = emit_due_phases(settings, load_calendar(folder), moment, source="t", run_id="r1")
    assert [r.document_id for r in emitted.emitted] == ["theme-day-2024-test-day"]
    path.write_text(CAMPAIGN.replace("<p>当日</p>", "<p>当日（修改）</p>"), encoding="utf-8")
    changed = emit_due_phases(settings, load_calendar(folder), moment, source="t", run_id="r2")
    assert changed.emitted == []
    assert changed.changed_after_publication == ["theme-day-2024-test-day"]
    assert len(bus_events(settings, "campaign")) == 1


def test_missed_phases_name_each_window_and_the_command_to_publish_late() -> None:
    error = MissedPhases(["theme-day-2023-farmland-day (due 2023-06-25T09:00:00+08:00 to x)"])
    message = str(error)
    assert message.startswith("1 theme-day phase(s) missed their window and were not published")
    assert (
        "airflow dags trigger theme_day_campaign --conf"
        ' \'{"phase": "theme-day-2023-farmland-day"}\'' in message
    )


def test_one_phase_by_hand_in_its_window_late_or_refused_early(
    settings: Settings, calendar: Calendar
) -> None:
    with pytest.raises(ReleaseRefused, match="is not due before 2023-07-05T09:00:00"):
        emit_phase(
            settings,
            calendar,
            "theme-day-2023-river-day",
            source="t",
            run_id="r0",
            now=at("2023-07-01T09:00:00"),
        )
    with pytest.raises(ConfigurationError, match="did you mean theme-day-2023-river-day"):
        emit_phase(settings, calendar, "theme-day-2023-rivr-day", source="t", run_id="r0")
    # In its window: the very event the schedule sends, dated its calendar time.
    in_window = emit_phase(
        settings,
        calendar,
        "theme-day-2023-river-day",
        source="t",
        run_id="r1",
        now=at("2023-07-05T15:00:00"),
    )
    assert [r.document_id for r in in_window.emitted] == ["theme-day-2023-river-day"]
    scheduled = emit_due_phases(
        settings, calendar, at("2023-07-05T16:00:00"), source="t", run_id="r2"
    )
    assert scheduled.already_published == ["theme-day-2023-river-day"]
    # After its window (missed): dated the moment it is published, and only once.
    late = at("2023-07-01T10:00:00")
    published = emit_phase(
        settings, calendar, "theme-day-2023-farmland-day", source="t", run_id="r3", now=late
    )
    assert [r.document_id for r in published.emitted] == ["theme-day-2023-farmland-day"]
    again = emit_phase(settings, calendar, "theme-day-2023-farmland-day", source="t", run_id="r4")
    assert (again.emitted, again.already_published) == ([], ["theme-day-2023-farmland-day"])
    events = bus_events(settings, "campaign")
    [day] = documents(events, "theme-day-2023-river-day")
    assert day.occurred_at == at("2023-07-05T09:00:00")
    [farmland] = documents(events, "theme-day-2023-farmland-day")
    assert farmland.occurred_at == late
    # Published late, it is no longer missed.
    after = emit_due_phases(settings, calendar, at("2023-07-06T09:00:00"), source="t", run_id="r5")
    assert "theme-day-2023-farmland-day" not in after.missed


def test_a_naive_moment_is_refused(settings: Settings, calendar: Calendar) -> None:
    with pytest.raises(ConfigurationError, match="timezone"):
        emit_due_phases(settings, calendar, datetime(2023, 7, 5, 9), source="t", run_id="r")
