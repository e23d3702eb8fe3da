"""The annual report's pieces without a bus: the format as data, the finance office's
statement, each counting rule and its settings, and the terminal table."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from govpub.errors import ConfigurationError
from producers.releases.annual_report import (
    CountingRules,
    Counts,
    History,
    Version,
    build_payload,
    count,
    format_for,
    load_fees,
    load_formats,
    render_table,
)
from schemas import DocClass, Kind, Validity
from schemas.events import parse_event


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def version(
    number: int, when: str, payload: dict[str, Any], *, action: str = "", dept: str = "zz-zfb"
) -> Version:
    return Version(
        number, action or ("publish" if number == 1 else "update"), dept, moment(when), payload
    )


def norm(written_on: str = "2023-03-01", **payload: Any) -> dict[str, Any]:
    return {
        "doc_class": "行政规范性文件",
        "written_on": written_on,
        "validity": "现行有效",
        **payload,
    }


def withdrawal(number: int, when: str) -> Version:
    return version(number, when, {"reason": "撤回"}, action="retract")


# --- format ---------------------------------------------------------------------------


def test_the_2021_format_is_shipped_as_data() -> None:
    formats = load_formats()
    chosen = format_for(2023, formats, None)
    assert chosen.id == "gov-2021"
    assert "国办公开办函〔2021〕30号" in chosen.source
    assert [s.heading for s in chosen.sections] == [
        "第二十条第（一）项",
        "第二十条第（五）项",
        "第二十条第（六）项",
        "第二十条第（八）项",
    ]
    assert chosen.sections[0].columns == [
        "信息内容",
        "本年制发件数",
        "本年废止件数",
        "现行有效件数",
    ]
    assert [r.label for s in chosen.sections for r in s.rows] == [
        "规章",
        "行政规范性文件",
        "行政许可",
        "行政处罚",
        "行政强制",
        "行政事业性收费",
    ]


FORMAT_2025 = """
id = "gov-2025"
name = "假想的新格式"
source = "测试用格式"
applies_from = 2025
table = "二、主动公开政府信息情况"
[[sections]]
heading = "第二十条第（六）项"
columns = ["信息内容", "本年处理决定数量", "本年公开数量"]
[[sections.rows]]
label = "行政处罚"
cells = [{ count = "decisions", kind = "penalty" }, { count = "decisions", kind = "penalty" }]
"""


def test_a_later_format_is_a_new_file(tmp_path: Path) -> None:
    (tmp_path / "gov-2025.toml").write_text(FORMAT_2025, encoding="utf-8")
    formats = load_formats(tmp_path)
    assert format_for(2024, formats, None).id == "gov-2021"
    assert format_for(2025, formats, None).id == "gov-2025"
    assert format_for(2025, formats, "gov-2021").id == "gov-2021"
    with pytest.raises(ConfigurationError, match="no report format 'gov-1999'"):
        format_for(2025, formats, "gov-1999")
    with pytest.raises(ConfigurationError, match="no report format applies to 2019"):
        format_for(2019, formats, None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('kind = "penalty" }, { count', 'kind = "policy" }, { count'),
            "sections.0.rows.0.cells.0: count = 'decisions' needs kind",
        ),
        (
            ('{ count = "decisions", kind = "penalty" }]', '{ count = "issued" }]'),
            "sections.0.rows.0.cells.1: count = 'issued' needs doc_class",
        ),
        (
            (', { count = "decisions", kind = "penalty" }]', "]"),
            "sections.0: rows.0 (行政处罚) has 1 cells for 2 value columns",
        ),
        (('id = "gov-2025"', 'id = "Gov 2025"'), "id: String should match pattern"),
    ],
)
def test_a_wrong_format_names_its_file_and_field(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    (tmp_path / "bad.toml").write_text(FORMAT_2025.replace(*change), encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        load_formats(tmp_path)
    assert f"bad.toml: {message}" in str(info.value)


# --- fees -------------------------------------------------------------------------------


def test_the_fee_statement(tmp_path: Path) -> None:
    path = tmp_path / "2023.toml"
    path.write_text(
        'year = 2023\nprovided_by = "株洲市财政局"\ntotal = 1286.45\n[departments]\nzz-yjj = "18.60"\n',
        encoding="utf-8",
    )
    statement = load_fees(path, 2023)
    assert statement.amount(None, "f") == Decimal("1286.45")  # a TOML float, read as written
    assert statement.amount("zz-yjj", "f") == Decimal("18.60")
    with pytest.raises(ConfigurationError, match=r"f: departments.zz-sfj: no amount"):
        statement.amount("zz-sfj", "f")
    with pytest.raises(ConfigurationError, match="year: 2023, not the report's 2024"):
        load_fees(path, 2024)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('year = 2023\nprovided_by = "x"\ntotal = "-1"', "total: Input should be greater than"),
        ('year = 2023\nprovided_by = "x"\ntotal = "1.23456"', "total: Decimal input should have"),
        (
            'year = 2023\nprovided_by = "x"\ntotal = "1"\nunit = "元"',
            "unit: Input should be '万元'",
        ),
        ('year = 2023\ntotal = "1"', "provided_by: Field required"),
        (
            'year = 2023\nprovided_by = "x"\ntotal = "1"\n[departments]\n"ZZ" = "1"',
            "departments.ZZ",
        ),
    ],
)
def test_a_wrong_statement_names_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "fees.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        load_fees(path, 2023)
    assert f"{path}: {message}" in str(info.value)


# --- counting ---------------------------------------------------------------------------

RULES = CountingRules()


def test_updates_count_once_and_classes_come_from_the_latest_version() -> None:
    history = History(
        "n-1",
        "policy",
        [
            version(1, "2023-03-05T10:00:00+08:00", norm(doc_class="其他")),
            version(2, "2023-03-06T10:00:00+08:00", norm()),
            version(3, "2023-03-07T10:00:00+08:00", norm(title="更正")),
        ],
    )
    counts = count([history], 2023, RULES)
    assert counts.issued == {DocClass.NORMATIVE: 1}
    assert counts.in_force == {DocClass.NORMATIVE: 1}


def test_the_year_ends_at_midnight_in_beijing() -> None:
    # 2023-12-31T16:00:00Z is 2024-01-01 00:00 in Beijing: the first instant of 2024.
    last = History(
        "n-1",
        "policy",
        [
            version(1, "2022-05-05T10:00:00+08:00", norm("2022-05-01")),
            version(2, "2023-12-31T15:59:59Z", norm("2022-05-01", validity="已废止")),
        ],
    )
    first = History(
        "n-2",
        "policy",
        [
            version(1, "2022-05-05T10:00:00+08:00", norm("2022-05-01")),
            version(2, "2023-12-31T16:00:00Z", norm("2022-05-01", validity="已废止")),
        ],
    )
    assert count([last], 2023, RULES).repealed == {DocClass.NORMATIVE: 1}
    assert count([first], 2023, RULES).repealed == {}
    assert count([first], 2023, RULES).in_force == {DocClass.NORMATIVE: 1}
    assert count([first], 2024, RULES).repealed == {DocClass.NORMATIVE: 1}


def test_a_repeal_counts_in_the_year_it_happened_only() -> None:
    history = History(
        "n-1",
        "policy",
        [
            version(1, "2021-05-05T10:00:00+08:00", norm("2021-05-01")),
            version(2, "2022-06-01T10:00:00+08:00", norm("2021-05-01", validity="已废止")),
            version(
                3, "2023-02-01T10:00:00+08:00", norm("2021-05-01", validity="已废止", title="x")
            ),
        ],
    )
    assert count([history], 2022, RULES).repealed == {DocClass.NORMATIVE: 1}
    assert count([history], 2023, RULES).repealed == {}  # an update of a repealed one


@pytest.mark.parametrize(
    ("repealed", "expected"),
    [
        (frozenset({Validity.REPEALED}), {}),
        (frozenset({Validity.REPEALED, Validity.EXPIRED}), {DocClass.NORMATIVE: 1}),
    ],
)
def test_which_validities_are_a_repeal_is_configurable(
    repealed: frozenset[Validity], expected: dict[DocClass, int]
) -> None:
    history = History(
        "n-1",
        "policy",
        [
            version(1, "2020-01-02T10:00:00+08:00", norm("2020-01-01")),
            version(2, "2023-07-01T10:00:00+08:00", norm("2020-01-01", validity="已失效")),
        ],
    )
    assert count([history], 2023, CountingRules(repealed=repealed)).repealed == expected


def test_withdrawals_are_configurable_but_never_in_force() -> None:
    history = History(
        "n-1",
        "policy",
        [
            version(1, "2023-05-03T10:00:00+08:00", norm("2023-05-01")),
            withdrawal(2, "2023-06-01T10:00:00+08:00"),
        ],
    )
    excluded = count([history], 2023, RULES)
    assert (excluded.issued, excluded.in_force) == ({}, {})
    counted = count([history], 2023, CountingRules(withdrawn="count"))
    assert (counted.issued, counted.in_force) == ({DocClass.NORMATIVE: 1}, {})


def test_a_decision_flagged_never_to_publish_is_treated_as_withdrawn() -> None:
    flagged = History(
        "p-1",
        "penalty",
        [
            version(1, "2023-05-08T10:00:00+08:00", {"decided_on": "2023-05-05"}),
            version(2, "2023-05-09T10:00:00+08:00", {"decided_on": "2023-05-05", "is_minor": True}),
        ],
    )
    assert count([flagged], 2023, RULES).decisions == {}


def test_a_take_down_at_the_end_of_the_display_period_is_no_withdrawal() -> None:
    decided = {"decided_on": "2023-02-01", "penalty_types": ["警告"]}
    taken_down = History(
        "p-1",
        "penalty",
        [
            version(1, "2023-02-03T10:00:00+08:00", decided),
            version(
                2,
                "2023-05-02T10:00:00+08:00",
                {"reason": "公示期满", "display_ended_on": "2023-05-01"},
                action="retract",
            ),
        ],
    )
    revoked = History(
        "p-2",
        "penalty",
        [
            version(1, "2023-02-03T10:00:00+08:00", decided),
            version(
                2,
                "2023-05-02T10:00:00+08:00",
                {"reason": "经行政复议撤销", "revoked_on": "2023-04-28"},
                action="retract",
            ),
        ],
    )
    for rules in (RULES, CountingRules(withdrawn="count")):
        assert count([taken_down], 2023, rules).decisions == {Kind.PENALTY: 1}
    assert count([revoked], 2023, RULES).decisions == {}
    assert count([revoked], 2023, CountingRules(withdrawn="count")).decisions == {Kind.PENALTY: 1}


def test_decisions_by_publication_date_are_configurable() -> None:
    late = History(
        "p-1", "penalty", [version(1, "2023-12-31T16:30:00Z", {"decided_on": "2023-12-31"})]
    )
    early = History(
        "p-2", "penalty", [version(1, "2023-01-04T10:00:00+08:00", {"decided_on": "2022-12-30"})]
    )
    assert count([late, early], 2023, RULES).decisions == {Kind.PENALTY: 1}
    by_publication = CountingRules(decisions_by="published")
    # Published 2024-01-01 00:30 in Beijing: 2024's; the decision of 2022 published in 2023 counts.
    assert count([late, early], 2023, by_publication).decisions == {Kind.PENALTY: 1}
    assert count([late], 2024, by_publication).decisions == {Kind.PENALTY: 1}
    assert count([late], 2023, by_publication).decisions == {}


def test_issued_by_publication_date_is_configurable() -> None:
    history = History(
        "n-1", "policy", [version(1, "2024-01-03T10:00:00+08:00", norm("2023-12-28"))]
    )
    assert count([history], 2023, RULES).issued == {DocClass.NORMATIVE: 1}
    assert count([history], 2023, RULES).in_force == {}  # not yet published at the end of 2023
    assert count([history], 2023, CountingRules(issued_by="published")).issued == {}
    assert count([history], 2024, CountingRules(issued_by="published")).issued == {
        DocClass.NORMATIVE: 1
    }


def test_superseded_documents_are_not_in_force() -> None:
    history = History(
        "n-1",
        "policy",
        [version(1, "2021-01-05T10:00:00+08:00", norm("2021-01-01", superseded_by="n-2"))],
    )
    assert count([history], 2023, RULES).in_force == {}


def test_a_department_counts_its_own_documents() -> None:
    ours = History(
        "n-1", "policy", [version(1, "2023-03-05T10:00:00+08:00", norm(), dept="zz-sfj")]
    )
    moved = History(
        "n-2",
        "policy",
        [
            version(1, "2023-03-05T10:00:00+08:00", norm(), dept="zz-sfj"),
            version(2, "2023-03-06T10:00:00+08:00", norm(), dept="zz-zfb"),
        ],
    )
    assert count([ours, moved], 2023, RULES, department="zz-sfj").issued == {DocClass.NORMATIVE: 1}
    assert count([ours, moved], 2023, RULES).issued == {DocClass.NORMATIVE: 2}


# --- the table ------------------------------------------------------------------------------


def test_the_payload_is_a_valid_event_and_its_table_aligns(tmp_path: Path) -> None:
    path = tmp_path / "2023.toml"
    path.write_text('year = 2023\nprovided_by = "株洲市财政局"\ntotal = "1286.45"\n', "utf-8")
    counts = Counts(
        issued={DocClass.NORMATIVE: 12},
        in_force={DocClass.NORMATIVE: 130, DocClass.REGULATION: 3},
        decisions={Kind.PENALTY: 1024},
    )
    payload = build_payload(
        year=2023,
        report_format=format_for(2023, load_formats(), None),
        counts=counts,
        fees=load_fees(path, 2023),
        rules=RULES,
        department=None,
        scope_name="株洲市人民政府",
        fees_label=str(path),
    )
    event = parse_event(
        {
            "event_id": "0f8b6a1e-1d7c-4a0b-9f3e-2c4d5e6f7a8b",
            "kind": "report",
            "action": "publish",
            "document_id": "annual-report-2023",
            "version": 1,
            "department": "zz-zfb",
            "occurred_at": datetime(2024, 1, 20, tzinfo=UTC).isoformat(),
            "payload": payload.model_dump(mode="json", exclude_none=True),
        }
    )
    assert event.payload == payload
    assert "按成文日期统计" in payload.notes[1]
    assert payload.notes[-1] == "行政事业性收费金额由株洲市财政局提供，单位为万元。"
    table = render_table(payload)
    assert table.startswith(
        "株洲市人民政府2023年政府信息公开工作年度报告（二、主动公开政府信息情况）\n"
    )
    lines = table.splitlines()
    assert "  信息内容        本年制发件数  本年废止件数  现行有效件数" in lines
    assert "  行政规范性文件            12             0           130" in lines
    assert "  行政处罚              1024" in lines
    assert "  行政事业性收费                     1286.45" in lines
