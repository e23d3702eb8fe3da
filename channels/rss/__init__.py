"""RSS 2.0 and Atom feeds (feedgen): ``feeds/all``, ``feeds/<kind>``, ``feeds/dept/<code>``."""

from pathlib import Path

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
