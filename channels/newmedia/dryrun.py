"""Dry run: a transport adapter that writes each request to an outbox instead of sending it.

Mounted on a client's session in place of the network adapter, so the same client
code builds the same requests; the outbox shows them to a newcomer without
credentials. Secrets never reach the files: the access token in a URL becomes
``ACCESS_TOKEN`` (as in the platforms' documentation), an AppSecret in a body becomes
``APPSECRET`` and an ``Authorization`` header keeps only its scheme.
"""

import email.message
import email.parser
import email.policy
import hashlib
import io
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from requests import PreparedRequest, Response
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from govpub.files import atomic_write

Answer = tuple[int, dict[str, Any]]
"""Status code and JSON body the dry-run transport answers with."""

Responder = Callable[[str, str, Any], Answer]
"""Makes the answer from the request's method, path and decoded body."""

_SECRET_QUERY = {"access_token": "ACCESS_TOKEN"}
_SECRET_FIELDS = {"secret": "APPSECRET", "access_token": "ACCESS_TOKEN"}


def _public_url(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, _SECRET_QUERY.get(k, v)) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="_")))


def _public_fields(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _SECRET_FIELDS.get(k, _public_fields(v)) for k, v in value.items()}
    return value


def _body_bytes(request: PreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def decode_body(content_type: str, body: bytes) -> Any:
    """The body as data: JSON, form fields, or a description of multipart parts."""
    if not body:
        return None
    if content_type.startswith("application/json"):
        return json.loads(body)
    if content_type.startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.default).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        parts = []
        assert isinstance(message, email.message.EmailMessage)
        for part in message.iter_parts():
            data = part.get_payload(decode=True)
            payload = data if isinstance(data, bytes) else b""
            parts.append(
                {
                    "name": part.get_param("name", header="content-disposition"),
                    "filename": part.get_filename(),
                    "content_type": part.get_content_type(),
                    "bytes": len(payload),
                    "sha256": hashlib.sha256(payload).hexdigest(),
                }
            )
        return {"multipart": parts}
    return body.decode("utf-8", "replace")


class Outbox:
    """A directory of numbered JSON files, one per request."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, request: PreparedRequest, decoded: Any) -> Path:
        """Store ``request``; returns the file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        number = len(list(self.directory.glob("*.json"))) + 1
        path = urlsplit(request.url or "").path.strip("/").removesuffix(".json")
        path_part = path.replace("/", "_") or "root"
        headers = {
            k: ("OAuth2 ACCESS_TOKEN" if k.lower() == "authorization" else v)
            for k, v in (request.headers or {}).items()
            if k.lower() not in ("content-length",)
        }
        record = {
            "method": request.method,
            "url": _public_url(request.url or ""),
            "headers": headers,
            "body": _public_fields(decoded),
        }
        target = self.directory / f"{number:04d}-{request.method}-{path_part}.json"
        atomic_write(target, (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode())
        return target


class DryRunAdapter(BaseAdapter):
    """A requests transport that records requests in an :class:`Outbox` and answers with
    what ``responder`` makes of them; nothing leaves the machine."""

    def __init__(self, outbox: Outbox, responder: Responder) -> None:
        super().__init__()
        self.outbox = outbox
        self.responder = responder

    def send(self, request: PreparedRequest, *args: object, **kwargs: object) -> Response:
        """Record the request and answer it."""
        content_type = str(request.headers.get("Content-Type", "")) if request.headers else ""
        decoded = decode_body(content_type, _body_bytes(request))
        self.outbox.write(request, decoded)
        status, payload = self.responder(
            request.method or "GET", urlsplit(request.url or "").path, decoded
        )
        response = Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.raw = io.BytesIO(json.dumps(payload, ensure_ascii=False).encode("utf-8"))
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        response.reason = "dry run"
        return response

    def close(self) -> None:
        """Nothing to release."""


def stable_id(prefix: str, *parts: object) -> str:
    """A deterministic fake remote id, so a dry run repeated gives the same files."""
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False, default=str).encode())
    return f"{prefix}{digest.hexdigest()[:24]}"
