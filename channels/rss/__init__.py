"""RSS 2.0 and Atom feeds (feedgen): ``feeds/all``, ``feeds/<kind>``, ``feeds/dept/<code>``."""

from channels.rss.channel import RssChannel

__all__ = ["RssChannel"]
