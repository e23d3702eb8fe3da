"""Quarters (``2023Q2``) and the calendar the releases run on (Asia/Shanghai)."""

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Self
from zoneinfo import ZoneInfo

from govpub.errors import ConfigurationError

RELEASE_TIMEZONE = ZoneInfo("Asia/Shanghai")
"""The government's local time: schedules, release dates and display periods use it."""

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
_CHINESE_NUMBERS = {1: "一", 2: "二", 3: "三", 4: "四"}


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter, written ``2023Q2``."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Self:
        """``"2023Q2"`` → ``Quarter(2023, 2)``; anything else is a :class:`ConfigurationError`."""
        match = _QUARTER.match(text.strip())
        if match is None:
            raise ConfigurationError(f"quarter: {text!r} is not a quarter such as 2023Q2")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, day: date) -> Self:
        """The quarter that contains ``day``."""
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def just_ended(cls, moment: datetime) -> "Quarter":
        """The last quarter that had ended at ``moment`` (local time in Asia/Shanghai)."""
        return cls.of(moment.astimezone(RELEASE_TIMEZONE).date()).previous()

    def previous(self) -> "Quarter":
        """The quarter before this one."""
        if self.number == 1:
            return Quarter(self.year - 1, 4)
        return Quarter(self.year, self.number - 1)

    @property
    def first_day(self) -> date:
        """1 January, 1 April, 1 July or 1 October."""
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> date:
        """The last day of the quarter."""
        if self.number == 4:
            return date(self.year, 12, 31)
        return date(self.year, 3 * self.number + 1, 1) - timedelta(days=1)

    @property
    def chinese_number(self) -> str:
        """一, 二, 三 or 四 (第二季度)."""
        return _CHINESE_NUMBERS[self.number]

    def has_ended(self, moment: datetime) -> bool:
        """True once the quarter's last day is over in Asia/Shanghai."""
        return moment.astimezone(RELEASE_TIMEZONE).date() > self.last_day

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"
