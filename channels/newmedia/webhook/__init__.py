"""The signed-webhook channel, one package: the channel, its client and the signature
(:mod:`.channel`) and its settings section (:mod:`.settings`, ``GOVPUB_WEBHOOK_*``)."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from channels.newmedia.webhook.channel import WebhookChannel

__all__ = ["WebhookChannel"]


def __getattr__(name: str) -> Any:
    # The channel is imported on first use, not with the package: building the settings
    # (every command does) imports this package's settings section, and must not load
    # the channel's client libraries.
    if name == "WebhookChannel":
        from channels.newmedia.webhook.channel import WebhookChannel

        return WebhookChannel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
