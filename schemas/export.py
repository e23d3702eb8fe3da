"""Export the JSON Schema of every event model to ``schemas/json/``.

The exported files are part of the public contract; a test fails when they
drift from the models (run ``govpub schemas export`` to refresh them).
"""

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from schemas.events import SCHEMA_VERSION, event_adapter
from schemas.payloads import (
    CampaignPayload,
    EnforcementPayload,
    ExposurePayload,
    LicencePayload,
    MeetingPayload,
    PenaltyPayload,
    PolicyPayload,
    ReportPayload,
    RetractionPayload,
)

JSON_DIR = Path(__file__).parent / "json"
_ID_BASE = "https://govpub.example.org/schemas/v" + SCHEMA_VERSION

_PAYLOADS: dict[str, type[BaseModel]] = {
    "policy": PolicyPayload,
    "penalty": PenaltyPayload,
    "exposure": ExposurePayload,
    "meeting": MeetingPayload,
    "campaign": CampaignPayload,
    "licence": LicencePayload,
    "enforcement": EnforcementPayload,
    "report": ReportPayload,
    "retraction": RetractionPayload,
}


def _with_id(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{_ID_BASE}/{name}",
        **schema,
    }


def render_schemas() -> dict[str, str]:
    """Return ``{file name: JSON text}`` for the event union and every payload."""
    documents = {"event.schema.json": _with_id("event.schema.json", event_adapter().json_schema())}
    documents["event.schema.json"]["title"] = "govpub event"
    for kind, model in _PAYLOADS.items():
        name = f"{kind}.payload.schema.json"
        documents[name] = _with_id(name, model.model_json_schema())
    return {
        name: json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        for name, doc in documents.items()
    }


def export_schemas(directory: Path = JSON_DIR) -> list[Path]:
    """Write the schemas to ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
