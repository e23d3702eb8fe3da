"""``python -m bench`` (``make bench``): every benchmark, each starting its own broker.

Figures are printed and appended to ``bench/results/*.json``; copy a run into
``bench/RESULTS.md`` with the machine, the date, the load and the commit.
"""

import sys

from bench import gate, groups, growth, ingest, peers, pipeline, producer, store


def main() -> int:
    """Run the producer, pipeline, consumer-group, growth, peer (Hugo), ingest, gate and
    store benchmarks in turn."""
    for name, run in (
        ("producer", producer.main),
        ("pipeline", pipeline.main),
        ("groups", groups.main),
        ("growth", growth.main),
        ("peers", peers.main),
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
