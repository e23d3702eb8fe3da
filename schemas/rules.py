"""Rules across the fields of one model (三同步, a fine needs its amount, …).

pydantic runs a model's own validators only once every field is valid, so a
department that fixes one error would meet the next only on its next try. A rule
declared here is checked by its model like any validator and, when some fields are
invalid, by :func:`rule_errors` on the raw input, as far as the fields that rule
reads are valid: every problem of an event is reported in one pass.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace, UnionType
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

from pydantic import TypeAdapter, ValidationError

if TYPE_CHECKING:
    from pydantic import BaseModel

Location = tuple[str | int, ...]


@dataclass(frozen=True)
class Rule:
    """A check of ``fields`` together; ``check`` returns the reason when they break it.

    ``at`` is the field the error is reported at (``None``: the model itself), for a rule
    whose fix is plainly in one field (``closes_on`` before ``opens_on``).
    """

    fields: tuple[str, ...]
    check: Callable[[Any], str | None]
    at: str | None = None


def broken_rules(model: "BaseModel") -> list[str]:
    """The reasons of every rule of ``model``'s class that its values break."""
    return [
        reason
        for rule in getattr(type(model), "__rules__", ())
        if (reason := rule.check(model)) is not None
    ]


def rule_errors(model: "type[BaseModel]", data: object) -> list[tuple[Location, str]]:
    """The rules ``data`` breaks, for a model whose validation failed: each rule is
    checked when the fields it reads are valid on their own; nested models too.
    Locations are relative to ``data``."""
    if not isinstance(data, Mapping):
        return []
    found: list[tuple[Location, str]] = []
    for name, field in model.model_fields.items():
        nested = _nested_model(field.annotation)
        value = data.get(name)
        if nested is None or value is None:
            continue
        if isinstance(value, Mapping):
            found += [((name, *loc), reason) for loc, reason in rule_errors(nested, value)]
        elif isinstance(value, list):
            for index, item in enumerate(value):
                found += [((name, index, *loc), r) for loc, r in rule_errors(nested, item)]
    for rule in getattr(model, "__rules__", ()):
        values = _valid_values(model, data, rule.fields)
        if values is not None and (reason := rule.check(SimpleNamespace(**values))) is not None:
            found.append(((rule.at,) if rule.at is not None else (), reason))
    return found


def _valid_values(
    model: "type[BaseModel]", data: Mapping[str, Any], names: tuple[str, ...]
) -> dict[str, Any] | None:
    values: dict[str, Any] = {}
    for name in names:
        field = model.model_fields[name]
        if name not in data:
            if field.is_required():
                return None
            values[name] = field.get_default(call_default_factory=True)
            continue
        try:
            values[name] = _field_adapter(model, name).validate_python(data[name])
        except (ValidationError, RecursionError):
            return None
    return values


@cache
def _field_adapter(model: "type[BaseModel]", name: str) -> TypeAdapter[Any]:
    field = model.model_fields[name]
    annotation: Any = field.annotation
    if field.metadata:
        annotation = Annotated[annotation, *field.metadata]
    return TypeAdapter(annotation)


def _nested_model(annotation: Any) -> "type[BaseModel] | None":
    """The model inside ``X``, ``X | None`` or ``list[X]`` when it declares rules."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, UnionType, list, Annotated):
        for arg in get_args(annotation):
            found = _nested_model(arg)
            if found is not None:
                return found
    return None
