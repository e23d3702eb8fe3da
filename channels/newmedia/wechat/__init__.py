"""The WeChat Official Account channel (微信公众号), one package: the channel
(:mod:`.channel`), its API client (:mod:`.api`), the PUBLISHJOBFINISH callback route
(:mod:`.callback`) and its settings section (:mod:`.settings`, ``GOVPUB_WECHAT_*``).
Its tables: ``wechat_publish_jobs``, ``wechat_tokens``."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from channels.newmedia.wechat.channel import WeChatChannel

__all__ = ["WeChatChannel"]


def __getattr__(name: str) -> Any:
    # The channel is imported on first use, not with the package: building the settings
    # (every command does) imports this package's settings section, and must not load
    # the channel's client libraries.
    if name == "WeChatChannel":
        from channels.newmedia.wechat.channel import WeChatChannel

        return WeChatChannel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
