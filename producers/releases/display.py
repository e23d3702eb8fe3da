"""Display periods of penalty decisions (行政处罚决定公示期限), kept as data.

How long a decision stays online differs by region and by field of law enforcement (at
least a year for work safety; at least three months and at most three years on credit
sites), so the periods are a TOML file (``producers/releases/data/penalty-display.toml``,
or ``GOVPUB_PENALTY_DISPLAY_CONFIG``): a default, and entries per domain and per penalty
type, each naming its source and marked ``verify`` where it was not confirmed.

The take-down date is computed once, by the compliance gate, which writes it into the
decision as ``payload.display_until`` when the department gave none, and refuses one
outside the minimum and maximum that apply. A period counts from the day of the decision:
one year from 2023-05-05 is displayed until 2024-05-04 and taken down on 2024-05-05.

Which period applies: the domain's, else the longest of the decision's penalty types',
else the default; it is then raised to the highest minimum and lowered to the lowest
maximum of the default, the domain and the types (:meth:`DisplayPeriods.terms`).
"""

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from govpub.errors import ConfigurationError
from producers.releases.datafiles import load_model, shipped
from schemas import PenaltyPayload, PenaltyType
from schemas.types import ShortText

SHIPPED_LABEL = "producers/releases/data/penalty-display.toml"

_REFERENCE_DAY = date(2001, 1, 1)
"""Where periods are compared while the file is checked (a year without 29 February)."""


def _add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, kept within the month (31 January + 1 → 28 February)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


class Period(BaseModel):
    """A length of time written ``{ years = 1 }``, ``{ months = 3 }``, ``{ days = 30 }`` or a
    combination; counted from the day of the decision, that day included."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    years: Annotated[int, Field(ge=0, le=100)] = 0
    months: Annotated[int, Field(ge=0, le=1200)] = 0
    days: Annotated[int, Field(ge=0, le=36_500)] = 0

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not (self.years or self.months or self.days):
            raise ValueError("a period needs years, months or days")
        return self

    def last_day(self, first: date) -> date:
        """The last day of the period that starts on ``first``."""
        return _add_months(first, self.years * 12 + self.months) + timedelta(self.days - 1)

    def __str__(self) -> str:
        parts = [
            f"{n} {unit}{'s' if n != 1 else ''}"
            for n, unit in ((self.years, "year"), (self.months, "month"), (self.days, "day"))
            if n
        ]
        return " ".join(parts)


class PeriodRule(BaseModel):
    """A display period, its bounds, and where they come from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    period: Period | None = Field(default=None, description="how long a decision is displayed")
    minimum: Period | None = Field(default=None, description="no decision is displayed shorter")
    maximum: Period | None = Field(default=None, description="no decision is displayed longer")
    source: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="the rule behind the period and its bounds"
    )
    verify: bool = Field(default=False, description="not confirmed against the official text")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        _check_order(self, self)
        return self

    @property
    def cited(self) -> str:
        """The source, with ``(verify)`` when it is not confirmed."""
        return f"{self.source} (verify)" if self.verify else self.source


class DefaultRule(PeriodRule):
    """The period of a decision no domain or penalty type entry covers."""

    period: Period = Field(description="how long a decision is displayed")


class DomainRule(PeriodRule):
    """The period of every decision in one domain of law enforcement."""

    domain: ShortText = Field(description="payload.domain of the decisions, e.g. 安全生产")


class TypeRule(PeriodRule):
    """The period of decisions that impose one of ``penalty_types`` (outside a domain entry
    with its own period)."""

    penalty_types: Annotated[list[PenaltyType], Field(min_length=1, max_length=14)]


def _check_order(low: PeriodRule, high: PeriodRule) -> None:
    """Refuse rules that leave no valid period when they apply together: a minimum longer
    than a maximum (and, within one entry, a period outside its own bounds; across
    entries a period is brought within the bounds that apply)."""
    pairs = [(low.minimum, high.maximum, "minimum", "maximum")]
    if low is high:
        pairs += [
            (low.minimum, high.period, "minimum", "period"),
            (low.period, high.maximum, "period", "maximum"),
        ]
    for shorter, longer, first, second in pairs:
        if (
            shorter is not None
            and longer is not None
            and shorter.last_day(_REFERENCE_DAY) > longer.last_day(_REFERENCE_DAY)
        ):
            where = "" if low is high else f" of {_name(high)}"
            raise ValueError(f"{first} {shorter} is longer than the {second} {longer}{where}")


def _name(rule: PeriodRule) -> str:
    """The entry, as the file names it (for errors in the file)."""
    if isinstance(rule, DomainRule):
        return f"domain {rule.domain}"
    if isinstance(rule, TypeRule):
        return f"penalty types {'、'.join(t.value for t in rule.penalty_types)}"
    return "the default"


def _applies_to(rule: PeriodRule) -> str:
    """Which decisions the entry is about (for errors about an event)."""
    if isinstance(rule, DomainRule):
        return f"{rule.domain} decisions"
    if isinstance(rule, TypeRule):
        return f"decisions imposing {'、'.join(t.value for t in rule.penalty_types)}"
    return "every penalty decision"


class DisplayConfig(BaseModel):
    """The display-period file: a default, and entries per domain and per penalty type."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: DefaultRule
    domains: Annotated[list[DomainRule], Field(max_length=200)] = []
    penalty_types: Annotated[list[TypeRule], Field(max_length=14)] = []

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        seen: set[str] = set()
        for domain_rule in self.domains:
            if domain_rule.domain in seen:
                raise ValueError(f"domain {domain_rule.domain} has two entries")
            seen.add(domain_rule.domain)
        typed: set[PenaltyType] = set()
        for type_rule in self.penalty_types:
            for kind in type_rule.penalty_types:
                if kind in typed:
                    raise ValueError(f"penalty type {kind.value} has two entries")
                typed.add(kind)
        # Rules that may apply to one decision together must leave a valid period: the
        # default with every entry, a domain with every type, two types with each other.
        together: list[tuple[PeriodRule, PeriodRule]] = []
        entries: list[PeriodRule] = [*self.domains, *self.penalty_types]
        for rule in entries:
            together += [(self.default, rule), (rule, self.default)]
        for domain in self.domains:
            for types in self.penalty_types:
                together += [(domain, types), (types, domain)]
        for one in self.penalty_types:
            together += [(one, other) for other in self.penalty_types if other is not one]
        for low, high in together:
            try:
                _check_order(low, high)
            except ValueError as exc:
                raise ValueError(f"{_name(low)}: {exc}") from None
        return self


@dataclass(frozen=True)
class Bound:
    """A minimum or maximum and the entry it comes from."""

    period: Period
    rule: PeriodRule


@dataclass(frozen=True)
class DisplayTerms:
    """The period that applies to one decision, with its bounds and their sources."""

    period: Period
    source: PeriodRule
    minimum: Bound | None
    maximum: Bound | None

    def display_until(self, decided_on: date) -> date:
        """The last day a decision of ``decided_on`` is displayed: its period, within bounds."""
        until = self.period.last_day(decided_on)
        if self.minimum is not None:
            until = max(until, self.minimum.period.last_day(decided_on))
        if self.maximum is not None:
            until = min(until, self.maximum.period.last_day(decided_on))
        return until

    def problem(self, decided_on: date, display_until: date) -> str | None:
        """Why ``display_until`` is outside the bounds (``None`` when it is within them)."""
        days = (display_until - decided_on).days + 1
        low, high = self.minimum, self.maximum
        if low is not None and display_until < low.period.last_day(decided_on):
            earliest = low.period.last_day(decided_on)
            return (
                f"{display_until} displays the decision of {decided_on} for {days} days; the"
                f" minimum for {_applies_to(low.rule)} is {low.period} (until {earliest} or later;"
                f" {low.rule.cited})"
            )
        if high is not None and display_until > high.period.last_day(decided_on):
            latest = high.period.last_day(decided_on)
            return (
                f"{display_until} displays the decision of {decided_on} for {days} days; the"
                f" maximum for {_applies_to(high.rule)} is {high.period} (until {latest} at the"
                f" latest; {high.rule.cited})"
            )
        return None


class DisplayPeriods:
    """The display periods of a configuration file; immutable once built."""

    def __init__(self, config: DisplayConfig) -> None:
        self.config = config
        self._domains = {rule.domain: rule for rule in config.domains}
        self._types = {kind: rule for rule in config.penalty_types for kind in rule.penalty_types}

    @classmethod
    def load(cls, path: Path | None = None) -> Self:
        """The periods of ``path`` (``GOVPUB_PENALTY_DISPLAY_CONFIG``), or the shipped file."""
        if path is None:
            config = load_model(DisplayConfig, shipped("penalty-display.toml"), SHIPPED_LABEL)
        else:
            if not path.is_file():
                raise ConfigurationError(f"GOVPUB_PENALTY_DISPLAY_CONFIG: {path} is not a file")
            config = load_model(DisplayConfig, path, str(path))
        return cls(config)

    def terms(self, domain: str, penalty_types: Sequence[PenaltyType]) -> DisplayTerms:
        """The period, minimum and maximum for a decision of ``domain`` imposing
        ``penalty_types``."""
        default = self.config.default
        domain_rule = self._domains.get(domain)
        type_rules: list[TypeRule] = []
        for kind in penalty_types:
            rule = self._types.get(kind)
            if rule is not None and all(rule is not r for r in type_rules):
                type_rules.append(rule)
        rules: list[PeriodRule] = [default, *([domain_rule] if domain_rule else []), *type_rules]
        source: PeriodRule = default
        period = default.period
        if domain_rule is not None and domain_rule.period is not None:
            source, period = domain_rule, domain_rule.period
        elif type_rules:
            # Each type asks for its entry's period, or the default's: the longest wins
            # (警告 alone is shown 3 months, 警告 with 罚款 as long as a fine).
            asked: list[PeriodRule] = [
                self._types.get(kind) or default for kind in dict.fromkeys(penalty_types)
            ]
            source = max((r for r in asked if r.period is not None), key=_length, default=default)
            assert source.period is not None
            period = source.period
        minimums = [Bound(r.minimum, r) for r in rules if r.minimum is not None]
        maximums = [Bound(r.maximum, r) for r in rules if r.maximum is not None]
        return DisplayTerms(
            period=period,
            source=source,
            minimum=max(minimums, key=lambda b: b.period.last_day(_REFERENCE_DAY), default=None),
            maximum=min(maximums, key=lambda b: b.period.last_day(_REFERENCE_DAY), default=None),
        )

    def terms_of(self, penalty: PenaltyPayload) -> DisplayTerms:
        """:meth:`terms` for one decision."""
        return self.terms(penalty.domain, penalty.penalty_types)

    def display_until(self, penalty: PenaltyPayload) -> date:
        """The last day ``penalty`` is displayed: its own ``display_until``, else its period."""
        if penalty.display_until is not None:
            return penalty.display_until
        return self.terms_of(penalty).display_until(penalty.decided_on)


def _length(rule: PeriodRule) -> date:
    assert rule.period is not None
    return rule.period.last_day(_REFERENCE_DAY)
