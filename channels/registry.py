"""The channel registry: an explicit dict from name to :class:`ChannelEntry`.

An entry says how to build the channel and what it contributes to the application
shell: the lines the demo prints about its output, how it runs in the demo, and the
inbound HTTP routes the shell mounts. Channel packages are imported inside these small
functions, so that listing or building one channel never imports another's
dependencies. A new channel adds one entry here (and its section to
:mod:`channels.settings` if it has settings).
"""

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from channels.base import ChannelContext
from consumers.channel import Channel
from govpub.errors import UnknownChannel
from govpub.settings import Settings

if TYPE_CHECKING:
    from fastapi import APIRouter

ChannelFactory = Callable[[ChannelContext], Channel]


@dataclass(frozen=True)
class ChannelEntry:
    """One registered channel."""

    build: ChannelFactory
    package: str
    """The package ``build`` imports: ``consume --processes`` imports it before forking."""
    in_demo: bool = False
    """Whether ``govpub demo`` runs it (only channels that need no credentials there)."""
    demo_settings: Callable[[Settings], Settings] | None = None
    """Adjusts the demo's settings so that the channel runs without credentials."""
    outputs: Callable[[Path], list[str]] | None = None
    """What the demo prints about the channel's output under the output directory."""
    routes: Callable[[Settings], "APIRouter | None"] | None = None
    """Inbound HTTP routes (a platform's callback), mounted by the shell's server."""


def _rss(context: ChannelContext) -> Channel:
    from channels.rss import RssChannel

    return RssChannel.from_context(context)


def _rss_outputs(output_dir: Path) -> list[str]:
    from channels.rss import describe_outputs

    return describe_outputs(output_dir)


def _website(context: ChannelContext) -> Channel:
    from channels.website import WebsiteChannel

    return WebsiteChannel.from_context(context)


def _website_outputs(output_dir: Path) -> list[str]:
    from channels.website import describe_outputs

    return describe_outputs(output_dir)


def _wechat(context: ChannelContext) -> Channel:
    from channels.newmedia.wechat.channel import WeChatChannel

    return WeChatChannel.from_context(context)


def _wechat_routes(settings: Settings) -> "APIRouter | None":
    from channels.newmedia.wechat.callback import callback_routes

    return callback_routes(settings)


def _weibo(context: ChannelContext) -> Channel:
    from channels.newmedia.weibo.channel import WeiboChannel

    return WeiboChannel.from_context(context)


def _webhook(context: ChannelContext) -> Channel:
    from channels.newmedia.webhook.channel import WebhookChannel

    return WebhookChannel.from_context(context)


def _newmedia_demo(settings: Settings) -> Settings:
    from channels.newmedia.demo import demo_settings

    return demo_settings(settings)


def _newmedia_outputs(output_dir: Path) -> list[str]:
    from channels.newmedia.demo import describe_outputs

    return describe_outputs(output_dir)


def _catalog(context: ChannelContext) -> Channel:
    from channels.catalog import CatalogChannel

    return CatalogChannel.from_context(context)


def registry() -> dict[str, ChannelEntry]:
    """Every known channel by name, in the order the demo lists them."""
    return {
        "rss": ChannelEntry(_rss, "channels.rss", in_demo=True, outputs=_rss_outputs),
        "website": ChannelEntry(
            _website, "channels.website", in_demo=True, outputs=_website_outputs
        ),
        "wechat": ChannelEntry(
            _wechat,
            "channels.newmedia.wechat.channel",
            in_demo=True,
            demo_settings=_newmedia_demo,
            outputs=_newmedia_outputs,
            routes=_wechat_routes,
        ),
        "weibo": ChannelEntry(
            _weibo,
            "channels.newmedia.weibo.channel",
            in_demo=True,
            demo_settings=_newmedia_demo,
            outputs=_newmedia_outputs,
        ),
        "webhook": ChannelEntry(
            _webhook,
            "channels.newmedia.webhook.channel",
            in_demo=True,
            demo_settings=_newmedia_demo,
            outputs=_newmedia_outputs,
        ),
        "catalog": ChannelEntry(_catalog, "channels.catalog"),
    }


def demo_channels() -> list[str]:
    """Channels that ``govpub demo`` runs: every one that needs no credentials (the
    new-media channels in dry run: their requests go to ``<output_dir>/outbox/``)."""
    return [name for name, entry in registry().items() if entry.in_demo]


def resolve(name: str) -> ChannelEntry:
    """The entry of channel ``name``; an unknown name suggests the closest ones."""
    known = registry()
    entry = known.get(name)
    if entry is None:
        close = difflib.get_close_matches(name, list(known), n=2)
        hint = f" — did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownChannel(f"unknown channel {name!r}{hint} (known: {', '.join(sorted(known))})")
    return entry


def create_channel(name: str, context: ChannelContext) -> Channel:
    """Build the channel called ``name``."""
    return resolve(name).build(context)
