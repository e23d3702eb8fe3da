"""Release configuration kept as data: TOML files validated by pydantic models.

Every error names the file and the field (``campaigns/2023-river.toml:
phases.day.title: Field required``), so whoever edits the calendar can fix it
without reading code.
"""

import tomllib
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from govpub.errors import ConfigurationError

ModelT = TypeVar("ModelT", bound=BaseModel)


def shipped(relative: str) -> Traversable:
    """A data file or folder shipped with the releases (``producers/releases/data/...``)."""
    return resources.files("producers.releases").joinpath("data", *relative.split("/"))


def read_toml(source: Path | Traversable, label: str) -> dict[str, Any]:
    """Parse one TOML file; a missing file or a syntax error names ``label``."""
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{label}: cannot read: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{label}: not valid TOML: {exc}") from None


def validate(model: type[ModelT], data: dict[str, Any], label: str) -> ModelT:
    """Validate ``data`` as ``model``; every bad field is reported as ``label: path: reason``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            path = ".".join(str(part) for part in error["loc"]) or "(file)"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{label}: {path}: {message}")
        raise ConfigurationError("\n".join(problems)) from None


def load_model(model: type[ModelT], source: Path | Traversable, label: str) -> ModelT:
    """Read and validate one TOML file."""
    return validate(model, read_toml(source, label), label)
