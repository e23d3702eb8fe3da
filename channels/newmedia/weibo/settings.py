"""The weibo channel's settings section: ``GOVPUB_WEIBO_*``."""

from pydantic import AnyHttpUrl, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from govpub.settings import SettingsSection


class WeiboSettings(SettingsSection):
    """The accounts' OAuth2 access tokens and the API root."""

    model_config = SettingsConfigDict(env_prefix="GOVPUB_WEIBO_")

    access_tokens: dict[str, SecretStr] = Field(
        default={}, description='JSON object: {"<account>": "<OAuth2 access_token>"}'
    )
    api_base: AnyHttpUrl = AnyHttpUrl("https://api.weibo.com/")
