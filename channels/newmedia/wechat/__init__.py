"""The WeChat Official Account channel (微信公众号), one package: the channel
(:mod:`.channel`), its API client (:mod:`.api`), the PUBLISHJOBFINISH callback route
(:mod:`.callback`) and its settings section (:mod:`.settings`, ``GOVPUB_WECHAT_*``).
Its tables: ``wechat_publish_jobs``, ``wechat_tokens``."""

from channels.newmedia.wechat.channel import WeChatChannel

__all__ = ["WeChatChannel"]
