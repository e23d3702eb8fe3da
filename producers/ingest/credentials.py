"""Department credentials of the ingest API, from a TOML file (``GOVPUB_INGEST_CREDENTIALS``).

::

    [departments.zz-yjj]                 # department code, as in events
    kinds = ["penalty", "exposure"]      # kinds it may publish (retractions included; not report)

    [[departments.zz-yjj.keys]]
    id = "zz-yjj-2026a"                  # sent as X-Govpub-Key
    secret = "…at least 32 characters…"  # shared with the department, never logged
    # active = false                     # revoked: requests signed with it are refused

At most two keys per department are active at once, so a department can roll
its key over without downtime (add the new key, switch the sender, deactivate
the old one). Key ids are unique across the file. A wrong file stops
``govpub ingest`` with the file, the field and the reason.
"""

import logging
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from govpub.errors import ConfigurationError
from schemas import Kind
from schemas.types import DepartmentCode

log = logging.getLogger(__name__)

MAX_ACTIVE_KEYS = 2
"""Active keys a department may have at once: the current one and its successor."""

MIN_SECRET_CHARS, MAX_SECRET_CHARS = 32, 512
"""Length of a key's secret, in characters."""


def _secret_length(secret: SecretStr) -> SecretStr:
    # pydantic's own length message counts "items"; a department reads characters. The
    # secret itself is never echoed.
    length = len(secret.get_secret_value())
    if not MIN_SECRET_CHARS <= length <= MAX_SECRET_CHARS:
        raise ValueError(
            f"must be {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters long, not {length}"
        )
    return secret


class _Key(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{3,64}$")]
    secret: Annotated[SecretStr, AfterValidator(_secret_length)]
    active: bool = True


class _Department(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kinds: Annotated[list[Kind], Field(min_length=1)]
    keys: Annotated[list[_Key], Field(min_length=1)]

    @field_validator("kinds")
    @classmethod
    def _sent_by_departments(cls, kinds: list[Kind]) -> list[Kind]:
        # The annual report's table is counted by `govpub annual-report` from the log; a
        # department that could send one could publish a table nobody counted.
        if Kind.REPORT in kinds:
            raise ValueError(
                "report is computed by govpub annual-report, never sent by a department"
            )
        return kinds

    @model_validator(mode="after")
    def _rotation(self) -> Self:
        active = [key.id for key in self.keys if key.active]
        if len(active) > MAX_ACTIVE_KEYS:
            raise ValueError(
                f"at most {MAX_ACTIVE_KEYS} keys may be active at once (for rotation); "
                f"active: {', '.join(active)}"
            )
        return self


class _File(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    departments: Annotated[dict[DepartmentCode, _Department], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        seen: dict[str, str] = {}
        for code, department in self.departments.items():
            for key in department.keys:
                if key.id in seen:
                    raise ValueError(
                        f"key id {key.id!r} is used by {seen[key.id]} and {code}; key ids are unique"
                    )
                seen[key.id] = code
        return self


@dataclass(frozen=True)
class Principal:
    """Who signed a request: the department of the key, the key, and what it may publish."""

    department: str
    key_id: str
    kinds: frozenset[Kind]


@dataclass(frozen=True)
class Key:
    """One credential: the principal it authenticates, its secret, and whether it is active."""

    principal: Principal
    secret: str
    active: bool


class Credentials:
    """Keys by id; built from the credentials file."""

    def __init__(self, keys: dict[str, Key]) -> None:
        self._keys = dict(keys)

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read and check ``path``; raises :class:`ConfigurationError` naming file and field."""
        try:
            text = path.read_text("utf-8")
            mode = path.stat().st_mode
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"GOVPUB_INGEST_CREDENTIALS: cannot read {path}: {exc}"
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s is readable by other users: chmod 600 it (it holds secrets)", path)
        return cls.parse(text, name=str(path))

    @classmethod
    def parse(cls, text: str, *, name: str = "credentials") -> Self:
        """Build from TOML text; ``name`` is used in error messages."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{name}: not valid TOML: {exc}") from None
        try:
            spec = _File.model_validate(data)
        except ValidationError as exc:
            problems = []
            for err in exc.errors(include_url=False):
                path = ""
                for part in err["loc"]:
                    if isinstance(part, int):
                        path += f"[{part}]"
                    elif part == "[key]":
                        path += " (the department code)"
                    else:
                        path += f".{part}" if path else str(part)
                message = str(err["msg"]).removeprefix("Value error, ")
                problems.append(f"{name}: {path or '(file)'}: {message}")
            raise ConfigurationError("\n".join(problems)) from None
        keys: dict[str, Key] = {}
        for code, department in spec.departments.items():
            kinds = frozenset(department.kinds)
            for key in department.keys:
                keys[key.id] = Key(
                    Principal(code, key.id, kinds), key.secret.get_secret_value(), key.active
                )
        return cls(keys)

    def key(self, key_id: str) -> Key | None:
        """The key called ``key_id`` (active or not), or ``None``."""
        return self._keys.get(key_id)

    @property
    def departments(self) -> set[str]:
        """Every department with a key."""
        return {key.principal.department for key in self._keys.values()}
