"""``govpub demo``: the whole pipeline on the embedded bus with sample events from the
Zhuzhou 2023 work points, in a directory of its own, and the 2023 annual report's
Table 2 counted from them (with the sample fee statement).

The samples are published as they were in 2023: each on the day it was written, so the
compliance gate measures deadlines against that day (not against today, when every 2023
decision would be years late). The demo leaves ``demo.env`` in its directory: sourced,
every later ``govpub`` command works on what the demo made.
"""

import json
import logging
import shlex
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from channels.registry import demo_channels, resolve
from govpub.app.channels import ChannelResult, run_channels
from govpub.app.releases import plan_annual_report, sync_catalog
from govpub.compliance.audit import Submitter
from govpub.compliance.rules import Decision
from govpub.settings import Settings, environment_of
from govpub.store import Store
from producers import Accepted
from producers.compliance import ComplianceGate, Verdict
from producers.compliance import gate as gate_module
from producers.factory import open_publisher
from producers.releases.annual_report import ReportPlan, publish_report

SAMPLE_YEAR = 2023
"""The year of the sample events: the demo publishes that year's annual report table."""


def sample_fees() -> Path:
    """The sample fee statement of :data:`SAMPLE_YEAR` (``govpub/samples/fees-2023.toml``)."""
    source = resources.files("govpub").joinpath(f"samples/fees-{SAMPLE_YEAR}.toml")
    return Path(str(source))


ENV_FILE = "demo.env"
"""The file in the demo's directory that points later commands at the demo's data."""


def load_samples() -> list[dict[str, Any]]:
    """The sample events shipped with govpub (``govpub/samples/zhuzhou-2023.jsonl``)."""
    text = resources.files("govpub").joinpath("samples/zhuzhou-2023.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class Flag:
    """A deadline the compliance gate flagged on a sample (accepted, and recorded)."""

    document_id: str
    rule: str
    detail: str


@dataclass
class DemoResult:
    """What the demo produced."""

    settings: Settings
    accepted: list[Accepted]
    channels: list[ChannelResult]
    report: ReportPlan
    flags: list[Flag] = field(default_factory=list)
    env_file: Path | None = None

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
            "store": str(workdir / "state.db"),
            "output_dir": workdir / "public",
            "channels": demo_channels(),
            # The sample fee statement is copied here (run_demo), so that demo.env lets
            # `govpub annual-report 2023` count the demo's year again.
            "annual_report_fees_dir": workdir / "fees",
        }
    )
    for name in settings.channels:
        adjust = resolve(name).demo_settings
        if adjust is not None:
            settings = adjust(settings)
    return settings


class _PublicationDay:
    """The gate's clock during the demo: the day the sample being published was written."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def _flags_reported_by_the_demo() -> Iterator[None]:
    # The gate logs each flag as a warning; the demo lists them itself, in plain words.
    level = gate_module.log.level
    gate_module.log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        gate_module.log.setLevel(level)


def run_demo(base: Settings, workdir: Path, *, keep: bool = False) -> DemoResult:
    """Emit the samples, each on the day it was written, count and publish their year's
    annual report table, and run every demo channel until idle; write ``demo.env`` for
    the commands that follow."""
    workdir = workdir.resolve()
    if workdir.exists() and not keep:
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    settings = demo_settings(base, workdir)
    day = _PublicationDay()
    verdicts: list[Verdict] = []
    accepted: list[Accepted] = []
    with (
        Store(settings.store) as store,
        open_publisher(settings, store, source="demo", clock=day) as publisher,
        _flags_reported_by_the_demo(),
    ):
        assert isinstance(publisher.gate, ComplianceGate)
        gate = publisher.gate.bind(Submitter("demo"), on_verdict=verdicts.append)
        for sample in load_samples():
            day.now = datetime.fromisoformat(sample["occurred_at"])
            accepted += publisher.publish_many([sample], gate=gate)
    assert settings.annual_report_fees_dir is not None
    settings.annual_report_fees_dir.mkdir(exist_ok=True)
    shutil.copyfile(sample_fees(), settings.annual_report_fees_dir / f"{SAMPLE_YEAR}.toml")
    sync_catalog(settings)
    report = plan_annual_report(settings, SAMPLE_YEAR)
    if report.changed:
        publish_report(settings, report)
    results = run_channels(settings, settings.channels, until_idle=True)
    env_file = workdir / ENV_FILE
    env_file.write_text(
        f"# govpub demo: source this file (. {env_file}) to work on the demo's data\n"
        + "".join(
            f"export {name}={shlex.quote(value)}\n"
            for name, value in sorted(environment_of(settings).items())
        ),
        "utf-8",
    )
    flags = [
        Flag(v.event.document_id, f.rule, f.detail)
        for v in verdicts
        for f in v.findings
        if f.decision is Decision.FLAGGED
    ]
    return DemoResult(settings, accepted, results, report, flags, env_file)
