"""The command line: ``govpub ingest`` starts, refuses a wrong credentials file, stops on
SIGTERM; ``govpub emit`` goes through the compliance gate."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from govpub.compliance.identifiers import id_check_char
from govpub.settings import Settings
from producers.ingest.client import IngestClient
from tests import factories
from tests.ingest_support import SECRETS, bus_records, payloads, write_credentials

pytestmark = pytest.mark.usefixtures("store_location")

GOVPUB = str(Path(sys.executable).parent / "govpub")
ID_NUMBER = "43021119900101123" + id_check_char("43021119900101123")


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVPUB_")}
    env.update(
        GOVPUB_BUS=settings.bus,
        GOVPUB_STORE=str(settings.store),
        GOVPUB_OUTPUT_DIR=str(settings.output_dir),
        GOVPUB_TOPIC_PREFIX=settings.topic_prefix,
        **extra,
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ingest_needs_its_credentials_file(make_settings: Callable[..., Settings]) -> None:
    done = subprocess.run(
        [GOVPUB, "ingest"], env=env_for(make_settings()), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "GOVPUB_INGEST_CREDENTIALS: not set" in done.stderr


def test_a_wrong_credentials_file_stops_ingest_naming_file_and_field(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    path = tmp_path / "creds.toml"
    path.write_text(
        '[departments.zz-yjj]\nkinds = ["penalty"]\n[[departments.zz-yjj.keys]]\nid = "k-1"\nsecret = "short"\n'
    )
    env = env_for(make_settings(), GOVPUB_INGEST_CREDENTIALS=str(path))
    done = subprocess.run([GOVPUB, "ingest"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"{path}: departments.zz-yjj.keys[0].secret" in done.stderr


def test_ingest_serves_until_sigterm(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    port = free_port()
    env = env_for(settings, GOVPUB_INGEST_CREDENTIALS=str(write_credentials(tmp_path)))
    process = subprocess.Popen(
        [GOVPUB, "ingest", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(url + "/healthz", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "govpub ingest did not start"
                time.sleep(0.1)
        event = factories.penalty(facts=f"身份证号{ID_NUMBER}")
        with IngestClient(url, "yjj-2026a", SECRETS["yjj-2026a"]) as client:
            assert client.publish(event).status == 202
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "ingest API on http://127.0.0.1" in stderr
    [sent] = payloads(bus_records(settings))
    assert ID_NUMBER not in json.dumps(sent)


def test_emit_goes_through_the_gate(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    settings = make_settings()
    masked = factories.penalty("doc-1", facts=f"身份证号{ID_NUMBER}")
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(masked, ensure_ascii=False) + "\n", encoding="utf-8")
    done = subprocess.run(
        [GOVPUB, "emit", str(path)],
        env=env_for(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    [sent] = payloads(bus_records(settings))
    assert "430211************" in sent["payload"]["facts"]

    refused = factories.penalty("doc-2", is_minor=True)
    path.write_text(json.dumps(refused, ensure_ascii=False) + "\n", encoding="utf-8")
    done = subprocess.run(
        [GOVPUB, "emit", str(path)],
        env=env_for(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "line 1: payload.is_minor: the party is a minor" in done.stderr
    assert len(bus_records(settings)) == 1
