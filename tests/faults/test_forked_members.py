"""``govpub consume --processes N``: members forked by one command, stopped together by
a signal to the command, and a member that dies takes the command down with it (a
service manager then restarts the whole command), on both transports and both stores."""

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from govpub.bus import open_bus
from govpub.settings import Settings
from govpub.topics import Topics
from tests.faults.helpers import (
    consume_until_idle,
    delivered_events,
    documents,
    kill,
    spawn_consumer,
    wait_caught_up,
)
from tests.integration.test_consumer_groups import emit, wait_for

# Both stores: no connection the command opened before forking may reach a member.
pytestmark = pytest.mark.usefixtures("store_location")


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from ``/proc``), lowest pid first."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended while listed
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def caught_up_members(
    settings: Settings, count: int, log: Path
) -> tuple[subprocess.Popen[bytes], list[int]]:
    """``consume --channel rss --processes COUNT`` started, its members forked and the
    group caught up; returns the command and its members' pids."""
    process = spawn_consumer(settings, ["rss"], log=log, processes=count)
    try:
        wait_for(
            lambda: len(children_of(process.pid)) == count or process.poll() is not None,
            f"the command never forked its {count} members",
            timeout=60,
        )
        assert process.poll() is None, log.read_text("utf-8", errors="replace")
        members = children_of(process.pid)
        wait_caught_up(settings, "rss", 120, consumer=process, log=log)
    except BaseException:
        kill(process)
        raise
    return process, members


def test_a_signal_to_the_command_stops_every_member_cleanly(
    settings: Settings, tmp_path: Path
) -> None:
    """SIGTERM to the command: each member finishes, commits and leaves its group; the
    command exits 0 once all have ended, and every event was delivered once."""
    events = documents(200, prefix="sig")
    emit(settings, events)
    log = tmp_path / "consume.log"
    process, members = caught_up_members(settings, 2, log)
    try:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text("utf-8", errors="replace")
    finally:
        kill(process)
    assert all(gone(pid) for pid in members)
    output = log.read_text("utf-8")
    assert sorted(re.findall(r"member (\d) of 2: channel rss: \d+ delivered", output)) == ["1", "2"]
    assert len(delivered_events(settings, "rss")) == len(events)
    if settings.bus_kind == "kafka":
        group = Topics(settings.topic_prefix).channel_group("rss")
        with open_bus(settings) as bus:
            assert not bus.describe_group(group).members
        assert "UnknownMember" not in output


def test_a_member_that_dies_stops_the_command_and_a_restart_delivers_the_rest(
    settings: Settings, tmp_path: Path
) -> None:
    """One member killed: the command names it, stops the other and exits 1 (a service
    manager restarts it); nothing accepted is lost, and a restarted command delivers
    what came meanwhile, each event once."""
    first = documents(100, prefix="before")
    emit(settings, first)
    log = tmp_path / "consume.log"
    process, members = caught_up_members(settings, 2, log)
    try:
        victim = members[0]
        os.kill(victim, signal.SIGKILL)
        assert process.wait(timeout=60) == 1
    finally:
        kill(process)
    assert all(gone(pid) for pid in members)
    output = log.read_text("utf-8")
    assert re.search(
        rf"member \d of 2 \(pid {victim}\) was killed by SIGKILL; stopping the others", output
    ), output
    later = documents(50, prefix="after")
    emit(settings, later)
    restarted = consume_until_idle(settings, "rss", processes=2)
    assert restarted.returncode == 0, restarted.stderr
    delivered = delivered_events(settings, "rss")
    assert set(delivered) == {event["event_id"] for event in first + later}
