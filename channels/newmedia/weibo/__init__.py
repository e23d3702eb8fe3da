"""The Weibo channel, one package: the channel and its client (:mod:`.channel`) and its
settings section (:mod:`.settings`, ``GOVPUB_WEIBO_*``)."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from channels.newmedia.weibo.channel import WeiboChannel

__all__ = ["WeiboChannel"]


def __getattr__(name: str) -> Any:
    # The channel is imported on first use, not with the package: building the settings
    # (every command does) imports this package's settings section, and must not load
    # the channel's client libraries.
    if name == "WeiboChannel":
        from channels.newmedia.weibo.channel import WeiboChannel

        return WeiboChannel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
