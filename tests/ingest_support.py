"""A running ingest API for tests: credentials, settings, server, signed clients."""

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govpub.app.server import BackgroundServer, create_app
from govpub.bus import Bus, Record, open_bus
from govpub.settings import Settings
from govpub.topics import Topics
from producers.ingest.api import Ingest
from producers.ingest.client import IngestClient
from producers.ingest.credentials import Credentials

SECRETS = {
    "yjj-2026a": "yjj-secret-a-0123456789abcdefghijklmnop",
    "yjj-2026b": "yjj-secret-b-0123456789abcdefghijklmnop",
    "yjj-2025": "yjj-secret-old-0123456789abcdefghijklmn",
    "zfb-2026a": "zfb-secret-a-0123456789abcdefghijklmnop",
    "scj-2026a": "scj-secret-a-0123456789abcdefghijklmnop",
}

CREDENTIALS = f"""
# Test credentials: 应急管理局 (two active keys and a revoked one), 政府办, 市场监管局.
[departments.zz-yjj]
kinds = ["penalty", "exposure"]

[[departments.zz-yjj.keys]]
id = "yjj-2026a"
secret = "{SECRETS["yjj-2026a"]}"

[[departments.zz-yjj.keys]]
id = "yjj-2026b"
secret = "{SECRETS["yjj-2026b"]}"

[[departments.zz-yjj.keys]]
id = "yjj-2025"
secret = "{SECRETS["yjj-2025"]}"
active = false

[departments.zz-zfb]
kinds = ["policy", "meeting", "campaign"]

[[departments.zz-zfb.keys]]
id = "zfb-2026a"
secret = "{SECRETS["zfb-2026a"]}"

[departments.zz-scjgj]
kinds = ["penalty"]

[[departments.zz-scjgj.keys]]
id = "scj-2026a"
secret = "{SECRETS["scj-2026a"]}"
"""


def write_credentials(directory: Path) -> Path:
    """The test credentials file, readable by its owner only."""
    path = directory / "credentials.toml"
    path.write_text(CREDENTIALS, encoding="utf-8")
    path.chmod(0o600)
    return path


@dataclass
class Running:
    """A running ingest API and what the test needs to talk to it."""

    url: str
    settings: Settings
    ingest: Ingest

    def client(self, key_id: str = "yjj-2026a", secret: str | None = None) -> IngestClient:
        return IngestClient(self.url, key_id, secret or SECRETS[key_id], timeout=30)


@contextmanager
def running_ingest(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    *,
    bus: str | None = None,
    bus_override: Bus | None = None,
    clock: Callable[[], float] = time.time,
    **overrides: Any,
) -> Iterator[Running]:
    """The ingest API on a free loopback port, with the test credentials; ``clock`` is
    the server's clock for signature timestamps."""
    settings = make_settings(bus, ingest_credentials=write_credentials(tmp_path), **overrides)
    assert settings.ingest_credentials is not None
    ingest = Ingest.build(
        settings, Credentials.load(settings.ingest_credentials), bus=bus_override, clock=clock
    )
    with BackgroundServer(create_app(settings, ingest=ingest)) as server:
        yield Running(server.url, settings, ingest)


def bus_records(settings: Settings, kind: str = "penalty", timeout: float = 20.0) -> list[Record]:
    """Every record on a content topic, read from the beginning without a group."""
    bus = open_bus(settings)
    topic = Topics(settings.topic_prefix).for_kind(kind)
    bus.ensure_topics([topic])
    records: list[Record] = []
    with bus.consumer([topic], group=None) as consumer:
        deadline = time.monotonic() + timeout
        idle = 0
        while idle < 2 and time.monotonic() < deadline:
            batch = consumer.poll(0.3, 500)
            records.extend(batch)
            if batch:
                idle = 0
            elif all(lag <= 0 for lag in consumer.lag().values()):
                idle += 1
    return records


def payloads(records: list[Record]) -> list[dict[str, Any]]:
    """The decoded events of ``records``."""
    return [json.loads(record.value) for record in records]
