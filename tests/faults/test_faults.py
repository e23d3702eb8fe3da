"""No event lost and none published twice, under consumer, broker, platform and bus failures.

Each test reports: events sent, faults injected, events lost, duplicates seen (the
same item twice in any feed, page index, delivery record or remote post), and recovery
time. Rows with more figures:

- ``consumer crash`` runs ``rss``, ``website`` and ``webhook`` in the killed process.
  ``lost_by_channel``: events without a finished delivery record, per channel.
  ``duplicates_by_place``: ``feeds`` (a guid twice in one feed), ``website`` (a document
  twice in one list of an index or archive page, in one ``api/*.json`` file, or on two
  archive pages of one list) and ``webhook_records`` (an event recorded twice for the
  endpoint). ``webhook_distinct_ids``: events the receiver kept, deduplicated by
  ``webhook-id`` as receivers do. ``webhook_redeliveries``: raw repeats it dropped —
  at-least-once at the HTTP level (a kill between the 2xx and the record), not
  duplicates. ``caught_up_s``: when each channel's group had no lag, from the end of
  sending.
- ``platform outage``: the fake WeChat fails every call (5xx, timeouts, answers lost
  after the work was done) for 2.5 s, then for 30 s from a publish whose answer was
  lost. ``retried_then_delivered``: deliveries that failed and then completed without a
  dead letter. ``dead_lettered``: events past the maximum attempts; ``_but_posted``:
  of those, already published on the platform; ``_with_draft``: of those, with a draft
  left in the draft box. ``redriven``: what ``govpub dlq redrive`` delivered.
  ``drafts_left``: drafts never published (a draft the platform made after the client
  had given up and looked for it; readers never see one). ``lost``: items with no
  published article; ``duplicates``: articles beyond the first per item.
  ``recovery_s``: from the end of the outage until the redrive has finished.
"""

import itertools
import json
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer
from pytest_httpserver import HTTPServer

from channels.memory import MemoryChannel
from consumers import ChannelRunner, read_dead_letters
from govpub.app.channels import build_runner
from govpub.bus import open_bus
from govpub.bus.sqlite import SqliteBus
from govpub.errors import BusError, PublishFailed
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from producers import PartialPublish, Publisher
from schemas import parse_event
from tests import factories
from tests.faults.helpers import (
    delivered_events,
    documents,
    env_for,
    feed_duplicates,
    kill,
    report,
    spawn_consumer,
    wait_caught_up,
    website_duplicates,
    website_listed,
)
from tests.kafka_broker import KafkaBroker
from tests.newmedia import events as newmedia_events
from tests.newmedia.conftest import APP_ID, APP_SECRET, COVER, HOOK_SECRET, SITE, routes_text
from tests.newmedia.fakes import FakeWeChat, Fault, Outage, WebhookReceiver

# Generous: on a loaded machine these take minutes; a stuck channel fails sooner, in
# wait_caught_up, when its lag stops going down.
pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]


def rss_documents(settings: Settings) -> dict[str, int]:
    with Store(settings.store) as store:
        build_runner(settings, "rss", store).channel.close()  # ensures the tables exist
        rows = store.conn.execute("SELECT document_id, version FROM rss_items").fetchall()
    return dict(rows)


def run_until_idle(settings: Settings, channel: str = "rss") -> ChannelRunner:
    with Store(settings.store) as store:
        runner = build_runner(settings, channel, store)
        try:
            runner.run(until_idle=True)
        finally:
            runner.channel.close()
    return runner


def webhook_routes(directory: Path, server: HTTPServer) -> Path:
    """A routing file sending policy documents to one webhook endpoint on ``server``."""
    path = directory / "routes.toml"
    path.write_text(
        f"""
[webhook.endpoints.county-a]
url = "{server.url_for("/hooks/a")}"

[[routes]]
kinds = ["policy"]
webhook = ["county-a"]
""",
        encoding="utf-8",
    )
    return path


def webhook_records(settings: Settings) -> tuple[int, int]:
    """``(confirmed, repeated)``: events with a confirmed record for the endpoint, and
    (event, endpoint) pairs recorded more than once."""
    with Store(settings.store) as store:
        rows = store.conn.execute(
            "SELECT event_id, state FROM deliveries WHERE channel='webhook' AND target='county-a'"
        ).fetchall()
    ids = [event_id for event_id, _ in rows]
    confirmed = {event_id for event_id, state in rows if state == "confirmed"}
    return len(confirmed), len(ids) - len(set(ids))


CRASH_CHANNELS = ("rss", "website", "webhook")


def test_consumer_killed_five_times(
    make_settings: Callable[..., Settings],
    kafka_broker: KafkaBroker,
    seed: int,
    tmp_path: Path,
    platform_server: HTTPServer,
) -> None:
    rng = random.Random(seed)
    receiver = WebhookReceiver(platform_server, "/hooks/a", HOOK_SECRET)
    settings = make_settings(
        kafka_broker.url,
        max_batch=200,  # 50 took the website 57 s alone (200: 25 s) on two shared cores
        session_timeout=3.0,
        writer_lease=3.0,  # the website's lease: a killed holder's successor waits that long
        site_url=SITE,
        newmedia_routes=webhook_routes(tmp_path, platform_server),
        webhook_secrets={"county-a": HOOK_SECRET},
        newmedia_timeout=5.0,
    )
    events = documents(5000)
    sent: list[str] = []

    def send() -> None:
        with Publisher(open_bus(settings), Topics(settings.topic_prefix)) as publisher:
            for start in range(0, len(events), 250):
                chunk = events[start : start + 250]
                publisher.publish_many(chunk)
                sent.extend(e["event_id"] for e in chunk)
                time.sleep(0.2)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    log = tmp_path / "consumer.log"
    consumer = spawn_consumer(settings, CRASH_CHANNELS, log=log)
    kills = 0
    try:
        for _ in range(5):
            # Three channels take about a minute for 5,000 events on two cores: the kills
            # are spread over that minute, not bunched at its start.
            time.sleep(rng.uniform(1.0, 8.0))
            kill(consumer)
            kills += 1
            consumer = spawn_consumer(settings, CRASH_CHANNELS, log=log)
        sender.join(timeout=120)
        started = time.monotonic()
        caught_up: dict[str, float] = {}
        for channel in CRASH_CHANNELS:  # each has its own group: wait for the slowest
            # Progress shows once per committed batch, and the last consumer's first batch
            # comes after its start-up and group join: 200 website events took 25 s on idle
            # cores, minutes at load 8-10 with three channels in one process. A channel
            # silent for 300 s is stuck; one that died fails at once.
            wait_caught_up(settings, channel, timeout=300, consumer=consumer, log=log)
            caught_up[channel] = round(time.monotonic() - started, 1)
        recovery = time.monotonic() - started
    finally:
        kill(consumer)
        sender.join(timeout=5)
    assert len(sent) == 5000
    lost = {
        channel: 5000 - len(set(sent) & set(delivered_events(settings, channel)))
        for channel in CRASH_CHANNELS
    }
    published = rss_documents(settings)
    listed = website_listed(settings.output_dir, "policy")
    by_department = website_listed(settings.output_dir, "dept/zz-zfb") | website_listed(
        settings.output_dir, "dept/zz-sfj"
    )
    # Receivers drop repeats by webhook-id (the event_id): what they keep is what counts.
    kept = set(receiver.seen)
    redeliveries = len(receiver.received) - len(kept)
    confirmed, repeated_records = webhook_records(settings)
    duplicates = {
        "feeds": feed_duplicates(settings.output_dir),
        "website": website_duplicates(settings.output_dir),
        "webhook_records": repeated_records,
    }
    documents_sent = {e["document_id"] for e in events}
    report(
        "consumer crash",
        events=5000,
        channels=list(CRASH_CHANNELS),
        faults=f"{kills} SIGKILLs of the consumer",
        lost=sum(lost.values()),
        lost_by_channel=lost,
        duplicates=sum(duplicates.values()),
        duplicates_by_place=duplicates,
        webhook_distinct_ids=len(kept),
        webhook_redeliveries=redeliveries,
        recovery_s=round(recovery, 1),
        caught_up_s=caught_up,
        seed=seed,
    )
    assert lost == dict.fromkeys(CRASH_CHANNELS, 0)
    assert duplicates == {"feeds": 0, "website": 0, "webhook_records": 0}
    assert len(published) == 5000
    assert listed == documents_sent  # every document on the policy archive pages, once
    assert by_department == documents_sent
    assert kept == set(sent)  # every event reached the subscriber
    assert receiver.bad_signatures == 0
    assert confirmed == 5000


def stop_gracefully(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM a consumer this test started (it finishes its batch), SIGKILL if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            kill(process)


def dlq_redrive(settings: Settings, channel: str) -> tuple[int, int, int]:
    """Run ``govpub dlq redrive --channel CHANNEL`` as an operator would; returns what it
    printed: (redriven, delivered, dead-lettered again)."""
    done = subprocess.run(
        [sys.executable, "-m", "govpub.app.cli", "dlq", "redrive", "--channel", channel],
        env=env_for(settings),
        capture_output=True,
        timeout=180,
        check=False,
    )
    output = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == 0, output
    found = re.search(
        rf"channel {channel}: (\d+) redriven: (\d+) delivered, (\d+) dead-lettered again", output
    )
    assert found is not None, output
    redriven, delivered, again = (int(n) for n in found.groups())
    return redriven, delivered, again


def runner_rows(settings: Settings, channel: str) -> dict[str, tuple[str, int]]:
    """``{event_id: (state, attempts)}`` of the runner's records for ``channel``."""
    with Store(settings.store) as store:
        rows = store.conn.execute(
            "SELECT event_id, state, attempts FROM deliveries WHERE channel=? AND target=''",
            (channel,),
        ).fetchall()
    return {event_id: (state, attempts) for event_id, state, attempts in rows}


def wait_for(condition: Callable[[], bool], failure: str, timeout: float = 60.0) -> None:
    """Return as soon as ``condition()`` holds (checked every 10 ms); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.01)


def campaigns(count: int, prefix: str) -> list[dict[str, Any]]:
    """``count`` theme-day posts (routed to the WeChat account ``city``)."""
    return [
        newmedia_events.campaign(f"{prefix}-{i:03d}", title=f"政务公开主题日 {prefix} 第{i}期")
        for i in range(count)
    ]


def test_wechat_outage_retries_then_dead_letters_and_redrive_posts_once(
    make_settings: Callable[..., Settings],
    kafka_broker: KafkaBroker,
    seed: int,
    tmp_path: Path,
    platform_server: HTTPServer,
) -> None:
    rng = random.Random(seed)
    wechat = FakeWeChat(platform_server, APP_ID, APP_SECRET)
    shutil.copy(COVER, tmp_path / "cover.png")
    routes = tmp_path / "routes.toml"
    routes.write_text(routes_text(platform_server), encoding="utf-8")
    settings = make_settings(
        kafka_broker.url,
        site_url=SITE,
        newmedia_routes=routes,
        wechat_app_secrets={"city": APP_SECRET},
        wechat_api_base=platform_server.url_for("/"),
        newmedia_timeout=1.0,
        # 3 attempts, 0.2 s then 0.4 s apart, each read retried 3 times by urllib3 (0, 0.6,
        # 1.2 s apart): a delivery rides out about 4 s of outage, not 30.
        retry_max_attempts=3,
        retry_min_backoff=0.2,
        retry_max_backoff=1.0,
    )
    timeout = settings.newmedia.timeout
    outage = Outage(
        faults=[
            Fault(status=503),
            Fault(status=502),
            Fault(status=500, process=True),  # done, but the answer is lost
            Fault(status=504, delay=timeout * 1.5),  # no answer before the client gives up
            Fault(delay=timeout * 1.5),  # done after the client gave up
        ],
        rng=rng,
    )
    warmup = campaigns(1, "warmup")  # token and cover fetched before the outages
    short = campaigns(10, "short")
    long = campaigns(30, "long")
    everything = warmup + short + long

    def send(batch: list[dict[str, Any]]) -> None:
        with Publisher(open_bus(settings), Topics(settings.topic_prefix)) as publisher:
            publisher.publish_many(batch)

    consumer = spawn_consumer(settings, ["wechat"], log=tmp_path / "consumer.log")
    try:
        send(warmup)
        wait_caught_up(settings, "wechat", timeout=90)
        # 1. A short outage, 2.5 s from the first call it fails: the retries ride it out.
        wechat.down(outage)
        try:
            send(short)
            wait_for(lambda: sum(outage.hits.values()) > 0, "no post reached the platform")
            time.sleep(2.5)
        finally:
            wechat.up()
        wait_caught_up(settings, "wechat", timeout=120)
        # 2. The platform goes down as it answers a publish (done, answer lost) and stays
        #    down for 30 s: deliveries run out of attempts and are dead-lettered.
        wechat.fail("freepublish/submit", Fault(status=502, process=True, then=outage))
        send(long)
        wait_for(lambda: wechat.outage is not None, "no publish reached the platform")
        try:
            time.sleep(30.0)
        finally:
            wechat.up()
        ended = time.monotonic()
        wait_caught_up(settings, "wechat", timeout=120)
    finally:
        wechat.up()
        stop_gracefully(consumer)

    before = runner_rows(settings, "wechat")
    letters = [
        letter
        for _, letter in read_dead_letters(open_bus(settings), Topics(settings.topic_prefix))
        if letter is not None and letter.channel == "wechat"
    ]
    dead = {letter.event_id or "" for letter in letters}
    url = {e["event_id"]: f"{SITE}campaign/{e['document_id']}.html" for e in everything}
    posted_while_down = {event_id for event_id in dead if wechat.posts_for(url[event_id])}
    drafted_while_down = {  # drafts made during the outage whose answer was lost
        media_id
        for media_id, draft in wechat.drafts.items()
        if draft["articles"][0]["content_source_url"] in {url[event_id] for event_id in dead}
    }
    retried = sum(
        1 for state, attempts in before.values() if state in ("sent", "confirmed") and attempts > 1
    )

    redriven, redelivered, again = dlq_redrive(settings, "wechat")
    posts = {event_id: wechat.posts_for(link) for event_id, link in url.items()}
    recovery = time.monotonic() - ended
    second = dlq_redrive(settings, "wechat")  # each dead letter is redriven once, ever
    after = runner_rows(settings, "wechat")

    lost = sum(1 for n in posts.values() if n == 0)
    duplicates = sum(n - 1 for n in posts.values() if n > 1)
    report(
        "platform outage",
        events=len(everything),
        faults="WeChat down 2.5 s, then down 30 s from a publish whose answer was lost"
        f" (5xx, timeouts, lost answers): {sum(outage.hits.values())} calls failed",
        retried_then_delivered=retried,
        dead_lettered=len(letters),
        dead_lettered_but_posted=len(posted_while_down),
        dead_lettered_with_draft=len(drafted_while_down),
        redriven=redriven,
        drafts_left=len(wechat.drafts),
        lost=lost,
        duplicates=duplicates,
        recovery_s=round(recovery, 1),
        seed=seed,
    )
    assert retried >= 1, "a delivery caught by the short outage retried and completed"
    assert letters, "deliveries past the maximum attempts were dead-lettered"
    assert posted_while_down, "the publish whose answer was lost is among the dead letters"
    assert not drafted_while_down & set(wechat.drafts), "redrive published the drafts it found"
    assert {state for event_id, (state, _) in before.items() if event_id in dead} == {
        "dead_lettered"
    }
    assert all(letter.attempts == settings.retry_max_attempts for letter in letters)
    assert (redriven, redelivered, again) == (len(letters), len(letters), 0)
    assert second == (0, 0, 0)
    assert lost == 0
    assert duplicates == 0
    assert all(wechat.live_for(link) == 1 for link in url.values())
    assert {state for state, _ in after.values()} <= {"sent", "confirmed"}
    assert set(after) == {e["event_id"] for e in everything}


def test_broker_killed_three_times_while_sending(
    make_settings: Callable[..., Settings], own_broker: KafkaBroker, seed: int
) -> None:
    rng = random.Random(seed)
    settings = make_settings(own_broker.url, session_timeout=6.0)
    events = documents(10_000)
    acked: set[str] = set()
    failed: set[str] = set()
    stop = threading.Event()

    def send() -> None:
        with Publisher(
            open_bus(settings), Topics(settings.topic_prefix), ack_timeout=60
        ) as publisher:
            for start in range(0, len(events), 100):
                chunk = events[start : start + 100]
                try:
                    accepted = publisher.publish_many(chunk)
                    acked.update(a.event_id for a in accepted)
                except PartialPublish as exc:
                    acked.update(a.event_id for a in exc.accepted)
                    failed.update(exc.failed)
                except (PublishFailed, BusError):
                    failed.update(e["event_id"] for e in chunk)
                time.sleep(0.08)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    kills = 0
    try:
        for _ in range(3):
            time.sleep(rng.uniform(1.0, 4.0))
            own_broker.kill()
            kills += 1
            time.sleep(rng.uniform(0.5, 3.0))
            own_broker.start()
        sender.join(timeout=240)
        assert not sender.is_alive(), "the sender hung"
    finally:
        stop.set()
        if own_broker.process is None or own_broker.process.poll() is not None:
            own_broker.start()
    started = time.monotonic()
    run_until_idle(settings)
    recovery = time.monotonic() - started
    delivered = delivered_events(settings, "rss")
    everything = {e["event_id"] for e in events}
    lost = len(acked - set(delivered))
    unaccounted = everything - acked - failed
    duplicates = feed_duplicates(settings.output_dir)
    report(
        "broker crash",
        events=10_000,
        faults=f"{kills} SIGKILLs of the broker",
        acknowledged=len(acked),
        raised_to_caller=len(failed),
        lost=lost,
        duplicates=duplicates,
        recovery_s=round(recovery, 1),
        seed=seed,
    )
    assert not unaccounted, "every send is either acknowledged or raised"
    assert set(delivered) <= everything
    assert lost == 0
    assert duplicates == 0


def test_broker_paused_for_twenty_seconds(
    make_settings: Callable[..., Settings], own_broker: KafkaBroker, seed: int
) -> None:
    settings = make_settings(own_broker.url, session_timeout=6.0)
    with Publisher(open_bus(settings), Topics(settings.topic_prefix)) as publisher:
        publisher.publish_many(documents(200, prefix="before"))
    store = Store(settings.store).open()
    runner = build_runner(settings, "rss", store)
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        wait_caught_up(settings, "rss", timeout=60)

        def send_during_pause() -> None:
            with Publisher(open_bus(settings), Topics(settings.topic_prefix)) as publisher:
                publisher.publish_many(documents(300, prefix="during"))

        sender = threading.Thread(target=send_during_pause, daemon=True)
        own_broker.pause()
        try:
            sender.start()
            time.sleep(20)
        finally:
            own_broker.resume()
        resumed = time.monotonic()
        sender.join(timeout=120)
        wait_caught_up(settings, "rss", timeout=120)
        recovery = time.monotonic() - resumed
        assert thread.is_alive(), "the consumer died instead of recovering"
    finally:
        runner.stop()
        thread.join(timeout=60)
        runner.channel.close()
        store.close()
    delivered = delivered_events(settings, "rss")
    lost = 500 - len(delivered)
    report(
        "broker pause",
        events=500,
        faults="SIGSTOP of the broker for 20 s, then SIGCONT",
        lost=lost,
        duplicates=feed_duplicates(settings.output_dir),
        recovery_s=round(recovery, 1),
        seed=seed,
    )
    assert lost == 0


def test_ten_poison_messages_among_a_thousand(
    make_settings: Callable[..., Settings], kafka_broker: KafkaBroker, seed: int
) -> None:
    rng = random.Random(seed)
    settings = make_settings(kafka_broker.url)
    topics = Topics(settings.topic_prefix)
    open_bus(settings).ensure_topics(topics.all)
    good = [parse_event(e).model_dump_json().encode() for e in documents(990)]
    oversized = factories.policy("too-big", body="字" * 400_000)
    poison: list[tuple[str, bytes]] = [
        ("bad JSON", b"{not json"),
        ("bad JSON", b"\xff\xfe\x00"),
        ("bad JSON", b""),
        ("wrong schema", b'{"kind": "policy", "action": "publish"}'),
        ("wrong schema", b'{"event_id": 1}'),
        ("wrong schema", b"[1, 2, 3]"),
        ("unknown kind", b'{"kind": "notice", "action": "update", "payload": {}}'),
        ("unknown kind", b'{"kind": "poem", "action": "publish"}'),
        ("oversized", json.dumps(oversized).encode()),
        ("oversized", b'{"pad": "' + b"x" * 1_200_000 + b'"}'),
    ]
    messages: list[tuple[str | None, bytes]] = [(None, value) for value in good]
    for label, value in poison:
        messages.insert(rng.randrange(len(messages) + 1), (label, value))
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, max_request_size=4_194_304)
    positions: dict[tuple[int, int], str] = {}
    try:
        for label, value in messages:
            meta = producer.send(
                topics.for_kind("policy"), value=value, key=b"k%d" % rng.randrange(50)
            ).get(30)
            if label is not None:
                positions[(meta.partition, meta.offset)] = label
    finally:
        producer.close()
    started = time.monotonic()
    runner = run_until_idle(settings)
    elapsed = time.monotonic() - started
    letters = [letter for _, letter in read_dead_letters(open_bus(settings), topics)]
    assert all(letter is not None for letter in letters)
    origins = {(d.origin_partition, d.origin_offset) for d in letters if d is not None}
    report(
        "poison messages",
        events=1000,
        faults="10 malformed (bad JSON, wrong schema, unknown kind, oversized)",
        published=runner.stats.delivered,
        dead_lettered=len(letters),
        lost=990 - runner.stats.delivered,
        duplicates=feed_duplicates(settings.output_dir),
        recovery_s=round(elapsed, 1),
        seed=seed,
    )
    assert runner.stats.delivered == 990
    assert len(letters) == 10
    assert origins == set(positions)
    for letter in letters:
        assert letter is not None
        assert letter.origin_topic == topics.for_kind("policy")
        assert letter.error_type == "PoisonMessage"
        assert letter.reason.startswith("invalid event:")
    truncated = [d for d in letters if d is not None and d.value_truncated]
    assert len(truncated) == 2


def test_versions_sent_shuffled_by_several_producers(
    make_settings: Callable[..., Settings], kafka_broker: KafkaBroker, seed: int
) -> None:
    rng = random.Random(seed)
    settings = make_settings(kafka_broker.url)
    events = [
        factories.policy(f"ordered-{d:02d}", version=v, title=f"文件{d} 第{v}版")
        for d in range(50)
        for v in range(1, 21)
    ]
    rng.shuffle(events)
    shares = [events[i::4] for i in range(4)]

    def send(share: list[dict[str, Any]]) -> None:
        with Publisher(open_bus(settings), Topics(settings.topic_prefix)) as publisher:
            for start in range(0, len(share), 25):
                publisher.publish_many(share[start : start + 25])

    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    run_until_idle(settings)
    memory = MemoryChannel("ordering-probe")
    with Store(settings.store) as store:
        ChannelRunner(memory, open_bus(settings), store, Topics(settings.topic_prefix)).run(
            until_idle=True
        )
    final = rss_documents(settings)
    regressions = 0
    for doc in {e.document_id for e in memory.applied}:
        versions = [e.version for e in memory.applied if e.document_id == doc]
        regressions += sum(1 for a, b in itertools.pairwise(versions) if b <= a)
    report(
        "ordering",
        events=1000,
        faults="50 documents × 20 versions, shuffled, 4 producers",
        lost=sum(1 for v in final.values() if v != 20) + (50 - len(final)),
        duplicates=feed_duplicates(settings.output_dir),
        older_over_newer=regressions,
        seed=seed,
    )
    assert final == {f"ordered-{d:02d}": 20 for d in range(50)}
    assert {doc: e.version for doc, e in memory.documents.items()} == final
    assert regressions == 0


_WRITER = """
import sys, json, uuid
from pathlib import Path
from govpub.bus.sqlite import SqliteBus
bus = SqliteBus(Path(sys.argv[1]), partitions=3)
producer = bus.producer()
base = json.loads(sys.argv[2])
n = 0
while True:
    for _ in range(500):
        event = dict(base, event_id=str(uuid.uuid4()), document_id=f"w-{uuid.uuid4().hex[:12]}")
        producer.send(sys.argv[3], json.dumps(event, ensure_ascii=False).encode(), key=event["document_id"].encode())
    producer.flush()
    n += 1
    print(n, flush=True)
"""


def test_embedded_bus_writer_killed_mid_batch(
    make_settings: Callable[..., Settings], seed: int, tmp_path: Path
) -> None:
    rng = random.Random(seed)
    settings = make_settings()
    bus = open_bus(settings)
    assert isinstance(bus, SqliteBus)
    topics = Topics(settings.topic_prefix)
    bus.ensure_topics(topics.all)
    store = Store(settings.store).open()
    runner = build_runner(settings, "rss", store)
    reader = threading.Thread(target=runner.run)
    reader.start()
    kills = 0
    try:
        for _ in range(3):
            writer = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _WRITER,
                    str(bus.path),
                    json.dumps(factories.policy()),
                    topics.for_kind("policy"),
                ],
                stdout=subprocess.PIPE,
            )
            try:
                # Killed once it has committed a batch (on a loaded machine its start-up
                # alone can outlast a fixed delay), then at a random point of the next.
                assert writer.stdout is not None
                first = writer.stdout.readline()
                assert first.strip() == b"1", f"the writer ended before its first batch: {first!r}"
                time.sleep(rng.uniform(0.05, 1.5))
            finally:
                kill(writer)
                kills += 1
                if writer.stdout is not None:
                    writer.stdout.close()
        recovery = wait_caught_up(settings, "rss", timeout=120)
    finally:
        runner.stop()
        reader.join(timeout=60)
        runner.channel.close()
        store.close()
    conn = bus.connect()
    try:
        rows = conn.execute(
            "SELECT partition, offset, value FROM bus_log WHERE topic=? ORDER BY partition, offset",
            (topics.for_kind("policy"),),
        ).fetchall()
    finally:
        conn.close()
    total = len(rows)
    for partition in range(3):
        offsets = [o for p, o, _ in rows if p == partition]
        assert offsets == list(range(len(offsets))), "offsets have a gap"
    partial = 0
    for _, _, value in rows:
        try:
            parse_event(value)
        except Exception:
            partial += 1
    delivered = delivered_events(settings, "rss")
    report(
        "embedded bus writer crash",
        events=total,
        faults=f"{kills} SIGKILLs of a writer mid-batch",
        lost=total - len(delivered),
        duplicates=feed_duplicates(settings.output_dir),
        partial_records=partial,
        recovery_s=round(recovery, 1),
        seed=seed,
    )
    assert total > 0
    assert total % 500 == 0, "a batch was half written"
    assert partial == 0
    assert len(delivered) == total
