"""The catalog channel, one package: the channel (:mod:`.channel`), which publishes
nothing and keeps the latest state of every document, and that state
(:mod:`.state`, the ``catalog_documents`` table), which the scheduled releases read."""

from channels.catalog.channel import CatalogChannel

__all__ = ["CatalogChannel"]
