"""The freshness check's settings section (``GOVPUB_FRESHNESS_*``).

Built once at each entry point (``govpub freshness``, the ``freshness_check`` DAG)
beside the core :class:`govpub.settings.Settings`, and passed down.
"""

import base64
import binascii
from pathlib import Path
from typing import Annotated, Self

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from govpub.errors import ConfigurationError

PREFIX = "GOVPUB_FRESHNESS_"


class FreshnessSettings(BaseSettings):
    """Where the rules are, where the operator page goes, the alert webhook, link checks."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

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
        description="signing secret of the alert webhook (whsec_<base64> or plain text)",
    )
    alert_timeout: Annotated[float, Field(gt=0, le=120)] = 10.0
    check_links: bool = Field(
        default=False,
        description="also request interpretation and replay links over HTTP (HEAD, then GET)",
    )
    link_timeout: Annotated[float, Field(gt=0, le=60)] = 5.0

    @model_validator(mode="after")
    def _alert_is_signed(self) -> Self:
        if self.alert_url is not None and self.alert_secret is None:
            raise ValueError(
                f"{PREFIX}ALERT_SECRET: required when {PREFIX}ALERT_URL is set"
                " (alerts are signed like every webhook)"
            )
        if self.alert_secret is not None:
            secret = self.alert_secret.get_secret_value()
            if not secret:
                raise ValueError(f"{PREFIX}ALERT_SECRET: must not be empty")
            if secret.startswith("whsec_"):
                try:
                    base64.b64decode(secret.removeprefix("whsec_"), validate=True)
                except binascii.Error:
                    raise ValueError(
                        f"{PREFIX}ALERT_SECRET: the part after whsec_ is not base64"
                    ) from None
        return self


def load_freshness_settings(**overrides: object) -> FreshnessSettings:
    """Build the section from the environment; errors name the variable."""
    try:
        return FreshnessSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False, include_input=False):
            field = ".".join(str(p) for p in err["loc"])
            message = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"{PREFIX}{field.upper()}: {message}" if field else message)
        raise ConfigurationError("invalid settings:\n  " + "\n  ".join(lines)) from None
    except SettingsError as exc:
        raise ConfigurationError(f"invalid settings: {exc}") from None
