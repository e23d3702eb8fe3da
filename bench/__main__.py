"""``python -m bench`` (``make bench``): every benchmark, each starting its own broker.

Figures are printed and appended to ``bench/results/*.json``; copy a run into
``bench/RESULTS.md`` with the machine, the date and the commit.
"""

import sys

from bench import gate, growth, ingest, pipeline, store


def main() -> int:
    """Run the pipeline, growth, ingest, gate and store benchmarks in turn."""
    for name, run in (
        ("pipeline", pipeline.main),
        ("growth", growth.main),
        ("ingest", ingest.main),
        ("gate", gate.main),
        ("store", store.main),
    ):
        sys.stdout.write(f"\n##### {name}\n")
        sys.stdout.flush()
        if run([]) != 0:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
