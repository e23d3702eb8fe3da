"""The freshness check's settings section (``GOVPUB_FRESHNESS_*``).

Built once at each entry point (``govpub freshness``, the ``freshness_check`` DAG) with
:func:`load_freshness_settings`, beside the application settings, and passed down. It is
the shell's own section, so ``channels.settings.AppSettings`` does not compose it.
"""

import base64
import binascii
from pathlib import Path
from typing import Annotated

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from govpub.settings import SettingsSection, load_settings

PREFIX = "GOVPUB_FRESHNESS_"


class FreshnessSettings(SettingsSection):
    """Where the rules are, where the operator page goes, the alert webhook, link checks."""

    model_config = SettingsConfigDict(env_prefix=PREFIX)

    rules: Path | None = Field(
        default=None,
        description="TOML file of freshness rules, replacing the shipped one as a whole",
    )
    page_dir: Path | None = Field(
        default=None,
        description="directory the daily check renders the operator page into (index.html,"
        " freshness.json); never inside GOVPUB_OUTPUT_DIR, which is public",
    )
    alert_url: AnyHttpUrl | None = Field(
        default=None,
        description="webhook the daily check posts its report to when something is overdue"
        " or due soon (signed the Standard Webhooks way)",
    )
    alert_secret: SecretStr | None = Field(
        default=None,
        validate_default=True,
        description="signing secret of the alert webhook (whsec_<base64> or plain text)",
    )
    alert_timeout: Annotated[float, Field(gt=0, le=120)] = 10.0
    check_links: bool = Field(
        default=False,
        description="also request interpretation and replay links over HTTP (HEAD, then GET)",
    )
    link_timeout: Annotated[float, Field(gt=0, le=60)] = 5.0

    @field_validator("alert_secret")
    @classmethod
    def _alert_is_signed(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:
            if info.data.get("alert_url") is not None:
                raise ValueError(
                    f"required when {PREFIX}ALERT_URL is set (alerts are signed like every webhook)"
                )
            return value
        secret = value.get_secret_value()
        if not secret:
            raise ValueError("must not be empty")
        if secret.startswith("whsec_"):
            try:
                base64.b64decode(secret.removeprefix("whsec_"), validate=True)
            except binascii.Error:
                raise ValueError("the part after whsec_ is not base64") from None
        return value


def load_freshness_settings(**overrides: object) -> FreshnessSettings:
    """Build the section from the environment; errors name the variable."""
    return load_settings(FreshnessSettings, **overrides)
