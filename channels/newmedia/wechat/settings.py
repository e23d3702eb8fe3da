"""The wechat channel's settings section: ``GOVPUB_WECHAT_*``."""

import re

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from govpub.settings import SettingsSection

_TOKEN = re.compile(r"[A-Za-z0-9]{3,32}")


class WeChatSettings(SettingsSection):
    """AppSecrets of the Official Accounts, the API root, and the callback's server Token."""

    model_config = SettingsConfigDict(env_prefix="GOVPUB_WECHAT_")

    app_secrets: dict[str, SecretStr] = Field(
        default={}, description='JSON object: {"<account>": "<AppSecret>"}'
    )
    api_base: AnyHttpUrl = AnyHttpUrl("https://api.weixin.qq.com/")
    callback_token: SecretStr | None = Field(
        default=None,
        description="the server Token of the WeChat admin console (服务器配置); `govpub ingest`"
        " serves /v1/callbacks/wechat (PUBLISHJOBFINISH) only when it is set",
    )

    @field_validator("callback_token")
    @classmethod
    def _console_token(cls, value: SecretStr | None) -> SecretStr | None:
        # The console accepts 3-32 letters or digits; anything else was mistyped (and an
        # empty token would let anyone compute a valid signature). The value is not echoed.
        if value is not None and not _TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError("must be 3 to 32 ASCII letters or digits, as in the WeChat console")
        return value
