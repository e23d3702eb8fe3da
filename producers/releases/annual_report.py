"""Table 2 of the annual government-information-disclosure report (政府信息公开工作年度
报告, 二、主动公开政府信息情况), counted from the document history.

``govpub annual-report YEAR [--department D]`` catches the document catalog up, counts
here, prints the table, and publishes it as a ``report`` document (an update only when
a value changed, nothing when none did): the website shows it in its 年度报告 column
with the table as CSV and JSON under ``api/report/``.

The format is data (``data/annual-report/<id>.toml``, the 2021 format of
国办公开办函〔2021〕30号 shipped): each cell names what it counts, so a later format is
a new file. The fee amount is no event's: the finance office's statement gives it.

Counting rules
==============

Sources: 《中华人民共和国政府信息公开条例》(2019) 第五十条 (what the report contains) and
第二十条 (the items counted); 国办公开办函〔2021〕30号 (the table and its columns);
the domain notes (statistics run 1 January to 31 December). Where these say nothing,
the choice is a setting (``GOVPUB_ANNUAL_REPORT_*``) and is written into the report's
notes, so every published table says how it was counted.

The year
    The calendar year in Beijing time (Asia/Shanghai): an instant belongs to year Y
    when it falls in [Y-01-01 00:00, Y+1-01-01 00:00) +08:00. Instants are the events'
    ``occurred_at`` (when the information was formed or changed); dates such as
    ``decided_on`` are calendar dates already.
What a document is, and what state it was in
    A document's class and its dates (``doc_class``, ``written_on``, ``decided_on``)
    are those of its latest version: a correction made after the year applies. Its
    state at the end of the year — validity, ``superseded_by``, withdrawn or not — is
    that of its latest version whose ``occurred_at`` is before Y+1-01-01 00:00 Beijing
    time: a repeal or a withdrawal in January does not change the past year.
Updates
    Never add a count: a document is counted once, whatever its number of versions.
Withdrawals (``action: retract``) — configurable (``GOVPUB_ANNUAL_REPORT_WITHDRAWN``)
    The report counts information proactively disclosed; a document withdrawn by the
    end of the year no longer is. ``exclude`` (default): it is in no count. ``count``:
    it is still counted as issued, repealed or decided (the decision was taken). A
    withdrawn document is never in force. A decision flagged never to be published
    (minor, secrets, security risk) is treated as withdrawn.
Take-downs (a withdrawal with ``display_ended_on``, 公示期满) — not a withdrawal here
    A penalty decision taken down at the end of its display period was decided and
    disclosed as the law asks; its display simply ended (行政处罚法 第四十八条 and the
    display periods of ``producers/releases/data/penalty-display.toml``). It counts as a
    decision of its year whatever the setting above.
规章, 行政规范性文件 — 本年制发件数 (``GOVPUB_ANNUAL_REPORT_ISSUED_BY``)
    ``written_on`` (default): its 成文日期 is in the year (制发 is when a document is
    made and issued; publication follows within 20 working days, 条例 第二十六条).
    ``published``: its first publication (first version's ``occurred_at``) is in the
    year.
— 本年废止件数 (``GOVPUB_ANNUAL_REPORT_REPEALED``)
    At the end of the year its validity is a repealed one and became so during the year
    (the ``occurred_at`` of the version that first carried it, since it last was
    otherwise). The format says 废止; ``已废止`` by default, and a deployment may count
    ``已失效`` (expired by its own term) and ``已修订`` (amended) too.
— 现行有效件数
    At the end of the year: validity 现行有效, no ``superseded_by``, not withdrawn.
    Cumulative — documents issued in any year — as far as the catalog knows them.
行政许可, 行政处罚, 行政强制 — 本年处理决定数量 (``GOVPUB_ANNUAL_REPORT_DECISIONS_BY``)
    ``decided_on`` (default): decisions taken in the year (the column says 处理决定),
    including those published in January of the next. ``published``: decisions first
    published in the year.
行政事业性收费 — 本年收费金额（万元）
    The amount of the finance office's statement for the year: ``total`` for the whole
    government, ``departments.<code>`` for one department.
A department's report (``--department``)
    The documents whose latest version is that department's.
"""

import hashlib
import json
import logging
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from govpub.compliance.rules import NEVER_PUBLISH
from govpub.departments import department_names
from govpub.errors import (
    CatalogBehind,
    ConfigurationError,
    HistoryIncomplete,
    ReportWithdrawn,
)
from govpub.settings import Settings
from govpub.store import Store
from producers.factory import open_publisher
from producers.ledger import VersionLedger
from producers.releases.datafiles import load_model, read_toml, shipped, validate
from producers.releases.exposure import CatalogRecord
from producers.releases.log import Release, ReleaseLog
from producers.releases.quarters import RELEASE_TIMEZONE
from schemas import DocClass, Kind, ReportPayload, Validity
from schemas.types import DepartmentCode

log = logging.getLogger(__name__)

REPORT_NAMESPACE = uuid.UUID("2c0d5f0a-8f5e-4f6b-9d1e-6a3b7c9e1f42")
"""Namespace of the report's event ids (UUID v5 of document, version and content)."""

COUNTED_KINDS = (Kind.POLICY, Kind.LICENCE, Kind.PENALTY, Kind.ENFORCEMENT)
DECISION_KINDS = frozenset({Kind.LICENCE, Kind.PENALTY, Kind.ENFORCEMENT})
_NEVER_PUBLISHED = tuple(name for name, _, _ in NEVER_PUBLISH)

# --- the format, as data -----------------------------------------------------------------


class CellSpec(BaseModel):
    """What one cell counts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: Literal["issued", "repealed", "in_force", "decisions", "fees"]
    doc_class: DocClass | None = None
    kind: Kind | None = None

    @model_validator(mode="after")
    def _arguments(self) -> Self:
        if self.count in ("issued", "repealed", "in_force"):
            if self.doc_class is None or self.kind is not None:
                raise ValueError(f"count = {self.count!r} needs doc_class (and no kind)")
        elif self.count == "decisions":
            if self.kind not in DECISION_KINDS or self.doc_class is not None:
                names = ", ".join(sorted(k.value for k in DECISION_KINDS))
                raise ValueError(f"count = 'decisions' needs kind, one of {names}")
        elif self.kind is not None or self.doc_class is not None:
            raise ValueError("count = 'fees' takes neither kind nor doc_class")
        return self


class RowSpec(BaseModel):
    """A row: its label and what each of its cells counts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: Annotated[str, Field(min_length=1, max_length=100)]
    cells: Annotated[list[CellSpec], Field(min_length=1, max_length=12)]


class SectionSpec(BaseModel):
    """A block of the table under its heading; ``columns[0]`` heads the row labels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    heading: Annotated[str, Field(min_length=1, max_length=100)]
    columns: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]], Field(min_length=2)
    ]
    rows: Annotated[list[RowSpec], Field(min_length=1, max_length=50)]

    @model_validator(mode="after")
    def _one_cell_per_column(self) -> Self:
        for index, row in enumerate(self.rows):
            if len(row.cells) != len(self.columns) - 1:
                raise ValueError(
                    f"rows.{index} ({row.label}) has {len(row.cells)} cells for"
                    f" {len(self.columns) - 1} value columns"
                )
        return self


class ReportFormat(BaseModel):
    """A format of the report's table (国办公开办函〔2021〕30号 and its successors)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{0,63}$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    source: Annotated[str, Field(min_length=1, max_length=1000)]
    applies_from: Annotated[int, Field(ge=2008, le=2200)]
    table: Annotated[str, Field(min_length=1, max_length=100)]
    sections: Annotated[list[SectionSpec], Field(min_length=1, max_length=20)]


def load_formats(extra_dir: Path | None = None) -> dict[str, ReportFormat]:
    """Every format by id: the shipped ones, then those of ``extra_dir`` (which replace a
    shipped one of the same id). Errors name the file and the field."""
    sources: list[tuple[Traversable | Path, str]] = [
        (entry, f"annual-report/{entry.name}")
        for entry in sorted(shipped("annual-report").iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".toml")
    ]
    if extra_dir is not None:
        if not extra_dir.is_dir():
            raise ConfigurationError(
                f"GOVPUB_ANNUAL_REPORT_FORMATS_DIR: {extra_dir} is not a directory"
            )
        sources += [(path, str(path)) for path in sorted(extra_dir.glob("*.toml"))]
    formats: dict[str, ReportFormat] = {}
    for source, label in sources:
        found = load_model(ReportFormat, source, label)
        formats[found.id] = found
    return formats


def format_for(year: int, formats: Mapping[str, ReportFormat], wanted: str | None) -> ReportFormat:
    """The format named ``wanted``, or else the newest one that applies to ``year``."""
    if wanted is not None:
        if wanted not in formats:
            raise ConfigurationError(
                f"--format: no report format {wanted!r} (known: {', '.join(sorted(formats))})"
            )
        return formats[wanted]
    usable = [f for f in formats.values() if f.applies_from <= year]
    if not usable:
        oldest = min(f.applies_from for f in formats.values())
        raise ConfigurationError(
            f"no report format applies to {year}: the oldest applies from {oldest}"
            " (add one to GOVPUB_ANNUAL_REPORT_FORMATS_DIR)"
        )
    return max(usable, key=lambda f: (f.applies_from, f.id))


# --- the finance office's statement ---------------------------------------------------


def _amount(value: object) -> object:
    # TOML floats are binary: read what was written, "85.20" or 85.2 alike.
    if isinstance(value, float):
        return str(value)
    return value


WanYuan = Annotated[Decimal, Field(ge=0, le=10**10, decimal_places=4)]


class FeeStatement(BaseModel):
    """行政事业性收费 collected in one year, in 万元, as the finance office states it::

    year = 2023
    provided_by = "株洲市财政局"
    total = "1234.56"            # the whole government
    [departments]
    zz-scjgj = "85.20"            # every department a report is made for, 0 included
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    year: Annotated[int, Field(ge=2008, le=2200)]
    provided_by: Annotated[str, Field(min_length=1, max_length=100)]
    unit: Literal["万元"] = "万元"
    total: WanYuan
    departments: dict[DepartmentCode, WanYuan] = {}

    @field_validator("total", mode="before")
    @classmethod
    def _total(cls, value: object) -> object:
        return _amount(value)

    @field_validator("departments", mode="before")
    @classmethod
    def _each(cls, value: object) -> object:
        if isinstance(value, dict):
            return {key: _amount(amount) for key, amount in value.items()}
        return value

    def amount(self, department: str | None, label: str) -> Decimal:
        """The amount for the whole government (``None``) or one department."""
        if department is None:
            return self.total
        if department not in self.departments:
            raise ConfigurationError(
                f"{label}: departments.{department}: no amount for this department (the"
                " finance office lists every department a report is made for, 0 included)"
            )
        return self.departments[department]


def load_fees(path: Path, year: int) -> FeeStatement:
    """Read and check the statement at ``path`` for ``year``."""
    label = str(path)
    statement = validate(FeeStatement, read_toml(path, label), label)
    if statement.year != year:
        raise ConfigurationError(f"{label}: year: {statement.year}, not the report's {year}")
    return statement


def fees_path(settings: Settings, year: int, given: Path | None) -> Path:
    """The statement to read: ``--fees``, or ``GOVPUB_ANNUAL_REPORT_FEES_DIR/<year>.toml``."""
    if given is not None:
        return given
    if settings.annual_report_fees_dir is None:
        raise ConfigurationError(
            f"no fee statement for {year}: the 行政事业性收费 amount comes from the finance"
            " office; give its file with --fees FILE or put it in"
            f" GOVPUB_ANNUAL_REPORT_FEES_DIR as {year}.toml"
        )
    return settings.annual_report_fees_dir / f"{year}.toml"


# --- counting --------------------------------------------------------------------------


@dataclass(frozen=True)
class CountingRules:
    """The choices the sources leave open (see the module's documentation)."""

    issued_by: Literal["written_on", "published"] = "written_on"
    decisions_by: Literal["decided_on", "published"] = "decided_on"
    repealed: frozenset[Validity] = frozenset({Validity.REPEALED})
    withdrawn: Literal["exclude", "count"] = "exclude"

    @classmethod
    def from_settings(cls, settings: Settings) -> "CountingRules":
        """The rules configured by ``GOVPUB_ANNUAL_REPORT_*``."""
        return cls(
            issued_by=settings.annual_report_issued_by,
            decisions_by=settings.annual_report_decisions_by,
            repealed=frozenset(settings.annual_report_repealed),
            withdrawn=settings.annual_report_withdrawn,
        )

    def notes(self, year: int) -> list[str]:
        """The rules in words, for the published table."""
        repealed = "、".join(f"“{v.value}”" for v in Validity if v in self.repealed)
        notes = [
            f"统计期限为{year}年1月1日至12月31日（北京时间），数据来自本级政府信息公开平台的发布记录。",
            "规章、行政规范性文件本年制发件数按"
            + ("成文日期" if self.issued_by == "written_on" else "首次公开日期")
            + f"统计；本年废止件数为文件效力于本年内变更为{repealed}的件数；"
            "现行有效件数为12月31日24时文件效力为“现行有效”、未被修订或替代且未撤回的件数。",
            "行政许可、行政处罚、行政强制本年处理决定数量按"
            + ("决定日期" if self.decisions_by == "decided_on" else "首次公开日期")
            + "统计，同一决定更新不重复计数。",
        ]
        if self.withdrawn == "exclude":
            notes.append(
                "年内已撤回的信息（含依法不予公开的决定）不计入上述数量；"
                "公示期满撤下的行政处罚决定不属撤回，仍计入处理决定数量。"
            )
        else:
            notes.append(
                "年内已撤回的信息仍计入制发、废止及处理决定数量，不计入现行有效件数；"
                "公示期满撤下的行政处罚决定同样计入处理决定数量。"
            )
        return notes


class VersionRecord(Protocol):
    """One version of a document, as the counting reads it."""

    @property
    def version(self) -> int: ...
    @property
    def action(self) -> str: ...
    @property
    def department(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...


class HistoryRecord(Protocol):
    """Every version of one document."""

    @property
    def document_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def versions(self) -> Sequence[VersionRecord]: ...


@dataclass(frozen=True)
class Version:
    """One version of a document (a :class:`VersionRecord` built by hand)."""

    version: int
    action: str
    department: str
    occurred_at: datetime
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class History:
    """Every version of one document (a :class:`HistoryRecord` built by hand)."""

    document_id: str
    kind: str
    versions: Sequence[Version]


@dataclass
class Counts:
    """What the rules counted, by measure."""

    issued: dict[DocClass, int] = field(default_factory=dict)
    repealed: dict[DocClass, int] = field(default_factory=dict)
    in_force: dict[DocClass, int] = field(default_factory=dict)
    decisions: dict[Kind, int] = field(default_factory=dict)

    def add(self, table: dict[Any, int], key: Any) -> None:
        """One more of ``key`` in ``table``."""
        table[key] = table.get(key, 0) + 1


def year_end(year: int) -> datetime:
    """Y+1-01-01 00:00 in Beijing: every instant before it is in year ``year`` or earlier."""
    return datetime(year + 1, 1, 1, tzinfo=RELEASE_TIMEZONE)


def _local_year(moment: datetime) -> int:
    return moment.astimezone(RELEASE_TIMEZONE).year


def _date(payload: Mapping[str, Any], name: str) -> date | None:
    value = payload.get(name)
    return date.fromisoformat(value) if isinstance(value, str) else None


def _withdrawn(version: VersionRecord) -> bool:
    return version.action == "retract"


def _taken_down(version: VersionRecord) -> bool:
    """A take-down at the end of a penalty decision's display period (公示期满)."""
    return _withdrawn(version) and version.payload.get("display_ended_on") is not None


def _repealed_since(versions: Sequence[VersionRecord], rules: CountingRules) -> datetime | None:
    """When the validity last became a repealed one (``None`` if it is not one)."""
    since: datetime | None = None
    for version in versions:
        if _withdrawn(version):
            continue
        repealed = version.payload.get("validity") in rules.repealed
        if repealed and since is None:
            since = version.occurred_at
        elif not repealed:
            since = None
    return since


def count(
    histories: Iterable[HistoryRecord],
    year: int,
    rules: CountingRules,
    *,
    department: str | None = None,
) -> Counts:
    """Apply the counting rules to every document of ``histories`` (see the module)."""
    end = year_end(year)
    counts = Counts()
    for history in histories:
        versions = sorted(history.versions, key=lambda v: v.version)
        content = [v for v in versions if not _withdrawn(v)]
        if not content:
            continue  # withdrawn before it was ever published
        if department is not None and versions[-1].department != department:
            continue
        latest = content[-1].payload
        by_end = [v for v in versions if v.occurred_at < end]
        state = by_end[-1] if by_end else None
        withdrawn = state is not None and (
            (_withdrawn(state) and not _taken_down(state))
            or any(state.payload.get(flag) for flag in _NEVER_PUBLISHED)
        )
        counted = not withdrawn or rules.withdrawn == "count"
        kind = Kind(history.kind)
        if kind in DECISION_KINDS:
            if rules.decisions_by == "decided_on":
                decided = _date(latest, "decided_on")
                in_year = decided is not None and decided.year == year
            else:
                in_year = _local_year(content[0].occurred_at) == year
            if in_year and counted:
                counts.add(counts.decisions, kind)
            continue
        doc_class = DocClass(latest["doc_class"])
        if rules.issued_by == "written_on":
            written = _date(latest, "written_on")
            issued = written is not None and written.year == year
        else:
            issued = _local_year(content[0].occurred_at) == year
        if issued and counted:
            counts.add(counts.issued, doc_class)
        if state is None:
            continue  # first published after the year: neither repealed nor in force then
        since = _repealed_since(by_end, rules)
        if since is not None and _local_year(since) == year and counted:
            counts.add(counts.repealed, doc_class)
        if (
            not withdrawn
            and state.payload.get("validity") == Validity.IN_FORCE.value
            and not state.payload.get("superseded_by")
        ):
            counts.add(counts.in_force, doc_class)
    return counts


def _cell(spec: CellSpec, counts: Counts, fee: Decimal) -> Decimal:
    if spec.count == "fees":
        return fee
    if spec.count == "decisions":
        assert spec.kind is not None
        return Decimal(counts.decisions.get(spec.kind, 0))
    assert spec.doc_class is not None
    table = {"issued": counts.issued, "repealed": counts.repealed, "in_force": counts.in_force}
    return Decimal(table[spec.count].get(spec.doc_class, 0))


def build_payload(
    *,
    year: int,
    report_format: ReportFormat,
    counts: Counts,
    fees: FeeStatement,
    rules: CountingRules,
    department: str | None,
    scope_name: str,
    fees_label: str,
) -> ReportPayload:
    """The table of ``report_format`` filled with ``counts`` and the fee amount."""
    fee = fees.amount(department, fees_label)
    sections = [
        {
            "heading": section.heading,
            "columns": section.columns,
            "rows": [
                {"label": row.label, "cells": [_cell(c, counts, fee) for c in row.cells]}
                for row in section.rows
            ],
        }
        for section in report_format.sections
    ]
    notes = [
        *rules.notes(year),
        f"行政事业性收费金额由{fees.provided_by}提供，单位为万元。",
    ]
    return ReportPayload.model_validate(
        {
            "title": f"{scope_name}{year}年政府信息公开工作年度报告（{report_format.table}）",
            "year": year,
            "scope": department,
            "scope_name": scope_name,
            "report_format": report_format.id,
            "format_source": report_format.source,
            "table": report_format.table,
            "sections": sections,
            "notes": notes,
        }
    )


# --- the report as a document ----------------------------------------------------------


class ReportHistory(Protocol):
    """The document catalog as the report reads it (the shell hands in the ``catalog``
    channel's :class:`~channels.catalog.state.DocumentCatalog`)."""

    def get(self, document_id: str) -> CatalogRecord | None:
        """The latest state of one document."""
        ...

    def histories(self, kinds: Sequence[str]) -> Iterable[HistoryRecord]:
        """Every document of ``kinds`` with its versions, oldest first."""
        ...

    def without_history(self) -> list[str]:
        """Documents the catalog holds without any version."""
        ...


HistoryOpener = Callable[[Store], ReportHistory]
"""Opens the document catalog on a state store (the shell passes the catalog channel's)."""


def document_id_for(year: int, department: str | None) -> str:
    """``annual-report-2023``, or ``annual-report-2023-zz-yjj`` for a department."""
    return f"annual-report-{year}" + (f"-{department}" if department else "")


@dataclass(frozen=True)
class ReportPlan:
    """The table computed for a year, and what publishing it takes."""

    document_id: str
    department: str
    payload: ReportPayload
    version: int
    action: Literal["publish", "update"] | None
    """``None``: the published table already says exactly this."""

    @property
    def changed(self) -> bool:
        """Whether there is something to publish."""
        return self.action is not None

    def event(self, now: datetime) -> dict[str, Any]:
        """The event that publishes the table, dated ``now``; its id follows from the
        document, the version and the content, so sending it again is harmless."""
        assert self.action is not None
        body = self.payload.model_dump(mode="json", exclude_none=True)
        digest = hashlib.sha256(
            json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")
        ).hexdigest()
        return {
            "event_id": str(
                uuid.uuid5(REPORT_NAMESPACE, f"{self.document_id}:{self.version}:{digest}")
            ),
            "kind": Kind.REPORT.value,
            "action": self.action,
            "document_id": self.document_id,
            "version": self.version,
            "department": self.department,
            "occurred_at": now.astimezone(RELEASE_TIMEZONE).isoformat(timespec="seconds"),
            "payload": body,
        }


def plan_report(
    settings: Settings,
    year: int,
    *,
    catalog: HistoryOpener,
    department: str | None = None,
    fees: Path | None = None,
    format_id: str | None = None,
) -> ReportPlan:
    """Count ``year`` on the (caught-up) catalog and compare with the published table.

    Raises :class:`ConfigurationError` for a bad fee statement or format (naming the file
    and the field), :class:`HistoryIncomplete` when the catalog holds documents without
    their versions, :class:`ReportWithdrawn` when the table was withdrawn, and
    :class:`CatalogBehind` when the ledger knows a newer version than the catalog.
    """
    if department is not None and department not in department_names():
        raise ConfigurationError(
            f"--department: unknown department {department!r}"
            f" (known: {', '.join(sorted(department_names()))})"
        )
    report_format = format_for(year, load_formats(settings.annual_report_formats_dir), format_id)
    statement_path = fees_path(settings, year, fees)
    statement = load_fees(statement_path, year)
    rules = CountingRules.from_settings(settings)
    document_id = document_id_for(year, department)
    with Store(settings.store) as store:
        history = catalog(store)
        missing = history.without_history()
        if missing:
            shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
            raise HistoryIncomplete(
                f"the document catalog holds {len(missing)} document(s) without their"
                f" versions ({shown}): they were recorded before the catalog kept them."
                " Rebuild it from the topics with `govpub replay --channel catalog`, then"
                " run the report again."
            )
        counts = count(
            history.histories([k.value for k in COUNTED_KINDS]), year, rules, department=department
        )
        payload = build_payload(
            year=year,
            report_format=report_format,
            counts=counts,
            fees=statement,
            rules=rules,
            department=department,
            scope_name=_scope_name(settings, department),
            fees_label=str(statement_path),
        )
        current = history.get(document_id)
        accepted = VersionLedger(store).current_version(document_id)
    known = current.version if current is not None else 0
    if accepted is not None and accepted > known:
        raise CatalogBehind(
            f"{document_id}: version {accepted} was accepted but the catalog has"
            f" {known or 'none'}; wait for the catalog to catch up and retry"
        )
    if current is not None and current.retracted:
        raise ReportWithdrawn(
            f"{document_id} was withdrawn ({current.retract_reason or 'no reason recorded'});"
            " it is not published again by govpub annual-report"
        )
    publisher = department or settings.annual_report_department
    body = payload.model_dump(mode="json", exclude_none=True)
    if current is not None and current.payload == body:
        return ReportPlan(document_id, publisher, payload, current.version, None)
    if current is None:
        return ReportPlan(document_id, publisher, payload, (accepted or 0) + 1, "publish")
    return ReportPlan(document_id, publisher, payload, current.version + 1, "update")


def _scope_name(settings: Settings, department: str | None) -> str:
    if department is None:
        return settings.annual_report_government
    return department_names()[department]


def publish_report(settings: Settings, plan: ReportPlan, *, now: datetime | None = None) -> str:
    """Send the plan's event through the publisher (gate, ledger) and log the release;
    returns the event id. Sending the same plan again is harmless."""
    moment = now or datetime.now(UTC)
    event = plan.event(moment)
    with Store(settings.store) as store:
        with open_publisher(settings, store, source="annual-report") as publisher:
            [accepted] = publisher.publish_many([event])
        ReleaseLog(store).record(
            [
                Release(
                    event_id=accepted.event_id,
                    source="annual-report",
                    run_id=f"{plan.payload.year}",
                    document_id=plan.document_id,
                    kind=Kind.REPORT.value,
                    action=event["action"],
                    version=plan.version,
                    title=plan.payload.title,
                    emitted_at=moment,
                )
            ]
        )
    log.info(
        "%s version %d %s (%s)",
        plan.document_id,
        plan.version,
        "was already emitted" if accepted.duplicate else "emitted",
        accepted.event_id,
    )
    return accepted.event_id


# --- the command's own table -------------------------------------------------------------


def _width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide and full-width characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    space = " " * max(0, width - _width(text))
    return space + text if right else text + space


def render_table(payload: ReportPayload) -> str:
    """The table for a terminal: each section's columns aligned, values to the right."""
    lines = [payload.title, ""]
    for section in payload.sections:
        rows = [
            [row.label, *("" if v is None else format(v, "f") for v in row.cells)]
            for row in section.rows
        ]
        widths = [
            max(_width(cell) for cell in column)
            for column in zip(section.columns, *rows, strict=True)
        ]
        lines.append(section.heading)
        lines.append(
            "  " + "  ".join(_pad(c, w) for c, w in zip(section.columns, widths, strict=True))
        )
        for row_cells in rows:
            cells = [_pad(row_cells[0], widths[0])]
            cells += [
                _pad(c, w, right=True) for c, w in zip(row_cells[1:], widths[1:], strict=True)
            ]
            lines.append("  " + "  ".join(cells).rstrip())
        lines.append("")
    lines += [f"{n}. {note}" for n, note in enumerate(payload.notes, start=1)]
    return "\n".join(line.rstrip() for line in lines) + "\n"
