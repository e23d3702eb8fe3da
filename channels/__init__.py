"""Channels: where events are published (feeds, website, new media), one package each.

Each package owns its part — its settings section, its tables, its data files, its
inbound routes — and registers itself in :mod:`channels.registry`. What a channel is
built from is :mod:`channels.base`; its contract with the runner is
:mod:`consumers.channel`. Importing this package does no work.
"""
