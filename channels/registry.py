"""The channel registry: an explicit dict from name to factory.

Channel modules are imported inside the factories so that listing or building
one channel never imports another's dependencies.
"""

import difflib
from collections.abc import Callable

from channels.base import ChannelContext
from consumers.channel import Channel
from govpub.errors import UnknownChannel

ChannelFactory = Callable[[ChannelContext], Channel]


def _rss(context: ChannelContext) -> Channel:
    from channels.rss import RssChannel

    return RssChannel.from_context(context)


def _website(context: ChannelContext) -> Channel:
    from channels.website import WebsiteChannel

    return WebsiteChannel.from_context(context)


def _wechat(context: ChannelContext) -> Channel:
    from channels.newmedia.wechat import WeChatChannel

    return WeChatChannel.from_context(context)


def _weibo(context: ChannelContext) -> Channel:
    from channels.newmedia.weibo import WeiboChannel

    return WeiboChannel.from_context(context)


def _webhook(context: ChannelContext) -> Channel:
    from channels.newmedia.webhook import WebhookChannel

    return WebhookChannel.from_context(context)


def _catalog(context: ChannelContext) -> Channel:
    from channels.catalog import CatalogChannel

    return CatalogChannel.from_context(context)


def registry() -> dict[str, ChannelFactory]:
    """Every known channel by name."""
    return {
        "rss": _rss,
        "website": _website,
        "wechat": _wechat,
        "weibo": _weibo,
        "webhook": _webhook,
        "catalog": _catalog,
    }


DEMO_CHANNELS = ("rss", "website", "wechat", "weibo", "webhook")
"""Channels that ``govpub demo`` runs: every one that needs no credentials (the new-media
channels in dry run: their requests go to ``<output_dir>/outbox/``)."""


def resolve(name: str) -> ChannelFactory:
    """The factory of channel ``name``; an unknown name suggests the closest ones."""
    known = registry()
    factory = known.get(name)
    if factory is None:
        close = difflib.get_close_matches(name, list(known), n=2)
        hint = f" — did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownChannel(f"unknown channel {name!r}{hint} (known: {', '.join(sorted(known))})")
    return factory


def create_channel(name: str, context: ChannelContext) -> Channel:
    """Build the channel called ``name``."""
    return resolve(name)(context)
