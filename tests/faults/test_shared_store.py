"""Two hosts, one state store: two webhook consumers in one consumer group share a
PostgreSQL store (as on two machines), and one is SIGKILLed in the middle of a batch.

The survivor takes over the dead member's partitions and re-reads its uncommitted
batch. What the dead one had already posted is in the shared delivery records, so it
is not posted again; only a message whose answer arrived but whose record was not yet
written (the kill's own instant) can go out twice, with the same ``webhook-id``. The
subscriber must receive every event, and its records must say each was delivered once.
"""

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from govpub.bus import open_bus
from govpub.errors import BusError
from govpub.settings import Settings
from govpub.topics import Topics
from producers import Publisher
from tests.faults.helpers import (
    delivered_events,
    documents,
    kill,
    report,
    spawn_consumer,
    wait_caught_up,
)
from tests.faults.test_faults import webhook_records, webhook_routes
from tests.kafka_broker import KafkaBroker
from tests.newmedia.conftest import HOOK_SECRET, SITE
from tests.newmedia.fakes import WebhookReceiver
from tests.postgres_server import PostgresServer

pytestmark = [pytest.mark.faults, pytest.mark.timeout(400)]

EVENTS = 2000


def wait_until(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def test_one_of_two_webhook_consumers_on_a_shared_postgresql_store_killed_mid_batch(
    make_settings: Callable[..., Settings],
    kafka_broker: KafkaBroker,
    postgres_server: PostgresServer,
    seed: int,
    tmp_path: Path,
    platform_server: HTTPServer,
) -> None:
    rng = random.Random(seed)
    receiver = WebhookReceiver(platform_server, "/hooks/a", HOOK_SECRET)
    schema = postgres_server.new_schema()
    settings = make_settings(
        kafka_broker.url,
        store=postgres_server.url(schema=schema),
        partitions=4,
        max_batch=50,  # many batches: the kill lands inside one
        session_timeout=6.0,
        site_url=SITE,
        newmedia_routes=webhook_routes(tmp_path, platform_server),
        webhook_secrets={"county-a": HOOK_SECRET},
        newmedia_timeout=5.0,
    )
    events = documents(EVENTS, prefix="shared")
    with Publisher(open_bus(settings), Topics(settings.topic_prefix)) as publisher:
        for start in range(0, EVENTS, 250):
            publisher.publish_many(events[start : start + 250])
    sent = {e["event_id"] for e in events}
    logs = [tmp_path / "host-a.log", tmp_path / "host-b.log"]
    host_a = spawn_consumer(settings, ["webhook"], log=logs[0])
    host_b = spawn_consumer(settings, ["webhook"], log=logs[1])
    bus = open_bus(settings)
    group = Topics(settings.topic_prefix).channel_group("webhook")

    def both_hold_partitions() -> bool:
        try:
            members = bus.describe_group(group).members
        except BusError:  # the group's coordinator is still being elected
            return False
        return len(members) == 2 and all(member.partitions for member in members)

    try:
        wait_until(both_hold_partitions, "both consumers hold partitions", 120)
        # Kill host A somewhere between 15 % and 45 % of the deliveries, while both work.
        target = int(EVENTS * rng.uniform(0.15, 0.45))
        wait_until(lambda: len(receiver.received) >= target, f"{target} deliveries", 240)
        assert host_a.poll() is None, logs[0].read_text()
        kill(host_a)
        killed_at = len(receiver.received)
        started = time.monotonic()
        wait_caught_up(settings, "webhook", timeout=300)
        recovery = time.monotonic() - started
    finally:
        kill(host_a)
        kill(host_b)
    try:
        kept = set(receiver.seen)
        redeliveries = len(receiver.received) - len(kept)
        confirmed, repeated_records = webhook_records(settings)
        finished = delivered_events(settings, "webhook")
        report(
            "shared store, webhook consumer killed",
            events=EVENTS,
            store="postgresql",
            faults="SIGKILL of one of two webhook consumers in one group, mid-batch",
            killed_after=killed_at,
            lost=len(sent - kept),
            duplicates=repeated_records,
            webhook_distinct_ids=len(kept),
            webhook_redeliveries=redeliveries,
            runner_records=len(finished),
            recovery_s=round(recovery, 1),
            seed=seed,
        )
        assert kept == sent  # every event reached the subscriber
        assert receiver.bad_signatures == 0
        assert repeated_records == 0
        assert confirmed == EVENTS  # one confirmed record per event for the endpoint
        assert set(finished) == sent
        # Only the message in flight at the kill can be repeated (same webhook-id).
        assert redeliveries <= 1, redeliveries
    finally:
        postgres_server.drop_schema(schema)
