"""Freshness rules as data: the shipped defaults with their sources, a replacement file,
and errors that name the file, the field and the setting."""

from datetime import datetime
from pathlib import Path

import pytest

from govpub.app.freshness import load_freshness_settings, load_rules
from govpub.app.freshness.check import parse_moment
from govpub.app.freshness.render import check_page_dir
from govpub.app.freshness.rules import SHIPPED_RULES, Interval, PolicyRule
from govpub.errors import ConfigurationError
from tests.freshness_support import SHANGHAI, write_rules


def test_the_shipped_rules_follow_the_domain_notes_and_say_what_to_verify() -> None:
    rules, name = load_rules()
    assert name == SHIPPED_RULES
    assert rules.warning_days == 3
    columns = {c.name: (c.kind.value, c.max_days, c.unit) for c in rules.columns}
    assert columns == {
        "policy": ("policy", 180, "calendar"),  # notices and policies: 6 months
        "penalty": ("penalty", 30, "calendar"),  # disclosure: 1 month
        "licence": ("licence", 30, "calendar"),  # disclosure: 1 month
        "enforcement": ("enforcement", 30, "calendar"),  # disclosure: 1 month
        "meeting": ("meeting", 30, "calendar"),  # work: 1 month
        "exposure": ("exposure", 100, "calendar"),  # every quarter
    }
    assert [(a.platform, a.accounts, a.max_days) for a in rules.accounts] == [
        ("wechat", [], 14),
        ("weibo", [], 14),
    ]
    assert rules.meetings is not None
    assert rules.policies is not None
    assert (rules.meetings.max_days, rules.meetings.unit) == (20, "working")
    assert [c.value for c in rules.policies.classes] == ["规章", "行政规范性文件"]
    every: list[Interval | PolicyRule] = [*rules.columns, *rules.accounts, rules.meetings]
    every.append(rules.policies)
    # Nothing in NOTES.md's oversight section is confirmed: every rule says what to verify.
    assert all(rule.source and rule.verify for rule in every)
    assert all(rule.describe().endswith("(verify)") for rule in [*rules.columns, *rules.accounts])


def test_a_rules_file_replaces_the_shipped_one(tmp_path: Path) -> None:
    path = write_rules(
        tmp_path,
        """
warning_days = 5
[[columns]]
name = "news"
label = "应急动态"
kind = "campaign"
departments = ["zz-yjj"]
max_days = 10
unit = "working"
warning_days = 2
source = "our own rule"
""",
    )
    rules, name = load_rules(path)
    assert name == str(path)
    [news] = rules.columns
    assert (news.title, news.departments, news.describe()) == (
        "应急动态",
        ["zz-yjj"],
        "10 working days",
    )
    assert (rules.warning_for(news), rules.accounts, rules.meetings) == (2, [], None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[columns]]\nname = "x"\nkind = "news"\nmax_days = 14\nsource = "s"\n',
            "columns.0.kind: Input should be 'policy', 'penalty', 'exposure',"
            " 'meeting', 'campaign', 'licence', 'enforcement' or 'report'",
        ),
        (
            '[[columns]]\nname = "x"\nkind = "policy"\nmax_days = 14\nunit = "weeks"\nsource = "s"\n',
            "columns.0.unit: Input should be 'calendar' or 'working'",
        ),
        (
            '[[accounts]]\nplatform = "wechat"\nmax_days = 14\n',
            "accounts.0.source: Field required",
        ),
        (
            '[[accounts]]\nplatform = "douyin"\nmax_days = 14\nsource = "s"\n',
            "accounts.0.platform: Input should be 'wechat' or 'weibo'",
        ),
        (
            '[[accounts]]\nplatform = "weibo"\nmax_days = 0\nsource = "s"\n',
            "accounts.0.max_days: Input should be greater than or equal to 1",
        ),
        (
            '[meetings]\nmax_days = 5\nsource = "s"\nrequire = ["press_release"]\n',
            "meetings.require.0: Input should be 'video_url' or 'interpretation'",
        ),
        ('[policies]\nclasses = ["通知"]\nsource = "s"\n', "policies.classes.0:"),
        ("warn_days = 3\n", "warn_days: Extra inputs are not permitted"),
        (
            '[[columns]]\nname = "a"\nkind = "policy"\nmax_days = 1\nsource = "s"\n'
            '[[columns]]\nname = "a"\nkind = "penalty"\nmax_days = 1\nsource = "s"\n',
            "columns: the name 'a' is used by more than one column",
        ),
        ("columns = [", "not valid TOML"),
    ],
)
def test_a_wrong_rules_file_names_the_setting_the_file_and_the_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write_rules(tmp_path, text)
    with pytest.raises(ConfigurationError) as caught:
        load_rules(path)
    assert f"GOVPUB_FRESHNESS_RULES: {path}: {message}" in str(caught.value)


def test_a_missing_rules_file_names_the_setting(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigurationError) as caught:
        load_rules(missing)
    assert str(caught.value).startswith(f"GOVPUB_FRESHNESS_RULES: {missing}: cannot read:")


def test_settings_come_from_the_environment_and_errors_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOVPUB_FRESHNESS_RULES", str(tmp_path / "rules.toml"))
    monkeypatch.setenv("GOVPUB_FRESHNESS_CHECK_LINKS", "true")
    section = load_freshness_settings()
    assert (section.rules, section.check_links, section.alert_url) == (
        tmp_path / "rules.toml",
        True,
        None,
    )
    monkeypatch.setenv("GOVPUB_FRESHNESS_ALERT_URL", "https://ops.example.gov.cn/alerts")
    with pytest.raises(ConfigurationError) as caught:
        load_freshness_settings()
    assert (
        "GOVPUB_FRESHNESS_ALERT_SECRET: Value error, required when GOVPUB_FRESHNESS_ALERT_URL"
        " is set"
    ) in str(caught.value)
    monkeypatch.setenv("GOVPUB_FRESHNESS_ALERT_SECRET", "whsec_not base64!")
    with pytest.raises(ConfigurationError, match="the part after whsec_ is not base64"):
        load_freshness_settings()
    monkeypatch.setenv("GOVPUB_FRESHNESS_ALERT_SECRET", "whsec_c2VjcmV0")
    monkeypatch.setenv("GOVPUB_FRESHNESS_LINK_TIMEOUT", "0")
    with pytest.raises(ConfigurationError, match="GOVPUB_FRESHNESS_LINK_TIMEOUT: Input should"):
        load_freshness_settings()


def test_the_operator_page_never_goes_into_the_public_output(tmp_path: Path) -> None:
    public = tmp_path / "public"
    public.mkdir()
    (tmp_path / "link").symlink_to(public)
    for inside in (public, public / "ops", tmp_path / "link" / "ops"):
        with pytest.raises(ConfigurationError, match=r"GOVPUB_FRESHNESS_PAGE_DIR: .* is inside"):
            check_page_dir(inside, output_dir=public, name="GOVPUB_FRESHNESS_PAGE_DIR")
    assert (
        check_page_dir(tmp_path / "ops", output_dir=public, name="--html")
        == (tmp_path / "ops").resolve()
    )


def test_at_reads_a_date_as_its_end_in_beijing_time() -> None:
    assert parse_moment("2026-12-01") == datetime(2026, 12, 1, 23, 59, 59, tzinfo=SHANGHAI)
    assert parse_moment("2026-12-01T08:00") == datetime(2026, 12, 1, 8, 0, tzinfo=SHANGHAI)
    assert parse_moment("2026-12-01T00:00:00+00:00").utcoffset() is not None
    with pytest.raises(ValueError, match="--at: '12/01' is not a date"):
        parse_moment("12/01")
