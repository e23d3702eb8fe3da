"""Schemathesis against the published OpenAPI document of a running ingest API: whatever
is sent (signed, so requests get past authentication), the answer is never a 5xx and
always matches the document (status codes, media types, bodies, headers)."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from govpub.settings import Settings
from producers.ingest.client import GovpubAuth
from producers.ingest.openapi import build_openapi
from tests.ingest_support import SECRETS, Running, running_ingest

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture
def api(make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[Running]:
    with running_ingest(make_settings, tmp_path) as running:
        yield running


DEFAULTS = Settings(_env_file=None)
DOCUMENT = build_openapi(
    max_batch=DEFAULTS.ingest_max_batch, max_body_bytes=DEFAULTS.ingest_max_body_bytes
)
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_published_document_is_the_one_tested(api: Running) -> None:
    assert requests.get(api.url + "/openapi.json", timeout=30).json() == DOCUMENT


def _own_department(body: Any) -> None:
    """Give generated events the key's department, so that requests reach validation, the
    compliance gate and the ledger; kinds the key may not publish still get their 403."""
    for item in body if isinstance(body, list) else [body]:
        if isinstance(item, dict) and "department" in item:
            item["department"] = "zz-yjj"


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_request_gets_a_server_error(case: Any, api: Running) -> None:
    _own_department(case.body)
    with requests.Session() as session:
        session.auth = GovpubAuth("yjj-2026a", SECRETS["yjj-2026a"])
        response = case.call(base_url=api.url, session=session, timeout=30)
        case.validate_response(response, checks=CHECKS)
    assert response.status_code < 500
