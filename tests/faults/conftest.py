"""Fault tests: real processes killed, paused and restarted. Each test is bounded in
time, logs its random seed (GOVPUB_FAULT_SEED=N reproduces a run), undoes every fault
in ``finally``, and ends only processes it started."""

import os
import random
from collections.abc import Iterator

import pytest

from govpub.testing.kafka_broker import KafkaBroker


@pytest.fixture
def seed() -> int:
    value = int(os.environ.get("GOVPUB_FAULT_SEED", random.randrange(2**32)))
    print(f"\nfault seed: {value} (GOVPUB_FAULT_SEED={value} repeats this run)")
    return value


@pytest.fixture
def own_broker(kafka_broker: KafkaBroker) -> Iterator[KafkaBroker]:
    """A broker of this test's own, which it may kill or pause."""
    broker = KafkaBroker(partitions=3)
    try:
        broker.start()
        yield broker
    finally:
        broker.resume()
        broker.stop()
        broker.__exit__(None, None, None)
