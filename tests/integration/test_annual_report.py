"""``govpub annual-report`` on both transports: a synthetic year of events — issued,
updated, repealed, withdrawn, and some crossing 31 December in Beijing time but not in
UTC — counted into Table 2, published, rendered by the website, and counted again
without a change.

The expected table is not computed by the code under test: every synthetic document
says what it adds to which cell, by hand, from the rules in the README.
"""

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from govpub.app.channels import run_channels
from govpub.app.releases import plan_annual_report, sync_catalog
from govpub.settings import Settings
from producers.releases.annual_report import publish_report
from schemas import ReportPayload
from tests import factories
from tests.releases import emit
from tests.website_support import at, digests

FEES = """
year = 2023
provided_by = "株洲市财政局"
total = "1286.45"
[departments]
zz-sfj = "0"
zz-yjj = "18.6"
"""


@dataclass
class Case:
    """A document's events and, by hand, what it adds to the 2023 table."""

    why: str
    events: list[dict[str, Any]]
    adds: dict[str, int] = field(default_factory=dict)


def policy(
    document_id: str, doc_class: str, written_on: str, when: str, version: int = 1, **payload: Any
) -> dict[str, Any]:
    extra: dict[str, Any] = {"doc_class": doc_class, "written_on": written_on, **payload}
    return at(factories.policy(document_id, version, **extra), when)


def penalty(document_id: str, decided_on: str, when: str, version: int = 1) -> dict[str, Any]:
    return at(factories.penalty(document_id, version, decided_on=decided_on), when)


def withdraw(kind: str, document_id: str, version: int, when: str, dept: str) -> dict[str, Any]:
    return at(factories.retract(kind, document_id, version, department=dept), when)


def synthetic_year() -> list[Case]:
    """Documents of 2022–2024 around the 2023 report; ``Z`` times are UTC."""
    return [
        Case(
            "规章 written and published in 2023, in force",
            [policy("reg-1", "规章", "2023-03-01", "2023-03-05T10:00:00+08:00")],
            {"issued:规章": 1, "in_force:规章": 1},
        ),
        Case(
            "规章 of 2021 repealed in August 2023",
            [
                policy("reg-2", "规章", "2021-06-01", "2021-06-10T10:00:00+08:00"),
                policy(
                    "reg-2", "规章", "2021-06-01", "2023-08-01T10:00:00+08:00", 2, validity="已废止"
                ),
            ],
            {"repealed:规章": 1},
        ),
        Case(
            "规章 of another department (zz-sfj), in force",
            [
                {
                    **policy("reg-3", "规章", "2023-06-01", "2023-06-02T10:00:00+08:00"),
                    "department": "zz-sfj",
                }
            ],
            {"issued:规章": 1, "in_force:规章": 1},
        ),
        Case(
            "行政规范性文件 issued, then updated: counted once",
            [
                policy("norm-1", "行政规范性文件", "2023-02-10", "2023-02-15T10:00:00+08:00"),
                policy(
                    "norm-1",
                    "行政规范性文件",
                    "2023-02-10",
                    "2023-04-01T10:00:00+08:00",
                    2,
                    title="更正",
                ),
            ],
            {"issued:行政规范性文件": 1, "in_force:行政规范性文件": 1},
        ),
        Case(
            "repealed at 2023-12-31T17:00Z, 01:00 on 1 January in Beijing: in force in 2023",
            [
                policy("norm-2", "行政规范性文件", "2022-05-01", "2022-05-05T10:00:00+08:00"),
                policy(
                    "norm-2",
                    "行政规范性文件",
                    "2022-05-01",
                    "2023-12-31T17:00:00Z",
                    2,
                    validity="已废止",
                ),
            ],
            {"in_force:行政规范性文件": 1},
        ),
        Case(
            "withdrawn in June 2023: in no count",
            [
                policy("norm-3", "行政规范性文件", "2023-05-01", "2023-05-03T10:00:00+08:00"),
                withdraw("policy", "norm-3", 2, "2023-06-01T10:00:00+08:00", "zz-zfb"),
            ],
        ),
        Case(
            "withdrawn on 2 January 2024: issued and in force in 2023",
            [
                policy("norm-4", "行政规范性文件", "2023-10-01", "2023-10-05T10:00:00+08:00"),
                withdraw("policy", "norm-4", 2, "2024-01-02T10:00:00+08:00", "zz-zfb"),
            ],
            {"issued:行政规范性文件": 1, "in_force:行政规范性文件": 1},
        ),
        Case(
            "written 28 December, published 2023-12-31T16:30Z (1 January in Beijing):"
            " issued in 2023, not yet in force at its end",
            [policy("norm-5", "行政规范性文件", "2023-12-28", "2023-12-31T16:30:00Z")],
            {"issued:行政规范性文件": 1},
        ),
        Case(
            "amended (已修订, superseded) in 2023: neither repealed nor in force",
            [
                policy("norm-6", "行政规范性文件", "2022-03-01", "2022-03-03T10:00:00+08:00"),
                policy(
                    "norm-6",
                    "行政规范性文件",
                    "2022-03-01",
                    "2023-09-01T10:00:00+08:00",
                    2,
                    validity="已修订",
                    superseded_by="norm-1",
                ),
            ],
        ),
        Case(
            "expired (已失效) in 2023: not a repeal by default, not in force",
            [
                policy("norm-7", "行政规范性文件", "2020-01-01", "2020-01-02T10:00:00+08:00"),
                policy(
                    "norm-7",
                    "行政规范性文件",
                    "2020-01-01",
                    "2023-07-01T10:00:00+08:00",
                    2,
                    validity="已失效",
                ),
            ],
        ),
        Case(
            "in force since 2021, unchanged: in force",
            [policy("norm-8", "行政规范性文件", "2021-01-05", "2021-01-06T10:00:00+08:00")],
            {"in_force:行政规范性文件": 1},
        ),
        Case(
            "another class (其他): not in the table",
            [policy("other-1", "其他", "2023-01-05", "2023-01-06T10:00:00+08:00")],
        ),
        Case(
            "penalty decided in May 2023",
            [penalty("pen-1", "2023-05-05", "2023-05-08T10:00:00+08:00")],
            {"decisions:penalty": 1},
        ),
        Case(
            "penalty decided 29 December 2023, published 4 January 2024: a 2023 decision",
            [penalty("pen-2", "2023-12-29", "2024-01-04T10:00:00+08:00")],
            {"decisions:penalty": 1},
        ),
        Case(
            "penalty decided 30 December 2022, published in January 2023: not 2023's",
            [penalty("pen-3", "2022-12-30", "2023-01-04T10:00:00+08:00")],
        ),
        Case(
            "penalty withdrawn in April 2023 (revoked): not counted",
            [
                penalty("pen-4", "2023-03-01", "2023-03-03T10:00:00+08:00"),
                withdraw("penalty", "pen-4", 2, "2023-04-01T10:00:00+08:00", "zz-yjj"),
            ],
        ),
        Case(
            "penalty taken down at the end of its display period (公示期满) in 2023: counted",
            [
                penalty("pen-6", "2023-01-10", "2023-01-12T10:00:00+08:00"),
                {
                    **withdraw("penalty", "pen-6", 2, "2023-04-11T09:00:00+08:00", "zz-yjj"),
                    "payload": {"reason": "公示期满", "display_ended_on": "2023-04-10"},
                },
            ],
            {"decisions:penalty": 1},
        ),
        Case(
            "penalty published, then corrected: counted once",
            [
                penalty("pen-5", "2023-11-01", "2023-11-03T10:00:00+08:00"),
                penalty("pen-5", "2023-11-01", "2023-11-10T10:00:00+08:00", 2),
            ],
            {"decisions:penalty": 1},
        ),
        Case(
            "licence granted in February 2023",
            [at(factories.licence("lic-1", decided_on="2023-02-01"), "2023-02-03T10:00:00+08:00")],
            {"decisions:licence": 1},
        ),
        Case(
            "licence refused in July 2023",
            [
                at(
                    factories.licence(
                        "lic-2", decided_on="2023-07-07", decision="不予", reasons="不符合条件"
                    ),
                    "2023-07-10T10:00:00+08:00",
                )
            ],
            {"decisions:licence": 1},
        ),
        Case(
            "licence of 2 January 2024: next year's",
            [at(factories.licence("lic-3", decided_on="2024-01-02"), "2024-01-03T10:00:00+08:00")],
        ),
        Case(
            "enforcement of June 2023",
            [
                at(
                    factories.enforcement("enf-1", decided_on="2023-06-01", ends_on="2023-06-30"),
                    "2023-06-02T10:00:00+08:00",
                )
            ],
            {"decisions:enforcement": 1},
        ),
        Case(
            "enforcement withdrawn at 2023-12-31T16:30Z, 00:30 on 1 January in Beijing:"
            " still counted in 2023",
            [
                at(
                    factories.enforcement("enf-2", decided_on="2023-12-01", ends_on="2023-12-30"),
                    "2023-12-04T10:00:00+08:00",
                ),
                withdraw("enforcement", "enf-2", 2, "2023-12-31T16:30:00Z", "zz-yjj"),
            ],
            {"decisions:enforcement": 1},
        ),
    ]


def expected_table(cases: list[Case], fee: str) -> dict[tuple[str, str], str]:
    """``(row label, column) → value`` of the 2023 table, summed from the cases by hand."""
    adds: Counter[str] = Counter()
    for case in cases:
        adds.update(case.adds)
    table: dict[tuple[str, str], str] = {}
    for doc_class in ("规章", "行政规范性文件"):
        table[(doc_class, "本年制发件数")] = str(adds[f"issued:{doc_class}"])
        table[(doc_class, "本年废止件数")] = str(adds[f"repealed:{doc_class}"])
        table[(doc_class, "现行有效件数")] = str(adds[f"in_force:{doc_class}"])
    for label, kind in (
        ("行政许可", "licence"),
        ("行政处罚", "penalty"),
        ("行政强制", "enforcement"),
    ):
        table[(label, "本年处理决定数量")] = str(adds[f"decisions:{kind}"])
    table[("行政事业性收费", "本年收费金额（单位：万元）")] = fee
    return table


class TableReader(HTMLParser):
    """``(row label, column) → value`` of the report page's ``<table class="report">``."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], str] = {}
        self._in_table = False
        self._row: list[tuple[str, str]] = []
        self._columns: list[str] = []
        self._cell: str | None = None
        self._tag = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("class") == "report":
            self._in_table = True
        elif self._in_table and tag == "tr":
            self._row = []
        elif self._in_table and tag in ("th", "td"):
            self._cell, self._tag = "", f"{tag}:{a.get('scope') or ''}"

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_table = False
        elif self._in_table and tag in ("th", "td") and self._cell is not None:
            self._row.append((self._tag, self._cell.strip()))
            self._cell = None
        elif self._in_table and tag == "tr":
            if all(t == "th:col" for t, _ in self._row):
                self._columns = [text for _, text in self._row]
            elif self._row and self._row[0][0] == "th:row":
                label = self._row[0][1]
                for column, (_, value) in zip(self._columns[1:], self._row[1:], strict=True):
                    self.cells[(label, column)] = value


def read_page(path: Path) -> dict[tuple[str, str], str]:
    reader = TableReader()
    reader.feed(path.read_text("utf-8"))
    return reader.cells


def read_csv(path: Path) -> dict[tuple[str, str], str]:
    text = path.read_bytes().decode("utf-8")
    assert text.startswith("\ufeff项目,信息内容,统计项,数值\r\n")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))[1:]
    return {(label, column): value for _, label, column, value in rows}


def read_json(path: Path) -> dict[tuple[str, str], str]:
    data = json.loads(path.read_text("utf-8"))
    cells = {}
    for section in data["sections"]:
        for row in section["rows"]:
            for column, value in zip(section["columns"][1:], row["cells"], strict=True):
                cells[(row["label"], column)] = str(value)
    return cells


def cells_of(payload: ReportPayload) -> dict[tuple[str, str], str]:
    return {
        (row.label, column): format(value, "f")
        for section in payload.sections
        for row in section.rows
        for column, value in zip(section.columns[1:], row.cells, strict=True)
        if value is not None
    }


def events_of(cases: list[Case]) -> Iterator[dict[str, Any]]:
    for case in cases:
        yield from case.events


def test_the_table_of_a_synthetic_year(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"annual_report_fees_dir": tmp_path})
    (tmp_path / "2023.toml").write_text(FEES, encoding="utf-8")
    cases = synthetic_year()
    emit(settings, events_of(cases))
    sync_catalog(settings, timeout=60)
    expected = expected_table(cases, "1286.45")

    plan = plan_annual_report(settings, 2023)
    assert (plan.document_id, plan.action, plan.version) == ("annual-report-2023", "publish", 1)
    assert cells_of(plan.payload) == expected
    publish_report(settings, plan)
    run_channels(settings, ["website"], until_idle=True)
    out = settings.output_dir
    page = out / "report" / "annual-report-2023.html"
    assert read_page(page) == expected
    assert read_csv(out / "api" / "report" / "annual-report-2023.csv") == expected
    assert read_json(out / "api" / "report" / "annual-report-2023.json") == expected
    assert "annual-report-2023.html" in (out / "report" / "index.html").read_text("utf-8")
    assert "annual-report-2023" in (out / "dept" / "zz-zfb" / "index.html").read_text("utf-8")
    before = digests(out)

    # Again: the published table says exactly this, so nothing is emitted or rewritten.
    sync_catalog(settings, timeout=60)
    again = plan_annual_report(settings, 2023)
    assert not again.changed
    assert again.payload == plan.payload
    run_channels(settings, ["website"], until_idle=True)
    assert digests(out) == before

    # One department's own table: its documents and its fee.
    department = plan_annual_report(settings, 2023, department="zz-sfj")
    assert department.document_id == "annual-report-2023-zz-sfj"
    assert department.department == "zz-sfj"
    only_reg_3 = [Case("", [], {"issued:规章": 1, "in_force:规章": 1})]
    assert cells_of(department.payload) == expected_table(only_reg_3, "0")


def test_a_later_event_updates_the_published_table(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(annual_report_fees_dir=tmp_path)
    (tmp_path / "2023.toml").write_text(FEES, encoding="utf-8")
    emit(settings, [penalty("pen-1", "2023-05-05", "2023-05-08T10:00:00+08:00")])
    sync_catalog(settings, timeout=60)
    publish_report(settings, plan_annual_report(settings, 2023))
    # A decision of 29 December published in January changes 2023's table: an update.
    emit(settings, [penalty("pen-2", "2023-12-29", "2024-01-04T10:00:00+08:00")])
    sync_catalog(settings, timeout=60)
    plan = plan_annual_report(settings, 2023)
    assert (plan.action, plan.version) == ("update", 2)
    [penalties] = [s for s in plan.payload.sections if s.rows[0].label == "行政处罚"]
    assert penalties.rows[0].cells == [2]


@pytest.mark.usefixtures("store_location")
def test_the_table_on_both_store_backends(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """The catalog's versions and the report's counting on SQLite and on PostgreSQL."""
    settings = make_settings(annual_report_fees_dir=tmp_path)
    (tmp_path / "2023.toml").write_text(FEES, encoding="utf-8")
    cases = synthetic_year()
    emit(settings, events_of(cases))
    sync_catalog(settings, timeout=60)
    plan = plan_annual_report(settings, 2023)
    assert cells_of(plan.payload) == expected_table(cases, "1286.45")
    publish_report(settings, plan)
    sync_catalog(settings, timeout=60)
    assert not plan_annual_report(settings, 2023).changed
