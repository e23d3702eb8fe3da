"""``dag.test()`` of the daily freshness check: green when every rule holds, red with the
list and a signed alert when something is due soon or overdue."""

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from channels.newmedia.webhook.channel import verify
from govpub.settings import Settings
from tests import factories
from tests.dags.conftest import test_run
from tests.freshness_support import bj, write_rules
from tests.website_support import Site, at

DAG_ID = "freshness_check"
ALERT_SECRET = "whsec_ZnJlc2huZXNzLWFsZXJ0LWtleS0xMjM0NTY="
RULES = """
warning_days = 3

[[columns]]
name = "penalty"
kind = "penalty"
max_days = 30
source = "test: 1 month"

[meetings]
max_days = 20
unit = "working"
source = "test: 20 working days"
"""


@pytest.fixture
def alerts(httpserver: HTTPServer) -> list[dict[str, Any]]:
    """The alert receiver: every request it gets, with its headers and body."""
    received: list[dict[str, Any]] = []

    def receive(request: Request) -> Response:
        received.append({"headers": dict(request.headers), "body": request.get_data()})
        return Response(status=204)

    httpserver.expect_request("/alerts", method="POST").respond_with_handler(receive)
    return received


@pytest.fixture
def checked(
    release_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    httpserver: HTTPServer,
) -> Settings:
    """The DAG's settings: test rules, an operator page and the alert webhook; one penalty
    published on 2026-11-01, so the penalty column is due by 2026-12-01."""
    monkeypatch.setenv("GOVPUB_FRESHNESS_RULES", str(write_rules(tmp_path, RULES)))
    monkeypatch.setenv("GOVPUB_FRESHNESS_PAGE_DIR", str(tmp_path / "ops"))
    monkeypatch.setenv("GOVPUB_FRESHNESS_ALERT_URL", httpserver.url_for("/alerts"))
    monkeypatch.setenv("GOVPUB_FRESHNESS_ALERT_SECRET", ALERT_SECRET)
    site = Site(release_settings)
    try:
        site.publish(at(factories.penalty("pen-1"), "2026-11-01T10:00:00+08:00"))
    finally:
        site.close()
    return release_settings


def test_a_day_when_every_rule_holds_is_green_and_sends_no_alert(
    dag_bag: Any, checked: Settings, alerts: list[dict[str, Any]], tmp_path: Path
) -> None:
    assert DAG_ID in dag_bag.dags
    states = test_run(DAG_ID, bj(2026, 11, 20))
    assert {
        task: states[task] for task in ("check_freshness", "post_alert", "report_problems")
    } == {
        "check_freshness": "success",
        "post_alert": "success",
        "report_problems": "success",
    }
    assert states["(run)"] == "success"
    assert alerts == []
    page = (tmp_path / "ops" / "index.html").read_text("utf-8")
    assert "Checked at 2026-11-20 08:00 (Beijing time)" in page
    data = json.loads((tmp_path / "ops" / "freshness.json").read_text("utf-8"))
    assert (data["counts"], data["problems"]) == ({"ok": 1, "due_soon": 0, "overdue": 0}, [])
    assert not any(checked.output_dir.rglob("freshness.json"))  # never in the public tree


def test_a_column_due_soon_fails_the_run_with_the_list_and_alerts(
    dag_bag: Any,
    checked: Settings,
    alerts: list[dict[str, Any]],
    capfd: pytest.CaptureFixture[str],
) -> None:
    site = Site(checked)
    try:  # a meeting without its replay, held 2026-11-02: due by 2026-11-30
        site.publish(
            at(
                factories.envelope(
                    "meeting",
                    "meeting-13",
                    1,
                    {
                        "title": "株洲市人民政府第13次常务会议",
                        "meeting_type": "常务会议",
                        "held_on": "2026-11-02",
                        "press_release": "<p>会议研究部署冬季安全生产工作。</p>",
                        "interpretation": {"title": "解读", "body": "<p>解读</p>"},
                    },
                ),
                "2026-11-02T18:00:00+08:00",
            )
        )
    finally:
        site.close()
    states = test_run(DAG_ID, bj(2026, 11, 28))
    assert (states["check_freshness"], states["post_alert"]) == ("success", "success")
    assert (states["report_problems"], states["(run)"]) == ("failed", "failed")
    out = "".join(capfd.readouterr())
    assert "2 freshness problem(s):" in out
    assert (
        "column 行政处罚 (penalty): due soon — 3 calendar days left; last published 2026-11-01,"
        " deadline 2026-12-01"
    ) in out
    assert "meeting meeting-13 株洲市人民政府第13次常务会议 (held 2026-11-02): due soon" in out

    [alert] = alerts
    headers = alert["headers"]
    assert verify(ALERT_SECRET, headers, alert["body"], now=float(headers["Webhook-Timestamp"]))
    assert headers["Webhook-Id"] == f"{DAG_ID}:{states['(run_id)']}"
    message = json.loads(alert["body"])
    assert message["type"] == "govpub.freshness.alert"
    assert message["timestamp"] == "2026-11-28T08:00:00+08:00"
    assert message["data"]["counts"] == {"ok": 0, "due_soon": 2, "overdue": 0}
    assert len(message["data"]["problems"]) == 2
    assert [m["document_id"] for m in message["data"]["meetings"]] == ["meeting-13"]


def test_a_page_directory_inside_the_public_output_fails_the_check(
    dag_bag: Any,
    checked: Settings,
    alerts: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GOVPUB_FRESHNESS_PAGE_DIR", str(checked.output_dir / "ops"))
    states = test_run(DAG_ID, bj(2026, 11, 20))
    assert (states["check_freshness"], states["(run)"]) == ("failed", "failed")
    assert "GOVPUB_FRESHNESS_PAGE_DIR:" in "".join(capfd.readouterr())
    assert not (checked.output_dir / "ops").exists()
    assert alerts == []
