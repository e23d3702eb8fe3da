"""Channel growth: per-event cost of the RSS and website channels with 1,000, 10,000,
50,000 and 1,000,000 published documents, and a full build of each size (a benchmark,
not a test).

    python -m bench.growth [--channels rss website] [--sizes 1000 10000 50000 1000000]
                           [--events 200]

For each channel and size the script builds that many documents in a temporary
directory (applied and flushed in batches of 5,000 events, as a consumer catching up
with a backlog does; generating the events is not timed), then times
single events, each applied and flushed on its own as the consumer does with a
batch of one: new publications (the newest document), updates and withdrawals of
random existing documents. A few backdated publications (older than everything
listed, the worst case for the website: they shift every later page) are timed
separately. The baseline is the same channel's cost at the smallest size, measured
twice: first, and again right after the largest (whose build takes a quarter of an hour
at 1,000,000 documents, long enough for a shared machine's speed to change), and the
ratios are taken against the mean of the two.
Goal: the per-event cost at 1,000,000 within 1.5x of the cost at 1,000.
"""

import argparse
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import record
from channels.base import ChannelContext
from channels.registry import create_channel
from channels.settings import AppSettings
from govpub.departments import department_names
from govpub.store import Store
from schemas import AnyEvent, parse_event

START = datetime(2019, 1, 1, tzinfo=UTC)
BUILD_BATCH = 5000
"""Events per batch of the full build (``GOVPUB_MAX_BATCH`` in docker-compose.yml)."""
GOAL = 1.5
"""The per-event cost at the largest size, at most this many times that at the smallest."""
KINDS = ["penalty"] * 12 + ["policy"] * 4 + ["meeting"] * 2 + ["campaign", "exposure"]


def _payload(kind: str, n: int, rng: random.Random) -> dict[str, Any]:
    title = f"基准测试文件 第{n}号"
    if kind == "penalty":
        return {
            "title": title,
            "decision_number": f"（株）罚〔2023〕{n}号",
            "party_type": "法人",
            "party_name": f"株洲示例{n}有限公司",
            "facts": "经查，该公司未按规定开展安全生产教育培训。" * 3,
            "legal_basis": "《中华人民共和国安全生产法》第九十七条",
            "penalty_types": ["警告", "罚款"],
            "fine_amount": f"{rng.randint(1, 500) * 100}.00",
            "authority": "株洲市应急管理局",
            "decided_on": "2023-05-05",
            "domain": "安全生产",
        }
    if kind == "policy":
        return {
            "title": title,
            "doc_number": f"株政发〔2023〕{n}号",
            "issuer": "株洲市人民政府",
            "doc_class": "行政规范性文件",
            "written_on": "2023-03-15",
            "body": "<h2>一、总则</h2><p>为加强管理，制定本办法。</p>" * 10,
            "interpretation": {"title": "政策解读", "body": "<p>解读内容。</p>"},
        }
    if kind == "meeting":
        return {
            "title": title,
            "meeting_type": "常务会议",
            "held_on": "2023-06-16",
            "press_release": "<p>市人民政府召开常务会议。</p>" * 5,
            "decisions": ["原则通过实施方案。", "研究部署专项整治。"],
            "video_url": "https://media.example.org/v.mp4",
        }
    if kind == "campaign":
        return {
            "title": title,
            "theme": "守护好一江碧水五周年",
            "day": "2023-07-05",
            "phase": "preview",
            "body": "<p>主题日活动。</p>" * 5,
        }
    return {
        "title": title,
        "domain": "安全生产",
        "candidate_quarter": "2023Q2",
        "cases": [
            {"title": f"案例{i}", "case_summary": "案情简介。", "decision_ref": f"doc-{n}-{i}"}
            for i in range(5)
        ],
    }


@dataclass
class Corpus:
    """Generates events; document ``n`` is published ``n`` minutes after START."""

    rng: random.Random
    departments: list[str]
    versions: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    departments_of: dict[str, str] = field(default_factory=dict)
    count: int = 0

    def event(
        self, document_id: str, kind: str, when: datetime, action: str = "publish"
    ) -> AnyEvent:
        version = self.versions.get(document_id, 0) + 1
        self.versions[document_id] = version
        self.kinds[document_id] = kind
        # A document stays with its department (a move is a rare, costlier case).
        department = self.departments_of.setdefault(document_id, self.rng.choice(self.departments))
        body: dict[str, Any]
        if action == "retract":
            body = {"reason": "公示期满，依法下线。"}
        else:
            body = _payload(kind, self.count, self.rng)
        return parse_event(
            {
                "event_id": f"00000000-0000-4000-8000-{self.rng.getrandbits(48):012x}",
                "kind": kind,
                "action": action if version == 1 or action == "retract" else "update",
                "document_id": document_id,
                "version": version,
                "department": department,
                "occurred_at": when.isoformat(),
                "payload": body,
            }
        )

    def publish_new(self) -> AnyEvent:
        self.count += 1
        kind = self.rng.choice(KINDS)
        return self.event(f"doc-{self.count:06d}", kind, START + timedelta(minutes=self.count))

    def update_existing(self, now: datetime) -> AnyEvent:
        document_id = self.rng.choice(sorted(self.kinds))
        return self.event(document_id, self.kinds[document_id], now)

    def withdraw_existing(self, now: datetime) -> AnyEvent:
        document_id = self.rng.choice(sorted(self.kinds))
        event = self.event(document_id, self.kinds[document_id], now, action="retract")
        del self.kinds[document_id]
        return event

    def backdated(self) -> AnyEvent:
        self.count += 1
        kind = self.rng.choice(KINDS)
        return self.event(f"late-{self.count:06d}", kind, START - timedelta(days=1))


def _timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run(channel_name: str, size: int, events: int, workdir: Path) -> dict[str, Any]:
    """Build ``size`` documents into the channel, then time single events."""
    # With every channel's section, as the entry points build it.
    settings = AppSettings(
        _env_file=None,
        store=workdir / "state.db",
        output_dir=workdir / "public",
        bus=f"sqlite:///{workdir / 'bus.db'}",
    )
    corpus = Corpus(random.Random(size), sorted(department_names()))
    with Store(settings.store) as store:
        channel = create_channel(channel_name, ChannelContext(settings, store))
        # Built in batches of BUILD_BATCH events, each applied and flushed as a consumer
        # catching up does; each batch is generated before it is timed, so that a million
        # events are never in memory at once.
        rebuild = 0.0
        for start in range(0, size, BUILD_BATCH):
            batch = [corpus.publish_new() for _ in range(min(BUILD_BATCH, size - start))]

            def build(batch: list[AnyEvent] = batch) -> None:
                for event in batch:
                    channel.apply(event)
                channel.flush()

            rebuild += _timed(build)
        now = START + timedelta(minutes=size + 1)
        samples: dict[str, list[float]] = {"publish": [], "update": [], "withdraw": []}
        plan = (
            ["publish"] * (events * 3 // 5)
            + ["update"] * (events // 5)
            + ["withdraw"] * (events // 5)
        )
        corpus.rng.shuffle(plan)
        for step in plan:
            now += timedelta(minutes=1)
            if step == "publish":
                event = corpus.publish_new()
            elif step == "update":
                event = corpus.update_existing(now)
            else:
                event = corpus.withdraw_existing(now)

            def one(event: AnyEvent = event) -> None:
                channel.apply(event)
                channel.flush()

            samples[step].append(_timed(one))
        late: list[float] = []
        for _ in range(5):
            event = corpus.backdated()

            def one_late(event: AnyEvent = event) -> None:
                channel.apply(event)
                channel.flush()

            late.append(_timed(one_late))
        channel.close()
    files = sum(len(names) for _, _, names in os.walk(workdir / "public"))
    every = [s for values in samples.values() for s in values]
    return {
        "channel": channel_name,
        "size": size,
        "rebuild_s": rebuild,
        "files": files,
        "per_event_mean_ms": statistics.fmean(every) * 1000,
        "per_event_median_ms": statistics.median(every) * 1000,
        "per_event_p95_ms": statistics.quantiles(every, n=20)[18] * 1000,
        **{f"{k}_median_ms": statistics.median(v) * 1000 for k, v in samples.items()},
        "backdated_median_ms": statistics.median(late) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.growth", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--channels", nargs="+", default=["rss", "website"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 50_000, 1_000_000])
    parser.add_argument("--events", type=int, default=200, help="timed events per size")
    parser.add_argument("--keep", type=Path, help="build under this directory and keep it")
    args = parser.parse_args(argv)
    print(f"python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    for channel_name in args.channels:
        results = []
        # The smallest size again after the largest: see the module's docstring.
        sizes = [*args.sizes, args.sizes[0]] if len(args.sizes) > 1 else args.sizes
        for step, size in enumerate(sizes):
            base = args.keep or Path(tempfile.mkdtemp(prefix="govpub-bench-"))
            workdir = base / f"{channel_name}-{size}-{step}"
            workdir.mkdir(parents=True, exist_ok=True)
            try:
                result = run(channel_name, size, args.events, workdir)
            finally:
                if args.keep is None:
                    shutil.rmtree(base, ignore_errors=True)
            results.append(result)
            print(
                f"{channel_name} {size:>6} documents: full build {result['rebuild_s']:.1f} s"
                f" ({result['files']} files); per event mean {result['per_event_mean_ms']:.2f} ms,"
                f" median {result['per_event_median_ms']:.2f} ms,"
                f" p95 {result['per_event_p95_ms']:.2f} ms"
                f" (publish {result['publish_median_ms']:.2f}, update {result['update_median_ms']:.2f},"
                f" withdraw {result['withdraw_median_ms']:.2f});"
                f" backdated publication median {result['backdated_median_ms']:.1f} ms",
                flush=True,
            )
        smallest = [r for r in results if r["size"] == args.sizes[0]]
        small_mean = statistics.fmean(r["per_event_mean_ms"] for r in smallest)
        small_median = statistics.fmean(r["per_event_median_ms"] for r in smallest)
        figures: dict[str, Any] = {}
        ratios = {}
        for step, result in enumerate(results):
            size = result["size"]
            label = f"{size} docs" + (
                " (again, after the largest)" if step == len(args.sizes) else ""
            )
            figures[f"{label}: full build (s)"] = round(result["rebuild_s"], 1)
            figures[f"{label}: per event mean / median / p95 (ms)"] = (
                f"{result['per_event_mean_ms']:.2f} / {result['per_event_median_ms']:.2f}"
                f" / {result['per_event_p95_ms']:.2f}"
            )
            figures[f"{label}: backdated publication median (ms)"] = round(
                result["backdated_median_ms"], 1
            )
            if size != args.sizes[0]:
                ratios[size] = result["per_event_mean_ms"] / small_mean
                median = result["per_event_median_ms"] / small_median
                figures[f"{size} ÷ {args.sizes[0]} per event (mean, median)"] = (
                    f"{ratios[size]:.2f}x, {median:.2f}x"
                )
        figures["goal"] = "largest ÷ smallest (mean per event) ≤ 1.5x"
        if ratios:
            figures["met"] = ratios[max(ratios)] <= GOAL
        record(f"growth-{channel_name}", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
