"""Shared pieces of the fault tests: processes they start, events they send, and the
figures they report (appended to tests/artifacts/faults.jsonl)."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from govpub.bus import open_bus
from govpub.deliveries import DeliveryLog
from govpub.settings import Settings
from govpub.store import Store
from govpub.topics import Topics
from tests import factories

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _secrets(values: Mapping[str, SecretStr]) -> str:
    return json.dumps({name: secret.get_secret_value() for name, secret in values.items()})


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a govpub process that shares ``settings`` (new-media routes,
    secrets and platform URLs included, so a child posts to the same fakes)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVPUB_")}
    env.update(
        GOVPUB_BUS=settings.bus,
        GOVPUB_STORE=str(settings.store),
        GOVPUB_OUTPUT_DIR=str(settings.output_dir),
        GOVPUB_TOPIC_PREFIX=settings.topic_prefix,
        GOVPUB_SITE_URL=str(settings.site_url),
        GOVPUB_SESSION_TIMEOUT=str(settings.session_timeout),
        GOVPUB_WRITER_LEASE=str(settings.writer_lease),
        GOVPUB_MAX_BATCH=str(settings.max_batch),
        GOVPUB_POLL_TIMEOUT=str(settings.poll_timeout),
        GOVPUB_RETRY_MAX_ATTEMPTS=str(settings.retry_max_attempts),
        GOVPUB_RETRY_MIN_BACKOFF=str(settings.retry_min_backoff),
        GOVPUB_RETRY_MAX_BACKOFF=str(settings.retry_max_backoff),
        GOVPUB_WECHAT_APP_SECRETS=_secrets(settings.wechat.app_secrets),
        GOVPUB_WEIBO_ACCESS_TOKENS=_secrets(settings.weibo.access_tokens),
        GOVPUB_WEBHOOK_SECRETS=_secrets(settings.webhook.secrets),
        GOVPUB_WECHAT_API_BASE=str(settings.wechat.api_base),
        GOVPUB_WEIBO_API_BASE=str(settings.weibo.api_base),
        GOVPUB_NEWMEDIA_TIMEOUT=str(settings.newmedia.timeout),
        GOVPUB_LOG_LEVEL="WARNING",
    )
    if settings.newmedia.routes is not None:
        env["GOVPUB_NEWMEDIA_ROUTES"] = str(settings.newmedia.routes)
    env.update(extra)
    return env


def spawn_consumer(
    settings: Settings,
    channels: Sequence[str],
    *,
    until_idle: bool = False,
    log: Path,
    processes: int = 1,
) -> subprocess.Popen[bytes]:
    """``govpub consume`` in a child process (this test ends it, by its pid)."""
    args = [sys.executable, "-m", "govpub.app.cli", "consume", "--processes", str(processes)]
    for name in channels:
        args += ["--channel", name]
    if until_idle:
        args.append("--until-idle")
    handle = log.open("ab")
    try:
        return subprocess.Popen(
            args, env=env_for(settings), stdout=handle, stderr=subprocess.STDOUT
        )
    finally:
        handle.close()


def consume_until_idle(
    settings: Settings, channel: str, *, processes: int = 1
) -> subprocess.CompletedProcess[str]:
    """``govpub consume --channel CHANNEL --until-idle --processes N``, run to its end."""
    args = ["consume", "--channel", channel, "--until-idle", "--processes", str(processes)]
    return subprocess.run(
        [sys.executable, "-m", "govpub.app.cli", *args],
        env=env_for(settings),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a child this test started, and reap it."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def documents(count: int, *, prefix: str = "doc") -> list[dict[str, Any]]:
    """``count`` distinct policy documents, version 1, alternating two departments."""
    events = []
    for i in range(count):
        event = factories.policy(f"{prefix}-{i:05d}", title=f"文件 {i}")
        event["department"] = "zz-zfb" if i % 2 else "zz-sfj"
        events.append(event)
    return events


def wait_caught_up(
    settings: Settings,
    channel: str,
    timeout: float,
    *,
    consumer: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> float:
    """Seconds until the channel's group has no lag.

    Fails only when the lag has not gone down for ``timeout`` seconds: on a loaded machine
    a channel may take long, but one that makes no progress is stuck, and that is what a
    fault test must catch (the time it took is reported, not asserted). With ``consumer``,
    fails at once, with the end of its ``log``, when that process has exited.
    """
    topics = Topics(settings.topic_prefix)
    bus = open_bus(settings)
    started = time.monotonic()
    progress, lowest = started, None
    while time.monotonic() - progress < timeout:
        if consumer is not None and consumer.poll() is not None:
            tail = log.read_text("utf-8", errors="replace")[-3000:] if log else ""
            raise AssertionError(
                f"the consumer of {channel} exited with code {consumer.returncode}:\n{tail}"
            )
        try:
            lag = bus.committed_lag(topics.channel_group(channel), topics.content)
        except Exception:  # the broker may still be coming back
            lag = {}
        if lag:
            behind = sum(max(0, v) for v in lag.values())
            if behind == 0:
                return time.monotonic() - started
            if lowest is None or behind < lowest:
                progress, lowest = time.monotonic(), behind
        time.sleep(0.5)
    raise AssertionError(
        f"channel {channel} made no progress for {timeout:.0f} s ({lowest} records behind)"
    )


def delivered_events(settings: Settings, channel: str) -> dict[str, str]:
    """``{event_id: state}`` of every event the channel has finished."""
    with Store(settings.store) as store:
        DeliveryLog(store)
        rows = store.conn.execute(
            "SELECT event_id, state FROM deliveries WHERE channel=? AND target=''", (channel,)
        ).fetchall()
    return dict(rows)


_ITEM_LIST = re.compile(r'<ol class="items">(.*?)</ol>', re.DOTALL)
_ITEM_LINK = re.compile(r'<a class="item-title" href="([^"]+)"')


def _repeats(ids: Sequence[str]) -> int:
    return len(ids) - len(set(ids))


def website_duplicates(output_dir: Path) -> int:
    """Documents listed twice: within any list of an HTML index or archive page (the home
    page has one list per section), within any ``api/*.json`` file, and across the
    numbered archive pages of one list (HTML and JSON)."""
    duplicates = 0
    html = [output_dir / "index.html", *output_dir.rglob("*/index.html")]
    archives: dict[Path, list[str]] = {}
    for path in [*html, *output_dir.rglob("page/*.html")]:
        page_ids: list[str] = []
        for block in _ITEM_LIST.findall(path.read_text("utf-8")):
            ids = [href.rsplit("/", 1)[-1] for href in _ITEM_LINK.findall(block)]
            duplicates += _repeats(ids)
            page_ids += ids
        if path.parent.name == "page":
            archives.setdefault(path.parent, []).extend(page_ids)
    for path in (output_dir / "api").rglob("*.json"):
        if path.relative_to(output_dir / "api").parts[0] in ("library", "library.json"):
            continue  # the library: counts and pages by validity, not a list of items
        ids = [item["id"] for item in json.loads(path.read_bytes())["items"]]
        duplicates += _repeats(ids)
        if path.parent.name == "page":
            archives.setdefault(path.parent, []).extend(ids)
    return duplicates + sum(_repeats(ids) for ids in archives.values())


def website_listed(output_dir: Path, list_key: str) -> set[str]:
    """Document ids on the numbered JSON pages of one list (``policy``, ``dept/<code>``)."""
    pages = (output_dir / "api" / list_key / "page").glob("*.json")
    return {item["id"] for page in pages for item in json.loads(page.read_bytes())["items"]}


def feed_duplicates(output_dir: Path) -> int:
    """Entries that appear twice (same guid) in any one feed."""
    import feedparser

    duplicates = 0
    for path in (output_dir / "feeds").rglob("*.*"):
        feed = feedparser.parse(path.read_bytes())
        assert not feed.bozo, (path, feed.get("bozo_exception"))
        ids = [entry.id for entry in feed.entries]
        duplicates += len(ids) - len(set(ids))
    return duplicates


def report(test: str, **figures: Any) -> None:
    """Record one row of the fault report (and show it in the test output)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    row = {"test": test, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **figures}
    with (ARTIFACTS / "faults.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    sys.stdout.write(f"\nFAULT REPORT {json.dumps(row, ensure_ascii=False)}\n")
