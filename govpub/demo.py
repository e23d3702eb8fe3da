"""``govpub demo``: the whole pipeline on the embedded bus with sample events from the
Zhuzhou 2023 work points, in a directory of its own."""

import json
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from channels.registry import DEMO_CHANNELS
from govpub.app.channels import ChannelResult, run_channels
from govpub.settings import Settings
from govpub.store import Store
from producers import Accepted
from producers.factory import open_publisher


def load_samples() -> list[dict[str, Any]]:
    """The sample events shipped with govpub (``govpub/samples/zhuzhou-2023.jsonl``)."""
    text = resources.files("govpub").joinpath("samples/zhuzhou-2023.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@dataclass
class DemoResult:
    """What the demo produced."""

    settings: Settings
    accepted: list[Accepted]
    channels: list[ChannelResult]

    @property
    def output_dir(self) -> Path:
        """Where the site and feeds are."""
        return self.settings.output_dir

    @property
    def outbox(self) -> Path:
        """Where the new-media channels wrote the requests they would send."""
        return self.settings.output_dir / "outbox"


def demo_routes() -> Path:
    """The routing file of the demo's new-media accounts (``govpub/data/newmedia-demo.toml``)."""
    return Path(str(resources.files("govpub").joinpath("data/newmedia-demo.toml")))


def demo_settings(base: Settings, workdir: Path) -> Settings:
    """``base`` with the bus, store and output redirected into ``workdir``; new media in
    dry run (nothing is ever posted by the demo), with the demo routes unless ``base``
    names a routing file."""
    return base.model_copy(
        update={
            "bus": f"sqlite:///{workdir / 'bus.db'}",
            "store": workdir / "state.db",
            "output_dir": workdir / "public",
            "channels": list(DEMO_CHANNELS),
            "newmedia_dry_run": True,
            "newmedia_routes": base.newmedia_routes or demo_routes(),
        }
    )


def run_demo(base: Settings, workdir: Path, *, keep: bool = False) -> DemoResult:
    """Emit the samples and run every demo channel until idle."""
    if workdir.exists() and not keep:
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    settings = demo_settings(base, workdir)
    with (
        Store(settings.store) as store,
        open_publisher(settings, store, source="demo") as publisher,
    ):
        accepted = publisher.publish_many(load_samples())
    results = run_channels(settings, settings.channels, until_idle=True)
    return DemoResult(settings, accepted, results)
