"""A real single-node Apache Kafka broker (KRaft) for tests and benchmarks.

The broker's jars come from Maven Central through ``mvn dependency:copy-dependencies``
(cached in ``~/.m2`` and in ``~/.cache/govpub``); it runs with ``java`` from a temporary
directory on free loopback ports. The broker can be killed, paused and restarted on the
same ports and data, for fault tests.

Command line (used by ``make test`` to fetch the jars before pytest runs)::

    python -m tests.kafka_broker fetch     # resolve the jars
    python -m tests.kafka_broker run       # run a broker until Ctrl-C
"""

import argparse
import base64
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Self

log = logging.getLogger(__name__)

_RESOURCES = Path(__file__).parent / "kafka"
KAFKA_VERSION = "4.1.1"


class BrokerUnavailable(RuntimeError):
    """The machine cannot run the test broker; the message says what to install."""


def cache_dir() -> Path:
    """Where the resolved jars are kept between runs."""
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "govpub" / f"kafka-{KAFKA_VERSION}"


def check_tools() -> None:
    """Raise :class:`BrokerUnavailable` naming what is missing (Java 17+, Maven)."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        raise BrokerUnavailable(
            f"{' and '.join(missing)} not found: the Kafka tests need Java 17+ and Maven "
            "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless maven)"
        )


def fetch_jars() -> Path:
    """Resolve Kafka's jars from Maven Central once; returns the directory holding them."""
    libs = cache_dir() / "libs"
    marker = cache_dir() / "complete"
    if marker.exists():
        return libs
    check_tools()
    if libs.exists():
        shutil.rmtree(libs)
    libs.mkdir(parents=True)
    command = [
        "mvn",
        "-q",
        "-B",
        "-f",
        str(_RESOURCES / "pom.xml"),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={libs}",
    ]
    log.info("resolving Kafka %s jars: %s", KAFKA_VERSION, " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BrokerUnavailable(
            f"mvn could not resolve Kafka {KAFKA_VERSION}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    marker.write_text(KAFKA_VERSION)
    return libs


def _cluster_id() -> str:
    # Like Kafka's Uuid.randomUuid: an id starting with "-" would read as an option.
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class KafkaBroker:
    """One KRaft broker+controller on loopback; a context manager that stops it on exit."""

    def __init__(self, *, partitions: int = 3, work_dir: Path | None = None) -> None:
        self.partitions = partitions
        self._own_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="govpub-kafka-"))
        self.port = _free_port()
        self.controller_port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``HOST:PORT`` for clients."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``kafka://HOST:PORT``, the value of ``GOVPUB_BUS``."""
        return f"kafka://{self.bootstrap}"

    @property
    def log_file(self) -> Path:
        """The broker's own log."""
        return self.work_dir / "broker.log"

    def _write_config(self) -> Path:
        config = self.work_dir / "server.properties"
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={self.work_dir / 'data'}",
                    f"num.partitions={self.partitions}",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=5",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "group.min.session.timeout.ms=1000",
                    "auto.create.topics.enable=false",
                    "log.flush.interval.messages=1",
                    # Room for the oversized-message fault test; govpub itself refuses
                    # events over 1 MiB before they reach the broker.
                    "message.max.bytes=4194304",
                ]
            )
            + "\n"
        )
        return config

    def _java(self, main: str, *args: str) -> list[str]:
        libs = fetch_jars()
        return [
            "java",
            "-Xms256m",
            "-Xmx768m",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={_RESOURCES / 'log4j2.properties'}",
            f"-Dgovpub.kafka.log={self.log_file}",
            "-cp",
            f"{libs}/*",
            main,
            *args,
        ]

    def start(self, timeout: float = 90.0) -> Self:
        """Format storage (first start only), launch the broker and wait until it answers."""
        check_tools()
        config = self.work_dir / "server.properties"
        if not (self.work_dir / "data" / "meta.properties").exists():
            config = self._write_config()
            result = subprocess.run(
                self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    f"--cluster-id={_cluster_id()}",
                    "-c",
                    str(config),
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise BrokerUnavailable(
                    f"formatting Kafka storage failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
                )
        out = (self.work_dir / "stdout.log").open("ab")
        self.process = subprocess.Popen(
            self._java("kafka.Kafka", str(config)), stdout=out, stderr=subprocess.STDOUT
        )
        out.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Block until the admin API answers (or raise with the broker's log tail)."""
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            try:
                # A plain TCP probe first: the admin client backs off for seconds on refusal.
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError as exc:
                last_error = exc
                time.sleep(0.2)
                continue
            try:
                admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
                try:
                    admin.list_topics()
                    admin.describe_cluster()
                    return
                finally:
                    admin.close()
            except (KafkaError, OSError) as exc:
                last_error = exc
                time.sleep(0.5)
        tail = self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""
        raise BrokerUnavailable(f"Kafka broker did not become ready ({last_error}):\n{tail}")

    def kill(self) -> None:
        """SIGKILL the broker (a crash); ``start()`` brings it back with its data."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def pause(self) -> None:
        """SIGSTOP the broker."""
        if self.process is not None:
            self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT the broker."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop the broker cleanly (SIGTERM, then SIGKILL after 30 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.resume()
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """``fetch`` the jars, or ``run`` a broker in the foreground."""
    parser = argparse.ArgumentParser(prog="python -m tests.kafka_broker")
    parser.add_argument("command", choices=["fetch", "run"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command == "fetch":
            sys.stdout.write(f"Kafka {KAFKA_VERSION} jars in {fetch_jars()}\n")
            return 0
        with KafkaBroker() as broker:
            sys.stdout.write(f"Kafka broker ready: GOVPUB_BUS={broker.url}  (Ctrl-C stops it)\n")
            sys.stdout.flush()
            try:
                while broker.process is not None and broker.process.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
        return 0
    except BrokerUnavailable as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
