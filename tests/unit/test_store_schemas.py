"""Every component's tables are migrated by ``govpub store migrate`` and on start: each
versioned schema declared anywhere in the code is listed in ``govpub.app.migrate``."""

import importlib
import pkgutil
from types import ModuleType

from govpub.app.migrate import known_schemas
from govpub.store import Schema

PACKAGES = ("govpub", "channels", "producers", "consumers")


def _modules() -> list[ModuleType]:
    found = []
    for name in PACKAGES:
        package = importlib.import_module(name)
        found.append(package)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            found.append(importlib.import_module(info.name))
    return found


def test_every_declared_schema_is_migrated_with_the_others() -> None:
    declared = {
        value.name: f"{module.__name__}.{attribute}"
        for module in _modules()
        for attribute, value in vars(module).items()
        if isinstance(value, Schema)
    }
    known = known_schemas()
    assert len({s.name for s in known}) == len(known), "two schemas share a name"
    missing = sorted(
        f"{name} ({where})"
        for name, where in declared.items()
        if name not in {s.name for s in known}
    )
    assert not missing, f"not listed in govpub/app/migrate.py: {', '.join(missing)}"
    # The take-down and freshness tables (issues 15 and 16) are among them.
    assert {"catalog_display", "wechat_delete_queue"} <= {s.name for s in known}
