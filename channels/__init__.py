"""Channels: where events are published (feeds, website, new media).

See :mod:`channels.base` for the protocol and :mod:`channels.registry` for the names.
"""

from channels.base import Channel, ChannelBase, ChannelContext, Outcome
from channels.registry import create_channel, registry
from govpub.deliveries import DeliveryState

__all__ = [
    "Channel",
    "ChannelBase",
    "ChannelContext",
    "DeliveryState",
    "Outcome",
    "create_channel",
    "registry",
]
