"""Freshness rules as data: how long a website column or a new-media account may go
without a new publication, and what executive-meeting pages and policies must carry.

The shipped defaults are ``rules.toml`` beside this module, each rule with its
source and, where it was not confirmed against an official text, what to verify.
``GOVPUB_FRESHNESS_RULES`` names a file that replaces it as a whole.

A rule's interval is counted in calendar days or in working days (the working-day
calendar of :mod:`producers.compliance.calendar`).
"""

from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from producers.releases.datafiles import load_model
from schemas.enums import DocClass, Kind
from schemas.types import DepartmentCode

Unit = Literal["calendar", "working"]
Platform = Literal["wechat", "weibo"]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]

SHIPPED_RULES = "govpub/app/freshness/rules.toml"
"""How the shipped rules file is named in reports (it lives inside the package)."""

UNIT_WORDS = {"calendar": "calendar days", "working": "working days"}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Interval(_Model):
    """At most ``max_days`` (in ``unit``) between two publications, or after an event."""

    max_days: Annotated[int, Field(ge=1, le=3660)]
    unit: Unit = "calendar"
    warning_days: Annotated[int, Field(ge=0, le=365)] | None = Field(
        default=None, description="due soon with this many days left or fewer (default: the file's)"
    )
    source: Annotated[str, Field(min_length=1, max_length=1000)]
    verify: Annotated[str, Field(min_length=1, max_length=1000)] | None = Field(
        default=None, description="what is not confirmed against an official text"
    )

    def describe(self) -> str:
        """``14 calendar days`` (``(verify)`` added when unconfirmed)."""
        text = f"{self.max_days} {UNIT_WORDS[self.unit]}"
        return f"{text} (verify)" if self.verify else text


class ColumnRule(Interval):
    """A website column: documents of ``kind`` (of ``departments`` only, when given)."""

    name: Slug
    kind: Kind
    label: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    departments: list[DepartmentCode] = []

    @property
    def title(self) -> str:
        """How the column is called in reports (its label, or the kind's column name)."""
        return self.label or self.kind.label


class AccountRule(Interval):
    """New-media accounts of ``platform``: those named in ``accounts``, or every one."""

    platform: Platform
    accounts: list[Slug] = Field(
        default=[], description="account names as in the routing file (default: every account)"
    )

    def applies_to(self, platform: str, account: str) -> bool:
        """Whether the rule covers ``account`` of ``platform``."""
        return platform == self.platform and (not self.accounts or account in self.accounts)


class MeetingRule(Interval):
    """A meeting's page must carry what ``require`` names within ``max_days`` of the
    day it was held."""

    require: Annotated[list[Literal["video_url", "interpretation"]], Field(min_length=1)] = [
        "video_url",
        "interpretation",
    ]


class PolicyRule(_Model):
    """Policies of ``classes`` need an interpretation that can be read."""

    classes: Annotated[list[DocClass], Field(min_length=1)] = [
        DocClass.REGULATION,
        DocClass.NORMATIVE,
    ]
    in_force_only: bool = Field(default=True, description="check only policies in force (现行有效)")
    source: Annotated[str, Field(min_length=1, max_length=1000)]
    verify: Annotated[str, Field(min_length=1, max_length=1000)] | None = None


class FreshnessRules(_Model):
    """A whole rules file."""

    warning_days: Annotated[int, Field(ge=0, le=365)] = Field(
        default=3, description="due soon with this many days (in each rule's unit) left or fewer"
    )
    columns: list[ColumnRule] = []
    accounts: list[AccountRule] = []
    meetings: MeetingRule | None = None
    policies: PolicyRule | None = None

    @field_validator("columns")
    @classmethod
    def _unique_names(cls, columns: list[ColumnRule]) -> list[ColumnRule]:
        names = [column.name for column in columns]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"the name {name!r} is used by more than one column")
        return columns

    def warning_for(self, rule: Interval) -> int:
        """The warning window of ``rule``."""
        return self.warning_days if rule.warning_days is None else rule.warning_days

    def account_rule(self, platform: str, account: str) -> AccountRule | None:
        """The first rule covering ``account`` of ``platform``, in file order."""
        return next((r for r in self.accounts if r.applies_to(platform, account)), None)

    def named_accounts(self) -> set[tuple[str, str]]:
        """``(platform, account)`` named explicitly by a rule."""
        return {(rule.platform, name) for rule in self.accounts for name in rule.accounts}


def load_rules(path: Path | None = None) -> tuple[FreshnessRules, str]:
    """The rules of ``path`` (``None``: the shipped file) and the name to show for it.
    Errors name the setting, the file and the field
    (``GOVPUB_FRESHNESS_RULES: rules.toml: columns.0.kind: …``)."""
    if path is None:
        source = resources.files("govpub.app.freshness").joinpath("rules.toml")
        return load_model(FreshnessRules, source, SHIPPED_RULES), SHIPPED_RULES
    return load_model(FreshnessRules, path, f"GOVPUB_FRESHNESS_RULES: {path}"), str(path)
