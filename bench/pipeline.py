"""End to end on real Kafka: throughput against raw kafka-python, latency at a fixed
rate, and the embedded bus against Kafka (the Publisher against raw ``send``:
``bench/producer.py``).

    python -m bench.pipeline [--events 20000] [--rate 200] [--seconds 60]

Each channel runs in its own ``govpub consume`` process, as in production.
"""

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from bench.harness import mixed_events, percentile, record, timed
from govpub.bus import open_bus
from govpub.settings import Settings
from govpub.topics import Topics
from producers import Publisher
from tests.kafka_broker import KafkaBroker

CHANNELS = ("rss", "website")


def settings_for(bus: str, root: Path, prefix: str) -> Settings:
    return Settings(
        _env_file=None,
        bus=bus,
        store=root / f"{prefix}-state.db",
        output_dir=root / f"{prefix}-public",
        topic_prefix=prefix,
        partitions=3,
    )


def env_for(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVPUB_")}
    env.update(
        GOVPUB_BUS=settings.bus,
        GOVPUB_STORE=str(settings.store),
        GOVPUB_OUTPUT_DIR=str(settings.output_dir),
        GOVPUB_TOPIC_PREFIX=settings.topic_prefix,
        GOVPUB_LOG_LEVEL="WARNING",
        # As docker-compose.yml configures the file channels.
        GOVPUB_MAX_BATCH="5000",
    )
    return env


def start_channels(
    settings: Settings, channels: Sequence[str], *, until_idle: bool
) -> list[subprocess.Popen[bytes]]:
    processes = []
    for channel in channels:
        args = [sys.executable, "-m", "govpub.app.cli", "consume", "--channel", channel]
        if until_idle:
            args.append("--until-idle")
        processes.append(subprocess.Popen(args, env=env_for(settings), stdout=subprocess.DEVNULL))
    return processes


def run_channels_until_idle(settings: Settings, channels: Sequence[str]) -> float:
    with timed() as elapsed:
        processes = start_channels(settings, channels, until_idle=True)
        for process in processes:
            if process.wait(timeout=1800) != 0:
                raise RuntimeError(f"a channel process failed: {process.args}")
    return elapsed[0]


def publish(settings: Settings, events: list[dict[str, Any]], chunk: int = 5000) -> float:
    """Publish in batches of ``chunk``; each ``publish_many`` returns once all are acknowledged."""
    with (
        Publisher(open_bus(settings), Topics(settings.topic_prefix)) as publisher,
        timed() as elapsed,
    ):
        for start in range(0, len(events), chunk):
            publisher.publish_many(events[start : start + chunk])
    return elapsed[0]


def raw_consume(broker: KafkaBroker, prefix: str, count: int) -> float:
    consumer = KafkaConsumer(
        *Topics(prefix).content,
        bootstrap_servers=broker.bootstrap,
        group_id=f"{prefix}.raw-baseline",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    seen = 0
    with timed() as elapsed:
        while seen < count:
            seen += sum(len(batch) for batch in consumer.poll(500, max_records=500).values())
        consumer.commit()
    consumer.close()
    return elapsed[0]


def channel_alone(
    broker: KafkaBroker, root: Path, prefix: str, channel: str, events: list[dict[str, Any]]
) -> tuple[float, float]:
    """``events`` under their own topic prefix, read by raw kafka-python and then by
    ``channel`` alone: ``(raw seconds, channel seconds)``."""
    settings = settings_for(broker.url, root, prefix)
    publish(settings, events)
    raw_s = raw_consume(broker, prefix, len(events))
    return raw_s, run_channels_until_idle(settings, [channel])


def latency(
    settings: Settings, channels: Sequence[str], rate: int, seconds: int
) -> dict[str, float]:
    events = mixed_events(rate * seconds, prefix="lat")
    emitted: dict[str, float] = {}
    processes = start_channels(settings, channels, until_idle=False)
    try:
        time.sleep(8)  # let the consumers join their groups before the clock starts
        with Publisher(open_bus(settings), Topics(settings.topic_prefix)) as publisher:
            start = time.time()
            for i, event in enumerate(events):
                due = start + i / rate
                pause = due - time.time()
                if pause > 0:
                    time.sleep(pause)
                emitted[event["event_id"]] = time.time()
                # Formed now, as a department's new document is.
                event["occurred_at"] = datetime.now(UTC).isoformat()
                publisher.publish(event)
        deadline = time.time() + 120
        while time.time() < deadline:
            with sqlite3.connect(settings.store) as conn:
                done = conn.execute("SELECT COUNT(DISTINCT event_id) FROM deliveries").fetchone()[0]
            if done >= len(events):
                break
            time.sleep(1)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)
    with sqlite3.connect(settings.store) as conn:
        rows = conn.execute(
            "SELECT event_id, MAX(created_at), COUNT(*) FROM deliveries GROUP BY event_id"
        ).fetchall()
    waits = [
        done - emitted[event_id]
        for event_id, done, n in rows
        if n == len(channels) and event_id in emitted
    ]
    if not waits:
        raise RuntimeError("no event reached every channel")
    return {
        "events": len(events),
        "delivered_everywhere": len(waits),
        "p50_s": round(percentile(waits, 0.50), 3),
        "p99_s": round(percentile(waits, 0.99), 3),
        "max_s": round(max(waits), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--channels", default=",".join(CHANNELS))
    parser.add_argument(
        "--scattered-dates",
        action="store_true",
        help="also run each channel alone on documents dated in no order (worst case)",
    )
    args = parser.parse_args(argv)
    channels = [c for c in args.channels.split(",") if c]
    root = Path(tempfile.mkdtemp(prefix="govpub-bench-"))
    events = mixed_events(args.events)
    with KafkaBroker(partitions=3) as broker:
        # The Publisher against raw send: bench/producer.py, in paired runs.
        kafka = settings_for(broker.url, root, "e2e")
        publish(kafka, events)
        raw_s = raw_consume(broker, "e2e", args.events)
        pipeline_s = run_channels_until_idle(kafka, channels)
        figures: dict[str, Any] = {
            "events": args.events,
            "workload": "new documents dated in emission order",
            "raw kafka-python consumption (events/s)": round(args.events / raw_s),
            f"pipeline {'+'.join(channels)}, one process each (events/s)": round(
                args.events / pipeline_s
            ),
            "pipeline ÷ raw": round(raw_s / pipeline_s, 2),
            "goal": "≥ 0.5",
        }
        workloads = [("", "alone", events)]
        if args.scattered_dates:
            scattered = mixed_events(args.events, scattered_dates=True)
            workloads.append((", dates scattered", "scattered", scattered))
        for channel in channels:
            # Each channel alone on the same events: which one bounds the pipeline.
            for label, prefix, workload in workloads:
                raw_alone_s, alone_s = channel_alone(
                    broker, root, f"{prefix}-{channel}", channel, workload
                )
                figures[f"{channel} alone{label} (events/s)"] = round(args.events / alone_s)
                figures[f"{channel} alone{label} ÷ raw"] = round(raw_alone_s / alone_s, 2)
        embedded = settings_for(f"sqlite:///{root / 'bus.db'}", root, "embedded")
        publish(embedded, events)
        embedded_s = run_channels_until_idle(embedded, channels)
        figures["pipeline on the embedded bus (events/s)"] = round(args.events / embedded_s)
        figures["embedded ÷ Kafka"] = round(pipeline_s / embedded_s, 2)
        record("end_to_end", figures)
        for measured in (channels, ["rss"]):
            prefix = "lat-" + "-".join(measured)
            lat = latency(settings_for(broker.url, root, prefix), measured, args.rate, args.seconds)
            record(
                "latency",
                {
                    "offered rate (events/s)": args.rate,
                    "duration (s)": args.seconds,
                    "channels (one process each)": ",".join(measured),
                    **lat,
                    "goal": "p99 ≤ 1 s",
                },
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
