"""How every channel writes a report table's values (the annual report's Table 2): one
function for a cell and one for a row, so that the page, the feeds and the posts read
the same."""

from decimal import Decimal

from schemas import ReportPayload, ReportSection


def cell_text(value: Decimal | None) -> str:
    """A value as written in the table: ``3``, ``85.20``; an empty cell stays empty."""
    return "" if value is None else format(value, "f")


def row_lines(section: ReportSection) -> list[str]:
    """``规章：本年制发件数 3，本年废止件数 0，现行有效件数 12``, one line per row."""
    return [
        f"{row.label}："
        + "，".join(
            f"{column} {cell_text(value)}"
            for column, value in zip(section.columns[1:], row.cells, strict=True)
            if value is not None
        )
        for row in section.rows
    ]


def report_lines(report: ReportPayload) -> list[str]:
    """The whole table as text: the scope and year, then every row under its heading."""
    lines = [f"{report.scope_name} {report.year}年 · {report.table}"]
    for section in report.sections:
        lines += [f"{section.heading}　{line}" for line in row_lines(section)]
    return lines
