"""The working-day calendar: Chinese public holidays and make-up working days, kept as data.

One TOML file per year (``producers/compliance/data/holidays/<year>.toml``), each
naming the State Council notice it comes from; more years (or corrections) can be
added without a release through ``GOVPUB_COMPLIANCE_CALENDAR_DIR``, whose files
replace the shipped file of the same year.

A day is a working day when it is a make-up working day (调休上班), or a Monday to
Friday that is not a holiday. For a year without data only weekends are days off,
and :meth:`WorkingCalendar.covers` says so, so that a deadline computed across it
can say it is approximate.
"""

import bisect
import tomllib
from collections.abc import Iterable
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from govpub.errors import ConfigurationError

_SATURDAY = 5


class HolidayPeriod(BaseModel):
    """Consecutive days off for one festival, and the weekend days worked in exchange."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=40)]
    first: date
    last: date
    workdays: list[date] = []

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.last < self.first:
            raise ValueError("last must not be before first")
        if (self.last - self.first).days > 15:
            raise ValueError("a holiday period is at most 16 days")
        for day in self.workdays:
            if day.weekday() < _SATURDAY:
                raise ValueError(f"make-up working day {day} is not a Saturday or Sunday")
        return self

    def days(self) -> list[date]:
        """Every day off of the period."""
        return [self.first + timedelta(n) for n in range((self.last - self.first).days + 1)]


class HolidayYear(BaseModel):
    """One year's holiday arrangement, as published by the State Council."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    year: Annotated[int, Field(ge=2000, le=2100)]
    source: Annotated[str, Field(min_length=1)]
    statutory_days: Annotated[int, Field(ge=1, le=30)]
    verify: list[str] = []
    holidays: Annotated[list[HolidayPeriod], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for period in self.holidays:
            for day in (period.first, period.last, *period.workdays):
                if abs(day.year - self.year) > 1:
                    raise ValueError(f"{period.name}: {day} is not near {self.year}")
        # Every statutory day gives one weekday off (itself, or a 补休 day when it falls on a
        # weekend), and every make-up working day buys one more: a cheap check of the data.
        weekdays_off = sum(
            1 for period in self.holidays for day in period.days() if day.weekday() < _SATURDAY
        )
        makeup = sum(len(period.workdays) for period in self.holidays)
        if weekdays_off - makeup != self.statutory_days:
            raise ValueError(
                f"weekdays off ({weekdays_off}) minus make-up working days ({makeup}) should be "
                f"the {self.statutory_days} statutory days; check the dates against the notice"
            )
        return self


def _weekdays_after(start: date, end: date) -> int:
    """Mondays to Fridays in ``(start, end]``."""
    total = (end - start).days
    weeks, rest = divmod(total, 7)
    return weeks * 5 + sum(1 for n in range(1, rest + 1) if (start + timedelta(n)).weekday() < 5)


class WorkingCalendar:
    """Working days from holiday data; immutable once built."""

    def __init__(self, years: Iterable[HolidayYear]) -> None:
        self.years: dict[int, HolidayYear] = {year.year: year for year in years}
        off: set[date] = set()
        work: set[date] = set()
        for year in self.years.values():
            for period in year.holidays:
                off.update(day for day in period.days() if day.weekday() < _SATURDAY)
                work.update(period.workdays)
        self._weekday_holidays = sorted(off - work)
        self._weekend_workdays = sorted(work)

    @classmethod
    def load(cls, extra_dir: Path | None = None) -> Self:
        """The shipped years, replaced or extended by the ``*.toml`` files in ``extra_dir``."""
        years: dict[int, HolidayYear] = {}
        shipped = resources.files("producers.compliance").joinpath("data/holidays")
        for entry in sorted(shipped.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".toml"):
                year = _parse(
                    f"producers/compliance/data/holidays/{entry.name}", entry.read_text("utf-8")
                )
                years[year.year] = year
        if extra_dir is not None:
            if not extra_dir.is_dir():
                raise ConfigurationError(
                    f"GOVPUB_COMPLIANCE_CALENDAR_DIR: {extra_dir} is not a directory"
                )
            for path in sorted(extra_dir.glob("*.toml")):
                try:
                    text = path.read_text("utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    raise ConfigurationError(f"{path}: cannot read: {exc}") from None
                year = _parse(str(path), text)
                years[year.year] = year
        return cls(years.values())

    def covers(self, day: date) -> bool:
        """Whether holiday data exists for ``day``'s year."""
        return day.year in self.years

    def is_working_day(self, day: date) -> bool:
        """True for a working day (make-up days count; holidays and weekends do not)."""
        if _contains(self._weekend_workdays, day):
            return True
        return day.weekday() < _SATURDAY and not _contains(self._weekday_holidays, day)

    def working_days_after(self, start: date, end: date) -> int:
        """Working days ``d`` with ``start < d <= end`` (0 if ``end <= start``)."""
        if end <= start:
            return 0
        return (
            _weekdays_after(start, end)
            - _count_between(self._weekday_holidays, start, end)
            + _count_between(self._weekend_workdays, start, end)
        )

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (the last day of a deadline)."""
        day = start
        remaining = days
        while remaining > 0:
            day += timedelta(1)
            if self.is_working_day(day):
                remaining -= 1
        return day


def _contains(days: list[date], day: date) -> bool:
    index = bisect.bisect_left(days, day)
    return index < len(days) and days[index] == day


def _count_between(days: list[date], start: date, end: date) -> int:
    """How many of the sorted ``days`` fall in ``(start, end]``."""
    return bisect.bisect_right(days, end) - bisect.bisect_right(days, start)


def _parse(name: str, text: str) -> HolidayYear:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{name}: not valid TOML: {exc}") from None
    try:
        return HolidayYear.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            path = "".join(
                f"[{part}]" if isinstance(part, int) else f".{part}" for part in err["loc"]
            ).lstrip(".")
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{name}: {path or '(file)'}: {message}")
        raise ConfigurationError("; ".join(problems)) from None
