"""Authentication of ingest requests: key, time window, signature, replay.

Two steps, so that an unsigned or expired request is refused before its body is
read: :meth:`Authenticator.precheck` looks at the headers only;
:meth:`Authenticator.verify` checks the signature over the body (in constant
time) and then claims the request id, so a captured request cannot be sent again.
Every failure is a :class:`~govpub.errors.NotAuthenticated` (HTTP 401).
"""

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from govpub.errors import NotAuthenticated
from govpub.store import Schema, Store
from producers.ingest import signing
from producers.ingest.credentials import Credentials, Key, Principal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ingest_requests (
    key_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (key_id, request_id)
);
CREATE INDEX IF NOT EXISTS ingest_requests_seen ON ingest_requests (seen_at)
"""
SCHEMA = Schema("ingest_requests", _SCHEMA)
"""The tables of this component, as versioned migrations."""


class ReplayGuard:
    """Request ids already used, per key, kept in the state store.

    An id is remembered for twice the time window: after that a replay is refused
    by its timestamp anyway, so the table stays small.
    """

    def __init__(self, store: Store, *, window: int) -> None:
        self.store = store
        self.window = window
        self._lock = threading.Lock()
        store.ensure_schema(SCHEMA)

    def claim(self, key_id: str, request_id: str, now: float) -> bool:
        """Record the id; False if it was used before with this key."""
        with self._lock, self.store.transaction("ingest_requests") as conn:
            conn.execute("DELETE FROM ingest_requests WHERE seen_at < ?", (now - 2 * self.window,))
            cursor = conn.execute(
                "INSERT INTO ingest_requests (key_id, request_id, seen_at)"
                " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (key_id, request_id, now),
            )
            return cursor.rowcount == 1


@dataclass(frozen=True)
class Claimed:
    """Headers that passed :meth:`Authenticator.precheck`, waiting for the body."""

    key: Key
    timestamp: str
    request_id: str
    signature: str


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        raise NotAuthenticated(f"missing header {name} (requests are signed: see the README)")
    return value.strip()


class Authenticator:
    """Checks signed requests against the credentials."""

    def __init__(
        self,
        credentials: Credentials,
        replay: ReplayGuard,
        *,
        window: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.credentials = credentials
        self.replay = replay
        self.window = window
        self.clock = clock

    def precheck(self, headers: Mapping[str, str]) -> Claimed:
        """Check the headers: known active key, well-formed values, timestamp in the window."""
        key_id = _header(headers, signing.HEADER_KEY)
        stamp = _header(headers, signing.HEADER_TIMESTAMP)
        request_id = _header(headers, signing.HEADER_REQUEST_ID)
        signature = _header(headers, signing.HEADER_SIGNATURE)
        if not signing.KEY_ID.match(key_id):
            raise NotAuthenticated(f"{signing.HEADER_KEY}: not a key id")
        key = self.credentials.key(key_id)
        if key is None or not key.active:
            raise NotAuthenticated(f"{signing.HEADER_KEY}: unknown or inactive key {key_id!r}")
        if not signing.TIMESTAMP.match(stamp):
            raise NotAuthenticated(
                f"{signing.HEADER_TIMESTAMP}: must be Unix time in whole seconds"
            )
        now = self.clock()
        if abs(now - int(stamp)) > self.window:
            raise NotAuthenticated(
                f"{signing.HEADER_TIMESTAMP}: {stamp} is more than {self.window} s from the "
                f"server's time {int(now)}; check the sender's clock"
            )
        if not signing.REQUEST_ID.match(request_id):
            raise NotAuthenticated(
                f"{signing.HEADER_REQUEST_ID}: 16–128 characters of A–Z a–z 0–9 . _ : -"
            )
        if not signing.SIGNATURE.match(signature):
            raise NotAuthenticated(f"{signing.HEADER_SIGNATURE}: 64 lowercase hex digits")
        return Claimed(key, stamp, request_id, signature)

    def verify(self, claimed: Claimed, method: str, target: str, body: bytes) -> Principal:
        """Check the signature over the body, then use up the request id."""
        expected = signing.sign(
            claimed.key.secret, method, target, claimed.timestamp, claimed.request_id, body
        )
        if not signing.same_signature(expected, claimed.signature):
            raise NotAuthenticated(
                f"{signing.HEADER_SIGNATURE}: does not match the request "
                "(method, path, timestamp, request id and body are signed)"
            )
        if not self.replay.claim(claimed.key.principal.key_id, claimed.request_id, self.clock()):
            raise NotAuthenticated(
                f"{signing.HEADER_REQUEST_ID}: {claimed.request_id!r} was already used; "
                "sign every request with a new request id"
            )
        return claimed.key.principal
