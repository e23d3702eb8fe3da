"""The Publisher against raw kafka-python ``send``, in paired runs on one broker.

    python -m bench.producer [--events 20000] [--rounds 5]

Each round sends the same ``--events`` of ``bench.harness.mixed_events`` three ways,
in an order that rotates from round to round, each on fresh topics:

- raw: kafka-python's ``send`` of the messages the Publisher sends (key, value and
  headers, encoded beforehand, untimed), ``acks=all``, idempotent, then ``flush``;
- ``Publisher.publish_many``, 5,000 events a call: validation and encoding included;
- the same with the version ledger and the compliance gate, as ``govpub emit``, the
  demo and the release DAGs publish (``producers.factory.open_publisher``); the gate's
  clock is a week after the workload's first document, so its deadlines are met and
  nothing is flagged (a document published years late is flagged and logged, one line
  an event, which would time the log instead).

The ratios are the raw time over the Publisher's, per round; their median and spread
are reported. Goal: the Publisher (without the gate) ≥ 0.8 of raw send.
"""

import argparse
import statistics
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from bench.harness import WORKLOAD_START, LoadSampler, mixed_events, record, spread, timed
from bench.pipeline import settings_for
from govpub.bus import open_bus
from govpub.store import Store
from govpub.topics import Topics
from producers import Publisher
from producers.factory import open_publisher
from producers.publisher import headers_for
from schemas import encode_event, parse_event
from tests.kafka_broker import KafkaBroker

GOAL = 0.8
CHUNK = 5000
GATE_NOW = WORKLOAD_START + timedelta(days=7)
"""When the gated publisher publishes: within every deadline of the workload."""


def _gate_clock() -> datetime:
    return GATE_NOW


def raw_send(broker: KafkaBroker, prefix: str, events: list[dict[str, Any]]) -> float:
    """Seconds for kafka-python to send and have acknowledged the pre-encoded messages."""
    topics = Topics(prefix)
    open_bus(settings_for(broker.url, Path(tempfile.gettempdir()), prefix)).ensure_topics(
        topics.content
    )
    encoded = [
        (topics.for_kind(m.kind), m.document_id.encode(), encode_event(m), headers_for(m))
        for m in (parse_event(e) for e in events)
    ]
    producer = KafkaProducer(
        bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    try:
        with timed() as elapsed:
            futures = [
                producer.send(topic, value=value, key=key, headers=headers)
                for topic, key, value, headers in encoded
            ]
            producer.flush()
            for future in futures:
                future.get(30)
    finally:
        producer.close()
    return elapsed[0]


def publish(
    broker: KafkaBroker, root: Path, prefix: str, events: list[dict[str, Any]], *, gated: bool
) -> float:
    """Seconds for ``Publisher.publish_many`` (with the ledger and gate if ``gated``)."""
    settings = settings_for(broker.url, root, prefix)
    with Store(settings.store) as store:
        publisher = (
            open_publisher(settings, store, source="bench", clock=_gate_clock)
            if gated
            else Publisher(open_bus(settings), Topics(prefix))
        )
        with publisher, timed() as elapsed:
            for start in range(0, len(events), CHUNK):
                publisher.publish_many(events[start : start + CHUNK])
    return elapsed[0]


def main(argv: list[str] | None = None) -> int:
    """Paired rounds; print and record the ratios."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.producer", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="govpub-bench-producer-"))
    times: dict[str, list[float]] = {"raw": [], "publisher": [], "gated": []}
    with KafkaBroker(partitions=3) as broker, LoadSampler() as load:
        for round_ in range(args.rounds):
            # Fresh documents each round: the gated publisher's ledger refuses a version
            # it has accepted already.
            events = mixed_events(args.events, prefix=f"r{round_}")
            order = ["raw", "publisher", "gated"]
            order = order[round_ % 3 :] + order[: round_ % 3]
            for way in order:
                prefix = f"prod{round_}-{way}"
                if way == "raw":
                    times[way].append(raw_send(broker, prefix, events))
                else:
                    times[way].append(publish(broker, root, prefix, events, gated=way == "gated"))
    plain = [r / p for r, p in zip(times["raw"], times["publisher"], strict=True)]
    gated = [r / p for r, p in zip(times["raw"], times["gated"], strict=True)]
    rate = {k: [args.events / t for t in v] for k, v in times.items()}
    record(
        "producer",
        {
            "events": args.events,
            "raw kafka-python send (events/s)": spread(rate["raw"], 0),
            "Publisher.publish_many (events/s)": spread(rate["publisher"], 0),
            "Publisher with ledger and gate (events/s)": spread(rate["gated"], 0),
            "Publisher ÷ raw": spread(plain),
            "Publisher with ledger and gate ÷ raw": spread(gated),
            "load average": load.summary(),
            "goal": f"Publisher ÷ raw ≥ {GOAL}",
            "met": statistics.median(plain) >= GOAL,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
