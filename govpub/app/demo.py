"""``govpub demo``: the whole pipeline on the embedded bus with sample events from the
Zhuzhou 2023 work points, in a directory of its own."""

import json
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from channels.registry import demo_channels, resolve
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

    def outputs(self) -> list[str]:
        """What each channel that ran says about where its output is."""
        lines: dict[str, None] = {}  # the new-media channels share one line
        for name in self.settings.channels:
            describe = resolve(name).outputs
            if describe is not None:
                lines.update(dict.fromkeys(describe(self.output_dir.resolve())))
        return list(lines)


def demo_settings(base: Settings, workdir: Path) -> Settings:
    """``base`` with the bus, store and output redirected into ``workdir``, running every
    channel of the demo, each adjusted by its registry entry (the new media in dry run:
    nothing is ever posted by the demo)."""
    settings = base.model_copy(
        update={
            "bus": f"sqlite:///{workdir / 'bus.db'}",
            "store": workdir / "state.db",
            "output_dir": workdir / "public",
            "channels": demo_channels(),
        }
    )
    for name in settings.channels:
        adjust = resolve(name).demo_settings
        if adjust is not None:
            settings = adjust(settings)
    return settings


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
