"""The ``govpub`` command line.

Every command builds the settings once (``GOVPUB_*``), then calls library code.
Exit codes: 0 success, 1 failure, 2 bad input or configuration.
"""

import argparse
import gc
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn, TextIO

from govpub.errors import ConfigurationError, GovpubError
from govpub.logs import configure_logging

if TYPE_CHECKING:
    from govpub.bus import Bus
    from govpub.settings import Settings
    from govpub.topics import Topics


# The garbage collector and a command's start. A command imports and builds tens of
# thousands of long-lived objects (settings, event models and their validators, the
# protection engine, a channel's templates) before it does any work. Collections while
# they are created only traverse them again and again, and the interpreter's exit
# traverses them all several times more: together about 0.15 s of a one-event
# ``consume --until-idle`` on a 50,000-document site, more than its delivery. So the
# start runs without collections and what it built is frozen (never traversed again,
# as for gc.freeze() before a fork); the exit collects once and freezes the rest (run).


@contextmanager
def _starting() -> Iterator[None]:
    """No collections inside; afterwards what exists is frozen and collections resume
    (the work that follows, a channel's delivery loop, is collected as usual)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _positive(text: str) -> int:
    """An argument that counts something: a whole number, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _out(text: str = "", stream: TextIO | None = None) -> None:
    (stream or sys.stdout).write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def cmd_demo(settings: "Settings", args: argparse.Namespace) -> int:
    from govpub.app.demo import SAMPLE_YEAR, run_demo

    result = run_demo(settings, Path(args.dir), keep=args.keep)
    failed = [r for r in result.channels if r.error is not None]
    new = sum(1 for a in result.accepted if not a.duplicate)
    _out(
        f"govpub demo: {len(result.accepted)} sample events emitted ({new} new) on the embedded"
        " bus, each on the day it was written in 2023"
    )
    for channel in result.channels:
        status = f"error: {channel.error}" if channel.error else str(channel.stats)
        _out(f"  channel {channel.channel}: {status}")
    if result.flags:
        _out(
            f"compliance gate: {len(result.flags)} sample(s) published late, accepted and flagged:"
        )
        for flag in result.flags:
            _out(f"  {flag.document_id}: {flag.rule}: {flag.detail}")
    else:
        _out(
            "compliance gate: every sample checked and its personal data masked;"
            " none published late"
        )
    _out("outputs:")
    for line in result.outputs():
        _out(f"  {line}")
    _out(f"  bus and state:   {Path(result.settings.store).parent}")
    env_file = Path(args.dir) / result.env_file.name if result.env_file else None
    steps = [
        *_activate_step(),
        (f". {env_file}", "GOVPUB_BUS, GOVPUB_STORE, GOVPUB_OUTPUT_DIR… of the demo"),
        ("govpub status", "lag, deliveries, dead letters, releases"),
        ("govpub serve", f"the site on {result.settings.site_url}"),
        (f"govpub annual-report {SAMPLE_YEAR}", "Table 2 of the annual report, counted again"),
        ("govpub emit my-events.jsonl", "your own events (JSON Lines), then:"),
        ("govpub consume --until-idle", "delivers them to the site, feeds and new media"),
        ("govpub dlq list", "dead letters, if any"),
    ]
    width = max(len(command) for command, _ in steps) + 2
    _out("next, from this directory (demo.env points every govpub command at the demo):")
    for command, why in steps:
        _out(f"  {command.ljust(width)}# {why}")
    return 1 if failed else 0


def _activate_step() -> list[tuple[str, str]]:
    """How to put this ``govpub`` on the PATH, when it runs from a virtual environment."""
    activate = Path(sys.prefix) / "bin" / "activate"
    if sys.prefix == sys.base_prefix or not activate.exists():
        return []
    try:
        shown = activate.relative_to(Path.cwd())
    except ValueError:
        shown = activate
    return [(f". {shown}", "puts govpub on your PATH")]


def cmd_emit(settings: "Settings", args: argparse.Namespace) -> int:
    from govpub.errors import BatchRejected
    from govpub.store import Store
    from producers import PartialPublish, already_checked
    from producers.compliance import ComplianceGate
    from producers.emit import MAX_INPUT_BYTES, problem_for, read_entries, validate_entries
    from producers.factory import open_publisher

    if args.file == "-":
        text = sys.stdin.read(MAX_INPUT_BYTES + 1)
        source = "stdin"
    else:
        path = Path(args.file)
        try:
            if path.stat().st_size > MAX_INPUT_BYTES:
                _err(f"error: {path}: larger than {MAX_INPUT_BYTES} bytes")
                return 2
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            _err(f"error: cannot read {path}: {exc}")
            return 2
        source = str(path)
    if len(text) > MAX_INPUT_BYTES:
        _err(f"error: {source}: larger than {MAX_INPUT_BYTES} bytes")
        return 2
    with (
        Store(settings.store) as store,
        open_publisher(settings, store, source="emit") as publisher,
    ):
        events, problems = validate_entries(read_entries(text), publisher.prepare)
        if not events and not problems:
            _err(f"error: {source}: no events")
            return 2
        accepted = []
        try:
            if not problems:
                # The entries passed the gate while being validated: do not gate them twice.
                accepted = publisher.publish_many(
                    [event for _, event in events], gate=already_checked
                )
        except BatchRejected as exc:
            problems = [problem_for(events[i][0], error) for i, error in sorted(exc.errors.items())]
        except PartialPublish as exc:
            for item in exc.accepted:
                _out(
                    f"{item.event_id} {item.document_id} → {item.topic}[{item.partition}]@{item.offset}"
                )
            _err(f"error: {exc}")
            return 1
        if problems and isinstance(publisher.gate, ComplianceGate):
            # They passed the gate while the file was checked; the audit log must not
            # read as if they had been published.
            publisher.gate.not_sent(
                [event for _, event in events],
                f"{source} had {len(problems)} invalid event(s): nothing from it was sent",
            )
    if problems:
        _err(f"error: {source}: {len(problems)} invalid event(s); nothing was sent")
        for problem in problems:
            _err(f"  {problem}".replace("\n", "\n  "))
        return 2
    for item in accepted:
        note = " (already accepted)" if item.duplicate else ""
        _out(
            f"{item.event_id} {item.document_id} → {item.topic}[{item.partition}]@{item.offset}{note}"
        )
    return 0


def _nothing_to_deliver(settings: "Settings", names: Sequence[str]) -> bool:
    """Whether every named channel's group has committed the end of every partition:
    then ``--until-idle`` has nothing to do, and answers before importing any channel."""
    from channels.registry import resolve
    from govpub.bus import open_bus
    from govpub.errors import BusError
    from govpub.topics import Topics

    for name in names:
        resolve(name)  # a misspelt name is an error, pending or not
    topics = Topics(settings.topic_prefix)
    try:
        with open_bus(settings) as bus:
            return all(
                lag <= 0
                for name in names
                for lag in bus.committed_lag(topics.channel_group(name), topics.content).values()
            )
    except BusError:
        return False  # the runners will say what is wrong


def _migrated(settings: "Settings") -> None:
    """Bring every component's tables up to date before a long-running or rebuilding
    command starts (a store migrated by a newer govpub stops it here, nothing written)."""
    from govpub.app.migrate import migrate_store

    migrate_store(settings)


def cmd_consume(settings: "Settings", args: argparse.Namespace) -> int:
    from govpub.app.members import run_members, stop_on_signals

    names = args.channel or settings.channels
    with _starting():  # the channels' imports and the migration: no work yet
        if args.until_idle and _nothing_to_deliver(settings, names):
            for name in names:
                _out(f"channel {name}: nothing to deliver")
            return 0
        from govpub.app.channels import preload, run_channels

        _migrated(settings)
        if args.processes > 1:
            preload(settings, names)  # once, before the members are forked

    def deliver(number: int, stop: threading.Event) -> int:
        results = run_channels(settings, names, until_idle=args.until_idle, stop=stop)
        member = f"member {number} of {args.processes}: " if args.processes > 1 else ""
        failed = False
        for result in results:
            if result.error is not None:
                failed = True
                _err(f"{member}channel {result.channel}: error: {result.error}")
            else:
                _out(f"{member}channel {result.channel}: {result.stats}")
        return 1 if failed else 0

    if args.processes > 1:
        return run_members(args.processes, deliver)
    stop = threading.Event()
    with stop_on_signals(stop):
        return deliver(1, stop)


def cmd_ingest(settings: "Settings", args: argparse.Namespace) -> int:
    from govpub.app.server import serve

    _migrated(settings)
    serve(settings, host=args.host, port=args.port)
    return 0


def cmd_status(settings: "Settings", args: argparse.Namespace) -> int:
    from govpub.app.status import render_status, status_json

    if args.json:
        if args.document:
            _err("error: --json shows the compliance flags and take-downs; not with --document")
            return 2
        _out(status_json(settings))
        return 0
    _out(render_status(settings, document_id=args.document))
    return 0


def cmd_freshness(settings: "Settings", args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from govpub.app.freshness.check import check_freshness, parse_moment
    from govpub.app.freshness.render import check_page_dir, render_json, render_text, write_page
    from govpub.app.freshness.settings import load_freshness_settings

    try:
        now = parse_moment(args.at) if args.at else datetime.now(UTC)
    except ValueError as exc:
        _err(f"error: {exc}")
        return 2
    if args.html:
        check_page_dir(Path(args.html), output_dir=settings.output_dir, name="--html")
    report = check_freshness(settings, load_freshness_settings(), now=now)
    _out(render_json(report) if args.json else render_text(report))
    if args.html:
        page = write_page(report, Path(args.html), output_dir=settings.output_dir, name="--html")
        _err(f"operator page: {page}")
    return 1 if report.problems() else 0


def cmd_dlq(settings: "Settings", args: argparse.Namespace) -> int:
    from consumers.redrive import redrive
    from consumers.retry import RetryPolicy
    from govpub.app.channels import build_runner
    from govpub.bus import open_bus
    from govpub.store import Store
    from govpub.topics import Topics

    topics = Topics(settings.topic_prefix)
    bus = open_bus(settings)
    if args.dlq_command == "list":
        return _list_dead_letters(settings, args, bus, topics)
    names = args.channel or settings.channels
    _migrated(settings)
    with Store(settings.store) as store:
        for name in names:
            runner = build_runner(settings, name, store)
            try:
                stats = redrive(
                    runner.channel,
                    bus,
                    store,
                    topics,
                    policy=RetryPolicy.from_settings(settings),
                    guard=runner.guard,
                )
            finally:
                runner.channel.close()
            _out(f"channel {name}: {stats}")
    return 0


def _list_dead_letters(
    settings: "Settings", args: argparse.Namespace, bus: "Bus", topics: "Topics"
) -> int:
    from consumers.deadletter_report import (
        dead_letters_json,
        list_dead_letters,
        parse_since,
        render_dead_letters,
    )
    from govpub.store import Store

    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        _err(f"error: {exc}")
        return 2
    with Store(settings.store) as store:
        entries = list_dead_letters(bus, topics, store, channel=args.channel, since=since)
    _out(dead_letters_json(entries) if args.json else render_dead_letters(entries, topics.dlq))
    return 0


def cmd_serve(settings: "Settings", args: argparse.Namespace) -> int:
    from govpub.app.serve import StaticServer

    root = settings.output_dir
    if not root.is_dir():
        _err(f"error: {root} does not exist yet (GOVPUB_OUTPUT_DIR); run govpub consume first")
        return 2

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    with StaticServer(root, args.host, args.port) as server:
        _out(f"serving {root.resolve()} at {server.url} (Ctrl-C to stop)")
        site = str(settings.site_url)
        if site.rstrip("/") != server.url.rstrip("/"):
            _err(
                f"note: feeds, sitemaps and posts link to GOVPUB_SITE_URL={site}, not to this"
                f" server; to follow them here, serve on that address or set"
                f" GOVPUB_SITE_URL={server.url} and run govpub replay --channel rss"
                " (and --channel website)"
            )
        sys.stdout.flush()
        previous = signal.signal(signal.SIGTERM, on_term)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
    return 0


def cmd_replay(settings: "Settings", args: argparse.Namespace) -> int:
    from govpub.app.channels import replay_channel

    _migrated(settings)
    result = replay_channel(settings, args.channel)
    _out(
        f"channel {result.channel}: rebuilt from {result.records} records ({result.stats}) "
        f"into {settings.output_dir.resolve()}"
    )
    return 0


def cmd_annual_report(settings: "Settings", args: argparse.Namespace) -> int:
    from govpub.app.releases import plan_annual_report, sync_catalog
    from producers.releases.annual_report import publish_report, render_table

    sync_catalog(settings)
    plan = plan_annual_report(
        settings,
        args.year,
        department=args.department,
        fees=Path(args.fees) if args.fees else None,
        format_id=args.format,
    )
    if args.json:
        _out(plan.payload.model_dump_json(indent=2, exclude_none=True))
    else:
        sys.stdout.write(render_table(plan.payload))
    if args.dry_run:
        _err(f"{plan.document_id}: not published (--dry-run)")
    elif not plan.changed:
        _err(f"{plan.document_id}: version {plan.version} already says this; nothing published")
    else:
        event_id = publish_report(settings, plan)
        _err(
            f"{plan.document_id}: version {plan.version} emitted ({event_id}); the site shows"
            " it once the website consumer delivers it (govpub consume)"
        )
    return 0


def cmd_library(settings: "Settings", args: argparse.Namespace) -> int:
    from govpub.app.compliance_status import today_in_china
    from govpub.app.library import library_json, read_library, render_library
    from govpub.app.releases import sync_catalog
    from govpub.store import Store

    sync_catalog(settings)
    with Store(settings.store) as store:
        report = read_library(settings, store, as_of=args.at or today_in_china())
    if args.json:
        _out(library_json(report))
    else:
        sys.stdout.write(render_library(report))
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def cmd_store(settings: "Settings", args: argparse.Namespace) -> int:
    from govpub.app.migrate import migrate_store
    from govpub.store import describe_location

    _out(f"store: {describe_location(settings.store)}")
    for name, (before, now) in sorted(migrate_store(settings).items()):
        change = f"migrated {before} → {now}" if before != now else "up to date"
        _out(f"  {name:<22} version {now}: {change}")
    return 0


def cmd_schemas(settings: "Settings", args: argparse.Namespace) -> int:
    from schemas.export import JSON_DIR, export_schemas, render_schemas

    directory = Path(args.dir) if args.dir else JSON_DIR
    if args.check:
        stale = [
            name
            for name, text in render_schemas().items()
            if not (directory / name).exists() or (directory / name).read_text("utf-8") != text
        ]
        if stale:
            _err(f"out of date in {directory}: {', '.join(stale)} (run: govpub schemas export)")
            return 1
        _out(f"schemas in {directory} are up to date")
        return 0
    for path in export_schemas(directory):
        _out(str(path))
    return 0


def _year(text: str) -> int:
    if not text.isdigit() or not 2008 <= int(text) <= 2200:
        raise argparse.ArgumentTypeError(f"{text!r} is not a year such as 2023")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``govpub``."""
    parser = argparse.ArgumentParser(
        prog="govpub", description="Event-driven publishing for government information disclosure."
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="debug logging, the Kafka client's own messages included (GOVPUB_LOG_LEVEL=DEBUG)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="run the whole pipeline on the embedded bus with sample events")
    p.add_argument(
        "--dir", default="govpub-demo", help="working directory (default: ./govpub-demo)"
    )
    p.add_argument("--keep", action="store_true", help="keep what an earlier demo left in --dir")
    # The demo reports what happened itself; its progress lines only with --verbose or
    # GOVPUB_LOG_LEVEL.
    p.set_defaults(handler=cmd_demo, log_level="WARNING")

    p = sub.add_parser("emit", help="validate and send events from a JSON or JSON Lines file")
    p.add_argument("file", help="a file, or - for standard input")
    p.set_defaults(handler=cmd_emit)

    p = sub.add_parser("consume", help="deliver events to channels")
    p.add_argument(
        "--channel", action="append", help="channel name (repeatable; default: GOVPUB_CHANNELS)"
    )
    p.add_argument(
        "--until-idle", action="store_true", help="stop when every partition is caught up"
    )
    p.add_argument(
        "--processes",
        type=_positive,
        default=1,
        metavar="N",
        help="members of each channel's group to run, forked after one start-up (default 1)",
    )
    p.set_defaults(handler=cmd_consume)

    p = sub.add_parser("ingest", help="run the department ingest API (HTTP, signed requests)")
    p.add_argument("--host", help="address to bind (default: GOVPUB_INGEST_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, help="TCP port (default: GOVPUB_INGEST_PORT, 8400)")
    p.set_defaults(handler=cmd_ingest)

    p = sub.add_parser(
        "status", help="consumer lag, deliveries, dead letters, compliance flags, take-downs"
    )
    p.add_argument("--document", help="where one document is published")
    p.add_argument(
        "--json",
        action="store_true",
        help="the compliance flags and the take-downs due, as JSON (for scripts)",
    )
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser(
        "freshness",
        help="columns and accounts about to break their update rule; meetings and policies"
        " missing a replay or an interpretation (exit 1 when anything is overdue or due soon)",
    )
    p.add_argument("--json", action="store_true", help="the report as JSON, for scripts")
    p.add_argument(
        "--at", help="check as of a date (its end) or a date-time, Beijing time (default: now)"
    )
    p.add_argument(
        "--html",
        metavar="DIR",
        help="also write the operator page (index.html) into DIR,"
        " which must be outside GOVPUB_OUTPUT_DIR",
    )
    p.set_defaults(handler=cmd_freshness)

    p = sub.add_parser("dlq", help="dead letters")
    dlq = p.add_subparsers(dest="dlq_command", required=True, metavar="list|redrive")
    listing = dlq.add_parser("list", help="show the dead letters, oldest first")
    listing.add_argument("--channel", help="only this channel's dead letters")
    listing.add_argument(
        "--since", help="only those dead-lettered since: a date, a date-time, or an age (6h, 7d)"
    )
    listing.add_argument("--json", action="store_true", help="a JSON array, for scripts")
    r = dlq.add_parser("redrive", help="deliver a channel's dead letters again")
    r.add_argument(
        "--channel", action="append", help="channel name (repeatable; default: GOVPUB_CHANNELS)"
    )
    p.set_defaults(handler=cmd_dlq)

    p = sub.add_parser("serve", help="serve the output directory over HTTP on loopback")
    p.add_argument("--host", default="127.0.0.1", help="loopback address (default: 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=8000, help="port (default: 8000; 0 picks a free one)"
    )
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("replay", help="rebuild a channel's output from the topics")
    p.add_argument("--channel", required=True, help="channel name, e.g. website or rss")
    p.set_defaults(handler=cmd_replay)

    p = sub.add_parser(
        "annual-report",
        help="count Table 2 of the annual disclosure report (主动公开政府信息情况) and publish it",
    )
    p.add_argument("year", type=_year, help="the calendar year, e.g. 2023")
    p.add_argument("--department", help="one department's report (its code, e.g. zz-yjj)")
    p.add_argument(
        "--fees",
        help="the finance office's fee statement (TOML; default:"
        " GOVPUB_ANNUAL_REPORT_FEES_DIR/<year>.toml)",
    )
    p.add_argument("--format", help="report format id (default: the newest for the year)")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.add_argument("--dry-run", action="store_true", help="count and print; publish nothing")
    p.set_defaults(handler=cmd_annual_report)

    p = sub.add_parser(
        "library",
        help="规章 and 行政规范性文件 in force per issuer, and those whose validity was not"
        " reviewed for GOVPUB_LIBRARY_REVIEW_DAYS",
    )
    p.add_argument("--json", action="store_true", help="the report as JSON, for scripts")
    p.add_argument("--at", type=_day, help="as of this day, YYYY-MM-DD (default: today in China)")
    p.set_defaults(handler=cmd_library)

    p = sub.add_parser("store", help="the state store (GOVPUB_STORE)")
    st = p.add_subparsers(dest="store_command", required=True, metavar="migrate")
    st.add_parser(
        "migrate",
        help="bring every component's tables up to date (commands also do it when they start)",
    )
    p.set_defaults(handler=cmd_store)

    p = sub.add_parser("schemas", help="JSON Schema of the events")
    s = p.add_subparsers(dest="schemas_command", required=True, metavar="export")
    e = s.add_parser("export", help="write schemas/json/*.json")
    e.add_argument("--dir", help="target directory (default: the package's schemas/json)")
    e.add_argument("--check", action="store_true", help="only check that the files are up to date")
    p.set_defaults(handler=cmd_schemas)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``govpub`` command; returns its exit code."""
    frozen = gc.get_freeze_count()
    try:
        return _main(argv)
    finally:
        if not frozen:
            gc.unfreeze()  # a caller of main (a test) collects what the command built


def run() -> NoReturn:
    """Entry point of the ``govpub`` command (the process exits after it)."""
    code = main()
    # The interpreter's exit would traverse every object several times over; collect
    # once (finalizers run), freeze the rest, and let the operating system free it.
    gc.collect()
    gc.freeze()
    raise SystemExit(code)


def _main(argv: Sequence[str] | None) -> int:
    try:
        with _starting():
            args = build_parser().parse_args(argv)
            # Imported here, not with the module: inside _starting (pydantic and every
            # section's settings model are most of what a command imports).
            from channels.settings import load_app_settings

            settings: Settings = load_app_settings()
            if args.verbose:
                settings = settings.model_copy(update={"log_level": "DEBUG"})
            logged = settings
            if hasattr(args, "log_level") and "log_level" not in settings.model_fields_set:
                logged = settings.model_copy(update={"log_level": args.log_level})
            configure_logging(logged)
        return int(args.handler(settings, args))
    except ConfigurationError as exc:
        _err(f"error: {exc}")
        return 2
    except GovpubError as exc:
        _err(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    run()
