"""``GOVPUB_STORE`` from the command line, on both backends: ``govpub store migrate``, and
bad stores (a wrong URL, an unreachable database, a schema newer than the code) refused
with exit 2, a message naming ``GOVPUB_STORE`` and the reason, and nothing written."""

from collections.abc import Callable
from pathlib import Path

import pytest

from channels.rss.channel import SCHEMA as RSS
from govpub.app.migrate import known_schemas
from govpub.bus import open_bus
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from tests import factories
from tests.integration.test_cli import govpub, write_jsonl
from tests.postgres_server import PostgresServer, free_port

both_backends = pytest.mark.usefixtures("store_location")


@both_backends
def test_migrate_brings_every_component_up_to_date_once(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    first = govpub(settings, "store", "migrate")
    assert first.returncode == 0, first.stderr
    for schema in known_schemas():
        assert f"{schema.name}" in first.stdout
    assert "migrated 0 → 1" in first.stdout
    again = govpub(settings, "store", "migrate")
    assert again.returncode == 0, again.stderr
    assert "migrated" not in again.stdout
    assert again.stdout.count("up to date") == len(known_schemas())
    with Store(settings.store) as store:
        assert store.schema_versions() == {s.name: s.version for s in known_schemas()}


def _newer(settings: Settings, component: str) -> None:
    with Store(settings.store) as store:
        store.migrate(known_schemas())
        with store.transaction() as conn:
            conn.execute("UPDATE govpub_schema SET version = 99 WHERE component=?", (component,))


@both_backends
def test_a_newer_schema_stops_a_consumer_before_it_writes(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    emitted = govpub(
        settings, "emit", str(write_jsonl(tmp_path / "in.jsonl", [factories.policy()]))
    )
    assert emitted.returncode == 0, emitted.stderr
    _newer(settings, "rss_items")
    consumed = govpub(settings, "consume", "--channel", "rss", "--until-idle")
    assert consumed.returncode == 2, consumed.stdout + consumed.stderr
    assert "GOVPUB_STORE: the schema of rss_items" in consumed.stderr
    assert f"version 99, newer than this govpub knows ({RSS.version})" in consumed.stderr
    with Store(settings.store) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0] == 0
        assert store.conn.execute("SELECT COUNT(*) FROM rss_items").fetchone()[0] == 0
    assert not (settings.output_dir / "feeds").exists()


@both_backends
def test_a_newer_schema_stops_emit_before_anything_is_sent(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    _newer(settings, "accepted_events")
    emitted = govpub(
        settings, "emit", str(write_jsonl(tmp_path / "in.jsonl", [factories.policy()]))
    )
    assert emitted.returncode == 2, emitted.stdout + emitted.stderr
    assert "GOVPUB_STORE: the schema of accepted_events" in emitted.stderr
    bus = open_bus(settings)
    bus.ensure_topics(Topics(settings.topic_prefix).all)
    assert sum(bus.end_offsets(Topics(settings.topic_prefix).content).values()) == 0
    with Store(settings.store) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM accepted_events").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("mysql://govpub@127.0.0.1/govpub", "mysql:// is not a store"),
        ("postgresql://govpub@127.0.0.1:5432", "names no database"),
        ("postgresql://govpub@127.0.0.1:notaport/govpub", "not a valid PostgreSQL URL"),
    ],
)
def test_a_wrong_url_is_refused(
    make_settings: Callable[..., Settings], location: str, reason: str
) -> None:
    settings = make_settings()
    done = govpub(settings.model_copy(update={"store": location}), "store", "migrate")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "GOVPUB_STORE" in done.stderr
    assert reason in done.stderr


def test_an_unreachable_database_is_refused_without_its_password(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    unreachable = f"postgresql://govpub:hunter2-secret@127.0.0.1:{free_port()}/govpub"
    events = write_jsonl(tmp_path / "in.jsonl", [factories.policy()])
    for args in (("store", "migrate"), ("emit", str(events)), ("status",)):
        done = govpub(settings.model_copy(update={"store": unreachable}), *args)
        assert done.returncode == 2, (args, done.stdout + done.stderr)
        assert (
            "GOVPUB_STORE: cannot connect to PostgreSQL at postgresql://govpub:***@" in done.stderr
        )
        assert "hunter2-secret" not in done.stdout + done.stderr
    bus = open_bus(settings)
    bus.ensure_topics(Topics(settings.topic_prefix).all)
    assert sum(bus.end_offsets(Topics(settings.topic_prefix).content).values()) == 0


def test_a_wrong_password_and_a_missing_database_are_named(
    make_settings: Callable[..., Settings], postgres_server: PostgresServer
) -> None:
    settings = make_settings()
    good = postgres_server.url()
    for bad, reason in (
        (
            good.replace(postgres_server.password, "wrong-password"),
            "password authentication failed",
        ),
        (good.rsplit("/", 1)[0] + "/nosuchdb", 'database "nosuchdb" does not exist'),
    ):
        done = govpub(settings.model_copy(update={"store": bad}), "store", "migrate")
        assert done.returncode == 2, done.stdout + done.stderr
        assert "GOVPUB_STORE: cannot connect to PostgreSQL" in done.stderr
        assert reason in done.stderr
        assert postgres_server.password not in done.stderr


@both_backends
def test_status_never_shows_the_password(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    done = govpub(settings, "status")
    assert done.returncode == 0, done.stderr
    store_line = next(line for line in done.stdout.splitlines() if line.startswith("store: "))
    if str(settings.store).startswith("postgresql://"):
        assert ":***@127.0.0.1" in store_line
        password = str(settings.store).split(":")[2].split("@")[0]
        assert password not in done.stdout
    else:
        assert store_line == f"store: {settings.store}"
