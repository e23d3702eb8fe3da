"""Ingest: signed single-event POSTs per second on loopback, with the compliance gate on,
against the same events published directly through the ``Publisher`` SDK with the same
gate (the baseline: what HTTP, signatures and the request handling add).

    python -m bench.ingest [--requests 2000] [--clients 4]

``govpub ingest`` runs in its own process on the real Kafka broker; the load comes from
``--clients`` threads in this process, each with its own signed keep-alive session.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import requests

from bench.harness import percentile, record, timed
from govpub.settings import Settings
from govpub.store import Store
from producers.factory import open_publisher
from producers.ingest.client import IngestClient
from tests import factories
from tests.kafka_broker import KafkaBroker

SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuv"
CREDENTIALS = f"""
[departments.zz-yjj]
kinds = ["penalty"]

[[departments.zz-yjj.keys]]
id = "bench-key"
secret = "{SECRET}"
"""


def penalties(count: int, prefix: str) -> list[dict[str, Any]]:
    """Penalty decisions of a natural person, with a phone number to mask."""
    return [
        factories.penalty(
            f"{prefix}-{i:06d}",
            party_type="自然人",
            party_name="王小明",
            credit_code=None,
            facts=f"当事人（联系电话13912342345）第{i}次未按规定储存危险化学品。",
            # decided today: published in time, so the gate masks but flags nothing
            decided_on=date.today().isoformat(),
        )
        for i in range(count)
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=2).ok:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError("govpub ingest did not start")


def load(url: str, events: list[dict[str, Any]], clients: int) -> tuple[float, list[float], int]:
    """Send every event as its own signed POST from ``clients`` threads."""
    shares = [events[i::clients] for i in range(clients)]
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()

    def worker(share: list[dict[str, Any]]) -> None:
        nonlocal failures
        with IngestClient(url, "bench-key", SECRET) as client:
            for event in share:
                started = time.perf_counter()
                reply = client.publish(event)
                took = time.perf_counter() - started
                with lock:
                    latencies.append(took)
                    if reply.status != 202:
                        failures += 1

    threads = [threading.Thread(target=worker, args=(share,)) for share in shares]
    with timed() as elapsed:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return elapsed[0], latencies, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="govpub-bench-ingest-"))
    credentials = root / "credentials.toml"
    credentials.write_text(CREDENTIALS, encoding="utf-8")
    credentials.chmod(0o600)
    with KafkaBroker(partitions=3) as broker:
        settings = Settings(
            _env_file=None,
            bus=broker.url,
            store=root / "state.db",
            output_dir=root / "public",
            topic_prefix="ingest",
            ingest_credentials=credentials,
        )
        direct = penalties(args.requests, "direct")
        with (
            Store(settings.store) as store,
            open_publisher(settings, store, source="bench") as publisher,
            timed() as direct_s,
        ):
            for event in direct:
                publisher.publish(event)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVPUB_")}
        env.update(
            GOVPUB_BUS=settings.bus,
            GOVPUB_STORE=str(settings.store),
            GOVPUB_TOPIC_PREFIX=settings.topic_prefix,
            GOVPUB_INGEST_CREDENTIALS=str(credentials),
            GOVPUB_LOG_LEVEL="ERROR",
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "govpub.app.cli", "ingest", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url)
            load(url, penalties(50, "warmup"), args.clients)
            seconds, latencies, failures = load(url, penalties(args.requests, "http"), args.clients)
        finally:
            server.terminate()
            server.wait(timeout=30)
    record(
        "ingest",
        {
            "requests (one event each, signed, gate on)": args.requests,
            "client threads": args.clients,
            "failed requests": failures,
            "ingest POST (requests/s)": round(args.requests / seconds),
            "latency p50 / p99 (ms)": f"{percentile(latencies, 0.5) * 1000:.1f} / {percentile(latencies, 0.99) * 1000:.1f}",
            "baseline: Publisher.publish, same gate (events/s)": round(args.requests / direct_s[0]),
            "ingest ÷ direct": round(direct_s[0] / seconds, 2),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
