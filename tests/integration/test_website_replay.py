"""``govpub replay``: rebuilding from the topics gives the incrementally built tree,
file for file, on both transports."""

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from channels.memory import MemoryChannel
from consumers.replay import replay
from govpub.app.channels import replay_channel, run_channels
from govpub.app.cli import main
from govpub.bus import open_bus
from govpub.errors import ReplayUnsupported
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from producers import Publisher, VersionLedger
from tests import factories
from tests.website_support import (
    at,
    campaign,
    exposure_batch,
    exposure_candidate,
    in_department,
    meeting,
    numbered,
    tree,
)


def history() -> list[dict[str, Any]]:
    """Publications, updates, withdrawals and late arrivals across every kind."""
    events = list(numbered("pen", 45))
    events += [
        factories.penalty("pen-010", 2, title="更正后的处罚决定"),
        factories.retract("penalty", "pen-004", 2, reason="经行政复议被依法撤销"),
        factories.retract("penalty", "pen-044", 2, reason="公示期满下线"),
        at(in_department(factories.penalty("pen-020", 2), "zz-scjgj"), "2023-11-01T10:00:00+08:00"),
        at(factories.penalty("pen-early", title="迟到的早期决定"), "2022-12-01T10:00:00+08:00"),
        factories.policy("p1"),
        factories.policy("p1", 2, validity="已废止"),
        factories.policy("p2", doc_number="株政发〔2023〕1号"),
        factories.retract("policy", "p2", 2, department="zz-zfb"),
        exposure_candidate(),
        exposure_batch(),
        meeting(),
        meeting("meeting-1", 2, decisions=["原则通过。"]),
        campaign(),
        factories.licence("lic-1"),
        factories.enforcement("enf-1"),
        factories.report(),
        factories.report(
            version=2, notes=["统计期限为2023年1月1日至12月31日（北京时间）。", "更正。"]
        ),
        factories.report("annual-report-2022", year=2022),
        factories.retract("report", "annual-report-2022", 2, department="zz-zfb"),
    ]
    return events


def emit(settings: Settings, events: list[dict[str, Any]]) -> None:
    with (
        Store(settings.store) as store,
        Publisher(
            open_bus(settings), Topics(settings.topic_prefix), ledger=VersionLedger(store)
        ) as publisher,
    ):
        publisher.publish_many(events)


def consume(settings: Settings, *channels: str) -> None:
    results = run_channels(settings, list(channels), until_idle=True)
    for result in results:
        assert result.error is None, result.error


def test_replay_equals_the_incremental_build(settings: Settings) -> None:
    settings = settings.model_copy(update={"max_batch": 7})  # many small incremental batches
    emit(settings, history())
    consume(settings, "website", "rss")
    built = tree(settings.output_dir)
    assert "penalty/page/3.html" in built
    assert "api/report/annual-report-2023.csv" in built
    assert "api/report/annual-report-2022.json" not in built  # withdrawn: its data is gone
    assert "feeds/all.xml" in built

    # Damage the site: a replay must repair it and leave the feeds alone.
    out = settings.output_dir
    (out / "penalty" / "index.html").unlink()
    (out / "policy" / "p1.html").write_text("stale", "utf-8")
    (out / "penalty" / "orphan.html").write_text("not from any event", "utf-8")
    feeds_before = {p: d for p, d in tree(out).items() if p.startswith("feeds/")}

    result = replay_channel(settings, "website")
    assert result.records == len(history())
    assert result.dead_letters == []
    assert tree(out) == built
    assert {p: d for p, d in tree(out).items() if p.startswith("feeds/")} == feeds_before
    assert not [p for p in out.iterdir() if p.name.startswith(".replay-")]

    # The RSS channel replays too, to the same feeds.
    replay_channel(settings, "rss")
    assert tree(out) == built

    # The live consumer carries on from the replaced state.
    emit(settings, [at(factories.penalty("pen-new"), "2023-12-20T10:00:00+08:00")])
    consume(settings, "website")
    incremental = tree(out)
    assert "penalty/pen-new.html" in incremental
    replay_channel(settings, "website")
    assert tree(out) == incremental


def test_replay_command(
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings()
    emit(settings, history()[:10])
    consume(settings, "website")
    built = tree(settings.output_dir)
    shutil.rmtree(settings.output_dir / "penalty")
    for name, value in {
        "GOVPUB_BUS": settings.bus,
        "GOVPUB_STORE": str(settings.store),
        "GOVPUB_OUTPUT_DIR": str(settings.output_dir),
        "GOVPUB_TOPIC_PREFIX": settings.topic_prefix,
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["replay", "--channel", "website"]) == 0
    assert "channel website: rebuilt from 10 records" in capsys.readouterr().out
    assert tree(settings.output_dir) == built
    assert main(["replay", "--channel", "webiste"]) == 2  # bad configuration
    assert "did you mean 'website'" in capsys.readouterr().err


def test_a_channel_without_files_cannot_be_replayed(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    with pytest.raises(ReplayUnsupported, match="memory"):
        replay(settings, "memory", lambda on, store: MemoryChannel())
