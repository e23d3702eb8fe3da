"""Department codes and display names, kept as data (``govpub/data/departments.toml``)."""

import tomllib
from functools import cache
from importlib import resources

from govpub.errors import ConfigurationError


@cache
def department_names() -> dict[str, str]:
    """``{code: display name}`` of the departments shipped with govpub."""
    text = resources.files("govpub").joinpath("data/departments.toml").read_text("utf-8")
    try:
        table = tomllib.loads(text)["departments"]
    except (tomllib.TOMLDecodeError, KeyError) as exc:
        raise ConfigurationError(f"govpub/data/departments.toml: {exc}") from None
    return {str(code): str(name) for code, name in table.items()}


def department_name(code: str) -> str:
    """Display name of a department (its code if unknown)."""
    return department_names().get(code, code)
