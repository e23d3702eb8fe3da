"""RSS 2.0 and Atom feeds (feedgen): ``feeds/all``, ``feeds/<kind>``, ``feeds/dept/<code>``."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from channels.rss.channel import RssChannel

__all__ = ["RssChannel", "describe_outputs"]


def describe_outputs(output_dir: Path) -> list[str]:
    """Where the feeds are, for the demo's report."""
    feeds = output_dir / "feeds"
    return [
        f"feeds (RSS 2.0): {feeds / 'all.xml'}",
        f"feeds (Atom):    {feeds / 'all.atom'}",
        f"per kind:        {feeds}/<kind>.xml, per department: {feeds / 'dept'}/",
    ]


def __getattr__(name: str) -> Any:
    # The channel is imported on first use, not with the package: building the settings
    # (every command does) imports this package's settings section, and must not load
    # the channel's client libraries.
    if name == "RssChannel":
        from channels.rss.channel import RssChannel

        return RssChannel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
