"""The settings the new-media channels share: ``GOVPUB_NEWMEDIA_*``.

Accounts, endpoints and routes are in the routing file; each platform's secrets are in
its own section (``channels.newmedia.<platform>.settings``).
"""

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from govpub.settings import SettingsSection


class NewMediaSettings(SettingsSection):
    """The routing file, dry run and the platforms' timeout."""

    model_config = SettingsConfigDict(env_prefix="GOVPUB_NEWMEDIA_")

    routes: Path | None = Field(
        default=None,
        description="TOML or JSON file: new-media accounts, webhook endpoints, templates, routes",
    )
    dry_run: bool = Field(
        default=False,
        description="write the requests new-media channels would send to <output_dir>/outbox/",
    )
    timeout: Annotated[float, Field(gt=0, le=120)] = 10.0
