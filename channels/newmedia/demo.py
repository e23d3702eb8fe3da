"""How the new-media channels take part in ``govpub demo``: in dry run (nothing is ever
posted; the requests go to ``<output_dir>/outbox/<channel>/``), with the shipped demo
accounts unless the settings name a routing file."""

from importlib import resources
from pathlib import Path

from channels.newmedia.settings import NewMediaSettings
from govpub.settings import Settings, section, with_section


def demo_routes() -> Path:
    """The routing file of the demo's accounts (``channels/newmedia/data/newmedia-demo.toml``)."""
    return Path(str(resources.files("channels.newmedia").joinpath("data/newmedia-demo.toml")))


def demo_settings(settings: Settings) -> Settings:
    """``settings`` with the new media in dry run, on the demo routes unless it names some."""
    newmedia = section(settings, NewMediaSettings)
    return with_section(
        settings,
        newmedia.model_copy(update={"dry_run": True, "routes": newmedia.routes or demo_routes()}),
    )


def describe_outputs(output_dir: Path) -> list[str]:
    """Where the dry run wrote the requests, for the demo's report."""
    return [f"new media (dry run, requests not sent): {output_dir / 'outbox'}/<channel>/"]
