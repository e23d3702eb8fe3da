"""The state store on PostgreSQL against SQLite, in one run.

    python -m bench.store [--events 10000] [--requests 1000] [--rounds 2] [--baseline REF]

Two workloads, each with ``GOVPUB_STORE`` a SQLite file and then a PostgreSQL database
on this machine (a throw-away server, ``tests/postgres_server.py``, with the server's
default durability: fsync and synchronous commit on):

- end to end on Kafka: ``bench.harness.mixed_events`` read by ``rss`` and ``website``,
  each in its own ``govpub consume --until-idle`` process (batches of 5,000, as
  ``docker-compose.yml`` runs them), from publication to caught up;
- ingest: signed single-event POSTs to ``govpub ingest`` from 4 client threads, gate on.

A third variant runs the SQLite store with the code at ``REF`` (default: where this
branch left ``main``), exported with ``git archive`` and put first on ``PYTHONPATH``, to
show that the default backend did not slow down. Variants alternate ``--rounds`` times
on one Kafka broker and one PostgreSQL server, each round starting with the next
variant; the best round of each counts (the machine is shared), and every round's
figures are printed. Nothing here is a test.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.gate import _export, _merge_base
from bench.harness import mixed_events, percentile, record, timed
from bench.ingest import CREDENTIALS, free_port, load, penalties, wait_healthy
from bench.pipeline import CHANNELS, publish
from govpub.settings import Settings
from tests.kafka_broker import KafkaBroker
from tests.postgres_server import PostgresServer

VARIANTS = ("sqlite", "postgresql", "postgresql-async", "sqlite-before")
"""``postgresql-async``: the same server with ``synchronous_commit=off`` for govpub's
sessions (set in the URL), closer to SQLite's WAL with ``synchronous=NORMAL``, which does
not wait for the disk at each commit either."""
ROOT = Path(__file__).resolve().parents[1]


def _env(store: str, prefix: str, bus: str, tree: Path | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVPUB_")}
    env.update(
        GOVPUB_BUS=bus,
        GOVPUB_STORE=store,
        GOVPUB_TOPIC_PREFIX=prefix,
        GOVPUB_LOG_LEVEL="WARNING",
        **extra,
    )
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return env


def _cwd(tree: Path | None) -> Path:
    # A child's sys.path starts with its working directory: the tree under test.
    return tree if tree is not None else ROOT


def _cli(tree: Path | None) -> str:
    """The CLI's module in ``tree``: ``govpub.app.cli`` since the layering of issue 19,
    ``govpub.cli`` in a baseline from before it."""
    return "govpub.app.cli" if (_cwd(tree) / "govpub" / "app" / "cli.py").exists() else "govpub.cli"


def _check_tree(env: dict[str, str], tree: Path | None) -> None:
    """The child imports govpub from ``tree`` (the baseline), or from here."""
    where = subprocess.run(
        [sys.executable, "-c", f"import {_cli(tree)} as cli; print(cli.__file__)"],
        env=env,
        cwd=_cwd(tree),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    expected = str(_cwd(tree))
    if not where.startswith(expected):
        raise RuntimeError(f"the child imported govpub from {where}, not {expected}")


def end_to_end(env: dict[str, str], tree: Path | None, output: Path) -> float:
    """Seconds until ``rss`` and ``website`` (one process each) have caught up."""
    env = {**env, "GOVPUB_OUTPUT_DIR": str(output), "GOVPUB_MAX_BATCH": "5000"}
    _check_tree(env, tree)
    with timed() as elapsed:
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", _cli(tree), "consume", "--channel", c, "--until-idle"],
                env=env,
                cwd=_cwd(tree),
                stdout=subprocess.DEVNULL,
            )
            for c in CHANNELS
        ]
        for process in processes:
            if process.wait(timeout=3600) != 0:
                raise RuntimeError(f"a channel process failed: {process.args}")
    return elapsed[0]


def ingest(env: dict[str, str], tree: Path | None, credentials: Path, count: int) -> dict[str, Any]:
    """Requests per second and latencies of ``govpub ingest`` on this store."""
    env = {**env, "GOVPUB_INGEST_CREDENTIALS": str(credentials), "GOVPUB_LOG_LEVEL": "ERROR"}
    _check_tree(env, tree)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", _cli(tree), "ingest", "--port", str(port)],
        env=env,
        cwd=_cwd(tree),
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    prefix = env["GOVPUB_TOPIC_PREFIX"]
    try:
        wait_healthy(url)
        load(url, penalties(50, f"{prefix}-warmup"), 4)
        seconds, latencies, failures = load(url, penalties(count, f"{prefix}-http"), 4)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return {
        "per_s": count / seconds,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "failed": failures,
    }


def _store(variant: str, postgres: PostgresServer, sqlite_file: Path) -> str:
    if not variant.startswith("postgresql"):
        return str(sqlite_file)
    url = postgres.url(schema=postgres.new_schema())
    if variant == "postgresql-async":
        url += "%20-csynchronous_commit%3Doff"  # appended to options=-csearch_path=…
    return url


@contextmanager
def baseline_tree(ref: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="govpub-bench-base-") as directory:
        tree = Path(directory)
        _export(_merge_base(ref), tree)
        yield tree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--baseline", default="main")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="govpub-bench-store-"))
    credentials = root / "credentials.toml"
    credentials.write_text(CREDENTIALS, encoding="utf-8")
    credentials.chmod(0o600)
    events = mixed_events(args.events)
    e2e: dict[str, list[float]] = {v: [] for v in VARIANTS}
    http: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    with (
        baseline_tree(args.baseline) as before,
        KafkaBroker(partitions=3) as broker,
        PostgresServer(durable=True) as postgres,
    ):
        for round_ in range(args.rounds):
            # Each round starts with another variant: what one leaves behind (the
            # PostgreSQL server's checkpoint, the page cache) weighs on each in turn.
            shift = round_ % len(VARIANTS)
            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                prefix = f"{variant}-{round_}"
                tree = before if variant == "sqlite-before" else None
                store = _store(variant, postgres, root / f"{prefix}.db")
                settings = Settings(_env_file=None, bus=broker.url, topic_prefix=prefix)
                publish(settings, events)  # no store involved: a bare Publisher
                env = _env(store, prefix, broker.url, tree)
                e2e[variant].append(end_to_end(env, tree, root / f"{prefix}-public"))
                store = _store(variant, postgres, root / f"{prefix}-ingest.db")
                env = _env(store, f"{prefix}-ingest", broker.url, tree)
                http[variant].append(ingest(env, tree, credentials, args.requests))
                print(
                    f"round {round_ + 1} {variant}: end to end {args.events / e2e[variant][-1]:.0f}"
                    f" events/s, ingest {http[variant][-1]['per_s']:.0f} requests/s",
                    flush=True,
                )
    best_e2e = {v: args.events / min(times) for v, times in e2e.items()}
    best_http = {v: max(http[v], key=lambda h: h["per_s"]) for v in VARIANTS}
    figures: dict[str, Any] = {
        "events (end to end)": args.events,
        "rounds (best counts)": args.rounds,
        "baseline code": _merge_base(args.baseline)[:7],
    }
    for variant in VARIANTS:
        figures[f"end to end rss+website, store {variant} (events/s)"] = round(best_e2e[variant])
    for variant in ("postgresql", "postgresql-async"):
        figures[f"end to end: {variant} ÷ sqlite"] = round(
            best_e2e[variant] / best_e2e["sqlite"], 2
        )
    figures["end to end: sqlite ÷ sqlite before"] = round(
        best_e2e["sqlite"] / best_e2e["sqlite-before"], 2
    )
    figures["ingest requests (one event each, signed, gate on, 4 clients)"] = args.requests
    for variant in VARIANTS:
        best = best_http[variant]
        figures[f"ingest, store {variant} (requests/s, p50/p99 ms, failed)"] = (
            f"{best['per_s']:.0f}, {best['p50_ms']:.1f}/{best['p99_ms']:.1f}, {best['failed']}"
        )
    for variant in ("postgresql", "postgresql-async"):
        figures[f"ingest: {variant} ÷ sqlite"] = round(
            best_http[variant]["per_s"] / best_http["sqlite"]["per_s"], 2
        )
    figures["ingest: sqlite ÷ sqlite before"] = round(
        best_http["sqlite"]["per_s"] / best_http["sqlite-before"]["per_s"], 2
    )
    record("store", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
