"""The OpenAPI document of the ingest API, built from the event and answer models.

Written out rather than inferred from the routes, because the request body is read
(and size-limited) by hand and because the error answers are
``application/problem+json``: what is published here is exactly what the service
accepts and answers.
"""

from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from producers.ingest import signing
from producers.ingest.models import EventStatus, Health, Problem, SubmitAnswer
from schemas import SCHEMA_VERSION, event_adapter
from schemas.types import EventId

_REF = "#/components/schemas/{model}"
_EVENT_ID_PATTERN: str = TypeAdapter(EventId).json_schema()["pattern"]

DESCRIPTION = f"""Departments publish government information by sending events.

Every request to `/v1/events` is signed with the department's key
(`{signing.SCHEME}`): headers `{signing.HEADER_KEY}`, `{signing.HEADER_TIMESTAMP}`
(Unix seconds, ±300 s), `{signing.HEADER_REQUEST_ID}` (new for every request) and
`{signing.HEADER_SIGNATURE}` = hex HMAC-SHA256(secret, "{signing.SCHEME}\\nMETHOD\\nPATH\\n
TIMESTAMP\\nREQUEST-ID\\nhex SHA-256 of the body"). See the project README for the full
scheme and a client.

Events pass the compliance gate (personal data masked, never-publish rules, markup
removed, deadlines flagged) before they reach the bus. Resubmitting an `event_id`
returns its first answer and publishes nothing again.
"""


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": _REF.format(model="Problem")}}},
    }
    if headers:
        response["headers"] = headers
    return response


def _ok(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}},
    }


_UNAUTHENTICATED = _problem(
    "not signed by a known, active key; bad signature; timestamp outside the window; "
    "request id already used",
    {
        "WWW-Authenticate": {
            "schema": {"type": "string"},
            "description": signing.SCHEME,
        }
    },
)


def build_openapi(*, max_batch: int, max_body_bytes: int) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the ingest API."""
    event_schema = event_adapter().json_schema(ref_template=_REF)
    components: dict[str, Any] = dict(event_schema.pop("$defs", {}))
    components["Event"] = event_schema
    _, answers = models_json_schema(
        [(model, "serialization") for model in (SubmitAnswer, Problem, EventStatus, Health)],
        ref_template=_REF,
    )
    components.update(answers.get("$defs", {}))
    event_ref = {"$ref": _REF.format(model="Event")}
    security: list[dict[str, list[str]]] = [{"govpubSignature": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "govpub ingest API",
            "version": SCHEMA_VERSION,
            "description": DESCRIPTION,
        },
        "paths": {
            "/v1/events": {
                "post": {
                    "operationId": "publishEvents",
                    "summary": "Publish one event or a batch",
                    "description": (
                        "A batch is checked as a whole: if one event is refused, none is "
                        f"accepted. At most {max_batch} events and {max_body_bytes} bytes."
                    ),
                    "security": security,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        event_ref,
                                        {
                                            "type": "array",
                                            "items": event_ref,
                                            "minItems": 1,
                                            "maxItems": max_batch,
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": _ok(SubmitAnswer, "every event is stored on the bus (accepted)"),
                        "401": _UNAUTHENTICATED,
                        "403": _problem(
                            "another department's event or document, or a kind the key may "
                            "not publish"
                        ),
                        "409": _problem(
                            "a version not newer than the accepted one, or an event_id reused "
                            "with different content"
                        ),
                        "413": _problem(f"the body is larger than {max_body_bytes} bytes"),
                        "422": _problem(
                            "invalid JSON or events, with field paths; or refused by the "
                            "compliance gate (rule named)"
                        ),
                        "503": _problem(
                            "the bus did not acknowledge: the events are NOT accepted; retry",
                            {
                                "Retry-After": {
                                    "schema": {"type": "string"},
                                    "description": "seconds to wait before sending again",
                                }
                            },
                        ),
                    },
                }
            },
            "/v1/events/{event_id}": {
                "get": {
                    "operationId": "eventStatus",
                    "summary": "What became of an event: accepted, deliveries, dead letters",
                    "security": security,
                    "parameters": [
                        {
                            "name": "event_id",
                            "in": "path",
                            "required": True,
                            "schema": {
                                "type": "string",
                                "pattern": _EVENT_ID_PATTERN,
                                "description": "the event's event_id (UUID or ULID)",
                            },
                        }
                    ],
                    "responses": {
                        "200": _ok(EventStatus, "the event's state"),
                        "401": _UNAUTHENTICATED,
                        "404": _problem("no such event accepted for this department"),
                        "413": _problem(f"the body is larger than {max_body_bytes} bytes"),
                        "422": _problem("not a UUID or ULID"),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness",
                    "responses": {"200": _ok(Health, "the service is running")},
                }
            },
        },
        "components": {
            "schemas": components,
            "securitySchemes": {
                "govpubSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": signing.HEADER_SIGNATURE,
                    "description": (
                        f"{signing.SCHEME}: with {signing.HEADER_KEY}, "
                        f"{signing.HEADER_TIMESTAMP} and {signing.HEADER_REQUEST_ID}; "
                        "see the API description"
                    ),
                }
            },
        },
    }
