"""The DAG tier: Airflow 3 on a temporary SQLite metadata database, the DAGs against
the embedded bus.

Airflow reads its configuration when it is first imported, so the session fixture
sets ``AIRFLOW_HOME`` and the database before any test imports ``airflow``; test
modules here import it inside fixtures and tests only.
"""

import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from consumers.service import run_channels
from govpub.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A migrated Airflow metadata database (SQLite) in a temporary AIRFLOW_HOME."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # The REST API in the approval tests acts as an admin without logging in.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        # Signs the API's and the task runner's tokens; as long as production needs it.
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
    }
    if "airflow" in sys.modules and os.environ.get("AIRFLOW_HOME") != str(home):
        pytest.fail("airflow was imported before the DAG tier configured it")
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    airflow = Path(sys.executable).with_name("airflow")
    migrated = subprocess.run(
        [str(airflow), "db", "migrate"], capture_output=True, text=True, check=False
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    try:
        yield home
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def dag_bag(airflow_home: Path) -> Any:
    """Both DAG files, parsed the way the dag-processor parses them."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def fresh_dag(dag_id: str) -> Any:
    """The DAG parsed anew from its file.

    ``dag.test()`` runs tasks in this process on the DAG object it is given, and a run's
    params stay on that object; each run gets its own parse, as each run in production
    gets its own task processes.
    """
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS)).dags[dag_id]


def test_run(dag_id: str, logical_date: datetime, **conf: Any) -> dict[str, str]:
    """One ``dag.test()`` run on a fresh parse; the task states by task id, and the run's
    own state under ``(run)``."""
    dag_run = fresh_dag(dag_id).test(logical_date=logical_date, run_conf=conf or None)
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    states["(run)"] = str(dag_run.state)
    return states


test_run.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def deliver_to_subscribers(settings: Settings) -> None:
    """Run the feeds and the website until idle, as subscribers would see them."""
    results = run_channels(settings, ["rss", "website"], until_idle=True)
    assert [r.error for r in results] == [None, None]


@pytest.fixture
def release_settings(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings for one test, exported as GOVPUB_* so the DAG tasks build the same ones."""
    settings = make_settings()
    exported = {
        "GOVPUB_BUS": settings.bus,
        "GOVPUB_STORE": str(settings.store),
        "GOVPUB_OUTPUT_DIR": str(settings.output_dir),
        "GOVPUB_TOPIC_PREFIX": settings.topic_prefix,
        "GOVPUB_PARTITIONS": str(settings.partitions),
        "GOVPUB_SESSION_TIMEOUT": str(settings.session_timeout),
        "GOVPUB_POLL_TIMEOUT": str(settings.poll_timeout),
        "GOVPUB_CATALOG_SYNC_TIMEOUT": "30",
    }
    for name, value in exported.items():
        monkeypatch.setenv(name, value)
    return settings


@pytest.fixture(scope="session")
def api_client(airflow_home: Path) -> Any:
    """The Airflow REST API (core API) in process, as an operator's client reaches it."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    return TestClient(create_app())


class Approver(threading.Thread):
    """Answers the first pending approval of ``dag_id`` through the REST API, as an
    operator does from the Required actions page."""

    def __init__(self, client: Any, dag_id: str, option: str, timeout: float = 120.0) -> None:
        super().__init__(daemon=True, name=f"approver-{dag_id}")
        self.client, self.dag_id, self.option, self.timeout = client, dag_id, option, timeout
        self.request: dict[str, Any] | None = None
        self.status: int | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and not self.stopped.is_set():
            found = self.client.get(
                "/api/v2/dags/~/dagRuns/~/hitlDetails", params={"response_received": False}
            )

            pending = [
                detail
                for detail in found.json().get("hitl_details", [])
                if detail["task_instance"]["dag_id"] == self.dag_id
            ]
            if pending:
                self.request = pending[0]
                ti = self.request["task_instance"]
                answer = self.client.patch(
                    f"/api/v2/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/"
                    f"{ti['task_id']}/{ti['map_index']}/hitlDetails",
                    json={"chosen_options": [self.option], "params_input": {}},
                )
                self.status = answer.status_code
                return
            self.stopped.wait(0.5)


@pytest.fixture
def approver(api_client: Any) -> Iterator[Callable[[str, str], Approver]]:
    """Start an :class:`Approver` (call before ``dag.test``, which blocks on the approval)."""
    started: list[Approver] = []

    def start(dag_id: str, option: str) -> Approver:
        thread = Approver(api_client, dag_id, option)
        thread.start()
        started.append(thread)
        return thread

    yield start
    for thread in started:
        thread.stopped.set()
        thread.join(timeout=5)
