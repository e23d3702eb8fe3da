"""``govpub replay``: rebuilding from the topics gives the incrementally built tree,
file for file, on both transports."""

import json
import re
import shutil
import subprocess
import sys
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
from tests.faults.helpers import env_for
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
        # The library (issue 22): a 规章 amended by a later one, and the pages that list them.
        factories.policy("p3", doc_class="规章", doc_number="株政令〔2023〕1号"),
        factories.policy("p4", doc_class="规章", doc_number="株政令〔2023〕2号"),
        factories.policy("p3", 2, doc_class="规章", validity="已修订", superseded_by="p4"),
        factories.consultation(),
        factories.decision_list(),
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
    assert "library/index.html" in built
    assert "library/amended/2023/1.html" in built
    assert "api/library/in-force/2023/1.json" in built
    assert "consultation/index.html" in built
    assert "decision_list/doc-decisions-2023.html" in built

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
        replay(settings, "memory", lambda on, store, rebuild: MemoryChannel())


def _raw(settings: Settings, values: list[tuple[str, bytes, bytes]]) -> None:
    """Straight onto the topics, as a client that never passed the gate would."""
    bus = open_bus(settings)
    bus.ensure_topics(Topics(settings.topic_prefix).all)
    producer = bus.producer()
    try:
        for topic, key, value in values:
            producer.send(topic, value, key=key).result(timeout=30)
    finally:
        producer.close()


def test_a_large_replay_checks_and_renders_in_forked_processes_to_the_same_site(
    make_settings: Callable[..., Settings],
) -> None:
    """From 2,000 records on, ``govpub replay`` (its own, single-threaded process) checks
    the events in a forked process ahead of applying them, and renders in forked
    processes: the site is the one built incrementally, rebuilt in place over a damaged
    tree and as a new tree, with the same names masked and the same events refused."""
    from govpub.compliance.identifiers import id_check_char
    from schemas import encode_event, parse_event

    settings = make_settings(max_batch=500, render_processes=2)
    topics = Topics(settings.topic_prefix)
    events = []
    for i in range(2100):
        maker = factories.penalty if i % 2 else factories.policy
        events.append(
            at(maker(f"big-{i:05d}", title=f"文件 {i}"), f"2023-05-01T10:{i % 60:02d}:00+08:00")
        )
    # A natural person's name, masked by the channels (it came straight onto the bus).
    person = factories.penalty(
        "big-person",
        party_type="自然人",
        party_name="赵建国",
        facts="赵建国未按规定储存危险化学品。",
    )
    updates = [factories.penalty("big-00001", 2, title="更正后的决定")]
    updates += [factories.retract("policy", "big-00002", 2, department="zz-zfb")]
    emit(settings, [*events, *updates])
    straight = [person]
    values = [
        (topics.for_kind(e["kind"]), e["document_id"].encode(), encode_event(parse_event(e)))
        for e in straight
    ]
    values.append((topics.for_kind("policy"), b"big-poison", b"{not json"))
    # An identity number in a document id cannot be masked: refused, dead-lettered.
    number = "43020319851111100" + id_check_char("43020319851111100")
    refused = factories.policy(f"big-{number}")
    values.append((topics.for_kind("policy"), b"big-refused", json.dumps(refused).encode()))
    _raw(settings, values)
    results = run_channels(settings, ["website"], until_idle=True)
    assert results[0].error is None
    assert results[0].stats is not None
    assert results[0].stats.dead_lettered == 2
    built = tree(settings.output_dir)
    # About 1,050 policies of 2023 in force: the library's 11th page of them, written by
    # the render processes like every other page.
    assert "library/in-force/2023/11.html" in built
    assert not [p for p, data in built.items() if "建国".encode() in data]
    assert "赵某某".encode() in built["penalty/big-person.html"]

    env = env_for(
        settings, GOVPUB_MAX_BATCH="500", GOVPUB_RENDER_PROCESSES="2", GOVPUB_LOG_LEVEL="DEBUG"
    )
    command = [sys.executable, "-m", "govpub.app.cli", "replay", "--channel", "website"]
    (settings.output_dir / "policy" / "big-00004.html").write_text("stale", "utf-8")
    (settings.output_dir / "penalty" / "orphan.html").write_text("no event", "utf-8")
    for expected_mode in ("in place", "new tree"):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert "2 dead-lettered" in done.stdout
        # The events checked ahead by a forked process, rendered by this one and another.
        assert re.search(r"(\d{4}) events checked ahead by a forked process, 0 here", done.stderr)
        written_here = re.search(
            r"\((\d+) files written by this process, (\d+) unchanged", done.stderr
        )
        assert written_here is not None
        assert sum(map(int, written_here.groups())) < len(built) / 1.5, expected_mode
        assert tree(settings.output_dir) == built, expected_mode
        for path in list(settings.output_dir.iterdir()):
            if not path.name.startswith("."):
                shutil.rmtree(path) if path.is_dir() else path.unlink()


def test_a_replay_ranks_the_library_as_the_live_consumer_did(settings: Settings) -> None:
    """Consumed one at a time, policies reach the website in the order sent; a replay reads
    the partitions in its own order. The library's pages must not differ."""
    for n in range(5):
        rule = factories.policy(f"rule-{n}", doc_class="规章", doc_number=f"株政令〔2023〕{n}号")
        emit(settings, [at(rule, f"2023-0{n + 1}-10T10:00:00+08:00")])
        consume(settings, "website")
    live = tree(settings.output_dir)
    replay_channel(settings, "website")
    assert tree(settings.output_dir) == live
