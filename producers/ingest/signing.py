"""The request signature of the ingest API (``GOVPUB-HMAC-SHA256``), shared by server and client.

A request carries four headers::

    X-Govpub-Key:         the key id (names the department's credential)
    X-Govpub-Timestamp:   Unix time in whole seconds, within ±300 s of the server's clock
    X-Govpub-Request-Id:  unique per request (16–128 of A–Z a–z 0–9 . _ : -); a UUID will do
    X-Govpub-Signature:   lowercase hex HMAC-SHA256(secret, string to sign)

The string to sign is six lines joined by ``\\n`` (no trailing newline), UTF-8::

    GOVPUB-HMAC-SHA256
    <METHOD in upper case>
    <request target: the path as sent, plus ?query if there is one>
    <X-Govpub-Timestamp>
    <X-Govpub-Request-Id>
    <lowercase hex SHA-256 of the exact body bytes (of b"" when there is no body)>

The secret is the UTF-8 bytes of the key's ``secret`` in the credentials file.
"""

import hashlib
import hmac
import re

SCHEME = "GOVPUB-HMAC-SHA256"
HEADER_KEY = "X-Govpub-Key"
HEADER_TIMESTAMP = "X-Govpub-Timestamp"
HEADER_REQUEST_ID = "X-Govpub-Request-Id"
HEADER_SIGNATURE = "X-Govpub-Signature"

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{16,128}$")
KEY_ID = re.compile(r"^[A-Za-z0-9._-]{3,64}$")
TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
SIGNATURE = re.compile(r"^[0-9a-f]{64}$")


def body_digest(body: bytes) -> str:
    """Lowercase hex SHA-256 of the body."""
    return hashlib.sha256(body).hexdigest()


def string_to_sign(method: str, target: str, timestamp: str, request_id: str, body: bytes) -> bytes:
    """The canonical text the signature covers."""
    return "\n".join(
        (SCHEME, method.upper(), target, timestamp, request_id, body_digest(body))
    ).encode("utf-8")


def sign(
    secret: str, method: str, target: str, timestamp: str, request_id: str, body: bytes
) -> str:
    """The lowercase hex signature of a request."""
    return hmac.new(
        secret.encode("utf-8"),
        string_to_sign(method, target, timestamp, request_id, body),
        hashlib.sha256,
    ).hexdigest()


def signed_headers(
    key_id: str,
    secret: str,
    method: str,
    target: str,
    body: bytes,
    *,
    timestamp: int,
    request_id: str,
) -> dict[str, str]:
    """The four authentication headers of a request."""
    stamp = str(timestamp)
    return {
        HEADER_KEY: key_id,
        HEADER_TIMESTAMP: stamp,
        HEADER_REQUEST_ID: request_id,
        HEADER_SIGNATURE: sign(secret, method, target, stamp, request_id, body),
    }


def same_signature(expected: str, given: str) -> bool:
    """Constant-time comparison of two signatures (any text compares safely)."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))
