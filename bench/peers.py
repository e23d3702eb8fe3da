"""The full website rebuild against Hugo, the static-site generator a city would pick
instead, on the same documents; and the fixed cost of ``govpub consume --until-idle``.

    python -m bench.peers [--sizes 10000 50000] [--rounds 3] [--fixed-cost-only]

For each size, ``bench.harness.mixed_events`` (40 % policies with a 2 KB body, 40 %
penalty decisions, 10 % meetings, 10 % campaigns, dated in emission order) is
published on the embedded bus, and given to Hugo as Markdown with the same titles,
dates, bodies and facts (``bench/hugo_site/``: a page per document, the kind and
department lists paginated by 20, a home page, RSS, the sitemap). Then, in paired
runs whose order alternates, each tool rebuilds the whole site in a process of its
own, timed by the wall clock:

- ``govpub replay --channel website`` (rebuilds the website's tree from the topics and
  swaps it in; its figure includes reading the bus, the channels' compliance re-check
  and the state store), and ``hugo`` (Debian's package; all cores, as by default);
- *first build*: both output trees (and govpub's state) removed before each run;
- *rebuild*: over the tree of the previous run, as a site rebuilt on a timer is.

The ratio is Hugo's median time over govpub's (above 1: govpub is faster). The load
average of the machine is sampled during the runs: it is shared, and has 2 cores.

At the largest size the website is then brought up to date by ``govpub consume
--channel website --until-idle`` (the catch-up is timed too), and the command's fixed
cost is timed: with nothing to deliver, and with one new document, alternately.
Goal: both within 0.5 s. ``--fixed-cost-only`` publishes the largest size and measures
only that (no Hugo, no rebuilds).

govpub's own modules are byte-compiled first, as ``pip install`` does for an installed
govpub (an editable install run with ``PYTHONDONTWRITEBYTECODE`` would compile every
module in every run, which no deployment does).
"""

import argparse
import compileall
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import LoadSampler, mixed_events, record, spread, timed
from channels.rss.settings import RssSettings
from channels.settings import AppSettings
from govpub.bus import open_bus
from govpub.departments import department_name
from govpub.settings import Settings, section
from govpub.topics import Topics
from producers import Publisher
from schemas import Kind

HUGO_SITE = Path(__file__).parent / "hugo_site"
PACKAGES = ("govpub", "channels", "consumers", "producers", "schemas")
"""govpub's top-level packages (byte-compiled before the timed runs)."""
FIXED_COST_GOAL = 0.5

_TAGS = re.compile(r"<[^>]+>")
_BLOCKS = re.compile(r"<(p|h2)>(.*?)</\1>", re.S)


def _markdown(html: str) -> str:
    """The paragraphs and headings of a body as Markdown."""
    parts = []
    for tag, inner in _BLOCKS.findall(html):
        text = _TAGS.sub("", inner).strip()
        parts.append(f"## {text}" if tag == "h2" else text)
    return "\n\n".join(parts)


def _document(event: dict[str, Any]) -> tuple[list[list[str]], str, str]:
    """``(facts, subtitle, body)`` of an event for Hugo: what govpub's page shows."""
    p = event["payload"]
    kind = event["kind"]
    if kind == "policy":
        facts = [
            ["文号", p["doc_number"]],
            ["发布机构", p["issuer"]],
            ["文件类别", p["doc_class"]],
            ["成文日期", p["written_on"]],
            ["文件效力", p.get("validity", "现行有效")],
        ]
        body = _markdown(p["body"])
        if p.get("interpretation"):
            body += f"\n\n## {p['interpretation']['title']}\n\n"
            body += _markdown(p["interpretation"]["body"])
        return facts, p["doc_number"], body
    if kind == "penalty":
        types = "、".join(p["penalty_types"])
        facts = [
            ["行政处罚决定书文号", p["decision_number"]],
            ["当事人", p["party_name"]],
            ["当事人类型", p["party_type"]],
            ["统一社会信用代码", p.get("credit_code") or ""],
            ["处罚类别", types],
            ["罚款金额", f"{float(p['fine_amount']):,.2f} 元"],
            ["处罚机关", p["authority"]],
            ["处罚决定日期", p["decided_on"]],
            ["执法领域", p["domain"]],
        ]
        body = (
            f"## 主要违法事实\n\n{p['facts']}\n\n## 处罚依据\n\n{p['legal_basis']}"
            f"\n\n## 处罚决定\n\n{types}，罚款 {float(p['fine_amount']):,.2f} 元。"
        )
        return facts, p["decision_number"], body
    if kind == "meeting":
        facts = [["会议类型", p["meeting_type"]], ["召开日期", p["held_on"]]]
        decisions = "\n".join(f"{i}. {d}" for i, d in enumerate(p["decisions"], 1))
        body = f"## 会议新闻稿\n\n{_markdown(p['press_release'])}\n\n## 议定事项\n\n{decisions}"
        return facts, f"{p['meeting_type']} · {p['held_on']}", body
    facts = [["主题", p["theme"]], ["活动日", p["day"]], ["阶段", p["phase"]]]
    return facts, f"{p['theme']} · {p['phase']}", _markdown(p["body"])


def write_hugo_site(events: list[dict[str, Any]], site: Path, settings: Settings) -> None:
    """The Hugo site of ``events`` under ``site``: configuration, layouts, content."""
    shutil.copytree(HUGO_SITE / "layouts", site / "layouts")
    shutil.copytree(HUGO_SITE / "static", site / "static")
    title = settings.site_title
    (site / "hugo.toml").write_text(
        f'baseURL = "{settings.site_url}"\n'
        'languageCode = "zh-CN"\n'
        f"title = {json.dumps(title, ensure_ascii=False)}\n"
        "paginate = 20\n"
        "uglyURLs = true\n"  # policy/<id>.html, as govpub writes it
        f"rssLimit = {section(settings, RssSettings).feed_items}\n"
        '[taxonomies]\n  department = "departments"\n'
        "[outputs]\n"
        '  home = ["HTML", "RSS"]\n  section = ["HTML", "RSS"]\n'
        '  taxonomy = ["HTML"]\n  term = ["HTML", "RSS"]\n',
        "utf-8",
    )
    content = site / "content"
    for kind in Kind:
        (content / kind.value).mkdir(parents=True)
        (content / kind.value / "_index.md").write_text(
            json.dumps({"title": kind.label}, ensure_ascii=False) + "\n", "utf-8"
        )
    departments = sorted({e["department"] for e in events})
    for code in departments:
        (content / "departments" / code).mkdir(parents=True)
        (content / "departments" / code / "_index.md").write_text(
            json.dumps({"title": department_name(code)}, ensure_ascii=False) + "\n", "utf-8"
        )
    for event in events:
        facts, subtitle, body = _document(event)
        front = {
            "title": event["payload"]["title"],
            "date": event["occurred_at"],
            "departments": [event["department"]],
            "department_name": department_name(event["department"]),
            "kind_label": Kind(event["kind"]).label,
            "subtitle": subtitle,
            "facts": facts,
        }
        (content / event["kind"] / f"{event['document_id']}.md").write_text(
            json.dumps(front, ensure_ascii=False) + "\n\n" + body + "\n", "utf-8"
        )


def _settings(root: Path) -> Settings:
    # With every channel's section: the RSS feeds' length is given to Hugo too.
    return AppSettings(
        _env_file=None,
        bus=f"sqlite:///{root / 'bus.db'}",
        store=root / "state.db",
        output_dir=root / "public",
    )


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVPUB_")}
    env.update(
        GOVPUB_BUS=settings.bus,
        GOVPUB_STORE=str(settings.store),
        GOVPUB_OUTPUT_DIR=str(settings.output_dir),
        GOVPUB_LOG_LEVEL="WARNING",
        # As docker-compose.yml configures the file channels.
        GOVPUB_MAX_BATCH="5000",
    )
    return env


def _run(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    with timed() as elapsed:
        subprocess.run(args, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return elapsed[0]


def _reset_govpub(settings: Settings) -> None:
    shutil.rmtree(settings.output_dir, ignore_errors=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.store}{suffix}").unlink(missing_ok=True)


def _files(root: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(root))


def rebuilds(
    size: int, rounds: int, work: Path, hugo: str
) -> tuple[dict[str, Any], Settings, list[dict[str, Any]]]:
    """Paired, alternating runs of both tools on ``size`` documents."""
    events = mixed_events(size, prefix=f"peer{size}")
    settings = publish_documents(events, work)
    site = work / f"hugo-{size}"
    write_hugo_site(events, site, settings)
    govpub_cmd = [sys.executable, "-m", "govpub.app.cli", "replay", "--channel", "website"]
    hugo_cmd = [hugo, "--quiet", "--source", str(site), "--destination", str(site / "public")]
    figures: dict[str, Any] = {"documents": size}
    for mode in ("first build", "rebuild"):
        times: dict[str, list[float]] = {"govpub": [], "hugo": []}
        with LoadSampler() as load:
            for round_ in range(rounds):
                order = ["govpub", "hugo"] if round_ % 2 == 0 else ["hugo", "govpub"]
                for tool in order:
                    if tool == "govpub":
                        if mode == "first build":
                            _reset_govpub(settings)
                        times[tool].append(_run(govpub_cmd, env=_env(settings)))
                    else:
                        if mode == "first build":
                            shutil.rmtree(site / "public", ignore_errors=True)
                            shutil.rmtree(site / "resources", ignore_errors=True)
                        times[tool].append(_run(hugo_cmd))
        pairs = [h / g for g, h in zip(times["govpub"], times["hugo"], strict=True)]
        ratio = statistics.median(times["hugo"]) / statistics.median(times["govpub"])
        figures[f"{mode}: govpub replay (s)"] = spread(times["govpub"])
        figures[f"{mode}: hugo (s)"] = spread(times["hugo"])
        figures[f"{mode}: hugo ÷ govpub time"] = f"{ratio:.2f} (pairs: {spread(pairs)})"
        figures[f"{mode}: load average"] = load.summary()
    figures["files: govpub / hugo"] = f"{_files(settings.output_dir)} / {_files(site / 'public')}"
    figures["goal"] = "hugo ÷ govpub ≥ 1.0 at 10,000 and 50,000"
    shutil.rmtree(site, ignore_errors=True)
    return figures, settings, events


def publish_documents(events: list[dict[str, Any]], work: Path) -> Settings:
    """A data directory under ``work`` with ``events`` published on the embedded bus
    (none delivered yet)."""
    size = len(events)
    root = work / f"govpub-{size}"
    root.mkdir()
    settings = _settings(root)
    with Publisher(open_bus(settings), Topics(settings.topic_prefix)) as publisher:
        for start in range(0, size, 5000):
            publisher.publish_many(events[start : start + 5000])
    return settings


def byte_compile() -> None:
    """Byte-compile govpub's packages, as installing govpub does."""
    root = Path(__file__).resolve().parent.parent
    for package in PACKAGES:
        compileall.compile_dir(root / package, quiet=1)


def fixed_cost(settings: Settings, rounds: int, documents: int) -> dict[str, Any]:
    """``govpub consume --channel website --until-idle``: the catch-up of the whole
    site, then runs with nothing to deliver and with one new document, alternately."""
    byte_compile()
    consume = [sys.executable, "-m", "govpub.app.cli", "consume", "--channel", "website"]
    consume.append("--until-idle")
    env = _env(settings)
    figures: dict[str, Any] = {"documents": documents}
    catch_up = _run(consume, env=env)
    figures["catch-up of every document, one process (s)"] = round(catch_up, 1)
    idle: list[float] = []
    one: list[float] = []
    with (
        LoadSampler() as load,
        Publisher(open_bus(settings), Topics(settings.topic_prefix)) as publisher,
    ):
        for round_ in range(rounds):
            idle.append(_run(consume, env=env))
            event = mixed_events(1, prefix=f"new{round_}")[0]
            event["occurred_at"] = "2030-01-01T10:00:00+08:00"
            publisher.publish(event)
            one.append(_run(consume, env=env))
            page = settings.output_dir / "policy" / f"{event['document_id']}.html"
            if not page.exists():
                raise RuntimeError(f"{page} was not written")
    figures["nothing to deliver (s)"] = spread(idle)
    figures["one new document (s)"] = spread(one)
    figures["load average"] = load.summary()
    figures["goal"] = f"≤ {FIXED_COST_GOAL} s"
    figures["met"] = max(statistics.median(idle), statistics.median(one)) <= FIXED_COST_GOAL
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the paired rebuilds at each size, then the fixed cost at the largest."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.peers", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--rounds", type=int, default=3, help="paired runs per size and mode")
    parser.add_argument("--hugo", default=shutil.which("hugo"), help="the hugo executable")
    parser.add_argument(
        "--fixed-cost-only",
        action="store_true",
        help="only the fixed cost of consume --until-idle, at the largest size (no Hugo)",
    )
    args = parser.parse_args(argv)
    if args.fixed_cost_only:
        work = Path(tempfile.mkdtemp(prefix="govpub-bench-peers-"))
        try:
            size = args.sizes[-1]
            settings = publish_documents(mixed_events(size, prefix=f"peer{size}"), work)
            record("cli-fixed-cost", fixed_cost(settings, args.rounds, size))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return 0
    if not args.hugo:
        sys.stderr.write("hugo is not installed: `make bench` installs Debian's package\n")
        return 2
    version = subprocess.run([args.hugo, "version"], capture_output=True, text=True, check=True)
    work = Path(tempfile.mkdtemp(prefix="govpub-bench-peers-"))
    try:
        settings: Settings | None = None
        for size in args.sizes:
            figures, settings, _ = rebuilds(size, args.rounds, work, args.hugo)
            figures["hugo"] = version.stdout.split()[1]
            record("peers", figures)
        if settings is not None:
            record("cli-fixed-cost", fixed_cost(settings, args.rounds, args.sizes[-1]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
