"""``govpub demo``: the whole pipeline on the embedded bus with sample events from the
Zhuzhou 2023 work points, in a directory of its own, and the 2023 annual report's
Table 2 counted from them (with the sample fee statement)."""

import json
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from channels.registry import demo_channels, resolve
from govpub.app.channels import ChannelResult, run_channels
from govpub.app.releases import plan_annual_report, sync_catalog
from govpub.settings import Settings
from govpub.store import Store
from producers import Accepted
from producers.factory import open_publisher
from producers.releases.annual_report import ReportPlan, publish_report

SAMPLE_YEAR = 2023
"""The year of the sample events: the demo publishes that year's annual report table."""


def sample_fees() -> Path:
    """The sample fee statement of :data:`SAMPLE_YEAR` (``govpub/samples/fees-2023.toml``)."""
    source = resources.files("govpub").joinpath(f"samples/fees-{SAMPLE_YEAR}.toml")
    return Path(str(source))


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
    report: ReportPlan

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
        page = self.output_dir.resolve() / "report" / f"{self.report.document_id}.html"
        lines[f"annual report:   {page} (govpub annual-report {SAMPLE_YEAR})"] = None
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
    """Emit the samples, count and publish their year's annual report table, and run
    every demo channel until idle."""
    if workdir.exists() and not keep:
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    settings = demo_settings(base, workdir)
    with (
        Store(settings.store) as store,
        open_publisher(settings, store, source="demo") as publisher,
    ):
        accepted = publisher.publish_many(load_samples())
    sync_catalog(settings)
    report = plan_annual_report(settings, SAMPLE_YEAR, fees=sample_fees())
    if report.changed:
        publish_report(settings, report)
    results = run_channels(settings, settings.channels, until_idle=True)
    return DemoResult(settings, accepted, results, report)
