"""Settings: one pydantic-settings class, built at each entry point and passed down.

Every value comes from a ``GOVPUB_`` environment variable (or a ``.env`` file in
the working directory); nothing else in govpub reads the environment.
"""

import json
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import pydantic
from pydantic import AnyHttpUrl, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from govpub.errors import ConfigurationError

DEFAULT_BUS = "sqlite:///.govpub/bus.db"
DEFAULT_STORE = ".govpub/state.db"
_WECHAT_TOKEN = re.compile(r"[A-Za-z0-9]{3,32}")


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:///PATH`` URL (``sqlite:////abs/path`` for an absolute path)."""
    if not url.startswith("sqlite:///"):
        raise ConfigurationError(f"bus: {url!r} is not a sqlite:///PATH URL")
    path = url.removeprefix("sqlite:///")
    if not path:
        raise ConfigurationError("bus: sqlite:/// needs a file path, e.g. sqlite:///.govpub/bus.db")
    return Path(path)


def kafka_servers(url: str) -> list[str]:
    """The bootstrap servers of a ``kafka://HOST:PORT[,HOST:PORT]`` URL."""
    if not url.startswith("kafka://"):
        raise ConfigurationError(f"bus: {url!r} is not a kafka://HOST:PORT URL")
    servers = [s.strip() for s in url.removeprefix("kafka://").split(",") if s.strip()]
    if not servers:
        raise ConfigurationError("bus: kafka:// needs at least one HOST:PORT")
    for server in servers:
        parsed = urlsplit("//" + server)
        try:
            port = parsed.port
        except ValueError:
            port = None
        if not parsed.hostname or port is None:
            raise ConfigurationError(f"bus: {server!r} is not HOST:PORT")
    return servers


class Settings(BaseSettings):
    """All govpub settings; environment variables use the ``GOVPUB_`` prefix."""

    model_config = SettingsConfigDict(
        env_prefix="GOVPUB_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    bus: str = Field(
        default=DEFAULT_BUS,
        description="sqlite:///PATH (embedded log, the default) or kafka://HOST:PORT[,HOST:PORT]",
    )
    store: Path = Field(
        default=Path(DEFAULT_STORE),
        description="SQLite file for delivery records, accepted versions and channel state",
    )
    output_dir: Path = Field(
        default=Path("public"), description="where channels write the site and feeds"
    )
    topic_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")] = "govpub"
    partitions: Annotated[int, Field(ge=1, le=1000)] = 3
    replication_factor: Annotated[int, Field(ge=1, le=10)] = 1
    client_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")] = "govpub"

    site_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("http://127.0.0.1:8000/"),
        description="public base URL of the output tree; links in feeds and posts point here",
    )
    site_title: Annotated[str, Field(min_length=1, max_length=100)] = "株洲市人民政府 政府信息公开"
    feed_items: Annotated[int, Field(ge=1, le=1000)] = 50
    guid_prefix: Annotated[str, Field(pattern=r"^(urn|tag):[A-Za-z0-9.,:_-]{1,200}$")] = Field(
        default="urn:govpub:zhuzhou",
        description="prefix of feed item ids; never change it once feeds are public",
    )

    # NoDecode: the environment value reaches _comma_list as text instead of being
    # parsed as JSON first (which refused GOVPUB_CHANNELS=rss,website).
    channels: Annotated[list[str], NoDecode] = Field(
        default=["rss", "website"],
        description="channels that `govpub consume` runs when none is named",
    )
    retry_max_attempts: Annotated[int, Field(ge=1, le=100)] = 5
    retry_min_backoff: Annotated[float, Field(gt=0, le=3600)] = 0.5
    retry_max_backoff: Annotated[float, Field(gt=0, le=3600)] = 30.0
    poll_timeout: Annotated[float, Field(gt=0, le=60)] = 0.5
    max_batch: Annotated[int, Field(ge=1, le=10_000)] = 500
    session_timeout: Annotated[float, Field(ge=1, le=300)] = 10.0
    writer_lease: Annotated[float, Field(ge=1, le=3600)] = Field(
        default=15.0,
        description="seconds a single-writer channel (the website) holds its lease without"
        " renewing it; a standby process takes over after that",
    )
    render_processes: Annotated[int, Field(ge=0, le=64)] = Field(
        default=0,
        description="processes that render a large website flush (a replay, a catch-up);"
        " 0: the cores this process may run on, 1: render in the channel's process only",
    )

    # New media (channels/newmedia): accounts and routes in a file, secrets only here.
    newmedia_routes: Path | None = Field(
        default=None,
        description="TOML or JSON file: new-media accounts, webhook endpoints, templates, routes",
    )
    newmedia_dry_run: bool = Field(
        default=False,
        description="write the requests new-media channels would send to <output_dir>/outbox/",
    )
    wechat_app_secrets: dict[str, pydantic.SecretStr] = Field(
        default={}, description='JSON object: {"<account>": "<AppSecret>"}'
    )
    weibo_access_tokens: dict[str, pydantic.SecretStr] = Field(
        default={}, description='JSON object: {"<account>": "<OAuth2 access_token>"}'
    )
    webhook_secrets: dict[str, pydantic.SecretStr] = Field(
        default={}, description='JSON object: {"<endpoint>": "<signing secret, e.g. whsec_…>"}'
    )
    wechat_api_base: AnyHttpUrl = AnyHttpUrl("https://api.weixin.qq.com/")
    weibo_api_base: AnyHttpUrl = AnyHttpUrl("https://api.weibo.com/")
    newmedia_timeout: Annotated[float, Field(gt=0, le=120)] = 10.0
    wechat_callback_token: pydantic.SecretStr | None = Field(
        default=None,
        description="the server Token of the WeChat admin console (服务器配置); `govpub ingest`"
        " serves /v1/callbacks/wechat (PUBLISHJOBFINISH) only when it is set",
    )
    ingest_credentials: Path | None = Field(
        default=None,
        description="TOML file of department credentials for `govpub ingest` (required by it)",
    )
    ingest_host: str = Field(default="127.0.0.1", description="address `govpub ingest` binds")
    ingest_port: Annotated[int, Field(ge=1, le=65535)] = 8400
    ingest_max_body_bytes: Annotated[int, Field(ge=1024, le=1_048_576)] = Field(
        default=1_048_576, description="largest request body the ingest API reads (413 above)"
    )
    ingest_max_batch: Annotated[int, Field(ge=1, le=1000)] = 100
    ingest_clock_skew: Annotated[int, Field(ge=1, le=3600)] = Field(
        default=300, description="seconds a signed request's timestamp may differ from now"
    )
    ingest_ack_timeout: Annotated[float, Field(gt=0, le=120)] = 10.0
    ingest_retry_after: Annotated[int, Field(ge=1, le=3600)] = 5
    compliance_publish_party_names: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="departments whose penalised natural persons are named in full "
        "(default: anonymised everywhere)",
    )
    compliance_penalty_deadline_days: Annotated[int, Field(ge=1, le=365)] = 7
    compliance_disclosure_deadline_days: Annotated[int, Field(ge=1, le=365)] = 20
    compliance_calendar_dir: Path | None = Field(
        default=None,
        description="extra holiday TOML files (one per year; they replace the shipped years)",
    )
    exposure_config: Path | None = Field(
        default=None,
        description="TOML file of the quarterly exposure release (default: the shipped one)",
    )
    campaigns_dir: Path | None = Field(
        default=None,
        description="directory of theme-day campaign TOML files (default: the shipped calendar)",
    )
    catalog_sync_timeout: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=120.0,
        description="seconds a release waits for the document catalog to catch up with the bus",
    )
    allow_auto_approve: bool = Field(
        default=False,
        description="honour the exposure release's auto_approve param (development and tests"
        " only); off, a run that asks for it fails and nothing is published without approval",
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("bus")
    @classmethod
    def _known_bus(cls, value: str) -> str:
        if value.startswith("sqlite:///"):
            sqlite_path(value)
        elif value.startswith("kafka://"):
            kafka_servers(value)
        else:
            raise ValueError("must be sqlite:///PATH or kafka://HOST:PORT[,HOST:PORT]")
        return value

    @field_validator("wechat_callback_token")
    @classmethod
    def _wechat_token(cls, value: pydantic.SecretStr | None) -> pydantic.SecretStr | None:
        # The console accepts 3-32 letters or digits; anything else was mistyped (and an
        # empty token would let anyone compute a valid signature). The value is not echoed.
        if value is not None and not _WECHAT_TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError("must be 3 to 32 ASCII letters or digits, as in the WeChat console")
        return value

    @field_validator("channels", "compliance_publish_party_names", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        # GOVPUB_CHANNELS=rss,website reads naturally; JSON lists work too.
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                try:
                    return json.loads(value)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"not a JSON list: {exc.msg}") from None
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def bus_kind(self) -> Literal["sqlite", "kafka"]:
        """Which transport the ``bus`` URL selects."""
        return "kafka" if self.bus.startswith("kafka://") else "sqlite"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, turning errors into one clear message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            field = ".".join(str(p) for p in err["loc"])
            lines.append(f"GOVPUB_{field.upper()}: {err['msg']}")
        raise ConfigurationError("invalid settings:\n  " + "\n  ".join(lines)) from None
    except SettingsError as exc:
        raise ConfigurationError(f"invalid settings: {exc}") from None
