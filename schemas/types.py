"""Bounded field types shared by every event model.

Every string that comes from a department has an upper bound, so one event can
never grow without limit on its way to the channels.
"""

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints

from schemas.codes import is_credit_code
from schemas.roles import (
    DATE,
    DOCUMENT_NUMBER,
    HTML_BODY,
    IDENTIFIER,
    PARTY_NAME,
    PLAIN_TEXT,
    URL,
)

# RFC 3339 section 5.6 date-time; the offset is mandatory ("Z" or ±hh:mm).
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# XML 1.0 forbids these; they also have no business in published text.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _rfc3339_text(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError(
            "must be an RFC 3339 date-time with an offset, e.g. 2023-04-01T09:00:00+08:00"
        )
    return value


def _iso_date_text(value: object) -> object:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be a calendar date YYYY-MM-DD")
    return value


def _no_control_chars(value: str) -> str:
    if _CONTROL_CHARS.search(value):
        raise ValueError("must not contain control characters")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), DATE]
"""An RFC 3339 date-time with a UTC offset; naive times are refused."""

CalendarDate = Annotated[date, BeforeValidator(_iso_date_text), DATE]
"""A calendar date written YYYY-MM-DD."""


_CLEAN = AfterValidator(_no_control_chars)


def _bounded(max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


Title = Annotated[str, _bounded(200), _CLEAN, PLAIN_TEXT]
ShortText = Annotated[str, _bounded(100), _CLEAN, PLAIN_TEXT]
Paragraph = Annotated[str, _bounded(5_000), _CLEAN, PLAIN_TEXT]
LongText = Annotated[str, _bounded(20_000), _CLEAN, PLAIN_TEXT]
BodyHtml = Annotated[str, _bounded(200_000), _CLEAN, HTML_BODY]
"""Department-supplied HTML; sanitised before it is rendered anywhere."""
DocNumber = Annotated[str, _bounded(100), _CLEAN, DOCUMENT_NUMBER]
"""A document number (文号, 决定书文号, 索引号)."""
PartyName = Annotated[str, _bounded(100), _CLEAN, PARTY_NAME]
"""Who a decision is about: one party or several (、，；和 及)."""

RESERVED_DOCUMENT_IDS: dict[str, str] = {
    "index": "every list page of the website is index.html",
    **{
        name: "a device name on Windows, where the site may be copied to a web server"
        for name in (
            *("con", "prn", "aux", "nul"),
            *(f"com{n}" for n in range(1, 10)),
            *(f"lpt{n}" for n in range(1, 10)),
        )
    },
}
"""Ids no channel can use as a file name (compared without case), with the reason."""


def _not_reserved(value: str) -> str:
    reason = RESERVED_DOCUMENT_IDS.get(value.lower())
    if reason is not None:
        raise ValueError(f"{value!r} is reserved: {reason}")
    return value


DocumentId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description=(
            "Stable, URL- and file-name-safe id of the document (ASCII letters, digits, . _ -);"
            " not index, nor a Windows device name (con, prn, aux, nul, com1–9, lpt1–9)."
        ),
    ),
    AfterValidator(_not_reserved),
    IDENTIFIER,
]
DepartmentCode = Annotated[
    str,
    Field(
        min_length=2,
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="Code of the issuing department (lower-case ASCII, digits, -).",
    ),
    IDENTIFIER,
]
EventId = Annotated[
    str,
    Field(
        min_length=26,
        max_length=36,
        pattern=(
            r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
            r"|[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25})$"
        ),
        description="UUID or ULID; the idempotency key everywhere.",
    ),
    IDENTIFIER,
]
HttpsUrl = Annotated[
    str,
    Field(max_length=2_000, pattern=r"^https?://[^\s<>\"]+$", description="An http(s) URL."),
    URL,
]


def _credit_code_checks_out(value: str) -> str:
    if not is_credit_code(value):
        raise ValueError("is not a 统一社会信用代码: its check character (GB 32100) is wrong")
    return value


CreditCode = Annotated[
    str,
    Field(
        pattern=r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$",
        description="统一社会信用代码 (GB 32100), 18 characters with a valid check character.",
    ),
    AfterValidator(_credit_code_checks_out),
    IDENTIFIER,
]
Quarter = Annotated[
    str,
    Field(pattern=r"^\d{4}Q[1-4]$", description="A quarter such as 2023Q2."),
    IDENTIFIER,
]

FormatId = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9.-]{0,63}$",
        description="Id of a report format, e.g. gov-2021 (lower-case ASCII, digits, . -).",
    ),
    IDENTIFIER,
]
