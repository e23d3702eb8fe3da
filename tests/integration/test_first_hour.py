"""A new user's first hour, word for word as the README and the demo say it: the demo,
then ``govpub status``, the site in a browser's place, an event of their own on the site
and in a feed, and the dead letters — with no warning they did not cause."""

import json
import os
import shlex
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

BEIJING = timezone(timedelta(hours=8))


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "govpub.app.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def no_warnings(result: subprocess.CompletedProcess[str]) -> None:
    noisy = [line for line in result.stderr.splitlines() if " WARNING " in line or "ERROR" in line]
    assert noisy == [], result.stderr


def demo_environment(env_file: Path, base: dict[str, str]) -> dict[str, str]:
    """What ``. govpub-demo/demo.env`` does to a shell's environment."""
    env = dict(base)
    for line in env_file.read_text("utf-8").splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            env[name] = shlex.split(value)[0]
    return env


@pytest.fixture
def newcomer(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A fresh directory and an environment with no GOVPUB_ variable set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVPUB_")}
    return tmp_path, env


def test_the_first_hour_follows_what_the_demo_prints(
    newcomer: tuple[Path, dict[str, str]],
) -> None:
    home, env = newcomer
    demo = run(["demo"], env, home)
    assert demo.returncode == 0, demo.stderr
    no_warnings(demo)
    assert demo.stderr == ""  # the demo reports what happened itself
    assert ". govpub-demo/demo.env" in demo.stdout
    assert "none published late" in demo.stdout
    env = demo_environment(home / "govpub-demo" / "demo.env", env)

    status = run(["status"], env, home)
    assert status.returncode == 0, status.stderr
    assert "website" in status.stdout
    assert "confirmed" in status.stdout
    assert not (home / ".govpub").exists()  # status read the demo's state, made none of its own

    server = subprocess.Popen(
        [sys.executable, "-m", "govpub.app.cli", "serve", "--port", "0"],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split(" at ")[1].split(" ")[0]
        home_page = requests.get(url, timeout=30)
        assert home_page.status_code == 200
        assert "株洲" in home_page.text

        title = "关于试运行政务公开新平台的通知"
        document_id = f"first-hour-{uuid.uuid4().hex[:8]}"
        now = datetime.now(UTC).astimezone(BEIJING)
        event = {
            "event_id": str(uuid.uuid4()),
            "kind": "policy",
            "action": "publish",
            "document_id": document_id,
            "version": 1,
            "department": "zz-zfb",
            "occurred_at": now.isoformat(timespec="seconds"),
            "payload": {
                "title": title,
                "issuer": "株洲市人民政府办公室",
                "doc_class": "其他",
                "written_on": now.date().isoformat(),
                "body": "<p>平台试运行。</p>",
            },
        }
        (home / "my-events.jsonl").write_text(json.dumps(event, ensure_ascii=False) + "\n")
        emitted = run(["emit", "my-events.jsonl"], env, home)
        assert emitted.returncode == 0, emitted.stderr
        no_warnings(emitted)
        consumed = run(["consume", "--until-idle"], env, home)
        assert consumed.returncode == 0, consumed.stderr
        no_warnings(consumed)

        page = requests.get(f"{url}policy/{document_id}.html", timeout=30)
        assert page.status_code == 200
        assert title in page.text
        feed = requests.get(f"{url}feeds/all.xml", timeout=30)
        assert title in feed.text
    finally:
        server.terminate()
        _, serve_errors = server.communicate(timeout=30)
    # serve says once that the feeds link elsewhere than this port (the user chose it)
    assert "GOVPUB_SITE_URL=http://127.0.0.1:8000/" in serve_errors
    no_warnings(subprocess.CompletedProcess([], 0, "", serve_errors))

    letters = run(["dlq", "list"], env, home)
    assert letters.returncode == 0, letters.stderr
    assert "0 dead letter(s)" in letters.stdout

    # The demo published 2023's Table 2; demo.env names the sample fee statement, so the
    # command the demo prints counts it again, prints it, and has nothing new to publish.
    assert "govpub annual-report 2023" in demo.stdout
    report = run(["annual-report", "2023"], env, home)
    assert report.returncode == 0, report.stderr
    no_warnings(report)
    assert report.stdout.startswith("株洲市人民政府2023年政府信息公开工作年度报告")
    assert "annual-report-2023: version 1 already says this; nothing published" in report.stderr
