"""Settings: one pydantic-settings class, built at each entry point and passed down.

Every value comes from a ``GOVPUB_`` environment variable (or a ``.env`` file in
the working directory); nothing else in govpub reads the environment.

:class:`Settings` holds what the core, the producers and the consumers need. A channel
declares its own section (a :class:`SettingsSection` with its own ``GOVPUB_<NAME>_``
prefix) in its package; ``channels.settings.AppSettings`` composes the core settings
and every section, and entry points build it with :func:`load_settings`. Code typed
against :class:`Settings` reaches a section with :func:`section`.
"""

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, overload
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from govpub.errors import ConfigurationError
from schemas.enums import Validity

DEFAULT_BUS = "sqlite:///.govpub/bus.db"
DEFAULT_STORE = ".govpub/state.db"
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


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
    store: str = Field(
        default=DEFAULT_STORE,
        description="the state store (delivery records, accepted versions, catalog, channel"
        " state): a SQLite file path (one host) or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        " (several hosts)",
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
    compliance_licence_deadline_days: Annotated[int, Field(ge=1, le=365)] = 7
    compliance_enforcement_deadline_days: Annotated[int, Field(ge=1, le=365)] = Field(
        default=7,
        description="working days to publish an enforcement decision (国办发〔2018〕118号 names"
        " licensing and penalties; applied to enforcement too, verify locally)",
    )
    compliance_disclosure_deadline_days: Annotated[int, Field(ge=1, le=365)] = 20
    compliance_withdrawal_deadline_days: Annotated[int, Field(ge=1, le=365)] = Field(
        default=3,
        description="working days after revoked_on within which a penalty decision's"
        " withdrawal is due (行政处罚法 Art. 48 and 85); a later one is flagged",
    )
    compliance_consultation_min_days: Annotated[int, Field(ge=1, le=365)] = Field(
        default=30,
        description="shortest consultation window in days, opens_on and closes_on included"
        " (重大行政决策程序暂行条例 Art. 15 and 规章制定程序条例 Art. 16: 一般不少于30日;"
        " verify for local normative documents); a shorter one is refused unless the"
        " consultation gives shortened_reason, then flagged",
    )
    consultation_result_days: Annotated[int, Field(ge=1, le=365)] = Field(
        default=20,
        description="working days after closes_on within which a consultation's result"
        " (意见征集结果) is expected; a later one is flagged in govpub status (no rule of its"
        " own was found: the general 20 working days of 政府信息公开条例 Art. 26, verify)",
    )
    library_review_days: Annotated[int, Field(ge=1, le=36_500)] = Field(
        default=730,
        description="days after which a 规章 or 行政规范性文件 whose validity was not reviewed"
        " (reviewed_on, else its latest version) is listed by govpub library (cleanup every"
        " two years is common practice for normative documents; verify the local rule)",
    )
    compliance_calendar_dir: Path | None = Field(
        default=None,
        description="extra holiday TOML files (one per year; they replace the shipped years)",
    )
    exposure_config: Path | None = Field(
        default=None,
        description="TOML file of the quarterly exposure release (default: the shipped one)",
    )
    penalty_display_config: Path | None = Field(
        default=None,
        description="TOML file of penalty display periods per domain and penalty type"
        " (default: the shipped producers/releases/data/penalty-display.toml)",
    )
    party_names_keep_days: Annotated[int, Field(ge=0, le=3650)] = Field(
        default=30,
        description="days the party register keeps the names of a penalty decision after its"
        " display period ended (producers/releases/retention.py)",
    )
    party_names_max_age_days: Annotated[int, Field(ge=1, le=36500)] = Field(
        default=1461,
        description="days the party register keeps any other names after they were recorded"
        " (default: the longest display period, 3 years, and one more year)",
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

    annual_report_issued_by: Literal["written_on", "published"] = Field(
        default="written_on",
        description="规章 and 行政规范性文件 issued in the year (本年制发): by 成文日期 (written_on)"
        " or by first publication",
    )
    annual_report_decisions_by: Literal["decided_on", "published"] = Field(
        default="decided_on",
        description="licensing, penalty and enforcement decisions of the year: by decision date"
        " or by first publication",
    )
    annual_report_repealed: Annotated[list[Validity], NoDecode] = Field(
        default=[Validity.REPEALED],
        description="validities counted as 废止 (comma-separated; 已失效 and 已修订 may be added)",
    )
    annual_report_withdrawn: Literal["exclude", "count"] = Field(
        default="exclude",
        description="a document withdrawn by 31 December: left out of the year's counts, or"
        " counted as issued or decided (never as in force)",
    )
    annual_report_fees_dir: Path | None = Field(
        default=None,
        description="directory of the finance office's fee statements, one <year>.toml each",
    )
    annual_report_formats_dir: Path | None = Field(
        default=None,
        description="extra annual report formats (TOML), beside and over the shipped ones",
    )
    annual_report_department: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")] = Field(
        default="zz-zfb",
        description="department that publishes the whole government's report (政府办公室)",
    )
    annual_report_government: Annotated[str, Field(min_length=1, max_length=100)] = "株洲市人民政府"

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

    @field_validator("store", mode="before")
    @classmethod
    def _known_store(cls, value: object) -> object:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, str):
            if _URL_SCHEME.match(value):
                if not value.startswith(("postgresql://", "postgres://")):
                    raise ValueError(
                        f"{value.split('://', 1)[0]}:// is not a store; use a SQLite file path"
                        " or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
                    )
                from govpub.store.postgresql import check_url

                return check_url(value)
            if not value.strip():
                raise ValueError("empty; use a SQLite file path or a postgresql:// URL")
        return value

    @field_validator(
        "channels", "compliance_publish_party_names", "annual_report_repealed", mode="before"
    )
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

    @field_validator("annual_report_repealed")
    @classmethod
    def _repealed_is_not_in_force(cls, value: list[Validity]) -> list[Validity]:
        if Validity.IN_FORCE in value:
            raise ValueError(f"{Validity.IN_FORCE.value} is not a repeal")
        if not value:
            raise ValueError(f"name at least {Validity.REPEALED.value}")
        return value

    @property
    def bus_kind(self) -> Literal["sqlite", "kafka"]:
        """Which transport the ``bus`` URL selects."""
        return "kafka" if self.bus.startswith("kafka://") else "sqlite"


class SettingsSection(BaseSettings):
    """A channel's settings section: subclasses set ``env_prefix`` (``GOVPUB_WECHAT_``)
    in their ``model_config``, so that each field keeps its variable's name."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )


SettingsT = TypeVar("SettingsT", bound=BaseSettings)
SectionT = TypeVar("SectionT", bound=SettingsSection)


def _section_fields(kind: type[BaseSettings]) -> dict[str, type[SettingsSection]]:
    return {
        name: field.annotation
        for name, field in kind.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, SettingsSection)
    }


def section(settings: Settings, kind: type[SectionT]) -> SectionT:
    """The section of type ``kind`` in ``settings`` (an ``AppSettings``)."""
    for name in _section_fields(type(settings)):
        value = getattr(settings, name)
        if isinstance(value, kind):
            return value
    raise ConfigurationError(
        f"settings: no {kind.__name__} section in {type(settings).__name__}; entry points build"
        " channels.settings.AppSettings, which has every channel's section"
    )


def with_section(settings: SettingsT, value: SettingsSection) -> SettingsT:
    """A copy of ``settings`` whose section of ``value``'s type is ``value``."""
    for name, kind in _section_fields(type(settings)).items():
        if isinstance(value, kind):
            return settings.model_copy(update={name: value})
    raise ConfigurationError(f"settings: no {type(value).__name__} section")


_FIELD_IN_ERROR = re.compile(r'field "(\w+)"')


def _build(kind: type[SettingsT], values: dict[str, Any]) -> SettingsT:
    """``kind(**values)``, its errors naming the environment variable of each field."""
    prefix = str(kind.model_config.get("env_prefix", "")).upper()
    try:
        return kind(**values)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            field = "_".join(str(p) for p in err["loc"])
            lines.append(f"{prefix}{field.upper()}: {err['msg']}")
        raise ConfigurationError("invalid settings:\n  " + "\n  ".join(lines)) from None
    except SettingsError as exc:
        named = _FIELD_IN_ERROR.search(str(exc))
        where = f"{prefix}{named.group(1).upper()}: " if named else ""
        raise ConfigurationError(f"invalid settings: {where}{exc}") from None


@overload
def load_settings(**overrides: Any) -> Settings: ...


@overload
def load_settings(kind: type[SettingsT], /, **overrides: Any) -> SettingsT: ...


def load_settings(kind: type[BaseSettings] = Settings, /, **overrides: Any) -> BaseSettings:
    """Build settings of ``kind`` (and each of its sections) from the environment, turning
    errors into one clear message that names the variable."""
    values = dict(overrides)
    for name, section_kind in _section_fields(kind).items():
        if name not in values:
            values[name] = _build(section_kind, {})
    return _build(kind, values)


def environment_of(settings: BaseSettings) -> dict[str, str]:
    """The ``GOVPUB_*`` variables that rebuild ``settings``: every value that differs from
    its default, sections included, written as the variable expects it. Secrets are never
    written (set them yourself).

    ``govpub demo`` writes them to a file, so that every later command sees the demo.
    """
    prefix = str(settings.model_config.get("env_prefix", "")).upper()
    sections = _section_fields(type(settings))
    variables: dict[str, str] = {}
    for name, field in type(settings).model_fields.items():
        value = getattr(settings, name)
        if name in sections:
            variables.update(environment_of(value))
            continue
        if value == field.get_default(call_default_factory=True) or _is_secret(value):
            continue
        variables[f"{prefix}{name.upper()}"] = _as_variable(value)
    return variables


def _is_secret(value: object) -> bool:
    if isinstance(value, SecretStr):
        return True
    return isinstance(value, dict) and any(isinstance(v, SecretStr) for v in value.values())


def _as_variable(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
