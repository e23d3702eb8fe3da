"""The Weibo channel, one package: the channel and its client (:mod:`.channel`) and its
settings section (:mod:`.settings`, ``GOVPUB_WEIBO_*``)."""

from channels.newmedia.weibo.channel import WeiboChannel

__all__ = ["WeiboChannel"]
