"""The run-note client against an HTTP server that answers as Airflow's api-server does
(the DAG tier writes notes on the real api-server)."""

import json

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from govpub.errors import RunNoteFailed
from producers.releases.runnotes import MAX_NOTE, AirflowApi

RUN = "manual__2026-11-28T06:00:00+00:00"


def test_it_logs_in_then_patches_the_note_of_the_run(httpserver: HTTPServer) -> None:
    seen: dict[str, object] = {}

    def patch(request: Request) -> Response:
        seen["authorization"] = request.headers.get("Authorization")
        seen["mask"] = request.args.getlist("update_mask")
        seen["note"] = request.get_json()["note"]
        return Response(json.dumps({"note": seen["note"]}), 200)

    httpserver.expect_request(
        "/auth/token", method="POST", json={"username": "govpub-releases", "password": "pw"}
    ).respond_with_json({"access_token": "t0ken"}, status=201)
    httpserver.expect_request(
        f"/api/v2/dags/quarterly_exposure_release/dagRuns/{RUN}", method="PATCH"
    ).respond_with_handler(patch)
    api = AirflowApi(httpserver.url_for("/"), "govpub-releases", "pw")
    assert "pw" not in repr(api)
    api.write_note("quarterly_exposure_release", RUN, "x" * (MAX_NOTE + 10))
    assert seen["authorization"] == "Bearer t0ken"
    assert seen["mask"] == ["note"]
    assert seen["note"] == "x" * (MAX_NOTE - 1) + "…"


def test_refusals_and_a_missing_server_are_named(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/auth/token").respond_with_json({"detail": "no"}, status=401)
    api = AirflowApi(httpserver.url_for("/"), "govpub-releases", "wrong")
    with pytest.raises(
        RunNoteFailed, match=r"logging in as govpub-releases at .*/auth/token: HTTP 401"
    ):
        api.write_note("d", RUN, "note")
    httpserver.clear()
    httpserver.expect_request("/auth/token").respond_with_json({"access_token": "t"}, status=201)
    httpserver.expect_request(f"/api/v2/dags/d/dagRuns/{RUN}").respond_with_json(
        {"detail": "The DagRun was not found"}, status=404
    )
    with pytest.raises(RunNoteFailed, match=r"writing the note of d .*: HTTP 404 .*not found"):
        api.write_note("d", RUN, "note")
    closed = AirflowApi("http://127.0.0.1:9", "govpub-releases", "pw", timeout=5)
    with pytest.raises(RunNoteFailed, match="writing the note of d"):
        closed.write_note("d", RUN, "note")
