"""The command line end to end, as a department and an operator use it, on both transports."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import feedparser
from kafka import KafkaProducer

from govpub.bus import open_bus
from govpub.compliance.audit import AuditLog
from govpub.settings import Settings
from govpub.store import Store
from tests import factories


def govpub(
    settings: Settings,
    *args: str,
    stdin: str | None = None,
    module: str | None = "govpub.app.cli",
) -> subprocess.CompletedProcess[str]:
    """``python -m govpub.app.cli ARGS`` (``module=None``: ``python ARGS``) with ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVPUB_")}
    env.update(
        GOVPUB_BUS=settings.bus,
        GOVPUB_STORE=str(settings.store),
        GOVPUB_OUTPUT_DIR=str(settings.output_dir),
        GOVPUB_TOPIC_PREFIX=settings.topic_prefix,
        GOVPUB_SESSION_TIMEOUT=str(settings.session_timeout),
        GOVPUB_RETRY_MIN_BACKOFF="0.01",
        GOVPUB_RETRY_MAX_BACKOFF="0.05",
    )
    return subprocess.run(
        [sys.executable, *(("-m", module) if module else ()), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )


def write_jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n", "utf-8")
    return path


def feed_titles(path: Path) -> list[str]:
    feed = feedparser.parse(path.read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    return [entry.title for entry in feed.entries]


def test_emit_then_consume_publishes_to_the_feeds(settings: Settings, tmp_path: Path) -> None:
    events = [
        factories.policy(title="关于优化营商环境的措施"),
        factories.penalty(title="某公司处罚决定"),
    ]
    emitted = govpub(settings, "emit", str(write_jsonl(tmp_path / "in.jsonl", events)))
    assert emitted.returncode == 0, emitted.stderr
    assert emitted.stdout.count("→") == 2
    consumed = govpub(settings, "consume", "--until-idle")
    assert consumed.returncode == 0, consumed.stderr
    assert "channel rss: 2 delivered" in consumed.stdout
    out = settings.output_dir / "feeds"
    assert set(feed_titles(out / "all.xml")) == {"关于优化营商环境的措施", "某公司处罚决定"}
    assert feed_titles(out / "policy.xml") == ["关于优化营商环境的措施"]
    assert feed_titles(out / "penalty.atom") == ["某公司处罚决定"]
    assert feed_titles(out / "dept" / "zz-yjj.xml") == ["某公司处罚决定"]
    status = govpub(settings, "status")
    assert status.returncode == 0, status.stderr
    assert "rss" in status.stdout
    assert "confirmed 2" in status.stdout
    document = govpub(settings, "status", "--document", "doc-policy-1")
    assert "rss: confirmed" in document.stdout


def test_emit_reports_every_bad_line_and_sends_nothing(settings: Settings, tmp_path: Path) -> None:
    good = factories.policy()
    too_long = factories.policy(document_id="doc-2", title="长" * 300)
    lines = [
        json.dumps(good, ensure_ascii=False),
        "{not json",
        json.dumps(too_long, ensure_ascii=False),
        "",
        json.dumps({**factories.penalty(), "kind": "poem"}),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    result = govpub(settings, "emit", str(path))
    assert result.returncode == 2
    assert "3 invalid event(s); nothing was sent" in result.stderr
    assert "line 2: not valid JSON" in result.stderr
    assert "line 3: payload.title: String should have at most 200 characters" in result.stderr
    assert "line 5: kind: kind must be one of" in result.stderr
    assert "line 1" not in result.stderr
    with Store(settings.store) as store:
        decisions = [e.decision.value for e in AuditLog(store).for_event(good["event_id"])]
    # line 1 passed the gate while the file was checked; the log says it was never sent
    assert decisions[-1] == "not_sent"
    assert "checked" in decisions
    consumed = govpub(settings, "consume", "--until-idle")
    # Nothing reached the bus. Where the topics exist with nothing after the groups'
    # positions, the command says so without starting the runners (issue 21); where
    # they do not exist yet (Kafka, before any send), the runners start and deliver 0.
    lines = consumed.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"channel {n}" for n in settings.channels]
    for line in lines:
        assert line.endswith(": nothing to deliver") or ": 0 delivered," in line, line


# What a channel's delivery needs, and that answering "nothing to deliver" must not load
# (issue 21: the command's fixed cost was mostly these imports).
_DELIVERY_MODULES = (
    "schemas.events",
    "schemas.payloads",
    "consumers.runner",
    "channels.website.channel",
    "channels.rss.channel",
    "channels.newmedia.webhook.channel",
    "feedgen",
    "jinja2",
    "requests",
    "kafka",
)


def test_nothing_to_deliver_loads_no_channel(make_settings: Any) -> None:
    """``consume --until-idle`` with every group at the end of its partitions answers
    from the bus alone: no runner, channel or event model is imported."""
    settings = make_settings()
    assert govpub(settings, "emit", "-", stdin=json.dumps(factories.policy())).returncode == 0
    first = govpub(settings, "consume", "--until-idle")
    assert first.returncode == 0, first.stderr
    assert "channel website: 1 delivered" in first.stdout
    script = (
        "import sys\n"
        "from govpub.app.cli import main\n"
        "code = main(['consume', '--until-idle'])\n"
        f"loaded = sorted(m for m in {_DELIVERY_MODULES!r} if m in sys.modules)\n"
        "print('loaded:', ','.join(loaded))\n"
        "raise SystemExit(code)\n"
    )
    again = govpub(settings, "-c", script, module=None)
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    assert lines[:-1] == [f"channel {n}: nothing to deliver" for n in settings.channels]
    assert lines[-1] == "loaded: "


def test_emit_reports_field_errors_and_rules_together(settings: Settings, tmp_path: Path) -> None:
    """A department sees every problem of a line at once: fixing the title must not
    reveal the 三同步 error only on the next run."""
    event = factories.policy(title="长" * 250)
    del event["payload"]["interpretation"]
    penalty = factories.penalty(fine_amount=None, penalty_types=["罚款", "罚款"], authority="")
    result = govpub(settings, "emit", str(write_jsonl(tmp_path / "two.jsonl", [event, penalty])))
    assert result.returncode == 2
    assert "line 1: payload.title: String should have at most 200 characters" in result.stderr
    assert "line 1: payload: interpretation is required for 行政规范性文件" in result.stderr
    assert "line 2: payload.authority: String should have at least 1 character" in result.stderr
    assert "line 2: payload: penalty_types must not repeat a type" in result.stderr
    assert "line 2: payload: fine_amount is required" in result.stderr


def test_emit_reads_stdin_and_json_arrays(settings: Settings) -> None:
    result = govpub(
        settings, "emit", "-", stdin=json.dumps([factories.policy(), factories.penalty()])
    )
    assert result.returncode == 0, result.stderr
    again = govpub(settings, "emit", "-", stdin=json.dumps(factories.policy(version=1)))
    assert again.returncode == 2
    assert "stale" in again.stderr


def test_malformed_message_from_another_client_is_dead_lettered(
    make_settings: Any, kafka_broker: Any, tmp_path: Path
) -> None:
    settings = make_settings(kafka_broker.url)
    assert (
        govpub(settings, "emit", "-", stdin=json.dumps(factories.policy("first"))).returncode == 0
    )
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
    producer.send(
        f"{settings.topic_prefix}.policy", key=b"first", value=b"<xml>not an event</xml>"
    ).get(30)
    producer.close()
    assert (
        govpub(settings, "emit", "-", stdin=json.dumps(factories.policy("second"))).returncode == 0
    )
    consumed = govpub(settings, "consume", "--until-idle")
    assert consumed.returncode == 0, consumed.stderr
    assert "2 delivered" in consumed.stdout
    assert "1 dead-lettered" in consumed.stdout
    assert len(feed_titles(settings.output_dir / "feeds" / "policy.xml")) == 2
    listed = govpub(settings, "dlq", "list")
    assert listed.returncode == 0, listed.stderr
    assert "oldest first" in listed.stdout
    assert f"from {settings.topic_prefix}.policy[" in listed.stdout
    assert "why: not a valid event: not valid JSON" in listed.stdout
    assert "2 dead letter(s)" in listed.stdout
    # each channel has its own dead letters: the default channels are rss and website
    as_json = govpub(settings, "dlq", "list", "--json")
    entries = json.loads(as_json.stdout)
    assert sorted(e["channel"] for e in entries) == ["rss", "website"]
    assert [e["failed_at"] for e in entries] == sorted(e["failed_at"] for e in entries)
    only_rss = json.loads(govpub(settings, "dlq", "list", "--json", "--channel", "rss").stdout)
    assert [e["channel"] for e in only_rss] == ["rss"]
    assert json.loads(govpub(settings, "dlq", "list", "--json", "--since", "2h").stdout)
    assert (
        json.loads(govpub(settings, "dlq", "list", "--json", "--since", "2999-01-01").stdout) == []
    )
    redriven = govpub(settings, "dlq", "redrive", "--channel", "rss")
    assert redriven.returncode == 0, redriven.stderr
    assert (
        "channel rss: 1 redriven: 0 delivered, 1 dead-lettered again, 0 skipped" in redriven.stdout
    )


def test_dead_letters_name_the_event_and_say_why(settings: Settings) -> None:
    """A message that fails to validate but parses as JSON shows its event_id; a hostile
    one never makes ``govpub consume`` fail; ``--since`` refuses what it cannot read."""
    invalid = factories.policy("bad-title", title="长" * 300)
    deep = "[" * 3000 + "]" * 3000
    assert govpub(settings, "emit", "-", stdin=json.dumps(factories.policy("ok"))).returncode == 0
    emitted = govpub(settings, "emit", "-", stdin=deep)
    assert emitted.returncode == 2
    assert "nested too deeply" in emitted.stderr or "recursion limit" in emitted.stderr
    bus = open_bus(settings)
    producer = bus.producer()
    try:
        for value in (deep.encode(), json.dumps(invalid).encode()):
            producer.send(f"{settings.topic_prefix}.policy", value, key=b"k").result(30)
    finally:
        producer.close()
    consumed = govpub(settings, "consume", "--channel", "rss", "--until-idle")
    assert consumed.returncode == 0, consumed.stderr
    assert "1 delivered" in consumed.stdout
    assert "2 dead-lettered" in consumed.stdout
    (entry,) = [
        e
        for e in json.loads(govpub(settings, "dlq", "list", "--json").stdout)
        if e["event_id"] is not None
    ]
    assert entry["event_id"] == invalid["event_id"]
    assert entry["why"] == "not a valid event"
    assert "payload.title" in entry["reason"]
    refused = govpub(settings, "dlq", "list", "--since", "yesterday")
    assert refused.returncode == 2
    assert "--since 'yesterday'" in refused.stderr


def test_an_unreachable_broker_is_one_clear_error(make_settings: Any) -> None:
    """kafka-python's own retries stay quiet unless asked for (``--verbose``)."""
    result = govpub(make_settings("kafka://127.0.0.1:1"), "status")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: cannot reach Kafka at 127.0.0.1:1: ")


def test_unknown_channel_suggests_the_closest(settings: Settings) -> None:
    result = govpub(settings, "consume", "--channel", "rs", "--until-idle")
    assert result.returncode == 2  # bad configuration, like a bad setting
    assert "unknown channel 'rs' — did you mean 'rss'?" in result.stderr
    assert "memory" not in result.stderr  # the test channel is not offered


def test_bad_settings_name_the_variable(make_settings: Any) -> None:
    settings = make_settings()
    result = govpub(settings.model_copy(update={"bus": "redis://localhost"}), "status")
    assert result.returncode == 2
    assert "GOVPUB_BUS" in result.stderr


def test_schemas_are_exported_and_checked(make_settings: Any, tmp_path: Path) -> None:
    settings = make_settings()
    target = tmp_path / "json"
    assert govpub(settings, "schemas", "export", "--dir", str(target)).returncode == 0
    assert (target / "event.schema.json").exists()
    assert govpub(settings, "schemas", "export", "--check", "--dir", str(target)).returncode == 0
    (target / "policy.payload.schema.json").write_text("{}")
    check = govpub(settings, "schemas", "export", "--check", "--dir", str(target))
    assert check.returncode == 1
    assert "policy.payload.schema.json" in check.stderr


def test_demo_runs_the_whole_pipeline(make_settings: Any, tmp_path: Path) -> None:
    settings = make_settings()
    result = govpub(settings, "demo", "--dir", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    assert "20 sample events emitted" in result.stdout
    public = tmp_path / "demo" / "public"
    assert len(feed_titles(public / "feeds" / "licence.xml")) == 2
    assert len(feed_titles(public / "feeds" / "enforcement.xml")) == 1
    titles = feed_titles(public / "feeds" / "all.xml")
    assert any(t.startswith("【已撤回】") for t in titles)
    assert "株洲市2023年第二季度安全生产领域“非法违法”典型案例" in titles
    assert len(feed_titles(public / "feeds" / "exposure.xml")) == 1
    rerun = govpub(settings, "demo", "--dir", str(tmp_path / "demo"))
    assert rerun.returncode == 0, rerun.stderr


SAMPLE_FEES = Path(__file__).resolve().parents[2] / "govpub" / "samples" / "fees-2023.toml"


def test_annual_report_prints_publishes_and_then_publishes_nothing(
    make_settings: Any, tmp_path: Path
) -> None:
    settings = make_settings()
    source = write_jsonl(
        tmp_path / "events.jsonl",
        [factories.penalty("pen-1"), factories.licence("lic-1"), factories.enforcement("enf-1")],
    )
    assert govpub(settings, "emit", str(source)).returncode == 0
    missing = govpub(settings, "annual-report", "2023")
    assert missing.returncode == 2
    assert "no fee statement for 2023" in missing.stderr
    assert "--fees FILE" in missing.stderr
    dry = govpub(settings, "annual-report", "2023", "--fees", str(SAMPLE_FEES), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "annual-report-2023: not published (--dry-run)" in dry.stderr
    first = govpub(settings, "annual-report", "2023", "--fees", str(SAMPLE_FEES))
    assert first.returncode == 0, first.stderr
    assert first.stdout == dry.stdout
    assert "  行政许可                 1" in first.stdout.splitlines()
    assert "annual-report-2023: version 1 emitted" in first.stderr
    again = govpub(settings, "annual-report", "2023", "--fees", str(SAMPLE_FEES))
    assert again.stdout == first.stdout  # the same bytes
    assert "version 1 already says this; nothing published" in again.stderr
    as_json = govpub(
        settings, "annual-report", "2023", "--fees", str(SAMPLE_FEES), "--json", "--dry-run"
    )
    assert json.loads(as_json.stdout)["sections"][2]["rows"][1]["cells"] == ["1"]
    department = govpub(
        settings, "annual-report", "2023", "--department", "zz-yjj", "--fees", str(SAMPLE_FEES)
    )
    assert department.returncode == 0, department.stderr
    assert department.stdout.startswith("株洲市应急管理局2023年政府信息公开工作年度报告")
    assert "annual-report-2023-zz-yjj: version 1 emitted" in department.stderr
    consumed = govpub(settings, "consume", "--until-idle")
    assert consumed.returncode == 0, consumed.stderr
    assert (settings.output_dir / "report" / "annual-report-2023-zz-yjj.html").is_file()


def test_annual_report_refuses_bad_input(make_settings: Any) -> None:
    settings = make_settings()
    unknown = govpub(settings, "annual-report", "2023", "--department", "zz-nobody")
    assert unknown.returncode == 2
    assert "--department: unknown department 'zz-nobody'" in unknown.stderr
    year = govpub(settings, "annual-report", "23")
    assert year.returncode == 2
    assert "'23' is not a year such as 2023" in year.stderr
    fmt = govpub(settings, "annual-report", "2023", "--format", "gov-1999")
    assert fmt.returncode == 2
    assert "no report format 'gov-1999'" in fmt.stderr
