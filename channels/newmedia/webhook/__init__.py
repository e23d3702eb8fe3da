"""The signed-webhook channel, one package: the channel, its client and the signature
(:mod:`.channel`) and its settings section (:mod:`.settings`, ``GOVPUB_WEBHOOK_*``)."""

from channels.newmedia.webhook.channel import WebhookChannel

__all__ = ["WebhookChannel"]
