"""The website: the portal's disclosure section as static HTML, JSON and sitemaps.

``WebsiteChannel`` is imported on first use, not with the package: what needs only the
website's tables (bringing the store up to date, as every consumer does first) does not
load the renderer and its templates.
"""

from pathlib import Path
from typing import TYPE_CHECKING

from schemas.lazy import lazy_names

if TYPE_CHECKING:
    from channels.website.channel import WebsiteChannel

__all__ = ["WebsiteChannel", "describe_outputs"]

__getattr__ = lazy_names(__name__, {"WebsiteChannel": "channels.website.channel"})


def describe_outputs(output_dir: Path) -> list[str]:
    """Where the site is, for the demo's report (which says how to serve it)."""
    return [f"website:         {output_dir / 'index.html'}"]
