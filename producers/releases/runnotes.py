"""Run notes: the outcome of a release written on its Airflow DAG run.

Airflow 3.3 gives a running task no call to write its run's note (the Task SDK has
none; apache/airflow#64890), so the release writes it as any API client would: it
logs in to the api-server's ``/auth/token`` as a service user and PATCHes the run's
``note``. The address and the service user come from the Airflow connection
``govpub_airflow_api`` (read in :mod:`govpub.app.dag_tasks`); without it no note
is written and the task states alone tell the outcome.
"""

from dataclasses import dataclass, field
from urllib.parse import quote

import requests

from govpub.errors import RunNoteFailed

NOTES_CONNECTION = "govpub_airflow_api"
"""The Airflow connection of the service user that writes run notes."""

MAX_NOTE = 1000
"""The longest note Airflow's API accepts."""


@dataclass(frozen=True)
class AirflowApi:
    """Airflow's public REST API at ``base_url`` (``http://host:port``), as ``username``."""

    base_url: str
    username: str
    password: str = field(repr=False)
    timeout: float = 10.0

    def write_note(self, dag_id: str, run_id: str, note: str) -> None:
        """Replace the note of run ``run_id`` of ``dag_id`` (cut to :data:`MAX_NOTE`)."""
        base = self.base_url.rstrip("/")
        text = note if len(note) <= MAX_NOTE else note[: MAX_NOTE - 1] + "…"
        try:
            with requests.Session() as session:
                login = session.post(
                    f"{base}/auth/token",
                    json={"username": self.username, "password": self.password},
                    timeout=self.timeout,
                )
                if login.status_code not in (200, 201):
                    raise RunNoteFailed(
                        f"logging in as {self.username} at {base}/auth/token: HTTP"
                        f" {login.status_code}"
                    )
                token = login.json()["access_token"]
                answer = session.patch(
                    f"{base}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}",
                    params={"update_mask": "note"},
                    json={"note": text},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=self.timeout,
                )
        except (requests.RequestException, ValueError, KeyError) as exc:
            raise RunNoteFailed(f"writing the note of {dag_id} {run_id} at {base}: {exc}") from None
        if answer.status_code != 200:
            raise RunNoteFailed(
                f"writing the note of {dag_id} {run_id}: HTTP {answer.status_code}"
                f" {' '.join(answer.text.split())[:200]}"
            )
