"""Names a package imports on first use (PEP 562), so that importing the package loads
only what its caller uses: building the settings, or bringing the store up to date,
must not load every event model, the runner or the publisher.

It lives in ``schemas``, the layer every other package may import.
"""

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_names(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each name of ``homes`` is imported from
    the module ``homes`` gives for it when it is first asked for."""

    def attribute(name: str) -> Any:
        module = homes.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(module), name)

    return attribute
