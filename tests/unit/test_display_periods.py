"""Display periods of penalty decisions as data: the shipped file, which period applies,
its bounds, and configuration errors that name the file and the field."""

from datetime import date
from pathlib import Path

import pytest

from govpub.errors import ConfigurationError
from producers.releases.display import DisplayPeriods, Period
from schemas import PenaltyType, parse_event
from tests import factories

WARNING, CRITICISM, FINE = PenaltyType.WARNING, PenaltyType.NOTICE_OF_CRITICISM, PenaltyType.FINE


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_periods_name_their_sources_and_are_marked_to_verify() -> None:
    config = DisplayPeriods.load().config
    rules = [config.default, *config.domains, *config.penalty_types]
    assert all(rule.source and rule.verify for rule in rules)
    assert config.default.minimum == Period(months=3)
    assert config.default.maximum == Period(years=3)
    [work_safety] = config.domains
    assert (work_safety.domain, work_safety.minimum) == ("安全生产", Period(years=1))


@pytest.mark.parametrize(
    ("period", "first", "last"),
    [
        (Period(years=1), date(2023, 5, 5), date(2024, 5, 4)),
        (Period(months=3), date(2023, 5, 5), date(2023, 8, 4)),
        (Period(days=30), date(2023, 5, 5), date(2023, 6, 3)),
        (Period(years=1, months=6), date(2023, 5, 5), date(2024, 11, 4)),
        # A month later than 31 January is 28 February: displayed until the 27th.
        (Period(months=1), date(2023, 1, 31), date(2023, 2, 27)),
        (Period(years=1), date(2024, 2, 29), date(2025, 2, 27)),
        (Period(days=1), date(2023, 5, 5), date(2023, 5, 5)),
    ],
)
def test_a_period_counts_from_the_day_of_the_decision(
    period: Period, first: date, last: date
) -> None:
    assert period.last_day(first) == last


def test_which_period_applies() -> None:
    periods = DisplayPeriods.load()
    decided = date(2023, 5, 5)
    # The domain's period wins over the penalty types' (安全生产: one year, even for 警告).
    assert periods.terms("安全生产", [WARNING]).display_until(decided) == date(2024, 5, 4)
    # A penalty type's period outside the domain entries: 警告 alone, three months.
    assert periods.terms("市场监管", [WARNING]).display_until(decided) == date(2023, 8, 4)
    assert periods.terms("市场监管", [WARNING, CRITICISM]).period == Period(months=3)
    # Types without an entry ask for the default: 警告 with 罚款 is shown as long as a fine.
    assert periods.terms("市场监管", [WARNING, FINE]).display_until(decided) == date(2024, 5, 4)
    assert periods.terms("市场监管", [FINE]).display_until(decided) == date(2024, 5, 4)


def test_the_event_s_own_display_until_wins() -> None:
    periods = DisplayPeriods.load()
    given = parse_event(factories.penalty(display_until="2025-01-31")).payload
    assert periods.display_until(given) == date(2025, 1, 31)  # type: ignore[arg-type]
    computed = parse_event(factories.penalty()).payload
    assert periods.display_until(computed) == date(2024, 5, 4)  # type: ignore[arg-type]


def test_a_period_outside_the_bounds_is_brought_within_them(tmp_path: Path) -> None:
    path = write(
        tmp_path / "display.toml",
        """
[default]
period = { years = 1 }
minimum = { months = 3 }
maximum = { years = 3 }
source = "test"

[[domains]]
domain = "食品安全"
minimum = { years = 2 }
source = "test: at least two years"

[[penalty_types]]
penalty_types = ["警告"]
period = { months = 3 }
source = "test"
""",
    )
    periods = DisplayPeriods.load(path)
    # 警告 asks for three months; 食品安全 needs two years at least.
    terms = periods.terms("食品安全", [WARNING])
    assert terms.period == Period(months=3)
    assert terms.display_until(date(2023, 5, 5)) == date(2025, 5, 4)
    assert terms.minimum is not None
    assert terms.minimum.period == Period(years=2)


def test_bounds_refuse_a_display_until_and_say_why() -> None:
    terms = DisplayPeriods.load().terms("市场监管", [WARNING])
    decided = date(2023, 5, 5)
    assert terms.problem(decided, date(2023, 8, 4)) is None  # exactly the minimum
    assert terms.problem(decided, date(2026, 5, 4)) is None  # exactly the maximum
    short = terms.problem(decided, date(2023, 6, 1))
    assert short is not None
    assert short.startswith("2023-06-01 displays the decision of 2023-05-05 for 28 days;")
    assert "the minimum for every penalty decision is 3 months (until 2023-08-04 or later;" in short
    assert "(verify)" in short
    long = terms.problem(decided, date(2026, 5, 5))
    assert long is not None
    assert (
        "the maximum for every penalty decision is 3 years (until 2026-05-04 at the latest" in long
    )
    work_safety = DisplayPeriods.load().terms("安全生产", [FINE]).problem(decided, date(2024, 1, 1))
    assert work_safety is not None
    assert "the minimum for 安全生产 decisions is 1 year (until 2024-05-04 or later" in work_safety


def test_configuration_errors_name_the_file_and_the_field(tmp_path: Path) -> None:
    path = write(
        tmp_path / "display.toml",
        """
[default]
period = { years = 1 }
minimum = { years = 2 }
source = "test"

[[domains]]
domain = "安全生产"
period = {}
source = ""

[[penalty_types]]
penalty_types = ["罚金"]
period = { weeks = 2 }
source = "test"
""",
    )
    with pytest.raises(ConfigurationError) as caught:
        DisplayPeriods.load(path)
    message = str(caught.value)
    assert f"{path}: default: minimum 2 years is longer than the period 1 year" in message
    assert f"{path}: domains.0.period: a period needs years, months or days" in message
    assert f"{path}: domains.0.source: String should have at least 1 character" in message
    assert f"{path}: penalty_types.0.penalty_types.0: Input should be" in message
    assert f"{path}: penalty_types.0.period.weeks: Extra inputs are not permitted" in message


def test_entries_that_apply_together_must_leave_a_period(tmp_path: Path) -> None:
    path = write(
        tmp_path / "display.toml",
        """
[default]
period = { years = 1 }
source = "test"

[[domains]]
domain = "安全生产"
minimum = { years = 1 }
source = "test"

[[domains]]
domain = "安全生产"
source = "test"

[[penalty_types]]
penalty_types = ["警告", "警告"]
maximum = { months = 6 }
source = "test"
""",
    )
    with pytest.raises(ConfigurationError) as caught:
        DisplayPeriods.load(path)
    assert f"{path}: (file): domain 安全生产 has two entries" in str(caught.value)
    path = write(
        tmp_path / "display.toml",
        """
[default]
period = { years = 1 }
source = "test"

[[domains]]
domain = "安全生产"
minimum = { years = 1 }
source = "test"

[[penalty_types]]
penalty_types = ["警告"]
maximum = { months = 6 }
source = "test"
""",
    )
    with pytest.raises(ConfigurationError) as caught:
        DisplayPeriods.load(path)
    assert (
        f"{path}: (file): domain 安全生产: minimum 1 year is longer than the maximum 6 months"
        " of penalty types 警告"
    ) in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigurationError, match=r"GOVPUB_PENALTY_DISPLAY_CONFIG: .* is not a file"
    ):
        DisplayPeriods.load(tmp_path / "nowhere.toml")
