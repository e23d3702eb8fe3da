"""Fault tests: real processes killed, paused and restarted. Each test is bounded in
time, logs its random seed (GOVPUB_FAULT_SEED=N reproduces a run), undoes every fault
in ``finally``, and ends only processes it started."""

import os
import random
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from tests.kafka_broker import KafkaBroker


@pytest.fixture(scope="session")
def requested_seed() -> int | None:
    """GOVPUB_FAULT_SEED as the session started: session fixtures are set up before the
    per-test fixture that clears GOVPUB_ variables (so the variable still counts)."""
    value = os.environ.get("GOVPUB_FAULT_SEED")
    return None if value is None else int(value)


@pytest.fixture
def seed(requested_seed: int | None) -> int:
    value = random.randrange(2**32) if requested_seed is None else requested_seed
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


@pytest.fixture
def platform_server() -> Iterator[HTTPServer]:
    """A loopback server for fake platforms and webhook receivers (threaded: a slow
    answer holds back no other request), stopped at the end of the test."""
    with HTTPServer(host="127.0.0.1", port=0, threaded=True) as server:
        yield server
        server.clear()
