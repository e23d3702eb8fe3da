"""The freshness report as a table (terminal), JSON (scripts, the alert) and an HTML page
for operators, written outside the public output.
"""

import json
import unicodedata
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import jinja2

from govpub.app.freshness.report import FreshnessReport, Publication, requirement_words
from govpub.app.freshness.rules import Interval
from govpub.app.freshness.standing import SHANGHAI, Standing, State, left_words
from govpub.errors import ConfigurationError
from govpub.files import atomic_write

PAGE_FILE = "index.html"
JSON_FILE = "freshness.json"


def render_json(report: FreshnessReport) -> str:
    """The report as indented JSON (UTF-8 text, Chinese as is)."""
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n"


def render_text(report: FreshnessReport) -> str:
    """The report as plain-text tables."""
    counts = report.counts()
    lines = [
        f"freshness at {report.checked_at.strftime('%Y-%m-%d %H:%M')} (Beijing time);"
        f" rules: {report.rules_file}; due soon with {report.rules.warning_days} days left"
        " or fewer",
        f"{counts['overdue']} overdue, {counts['due_soon']} due soon, {counts['ok']} ok",
        "",
        "website columns",
    ]
    if report.columns:
        lines += _table(
            ("column", "rule", "last published", "deadline", "left", "state"),
            [
                _timed_row(
                    f"{c.rule.title} ({c.rule.name}"
                    + (f": {', '.join(c.rule.departments)}" if c.rule.departments else "")
                    + ")",
                    c.rule,
                    _last(c.last),
                    c.standing,
                )
                for c in report.columns
            ],
        )
    else:
        lines.append("  no column rules")
    lines += ["", "new-media accounts (confirmed posts)"]
    if report.posts_dry_run:
        lines.append(
            "  dry run (GOVPUB_NEWMEDIA_DRY_RUN): these posts were recorded, not sent;"
            " the real accounts may be silent"
        )
    if report.accounts:
        lines += _table(
            ("account", "rule", "last post", "deadline", "left", "state"),
            [
                _timed_row(
                    a.name,
                    a.rule,
                    _last(a.last) + (f" ({a.failed_posts} failed)" if a.failed_posts else ""),
                    a.standing,
                )
                for a in report.accounts
            ],
        )
    else:
        lines.append("  no accounts (none routed, none with records, none named by a rule)")
    meetings = report.rules.meetings
    if meetings is not None:
        lines += ["", f"meetings missing {requirement_words(meetings)}"]
        if report.meetings:
            lines += _table(
                ("meeting", "held", "missing", "deadline", "left", "state"),
                [
                    (
                        f"{m.document_id} {m.title}",
                        m.held_on.isoformat(),
                        "; ".join(m.missing),
                        _deadline(m.standing),
                        _left(m.standing, meetings),
                        m.standing.state.words,
                    )
                    for m in report.meetings
                ],
            )
        else:
            lines.append("  none")
    policies = report.rules.policies
    if policies is not None:
        lines += [
            "",
            f"policies ({', '.join(c.value for c in policies.classes)}) whose interpretation"
            " is missing, empty or broken",
        ]
        if report.policies:
            lines += _table(
                ("policy", "class", "problem", "state"),
                [
                    (f"{p.document_id} {p.title}", p.doc_class, p.problem, State.OVERDUE.words)
                    for p in report.policies
                ],
            )
        else:
            lines.append("  none")
    return "\n".join(lines)


def render_html(report: FreshnessReport) -> str:
    """The operator page: the same tables, no script, for an intranet."""
    template = _environment().get_template("freshness.html")
    return template.render(
        report=report,
        counts=report.counts(),
        last=_last,
        deadline=_deadline,
        left=_left,
        State=State,
        requirement_words=requirement_words,
    )


def check_page_dir(directory: Path, *, output_dir: Path, name: str) -> Path:
    """``directory`` resolved, or a ``ConfigurationError`` (naming the setting or option
    ``name``) when it is inside ``output_dir``: the operator page is not public."""
    target = directory.resolve()
    public = output_dir.resolve()
    if target == public or target.is_relative_to(public):
        raise ConfigurationError(
            f"{name}: {directory} is inside GOVPUB_OUTPUT_DIR ({output_dir}), which is"
            " published; the operator page is not public: choose a directory outside it"
        )
    return target


def write_page(
    report: FreshnessReport,
    directory: Path,
    *,
    output_dir: Path,
    name: str = "GOVPUB_FRESHNESS_PAGE_DIR",
) -> Path:
    """Write ``index.html`` and ``freshness.json`` into ``directory``, which must not be
    inside ``output_dir`` (the public site, see :func:`check_page_dir`); returns the
    page's path."""
    target = check_page_dir(directory, output_dir=output_dir, name=name)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"{name}: cannot create {directory}: {exc}") from None
    atomic_write(target / JSON_FILE, render_json(report).encode("utf-8"))
    atomic_write(target / PAGE_FILE, render_html(report).encode("utf-8"))
    return target / PAGE_FILE


def _environment() -> jinja2.Environment:
    templates = resources.files("govpub.app.freshness").joinpath("templates")
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: templates.joinpath(name).read_text("utf-8")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def _last(last: Publication | None) -> str:
    if last is None:
        return "never"
    return last.at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _deadline(place: Standing) -> str:
    return "-" if place.deadline is None else place.deadline.isoformat()


def _left(place: Standing, rule: Interval) -> str:
    if place.days_left is None:
        return "-"
    if place.state is State.OVERDUE:
        return f"{left_words(-place.days_left, rule)} over" if place.days_left < 0 else "passed"
    return left_words(place.days_left, rule)


def _timed_row(name: str, rule: Interval, last: str, place: Standing) -> tuple[str, ...]:
    """A column's or an account's row: name, rule, last publication, deadline, left, state."""
    return (name, rule.describe(), last, _deadline(place), _left(place, rule), place.state.words)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to the widest cell, counting CJK characters as two."""
    widths = [max(_width(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(cells)]
        return ("  " + "  ".join(padded)).rstrip()

    return [line(headers), *(line(row) for row in rows)]
