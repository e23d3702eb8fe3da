"""Quarters and the Asia/Shanghai calendar of the releases."""

from datetime import UTC, date, datetime

import pytest

from govpub.errors import ConfigurationError
from producers.releases.quarters import RELEASE_TIMEZONE, Quarter


def test_parse_and_print() -> None:
    assert Quarter.parse("2023Q2") == Quarter(2023, 2)
    assert str(Quarter(2024, 4)) == "2024Q4"
    for bad in ("2023Q5", "2023-Q2", "Q2", ""):
        with pytest.raises(ConfigurationError, match="quarter"):
            Quarter.parse(bad)


@pytest.mark.parametrize(
    ("quarter", "first", "last", "chinese"),
    [
        (Quarter(2023, 1), date(2023, 1, 1), date(2023, 3, 31), "一"),
        (Quarter(2023, 2), date(2023, 4, 1), date(2023, 6, 30), "二"),
        (Quarter(2023, 3), date(2023, 7, 1), date(2023, 9, 30), "三"),
        (Quarter(2024, 4), date(2024, 10, 1), date(2024, 12, 31), "四"),
    ],
)
def test_bounds(quarter: Quarter, first: date, last: date, chinese: str) -> None:
    assert (quarter.first_day, quarter.last_day, quarter.chinese_number) == (first, last, chinese)
    assert Quarter.of(first) == quarter == Quarter.of(last)


def test_the_quarter_just_ended_is_counted_in_shanghai_time() -> None:
    # 2023-06-30 17:00 UTC is already 1 July, 01:00, in Zhuzhou.
    assert Quarter.just_ended(datetime(2023, 6, 30, 17, 0, tzinfo=UTC)) == Quarter(2023, 2)
    assert Quarter.just_ended(datetime(2023, 6, 30, 15, 59, tzinfo=UTC)) == Quarter(2023, 1)
    new_year = datetime(2024, 1, 1, 9, 0, tzinfo=RELEASE_TIMEZONE)
    assert Quarter.just_ended(new_year) == Quarter(2023, 4)
    assert Quarter(2024, 1).previous() == Quarter(2023, 4)


def test_has_ended() -> None:
    q2 = Quarter(2023, 2)
    assert not q2.has_ended(datetime(2023, 6, 30, 23, 59, tzinfo=RELEASE_TIMEZONE))
    assert q2.has_ended(datetime(2023, 7, 1, 0, 0, tzinfo=RELEASE_TIMEZONE))
    assert sorted([Quarter(2024, 1), Quarter(2023, 4)]) == [Quarter(2023, 4), Quarter(2024, 1)]
