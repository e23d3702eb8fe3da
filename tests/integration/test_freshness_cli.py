"""``govpub freshness`` as an operator runs it: the table, --json, --at, --html, and errors
that name what to fix."""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from govpub.settings import Settings
from tests import factories
from tests.freshness_support import write_rules
from tests.website_support import Site, at

RULES = """
[[columns]]
name = "penalty"
kind = "penalty"
max_days = 30
source = "test: 1 month"
verify = "made up"
"""


def freshness(
    settings: Settings, rules: Path, *args: str, **environment: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVPUB_")}
    env.update(
        GOVPUB_BUS=settings.bus,
        GOVPUB_STORE=str(settings.store),
        GOVPUB_OUTPUT_DIR=str(settings.output_dir),
        GOVPUB_FRESHNESS_RULES=str(rules),
        **environment,
    )
    return subprocess.run(
        [sys.executable, "-m", "govpub.app.cli", "freshness", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def published(make_settings: Callable[..., Settings]) -> Settings:
    """One penalty on the website, published 2026-11-01: due by 2026-12-01."""
    settings = make_settings()
    site = Site(settings)
    try:
        site.publish(at(factories.penalty("pen-1"), "2026-11-01T10:00:00+08:00"))
    finally:
        site.close()
    return settings


def test_the_table_and_the_exit_status_follow_the_deadline(
    published: Settings, tmp_path: Path
) -> None:
    rules = write_rules(tmp_path, RULES)
    fine = freshness(published, rules, "--at", "2026-11-20")
    assert fine.returncode == 0, fine.stderr
    assert fine.stdout.splitlines()[:2] == [
        f"freshness at 2026-11-20 23:59 (Beijing time); rules: {rules};"
        " due soon with 3 days left or fewer",
        "0 overdue, 0 due soon, 1 ok",
    ]
    [row] = [line for line in fine.stdout.splitlines() if "(penalty)" in line]
    assert row.split()[-7:] == ["2026-11-01", "10:00", "2026-12-01", "11", "calendar", "days", "ok"]

    late = freshness(published, rules, "--at", "2026-12-03T09:00", "--json")
    assert late.returncode == 1, late.stderr
    data = json.loads(late.stdout)
    assert data["checked_at"] == "2026-12-03T09:00:00+08:00"
    assert data["problems"] == [
        "column 行政处罚 (penalty): OVERDUE — last published 2026-11-01, deadline 2026-12-01"
        " (30 calendar days (verify))"
    ]


def test_a_dry_run_says_its_posts_were_never_sent(published: Settings, tmp_path: Path) -> None:
    # In a dry run the new-media channels record posts they never send: an account that
    # looks fresh here may be silent on the platform, and the report must say so.
    rules = write_rules(tmp_path, RULES)
    dry = freshness(published, rules, "--at", "2026-11-20", GOVPUB_NEWMEDIA_DRY_RUN="true")
    assert dry.returncode == 0, dry.stderr
    assert "  dry run (GOVPUB_NEWMEDIA_DRY_RUN): these posts were recorded, not sent" in dry.stdout
    as_json = freshness(published, rules, "--at", "2026-11-20", "--json")
    assert json.loads(as_json.stdout)["posts_dry_run"] is False
    assert "dry run" not in freshness(published, rules, "--at", "2026-11-20").stdout


def test_the_operator_page_is_written_outside_the_public_output_only(
    published: Settings, tmp_path: Path
) -> None:
    rules = write_rules(tmp_path, RULES)
    inside = freshness(published, rules, "--html", str(published.output_dir / "ops"))
    assert inside.returncode == 2
    assert inside.stdout == ""
    assert "--html: " in inside.stderr
    assert "is inside GOVPUB_OUTPUT_DIR" in inside.stderr
    assert not (published.output_dir / "ops").exists()

    outside = freshness(published, rules, "--at", "2026-11-20", "--html", str(tmp_path / "ops"))
    assert outside.returncode == 0, outside.stderr
    page = tmp_path / "ops" / "index.html"
    assert f"operator page: {page}" in outside.stderr
    assert "行政处罚" in page.read_text("utf-8")
    assert json.loads((tmp_path / "ops" / "freshness.json").read_text("utf-8"))["counts"] == {
        "ok": 1,
        "due_soon": 0,
        "overdue": 0,
    }


def test_wrong_input_is_named(published: Settings, tmp_path: Path) -> None:
    broken = write_rules(tmp_path, RULES.replace('kind = "penalty"', 'kind = "news"'))
    answer = freshness(published, broken, "--at", "2026-11-20")
    assert answer.returncode == 2
    assert (
        f"error: GOVPUB_FRESHNESS_RULES: {broken}: columns.0.kind: Input should be 'policy'"
        in answer.stderr
    )
    answer = freshness(published, write_rules(tmp_path, RULES), "--at", "tomorrow")
    assert answer.returncode == 2
    assert "error: --at: 'tomorrow' is not a date" in answer.stderr
