"""The website: the portal's disclosure section as static HTML, JSON and sitemaps."""

from channels.website.channel import WebsiteChannel

__all__ = ["WebsiteChannel"]
