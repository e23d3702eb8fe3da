"""Field roles: what each payload field *is*, declared once beside the field.

The compliance gate and the channels' re-check (:mod:`govpub.compliance.protect`)
decide what to do with a field from its role, never from its name: a plain-text field
loses all markup and has personal data masked, an HTML body keeps an allow-list of
markup and has its text nodes masked, an identifier or a date is never rewritten.
A role is an ``Annotated`` marker on the field's type::

    title: Annotated[str, StringConstraints(...), PLAIN_TEXT]

Every leaf field of every payload model carries exactly one role (a test walks the
models and fails on a field without one), so a new field can never skip masking by
accident. The role also appears in the exported JSON Schema as ``x-govpub-role``.
"""

import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

ROLE_KEYWORD = "x-govpub-role"
"""The JSON Schema extension keyword that carries a field's role."""


class Role(StrEnum):
    """What a field is, and so what the gate and the channels do with it."""

    PLAIN_TEXT = "plain_text"
    """Text shown as text: no markup at all; personal numbers and the party's names masked."""
    HTML_BODY = "html_body"
    """Department HTML: an allow-list of markup; personal data masked in its text nodes."""
    DOCUMENT_NUMBER = "document_number"
    """文号, 决定书文号, 索引号: markup removed; its serial number is protected unless it is
    an identity, card or mobile number, which are masked like anywhere else."""
    PARTY_NAME = "party_name"
    """Who was penalised: natural persons' names (every co-party) anonymised."""
    IDENTIFIER = "identifier"
    """A code checked by its pattern (document ids, 统一社会信用代码, quarters): never rewritten."""
    URL = "url"
    """An http(s) URL checked by its pattern: never rewritten."""
    DATE = "date"
    """A calendar date: never rewritten."""
    ENUM = "enum"
    """A value of a closed vocabulary: never rewritten."""
    NUMBER = "number"
    """An amount or a count: never rewritten."""
    FLAG = "flag"
    """A yes/no flag: never rewritten (read by the never-publish rules)."""

    @property
    def is_text(self) -> bool:
        """Whether the field is free text that may carry markup and personal data."""
        return self in _TEXT_ROLES


_TEXT_ROLES = frozenset({Role.PLAIN_TEXT, Role.HTML_BODY, Role.DOCUMENT_NUMBER, Role.PARTY_NAME})


@dataclass(frozen=True, slots=True)
class FieldRole:
    """The ``Annotated`` marker that gives a field its role (and its JSON Schema keyword)."""

    role: Role

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema[ROLE_KEYWORD] = self.role.value
        return schema


PLAIN_TEXT = FieldRole(Role.PLAIN_TEXT)
HTML_BODY = FieldRole(Role.HTML_BODY)
DOCUMENT_NUMBER = FieldRole(Role.DOCUMENT_NUMBER)
PARTY_NAME = FieldRole(Role.PARTY_NAME)
IDENTIFIER = FieldRole(Role.IDENTIFIER)
URL = FieldRole(Role.URL)
DATE = FieldRole(Role.DATE)
ENUM = FieldRole(Role.ENUM)
NUMBER = FieldRole(Role.NUMBER)
FLAG = FieldRole(Role.FLAG)


class MissingRole(TypeError):
    """A payload field has no role (or more than one): declare it in ``schemas/``."""


def _roles_in(metadata: Any) -> list[Role]:
    return [item.role for item in metadata if isinstance(item, FieldRole)]


def _walk_type(annotation: Any, path: str, model: str) -> Iterator[tuple[str, Role]]:
    """``(path, role)`` of the leaves inside one field's type (``*`` for list items)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *metadata = get_args(annotation)
        roles = _roles_in(metadata)
        if len(roles) > 1:
            raise MissingRole(f"{model}.{path} has more than one role: {roles}")
        if roles:
            yield path, roles[0]
            return
        yield from _walk_type(base, path, model)
        return
    if origin in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        found: dict[str, Role] = {}
        for member in members:
            for leaf, role in _walk_type(member, path, model):
                if found.setdefault(leaf, role) is not role:
                    raise MissingRole(f"{model}.{leaf} has different roles in a union")
        yield from found.items()
        return
    if origin in (list, tuple, set, frozenset):
        for arg in get_args(annotation):
            if arg is not Ellipsis:
                yield from _walk_type(arg, f"{path}.*", model)
        return
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from _walk_model(annotation, f"{path}.")
        return
    raise MissingRole(
        f"{model}.{path} has no role: annotate its type with a marker of schemas.roles"
    )


def _walk_model(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, Role]]:
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        roles = _roles_in(info.metadata)
        if len(roles) > 1:
            raise MissingRole(f"{model.__name__}.{name} has more than one role: {roles}")
        if roles:
            yield path, roles[0]
        else:
            yield from _walk_type(info.annotation, path, model.__name__)


@cache
def field_roles(model: type[BaseModel]) -> Mapping[str, Role]:
    """Every leaf field of ``model`` (nested models included) and its role, by path:
    ``title``, ``interpretation.body``, ``cases.*.case_summary``, ``decisions.*``.

    Raises :class:`MissingRole` for a field without exactly one role.
    """
    return types.MappingProxyType(dict(_walk_model(model)))


def schema_path(path: str) -> str:
    """The schema path of a concrete path: ``cases.*.title`` for ``cases.3.title``."""
    return ".".join("*" if part.isdigit() else part for part in path.split("."))
