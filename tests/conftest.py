"""Shared fixtures: settings isolated per test, the two transports, the two state store
backends, a real Kafka broker and a real PostgreSQL server.

The broker and the PostgreSQL server are started once per session, only if a test asks
for them. In CI both are required: a machine without Java or Maven fails the Kafka
tests with the install hint, unless GOVPUB_TEST_ALLOW_NO_KAFKA=1 says this machine may
skip them; one without PostgreSQL's server programs fails the PostgreSQL tests with
``make postgres``, unless GOVPUB_TEST_ALLOW_NO_POSTGRES=1.

A test module runs on both store backends with
``pytestmark = pytest.mark.usefixtures("store_location")``: ``make_settings`` then
points ``GOVPUB_STORE`` at a SQLite file, and at a fresh schema of the PostgreSQL server.
"""

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from govpub.logs import RedactSecrets
from govpub.settings import Settings
from tests.app_settings import app_settings
from tests.kafka_broker import BrokerUnavailable, KafkaBroker, check_tools
from tests.postgres_server import PostgresServer, PostgresUnavailable


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("GOVPUB_") and not name.startswith("GOVPUB_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _isolated_logging() -> Iterator[None]:
    """``govpub.app.cli.main`` configures logging for a process (root handler, package
    levels); a test that calls it must not leave a later test's log records filtered
    out or sent to a stream pytest has already closed."""
    names = ("", "govpub", "schemas", "producers", "consumers", "channels", "kafka", "uvicorn")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    root = logging.getLogger()
    for handler in list(root.handlers):
        # pytest's own capture handlers come and go with each phase; only govpub's go here
        if any(isinstance(f, RedactSecrets) for f in handler.filters):
            root.removeHandler(handler)


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    """A real single-node Kafka broker for the whole session."""
    try:
        check_tools()
    except BrokerUnavailable as exc:
        if os.environ.get("GOVPUB_TEST_ALLOW_NO_KAFKA") == "1":
            pytest.skip(f"no Kafka on this machine: {exc}")
        pytest.fail(str(exc))
    with KafkaBroker(partitions=3) as broker:
        yield broker


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the real broker ``kafka`` (``-m "not kafka"`` skips them)."""
    for item in items:
        if "kafka_broker" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kafka)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session (a throw-away cluster)."""
    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        if os.environ.get("GOVPUB_TEST_ALLOW_NO_POSTGRES") == "1":
            pytest.skip(f"no PostgreSQL on this machine: {exc}")
        pytest.fail(str(exc))
    with server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The ``GOVPUB_STORE`` of each backend in turn: a SQLite file, or a PostgreSQL URL
    whose search path is a schema of this test's own (dropped afterwards)."""
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        with server.schema() as url:
            yield url
    else:
        yield str(tmp_path / "state.db")


@pytest.fixture
def fresh_store(
    store_location: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str], str]]:
    """Makes more empty stores on the backend of ``store_location`` (by name)."""
    made: dict[str, str] = {}
    schemas: list[str] = []
    server: PostgresServer | None = None
    if store_location.startswith("postgresql://"):
        server = request.getfixturevalue("postgres_server")

    def make(name: str) -> str:
        if name not in made:
            if server is None:
                made[name] = str(tmp_path / f"{name}.db")
            else:
                schemas.append(server.new_schema())
                made[name] = server.url(schema=schemas[-1])
        return made[name]

    yield make
    for schema in schemas:
        assert server is not None
        server.drop_schema(schema)


@pytest.fixture(params=["sqlite", pytest.param("kafka", marks=pytest.mark.kafka)])
def transport(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The ``GOVPUB_BUS`` URL of each transport in turn."""
    if request.param == "kafka":
        broker: KafkaBroker = request.getfixturevalue("kafka_broker")
        return broker.url
    return f"sqlite:///{tmp_path / 'bus.db'}"


@pytest.fixture
def make_settings(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[..., Settings]:
    """Settings for one test: its own topics, store and output, fast retries (the store on
    each backend in turn when the test uses ``store_location``)."""
    prefix = f"t{uuid.uuid4().hex[:12]}"
    store: str | Path = tmp_path / "state.db"
    if "store_location" in request.fixturenames:
        store = request.getfixturevalue("store_location")

    def build(bus: str | None = None, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "bus": bus or f"sqlite:///{tmp_path / 'bus.db'}",
            "store": store,
            "output_dir": tmp_path / "public",
            "topic_prefix": prefix,
            "partitions": 3,
            "session_timeout": 6.0,
            "retry_min_backoff": 0.01,
            "retry_max_backoff": 0.05,
            "poll_timeout": 0.2,
        }
        values.update(overrides)
        return app_settings(**values)

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings], transport: str) -> Settings:
    """Settings on each transport in turn."""
    return make_settings(transport)
