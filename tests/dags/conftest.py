"""The DAG tier: Airflow 3 on a temporary SQLite metadata database, the DAGs against
the embedded bus, and the REST API served on a loopback port with real users.

Airflow reads its configuration when it is first imported, so the session fixture
sets ``AIRFLOW_HOME`` and the database before any test imports ``airflow``; test
modules here import it inside fixtures and tests only.

Users (the simple auth manager, as in the README's recipes): ``operator`` (admin),
``zz-yjj-reviewer`` (the shipped approver of work safety), ``dag_test`` (the name
``dag.test()`` records as the triggering user) and ``govpub-releases`` (the service
user that writes run notes). Their passwords are written before Airflow starts.
"""

import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from govpub.app.channels import run_channels
from govpub.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"

DAG_TEST_TIMEOUT = 900
"""Seconds a DAG test may take. Airflow's task timeouts use SIGALRM, which silences
pytest-timeout's default (signal) method, so the DAG tier uses its thread method: a
test that hangs (a run waiting for an approval nobody gives) ends the session with the
stacks printed instead of holding CI forever."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every test of this directory the thread-based timeout."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.timeout(DAG_TEST_TIMEOUT, method="thread"))


USERS = {
    "operator": "admin",
    "zz-yjj-reviewer": "user",
    "dag_test": "user",
    "govpub-releases": "user",
}
"""Airflow users of the DAG tier and their roles."""

TRIGGERED_BY = "dag_test"
"""Who triggered a ``dag.test()`` run, as Airflow records it."""


@pytest.fixture(scope="session")
def passwords() -> dict[str, str]:
    """A password for each user of :data:`USERS`."""
    return {user: secrets.token_urlsafe(16) for user in USERS}


@pytest.fixture(scope="session")
def airflow_home(
    tmp_path_factory: pytest.TempPathFactory, passwords: dict[str, str]
) -> Iterator[Path]:
    """A migrated Airflow metadata database (SQLite) in a temporary AIRFLOW_HOME."""
    home = tmp_path_factory.mktemp("airflow-home")
    password_file = home / "simple_auth_manager_passwords.json.generated"
    password_file.write_text(json.dumps(passwords), encoding="utf-8")
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
            f"{user}:{role}" for user, role in USERS.items()
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
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


def test_run(dag_id: str, logical_date: datetime | None, **conf: Any) -> dict[str, str]:
    """One ``dag.test()`` run on a fresh parse (``logical_date`` None: as an operator's
    trigger without one); the task states by task id (a mapped task by its first
    instance), the run's own state under ``(run)`` and its id under ``(run_id)``."""
    dag_run = fresh_dag(dag_id).test(logical_date=logical_date, run_conf=conf or None)
    states: dict[str, str] = {}
    for ti in sorted(dag_run.get_task_instances(), key=lambda ti: ti.map_index, reverse=True):
        states[ti.task_id] = str(ti.state)
    states["(run)"] = str(dag_run.state)
    states["(run_id)"] = dag_run.run_id
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


@pytest.fixture
def auto_approve_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment that allows auto-approval (GOVPUB_ALLOW_AUTO_APPROVE=true)."""
    monkeypatch.setenv("GOVPUB_ALLOW_AUTO_APPROVE", "true")


@dataclass
class AirflowApi:
    """Airflow's REST API on a loopback port, used as its users use it: each call logs in
    as ``user`` at ``/auth/token`` (as the README shows) and sends the bearer token."""

    base_url: str
    passwords: dict[str, str]
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(self, user: str) -> str:
        if user not in self._tokens:
            login = requests.post(
                f"{self.base_url}/auth/token",
                json={"username": user, "password": self.passwords.get(user, "-")},
                timeout=30,
            )
            assert login.status_code == 201, login.text
            self._tokens[user] = login.json()["access_token"]
        return self._tokens[user]

    def call(self, method: str, path: str, *, user: str = "operator", **kwargs: Any) -> Any:
        return requests.request(
            method,
            f"{self.base_url}{path}",
            headers={"Authorization": f"Bearer {self.token(user)}"},
            timeout=30,
            **kwargs,
        )

    def run_note(self, dag_id: str, run_id: str) -> str | None:
        answer = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        assert answer.status_code == 200, answer.text
        note: str | None = answer.json()["note"]
        return note


@pytest.fixture(scope="session")
def airflow_api(airflow_home: Path, passwords: dict[str, str]) -> Iterator[AirflowApi]:
    """The api-server (core API and the simple auth manager's login) on a loopback port,
    in a thread of this process, sharing the metadata database with ``dag.test()``.

    The release writes its run notes here as ``govpub-releases`` (the connection
    ``govpub_airflow_api``, given as an environment variable as an operator would)."""
    import uvicorn
    from airflow.api_fastapi.app import create_app

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, daemon=True, name="airflow-api"
    )
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive(), "the api-server stopped while starting"
        assert time.monotonic() < deadline, "the api-server did not start in 120 s"
        time.sleep(0.1)
    base_url = f"http://127.0.0.1:{port}"
    name = "AIRFLOW_CONN_GOVPUB_AIRFLOW_API"
    saved = os.environ.get(name)
    os.environ[name] = f"http://govpub-releases:{passwords['govpub-releases']}@127.0.0.1:{port}"
    try:
        yield AirflowApi(base_url, passwords)
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


PARKED_MESSAGE = "Waiting for Human-in-the-loop input"
"""What ``dag.test()`` logs (logger ``airflow.sdk.definitions.dag``) each second while a
task waits for an answer."""

RESUME_WAIT = 120.0
"""Seconds an accepted answer may take to resume its task before the test gives up."""

FINISHED = {"success", "failed", "skipped", "upstream_failed", "removed"}
"""Task instance states that end a task's part in a run."""


class ParkedWatch(logging.Handler):
    """Sets :attr:`parked` when ``dag.test()`` logs that a task waits for its answer.

    ``dag.test()`` writes the task runner's state over the task instance after the task
    returns; an answer that lands between the task writing its request and that write is
    recorded, its resume to ``scheduled`` overwritten with ``awaiting_input``, and the run
    waits forever (Airflow's scheduler and Execution API handle that window; ``dag.test``
    does not). Once ``dag.test()`` says it is waiting it only reads the task's state, so
    the approver answers after that, as a person reading the Required actions page would."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.parked = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith(PARKED_MESSAGE):
            self.parked.set()


class Approver(threading.Thread):
    """Answers the first pending approval of ``dag_id`` through the REST API, as an
    approver does from the Required actions page: each ``(user, option)`` in turn,
    until one is accepted. ``statuses`` has the HTTP status of each attempt.

    It waits for the approval as long as the test runs (until ``stopped``): on a loaded
    machine the run may take minutes to reach it. ``dag.test`` blocks until the task is
    answered, so when every answer is refused, or an accepted one does not resume the
    task within :data:`RESUME_WAIT`, the approver fails the task instance through the API
    (as ``operator``, as an operator ends a stuck run) and says why in ``gave_up``: the
    run ends failed and the test fails on its assertions instead of hanging."""

    def __init__(
        self, api: AirflowApi, dag_id: str, answers: list[tuple[str, str]], parked: threading.Event
    ) -> None:
        super().__init__(daemon=True, name=f"approver-{dag_id}")
        self.api, self.dag_id, self.answers, self.parked = api, dag_id, answers, parked
        self.request: dict[str, Any] | None = None
        self.statuses: list[int] = []
        self.refusals: list[str] = []
        self.gave_up: str | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            if self.parked.is_set():
                found = self.api.call(
                    "GET",
                    "/api/v2/dags/~/dagRuns/~/hitlDetails",
                    params={"response_received": False},
                )
                pending = [
                    detail
                    for detail in found.json().get("hitl_details", [])
                    if detail["task_instance"]["dag_id"] == self.dag_id
                ]
                if pending:
                    self.request = pending[0]
                    self._answer(self._task_path(self.request))
                    return
            self.stopped.wait(0.5)

    @staticmethod
    def _task_path(request: dict[str, Any]) -> str:
        ti = request["task_instance"]
        return (
            f"/api/v2/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/"
            f"{ti['task_id']}/{ti['map_index']}"
        )

    def _answer(self, task: str) -> None:
        for user, option in self.answers:
            answer = self.api.call(
                "PATCH",
                f"{task}/hitlDetails",
                user=user,
                json={"chosen_options": [option], "params_input": {}},
            )
            self.statuses.append(answer.status_code)
            if answer.status_code == 200:
                self._await_resume(task)
                return
            self.refusals.append(answer.text)
        self._give_up(task, f"every answer was refused: {self.statuses}")

    def _await_resume(self, task: str) -> None:
        deadline = time.monotonic() + RESUME_WAIT
        while not self.stopped.is_set():
            state = self.api.call("GET", task).json().get("state")
            if state in FINISHED or state == "running":
                return
            if time.monotonic() > deadline:
                self._give_up(
                    task, f"the accepted answer left the task {state} for {RESUME_WAIT} s"
                )
                return
            self.stopped.wait(0.5)

    def _give_up(self, task: str, reason: str) -> None:
        self.gave_up = reason
        failed = self.api.call("PATCH", task, json={"new_state": "failed"})
        assert failed.status_code == 200, failed.text


@pytest.fixture
def approver(airflow_api: AirflowApi) -> Iterator[Callable[..., Approver]]:
    """Start an :class:`Approver` (call before ``dag.test``, which blocks on the approval)."""
    started: list[Approver] = []
    dag_test_log = logging.getLogger("airflow.sdk.definitions.dag")
    watch = ParkedWatch()
    dag_test_log.addHandler(watch)
    level = dag_test_log.level
    if not dag_test_log.isEnabledFor(logging.INFO):
        dag_test_log.setLevel(logging.INFO)

    def start(dag_id: str, *answers: tuple[str, str]) -> Approver:
        thread = Approver(airflow_api, dag_id, list(answers), watch.parked)
        thread.start()
        started.append(thread)
        return thread

    yield start
    dag_test_log.removeHandler(watch)
    dag_test_log.setLevel(level)
    for thread in started:
        thread.stopped.set()
        thread.join(timeout=5)
    gave_up = [thread.gave_up for thread in started if thread.gave_up]
    assert not gave_up, f"the approval did not end the wait: {gave_up}"
