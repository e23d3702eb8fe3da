"""The webhook channel's settings section: ``GOVPUB_WEBHOOK_*``."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from govpub.settings import SettingsSection


class WebhookSettings(SettingsSection):
    """The endpoints' signing secrets."""

    model_config = SettingsConfigDict(env_prefix="GOVPUB_WEBHOOK_")

    secrets: dict[str, SecretStr] = Field(
        default={}, description='JSON object: {"<endpoint>": "<signing secret, e.g. whsec_…>"}'
    )
