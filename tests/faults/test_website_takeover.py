"""The website is one writer by design: two ``govpub consume --channel website``
processes, the lease holder killed mid-stream; the standby takes over and every
document reaches every list once.

Reports (``tests/artifacts/faults.jsonl``, test ``website takeover``): events sent,
documents missing from the policy archive and from the department lists, documents
listed twice, outputs left pending, and ``takeover_s``: from the kill until the
standby held the lease.
"""

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from govpub.bus import open_bus
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
    website_duplicates,
    website_listed,
)


def lease_holder(settings: Settings) -> str | None:
    """Who holds the website's lease now (``host-pid-…``), if anyone."""
    try:
        with sqlite3.connect(settings.store) as conn:
            row = conn.execute(
                "SELECT holder FROM channel_leases WHERE name='channel:website' AND expires_at > ?",
                (time.time(),),
            ).fetchone()
    except sqlite3.OperationalError:  # the table does not exist yet
        return None
    return None if row is None else str(row[0])


def wait_for(condition: Callable[[], bool], failure: str, timeout: float) -> float:
    """Seconds until ``condition()`` holds; fails after ``timeout``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, failure
        time.sleep(0.1)
    return time.monotonic() - started


def test_the_standby_takes_over_when_the_writer_is_killed(
    make_settings: Callable[..., Settings], transport: str, tmp_path: Path
) -> None:
    settings = make_settings(transport, max_batch=50, session_timeout=3.0, writer_lease=3.0)
    events = documents(600, prefix="takeover")
    sent: list[str] = []

    def send() -> None:
        with Publisher(open_bus(settings), Topics(settings.topic_prefix)) as publisher:
            for start in range(0, len(events), 30):
                chunk = events[start : start + 30]
                publisher.publish_many(chunk)
                sent.extend(e["event_id"] for e in chunk)
                time.sleep(0.1)

    log = tmp_path / "consumers.log"
    first = spawn_consumer(settings, ["website"], log=log)
    second = None
    sender = threading.Thread(target=send, daemon=True)
    try:
        wait_for(lambda: lease_holder(settings) is not None, "nobody took the lease", 120)
        second = spawn_consumer(settings, ["website"], log=log)
        by_pid = {first.pid: first, second.pid: second}
        sender.start()
        wait_for(
            lambda: len(delivered_events(settings, "website")) >= 150,
            "the writer delivered nothing",
            180,
        )
        holder = lease_holder(settings)
        assert holder is not None
        victim = by_pid[int(holder.split("-")[-2])]
        survivor = second if victim is first else first
        kill(victim)
        killed_at = time.monotonic()
        takeover = wait_for(
            lambda: lease_holder(settings) not in (None, holder), "nobody took over", 120
        )
        assert survivor.poll() is None, "the standby exited"
        sender.join(timeout=180)
        assert len(sent) == len(events)
        wait_caught_up(settings, "website", timeout=240)
        recovered = time.monotonic() - killed_at
    finally:
        for process in (first, second):
            if process is not None:
                kill(process)
        sender.join(timeout=5)
    documents_sent = {e["document_id"] for e in events}
    listed = website_listed(settings.output_dir, "policy")
    by_department = website_listed(settings.output_dir, "dept/zz-zfb") | website_listed(
        settings.output_dir, "dept/zz-sfj"
    )
    with sqlite3.connect(settings.store) as conn:
        pending = conn.execute("SELECT COUNT(*) FROM web_pending").fetchone()[0]
    delivered = set(delivered_events(settings, "website"))
    duplicates = website_duplicates(settings.output_dir)
    report(
        "website takeover",
        transport=transport.split(":", 1)[0],
        events=len(events),
        faults="SIGKILL of the lease holder, a standby running",
        lost=len(set(sent) - delivered),
        missing_from_archive=len(documents_sent - listed),
        missing_from_departments=len(documents_sent - by_department),
        duplicates=duplicates,
        pending_left=pending,
        takeover_s=round(takeover, 1),
        recovery_s=round(recovered, 1),
    )
    assert delivered >= set(sent)
    assert listed == documents_sent
    assert by_department == documents_sent
    assert duplicates == 0
    assert pending == 0
    for document_id in list(documents_sent)[:50]:
        assert (settings.output_dir / "policy" / f"{document_id}.html").exists()
