"""More consumer processes of one channel on Kafka: throughput on a backlog, and every
event delivered once.

    python -m bench.groups [--events 20000] [--channels rss webhook] [--processes 1 2 3]
                           [--launch separate forked] [--rounds 5]

For each channel, each round and each way of running more than one process (in an order
that rotates from round to round), ``--events`` events of ``bench.harness.mixed_events``
are published on fresh topics of a real Kafka broker (3 partitions a topic, 15 in all),
then the consumers are started in one consumer group, on one state store, and timed
until the last one ends: N separate ``govpub consume --channel NAME --until-idle``
commands (``separate``; each imports govpub and starts on its own, as on N hosts), or one
such command with ``--processes N`` (``forked``; one start-up, N forked members, as on
one host). One process is the same command either way. The webhook channel posts to a
receiver in this process (signed, one endpoint, every kind but exposure routed to it;
HTTP/1.1 with connections kept alive, as a real endpoint answers, so that the
benchmark's own process does not open a connection and a thread per post on the cores
the consumers are measured on). Each run is then checked: every event has one finished
delivery record for the channel, and the receiver got each routed event's
``webhook-id`` exactly once.

Goal, for each way: the throughput (events per second, wall clock) never drops when a
process is added — the median over rounds of the paired ratio (N processes against N−1
in the same round) is at least 1.0 — and every run delivers every event once.
"""

import argparse
import itertools
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.harness import LoadSampler, mixed_events, record, spread, timed
from bench.pipeline import env_for, publish, settings_for
from channels.newmedia.webhook.channel import verify
from govpub.settings import Settings
from tests.kafka_broker import KafkaBroker

SECRET = "whsec_YmVuY2gtd2ViaG9vay1zaWduaW5nLWtleQ=="
ROUTED = ("policy", "penalty", "meeting", "campaign")
GOAL = "never drops when a process is added (median of the paired ratios ≥ 1.0)"
LAUNCHES = {
    "separate": "separate commands",
    "forked": "one command, --processes N",
}


class Receiver(ThreadingHTTPServer):
    """A webhook subscriber on loopback: checks each signature, counts each id."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.ids: Counter[str] = Counter()
        self.bad = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """Where the webhook posts."""
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def reset(self) -> None:
        """Forget what was received."""
        with self.lock:
            self.ids.clear()
            self.bad = 0

    def stop(self) -> None:
        """Stop serving."""
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: Receiver
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        ok = verify(SECRET, dict(self.headers.items()), body)
        with self.server.lock:
            if ok:
                self.server.ids[self.headers["webhook-id"]] += 1
            else:
                self.server.bad += 1
        self.send_response(204 if ok else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def _routes(work: Path, receiver: Receiver) -> Path:
    path = work / "routes.toml"
    path.write_text(
        f'[webhook.endpoints.bench]\nurl = "{receiver.url}"\n\n'
        f'[[routes]]\nkinds = {json.dumps(list(ROUTED))}\nwebhook = ["bench"]\n',
        "utf-8",
    )
    return path


def _check(settings: Settings, channel: str, events: list[dict[str, Any]]) -> None:
    with sqlite3.connect(settings.store) as conn:
        rows = conn.execute(
            "SELECT event_id, COUNT(*) FROM deliveries WHERE channel=? AND target=''"
            " GROUP BY event_id",
            (channel,),
        ).fetchall()
    counts = dict(rows)
    missing = [e["event_id"] for e in events if e["event_id"] not in counts]
    twice = [event_id for event_id, n in counts.items() if n != 1]
    if missing or twice or len(counts) != len(events):
        raise RuntimeError(
            f"{channel}: {len(missing)} events without a delivery record, {len(twice)} with"
            f" more than one, {len(counts)} recorded of {len(events)}"
        )


def _check_receiver(receiver: Receiver, events: list[dict[str, Any]]) -> None:
    routed = {e["event_id"] for e in events if e["kind"] in ROUTED}
    got = dict(receiver.ids)
    twice = sum(1 for n in got.values() if n > 1)
    if set(got) != routed or twice or receiver.bad:
        raise RuntimeError(
            f"webhook receiver: {len(routed - set(got))} routed events not received,"
            f" {twice} received more than once, {receiver.bad} bad signatures"
        )


def run_once(
    broker: KafkaBroker,
    work: Path,
    channel: str,
    processes: int,
    launch: str,
    events: list[dict[str, Any]],
    run: int,
    extra: dict[str, Any],
) -> float:
    """Publish ``events`` on fresh topics, then time ``processes`` consumers of
    ``channel`` until they have all ended; check what they delivered."""
    root = work / f"{channel}-{run}"
    root.mkdir()
    settings = settings_for(broker.url, root, f"grp{run}-{channel}")
    publish(settings, events)
    env = env_for(settings)
    if "newmedia_routes" in extra:
        env["GOVPUB_NEWMEDIA_ROUTES"] = str(extra["newmedia_routes"])
        env["GOVPUB_WEBHOOK_SECRETS"] = json.dumps(extra["webhook_secrets"])
    args = [sys.executable, "-m", "govpub.app.cli", "consume", "--channel", channel, "--until-idle"]
    commands = [args] * processes
    if launch == "forked" and processes > 1:
        commands = [[*args, "--processes", str(processes)]]
    with timed() as elapsed:
        started = [
            subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for command in commands
        ]
        failures = []
        for process in started:
            _, err = process.communicate(timeout=1800)
            if process.returncode != 0:
                failures.append(err.decode("utf-8", "replace")[-2000:])
    if failures:
        raise RuntimeError(f"{channel} ×{processes}: a consumer failed:\n" + "\n".join(failures))
    _check(settings, channel, events)
    shutil.rmtree(root, ignore_errors=True)
    return elapsed[0]


def main(argv: list[str] | None = None) -> int:
    """Time 1, 2 and 3 consumer processes of each channel; check every delivery."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.groups", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--channels", nargs="+", default=["rss", "webhook"])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--launch", nargs="+", choices=list(LAUNCHES), default=list(LAUNCHES))
    args = parser.parse_args(argv)
    events = mixed_events(args.events)
    work = Path(tempfile.mkdtemp(prefix="govpub-bench-groups-"))
    receiver = Receiver()
    run = 0
    try:
        with KafkaBroker(partitions=3) as broker:
            for channel in args.channels:
                extra: dict[str, Any] = {}
                if channel == "webhook":
                    extra = {
                        "newmedia_routes": _routes(work, receiver),
                        "webhook_secrets": {"bench": SECRET},
                    }
                # One process is the same either way; more are started as separate
                # commands or forked by one ``--processes N`` command.
                runs = [
                    (launch, n)
                    for launch in LAUNCHES
                    for n in args.processes
                    if (n == 1 and launch == "separate") or (n > 1 and launch in args.launch)
                ]
                times: dict[tuple[str, int], list[float]] = {run_: [] for run_ in runs}
                with LoadSampler() as load:
                    for round_ in range(args.rounds):
                        shift = round_ % len(runs)
                        for launch, n in runs[shift:] + runs[:shift]:
                            run += 1
                            receiver.reset()
                            times[launch, n].append(
                                run_once(broker, work, channel, n, launch, events, run, extra)
                            )
                            if channel == "webhook":
                                _check_receiver(receiver, events)
                figures: dict[str, Any] = {"events": args.events, "channel": channel}
                for (launch, n), ts in times.items():
                    how = "" if n == 1 else f", {LAUNCHES[launch]}"
                    figures[f"{n} process(es){how} (events/s)"] = spread(
                        [args.events / t for t in ts], 0
                    )
                figures["load average"] = load.summary()
                figures["every event delivered once"] = "yes (checked after every run)"
                figures["goal"] = GOAL
                for launch in args.launch:
                    # Each added process against one process fewer, paired by round: the
                    # runs of one round share the machine's load.
                    steps = [(how, n) for how, n in runs if how == launch or n == 1]
                    ratios = []
                    for fewer, more in itertools.pairwise(steps):
                        pairs = [
                            t_fewer / t_more
                            for t_fewer, t_more in zip(times[fewer], times[more], strict=True)
                        ]
                        ratios.append(statistics.median(pairs))
                        label = f"{more[1]} ÷ {fewer[1]} process(es), {LAUNCHES[launch]}"
                        figures[f"{label}, throughput"] = spread(pairs)
                    figures[f"met, {LAUNCHES[launch]}"] = all(r >= 1.0 for r in ratios)
                record(f"groups-{channel}", figures)
    finally:
        receiver.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
