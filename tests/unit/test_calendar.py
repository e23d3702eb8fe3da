"""The working-day calendar: shipped data is consistent, days are counted right."""

from datetime import date, timedelta
from pathlib import Path

import pytest

from govpub.errors import ConfigurationError
from producers.compliance.calendar import WorkingCalendar


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return WorkingCalendar.load()


def test_shipped_years_cover_2023_to_2026_and_name_their_notice(calendar: WorkingCalendar) -> None:
    assert set(calendar.years) >= {2023, 2024, 2025, 2026}
    for year in calendar.years.values():
        assert "国务院办公厅关于" in year.source
        assert f"{year.year}年部分节假日安排" in year.source
        assert year.statutory_days == (11 if year.year <= 2024 else 13)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2023-01-02", False),  # 元旦 (Monday)
        ("2023-01-28", True),  # Saturday worked for 春节
        ("2023-10-06", False),  # 国庆 (Friday)
        ("2023-10-07", True),  # Saturday worked
        ("2024-02-09", True),  # 除夕 2024 was not a statutory holiday
        ("2025-01-28", False),  # 除夕 2025 is (国务院令第795号)
        ("2025-04-27", True),  # Sunday worked for 劳动节
        ("2025-05-02", False),
        ("2026-02-14", True),
        ("2026-02-23", False),
        ("2026-09-21", True),  # ordinary Monday
        ("2026-09-20", True),  # Sunday worked for 国庆
        ("2026-11-28", False),  # ordinary Saturday
    ],
)
def test_working_days(calendar: WorkingCalendar, day: str, working: bool) -> None:
    assert calendar.is_working_day(date.fromisoformat(day)) is working


def test_working_days_after_matches_counting_day_by_day(calendar: WorkingCalendar) -> None:
    start = date(2022, 12, 20)
    for span in (0, 1, 6, 7, 30, 200, 1500):
        end = start + timedelta(span)
        by_day = sum(1 for n in range(1, span + 1) if calendar.is_working_day(start + timedelta(n)))
        assert calendar.working_days_after(start, end) == by_day
    assert calendar.working_days_after(date(2023, 5, 5), date(2023, 5, 5)) == 0
    assert calendar.working_days_after(date(2023, 5, 5), date(2023, 5, 1)) == 0


def test_penalty_deadline_example(calendar: WorkingCalendar) -> None:
    # Decided Friday 2023-09-28: 中秋/国庆 from 09-29 to 10-06, with 10-07 and 10-08 worked.
    assert calendar.add_working_days(date(2023, 9, 28), 7) == date(2023, 10, 13)
    assert calendar.working_days_after(date(2023, 9, 28), date(2023, 10, 13)) == 7


def test_a_year_without_data_counts_weekends_only(calendar: WorkingCalendar) -> None:
    assert not calendar.covers(date(2031, 1, 1))
    assert calendar.is_working_day(date(2031, 1, 1))  # no data: a Wednesday is a working day
    assert calendar.working_days_after(date(2031, 1, 3), date(2031, 1, 10)) == 5


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


GOOD_2027 = """
year = 2027
source = "国务院办公厅关于2027年部分节假日安排的通知（test）"
statutory_days = 1
[[holidays]]
name = "元旦"
first = 2027-01-01
last = 2027-01-03
workdays = []
"""


def test_extra_directory_adds_and_replaces_years(tmp_path: Path) -> None:
    write(tmp_path / "2027.toml", GOOD_2027)
    calendar = WorkingCalendar.load(tmp_path)
    assert calendar.covers(date(2027, 6, 1))
    assert not calendar.is_working_day(date(2027, 1, 1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("year = ", "not valid TOML"),
        (GOOD_2027.replace("statutory_days = 1", "statutory_days = 2"), "statutory days"),
        (
            GOOD_2027.replace("workdays = []", "workdays = [2027-01-04]"),
            "holidays[0]: make-up working day 2027-01-04 is not a Saturday or Sunday",
        ),
        (
            GOOD_2027.replace("last = 2027-01-03", "last = 2026-12-30"),
            "holidays[0]: last must not be before first",
        ),
        (
            GOOD_2027.replace("year = 2027", "year = 2027\ncolour = 1"),
            "colour: Extra inputs are not permitted",
        ),
    ],
)
def test_bad_calendar_files_name_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "2027.toml", text)
    with pytest.raises(ConfigurationError) as info:
        WorkingCalendar.load(tmp_path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_missing_directory_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="GOVPUB_COMPLIANCE_CALENDAR_DIR"):
        WorkingCalendar.load(tmp_path / "nope")
