"""The demo renders the website and says where it is."""

from pathlib import Path

import pytest

from govpub.app.cli import main


def test_demo_renders_the_site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workdir = tmp_path / "demo"
    assert main(["demo", "--dir", str(workdir)]) == 0
    out = capsys.readouterr().out
    # 16 samples (2 skipped: withheld from the site) and the 2023 annual report's table.
    assert "channel website: 15 delivered, 2 skipped" in out
    site = workdir / "public"
    assert f"website:         {site.resolve() / 'index.html'}" in out
    assert f". {workdir / 'demo.env'}" in out  # then govpub serve serves this site
    assert f"GOVPUB_OUTPUT_DIR={site.resolve()}" in (workdir / "demo.env").read_text("utf-8")
    home = (site / "index.html").read_text("utf-8")
    assert "株洲市人民政府第12次常务会议" in home
    batch = (site / "exposure" / "exposure-2023Q2-work-safety.html").read_text("utf-8")
    assert "../penalty/zzyj-cf-2023-0015.html" in batch
    withdrawn = (site / "penalty" / "zzyj-cf-2023-0009.html").read_text("utf-8")
    assert "经行政复议被依法撤销" in withdrawn
    amended = (site / "policy" / "zzsf-2021-0012.html").read_text("utf-8")
    assert "本文件已修订" in amended
    assert 'href="zzzb-2023-0005.html"' in amended
    refused = (site / "licence" / "zzsp-xk-2023-0044.html").read_text("utf-8")
    assert '<dd class="party">李某某</dd>' in refused
    assert "查封" in (site / "enforcement" / "index.html").read_text("utf-8")
    assert "zzsp-xk-2023-0031" in (site / "dept" / "zz-xzspj" / "index.html").read_text("utf-8")
    report = (site / "report" / "annual-report-2023.html").read_text("utf-8")
    assert '<table class="report">' in report
    assert f"annual report:   {site.resolve() / 'report' / 'annual-report-2023.html'}" in out


def test_serve_needs_an_output_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GOVPUB_OUTPUT_DIR", str(tmp_path / "nothing-yet"))
    assert main(["serve", "--port", "0"]) == 2
    assert "does not exist yet" in capsys.readouterr().err


def test_serve_refuses_a_public_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GOVPUB_OUTPUT_DIR", str(tmp_path))
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "not a loopback address" in capsys.readouterr().err
