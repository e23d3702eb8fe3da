"""The compliance gate's throughput, in process, against the gate before issue 12.

    python -m bench.gate [--events 5000] [--rounds 3] [--baseline REF]

Both gates check the same events (``bench.harness.mixed_events``: 40 % policies with
a 2 KB body, 40 % penalty decisions, 10 % meetings, 10 % campaigns), built with
``build_gate`` on a state store of their own (audit log, and party register for the
new one), one event at a time, as the publisher calls it. The baseline is the code at
``REF`` (default: where this branch left ``main``), exported with ``git archive`` into
a temporary directory; each gate runs in a fresh process of the same interpreter, the
two alternating ``--rounds`` times, and the best round of each counts (the machine is
shared). The goal: the new gate keeps at least 0.8× the baseline's events per second.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.harness import mixed_events, record

ROOT = Path(__file__).resolve().parents[1]
GOAL = 0.8

# Runs inside the tree under test (PYTHONPATH), so it imports nothing from bench/.
_WORKER = """
import json, sys, tempfile, time
from datetime import datetime
from pathlib import Path
from govpub.settings import Settings
from govpub.store import Store
import producers.compliance as compliance
from schemas import parse_event

events = [parse_event(e) for e in json.loads(Path(sys.argv[1]).read_text("utf-8"))]
moment = datetime.fromisoformat("2023-05-08T10:00:00+08:00")
with tempfile.TemporaryDirectory() as work:
    settings = Settings(_env_file=None, store=Path(work) / "state.db", output_dir=Path(work))
    with Store(settings.store) as store:
        gate = compliance.build_gate(settings, store, source="bench", clock=lambda: moment)
        gate(events[0])  # tables, caches and the store's schema: not part of the figure
        start = time.perf_counter()
        for event in events[1:]:
            gate(event)
        elapsed = time.perf_counter() - start
print(json.dumps({"events": len(events) - 1, "seconds": elapsed, "module": compliance.__file__}))
"""


def _merge_base(ref: str) -> str:
    out = subprocess.run(
        ["git", "merge-base", "HEAD", ref], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def _export(ref: str, into: Path) -> None:
    archive = subprocess.run(
        ["git", "archive", ref, "govpub", "schemas", "producers", "consumers", "channels"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)


def _run(tree: Path, events_file: Path, worker: Path) -> dict[str, float | str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env = {k: v for k, v in env.items() if not k.startswith("GOVPUB_")}
    out = subprocess.run(
        [sys.executable, str(worker), str(events_file)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float | str] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    """Measure both gates; print and record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default="main", help="git ref of the gate to compare with")
    args = parser.parse_args(argv)
    base = _merge_base(args.baseline)
    with tempfile.TemporaryDirectory(prefix="govpub-bench-gate-") as directory:
        work = Path(directory)
        baseline_tree = work / "baseline"
        baseline_tree.mkdir()
        _export(base, baseline_tree)
        events_file = work / "events.json"
        events_file.write_text(json.dumps(mixed_events(args.events), ensure_ascii=False), "utf-8")
        worker = work / "worker.py"
        worker.write_text(_WORKER, "utf-8")
        best: dict[str, float] = {"baseline": 0.0, "current": 0.0}
        for _ in range(args.rounds):
            for name, tree in (("baseline", baseline_tree), ("current", ROOT)):
                result = _run(tree, events_file, worker)
                assert str(result["module"]).startswith(str(tree)), result["module"]
                rate = float(result["events"]) / float(result["seconds"])
                best[name] = max(best[name], rate)
    ratio = best["current"] / best["baseline"]
    record(
        "gate",
        {
            "workload": f"bench.harness.mixed_events({args.events}), in process, one event per call",
            "baseline": f"{base[:7]} (merge-base with {args.baseline})",
            "baseline_events_per_s": round(best["baseline"]),
            "current_events_per_s": round(best["current"]),
            "ratio": round(ratio, 2),
            "goal": f">= {GOAL}",
            "met": ratio >= GOAL,
        },
    )
    return 0 if ratio >= GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())
