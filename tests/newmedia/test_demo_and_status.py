"""`govpub demo` writes the new-media requests to the outbox; `govpub status` shows the
delivery records of every target."""

import json
from pathlib import Path

import pytest

from channels.newmedia.wechat.api import TokenStore
from channels.settings import AppSettings
from govpub.app.cli import main
from govpub.app.demo import run_demo
from govpub.app.status import render_status
from govpub.store import Store


def _outbox(root: Path) -> list[Path]:
    return sorted(root.rglob("*.json"))


def test_demo_dry_run_writes_the_requests_once(tmp_path: Path) -> None:
    base = AppSettings(_env_file=None)  # type: ignore[call-arg]
    result = run_demo(base, tmp_path / "demo")
    assert [r.channel for r in result.channels] == ["rss", "website", "wechat", "weibo", "webhook"]
    assert all(r.error is None for r in result.channels)
    files = _outbox(result.output_dir / "outbox")
    by_channel = {f.relative_to(result.output_dir / "outbox").parts[0] for f in files}
    assert by_channel == {"wechat", "weibo", "webhook"}
    drafts = [f for f in files if f.name.endswith("draft_add.json")]
    assert len(drafts) == 4  # exposure batch, meeting v1 and v2 (replace), theme day
    draft = json.loads(drafts[0].read_text("utf-8"))
    assert draft["url"].endswith("/cgi-bin/draft/add?access_token=ACCESS_TOKEN")
    assert draft["body"]["articles"][0]["content_source_url"].startswith("http://127.0.0.1:8000/")
    shares = [json.loads(f.read_text("utf-8")) for f in files if "statuses_share" in f.name]
    assert all("http://127.0.0.1:8000/" in s["body"]["status"] for s in shares)
    hooks = [json.loads(f.read_text("utf-8")) for f in files if f.parts[-3] == "webhook"]
    assert all(h["headers"]["webhook-signature"].startswith("v1,") for h in hooks)
    types = {h["body"]["type"] for h in hooks}
    assert "govpub.penalty.retract" in types  # the withdrawn penalty reached the county portal

    again = run_demo(base, tmp_path / "demo", keep=True)
    assert (
        _outbox(again.output_dir / "outbox") == files
    )  # records stop a second run from sending again


def test_a_dry_run_token_never_stands_for_the_account(tmp_path: Path) -> None:
    """A real run sharing the store must not take the dry run's stand-in for a token."""
    result = run_demo(AppSettings(_env_file=None), tmp_path / "demo")  # type: ignore[call-arg]
    with Store(result.settings.store) as store:
        tokens = TokenStore(store)
        assert tokens.current("wx00000000000demo0") is None
        assert tokens.current("wx00000000000demo0:dry-run") is not None


def test_demo_command_prints_the_outbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--dir", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert f"{(tmp_path / 'd' / 'public' / 'outbox').resolve()}/<channel>/" in out
    assert "channel wechat: " in out


def test_status_shows_targets_and_where_a_document_is_published(tmp_path: Path) -> None:
    result = run_demo(AppSettings(_env_file=None), tmp_path / "demo")  # type: ignore[call-arg]
    overview = render_status(result.settings)
    assert "wechat → zhuzhou-gov" in overview
    assert "webhook → lukou-county-portal" in overview
    document = render_status(result.settings, document_id="zzzf-cwh-2023-12")
    lines = document.splitlines()
    assert any("v1 publish  wechat → zhuzhou-gov: retracted" in line for line in lines)
    assert any(
        "v2 update   wechat → zhuzhou-gov: sent" in line and "publish_id=" in line for line in lines
    )
    assert any("weibo → zhuzhou-fabu: confirmed" in line and "weibo_id=" in line for line in lines)
