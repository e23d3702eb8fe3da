"""The rss channel's settings section: ``GOVPUB_FEED_ITEMS``, ``GOVPUB_GUID_PREFIX``,
``GOVPUB_FEED_BACKLOG_INTERVAL``."""

from typing import Annotated

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from govpub.settings import SettingsSection


class RssSettings(SettingsSection):
    """How long the feeds are, how their items are identified, and how often a feed is
    written while a backlog is delivered."""

    model_config = SettingsConfigDict(env_prefix="GOVPUB_")

    feed_items: Annotated[int, Field(ge=1, le=1000)] = 50
    guid_prefix: Annotated[str, Field(pattern=r"^(urn|tag):[A-Za-z0-9.,:_-]{1,200}$")] = Field(
        default="urn:govpub:zhuzhou",
        description="prefix of feed item ids; never change it once feeds are public",
    )
    feed_backlog_interval: Annotated[float, Field(ge=0, le=60)] = Field(
        default=1.0,
        description=(
            "while a backlog is delivered, write each feed at most once in this many"
            " seconds (per group); 0 writes the feeds with every batch"
        ),
    )
