"""Shared pieces of the benchmarks: the machine, the commit, workloads, and reporting.

Every benchmark prints its figures and a ratio to a baseline measured in the same run,
and appends them to ``bench/results/<name>.json`` for ``bench/RESULTS.md``.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tests import factories

RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model, Python, date."""
    memory_kb = 0
    cpu = platform.processor()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "commit": commit(),
    }


def commit() -> str:
    """The git commit the benchmark ran on (with ``+dirty`` for uncommitted changes)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], capture_output=True, text=True
        ).stdout
        return head + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


WORKLOAD_START = datetime(2023, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=8)))


def mixed_events(
    count: int, *, prefix: str = "bench", scattered_dates: bool = False
) -> list[dict[str, Any]]:
    """A realistic mix of new documents: 40 % policies with a 2 KB body, 40 % penalty
    decisions, 10 % meetings, 10 % campaigns, every document keyed on its own id.

    Documents are formed in the order they are emitted, one second apart, as a
    department's backlog is. ``scattered_dates`` spreads them over four weeks in no
    order instead: nearly every batch then holds documents older than some already
    listed, the website's worst case (they shift the archive pages after them).
    """
    events: list[dict[str, Any]] = []
    for i in range(count):
        doc = f"{prefix}-{i:06d}"
        kind = i % 10
        if kind < 4:
            event = factories.policy(
                doc,
                title=f"关于第{i}项工作的通知",
                body=f"<p>正文{i}：" + "政策内容。" * 40 + "</p>",
            )
        elif kind < 8:
            event = factories.penalty(
                doc,
                title=f"第{i}号行政处罚决定",
                facts="违法事实：" + "未按规定落实安全生产责任。" * 10,
            )
        elif kind == 8:
            event = factories.envelope(
                "meeting",
                doc,
                1,
                {
                    "title": f"市人民政府第{i}次常务会议",
                    "meeting_type": "常务会议",
                    "held_on": "2023-06-16",
                    "press_release": "<p>会议研究部署了安全生产和民生实事工作。</p>" * 5,
                    "decisions": ["原则通过实施方案。", "研究部署专项整治工作。"],
                },
            )
        else:
            event = factories.envelope(
                "campaign",
                doc,
                1,
                {
                    "title": f"政务公开主题日 {i}",
                    "theme": "守护好一江碧水五周年",
                    "day": "2023-07-05",
                    "phase": "day",
                    "body": "<p>主题日活动内容。</p>" * 5,
                },
            )
        if scattered_dates:
            event["occurred_at"] = f"2023-05-{1 + i % 28:02d}T10:{i % 60:02d}:00+08:00"
        else:
            event["occurred_at"] = (WORKLOAD_START + timedelta(seconds=i)).isoformat()
        events.append(event)
    return events


@contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` percentile (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def record(name: str, figures: dict[str, Any]) -> None:
    """Print the figures and append them to ``bench/results/<name>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    entry = {"machine": machine(), "figures": figures}
    path = RESULTS / f"{name}.json"
    runs = json.loads(path.read_text()) if path.exists() else []
    runs.append(entry)
    path.write_text(json.dumps(runs, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.write(f"\n== {name} ==\n")
    for key, value in figures.items():
        sys.stdout.write(f"  {key:<44} {value}\n")
    sys.stdout.flush()


class LoadSampler:
    """The machine's 1-minute load average, read every ``interval`` seconds while the
    benchmark runs (``with LoadSampler() as load: ...``; then ``load.summary()``)."""

    def __init__(self, interval: float = 2.0) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-sampler", daemon=True)

    def _run(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> "LoadSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        """``mean 1.4 (0.9–2.1)`` of the samples."""
        if not self.samples:
            return "n/a"
        return (
            f"mean {statistics.fmean(self.samples):.2f}"
            f" ({min(self.samples):.2f}–{max(self.samples):.2f})"
        )


def spread(values: list[float], digits: int = 2) -> str:
    """``median (min–max, n=…)``."""
    return (
        f"{statistics.median(values):.{digits}f} "
        f"({min(values):.{digits}f}–{max(values):.{digits}f}, n={len(values)})"
    )
