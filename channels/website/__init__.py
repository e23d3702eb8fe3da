"""The website: the portal's disclosure section as static HTML, JSON and sitemaps."""

from pathlib import Path

from channels.website.channel import WebsiteChannel

__all__ = ["WebsiteChannel", "describe_outputs"]


def describe_outputs(output_dir: Path) -> list[str]:
    """Where the site is, for the demo's report (which says how to serve it)."""
    return [f"website:         {output_dir / 'index.html'}"]
