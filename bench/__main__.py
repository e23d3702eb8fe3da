"""``python -m bench`` (``make bench``): every benchmark, each starting its own broker.

Figures are printed and appended to ``bench/results/*.json``; copy a run into
``bench/RESULTS.md`` with the machine, the date, the load and the commit. A benchmark
that fails is reported (with its traceback) and the others still run; the exit status
is then 1.
"""

import sys
import time
import traceback
from collections.abc import Callable

from bench import gate, groups, growth, ingest, peers, pipeline, producer, store
from bench.harness import machine

BENCHMARKS: tuple[tuple[str, Callable[[list[str]], int]], ...] = (
    ("producer", producer.main),
    ("pipeline", pipeline.main),
    ("groups", groups.main),
    ("growth", growth.main),
    ("peers", peers.main),
    ("ingest", ingest.main),
    ("gate", gate.main),
    ("store", store.main),
)


def main() -> int:
    """Run the producer, pipeline, consumer-group, growth, peer (Hugo), ingest, gate and
    store benchmarks in turn; returns 1 if any of them failed."""
    sys.stdout.write(f"machine: {machine()}\n")
    failed: list[str] = []
    took: list[str] = []
    for name, run in BENCHMARKS:
        sys.stdout.write(f"\n##### {name} (started {time.strftime('%H:%M:%S %Z')})\n")
        sys.stdout.flush()
        started = time.monotonic()
        try:
            status = run([])
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            status = 1
        took.append(f"{name} {time.monotonic() - started:.0f} s")
        if status != 0:
            failed.append(name)
    sys.stdout.write(f"\n##### took: {', '.join(took)}\n")
    if failed:
        sys.stdout.write(f"##### failed: {', '.join(failed)}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
