"""The HTTP client every new-media adapter is built on: one ``requests`` session, retries
on the transport adapters, timeouts, and the translation of transport failures into
govpub's exception tree.

Two adapters are mounted by URL prefix, as requests does: one for writes (a post, an
upload), retried by urllib3 only when the connection could not be made (the request
never left), and one for reads and idempotent calls, also retried on read errors and
on 500/502/503/504 with backoff. What urllib3 gives up on becomes a
:class:`TransientDeliveryError` (the runner backs off and tries again), or an
:class:`OutcomeUnknown` when a write may have reached the platform.
"""

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Self

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NameResolutionError, NewConnectionError
from urllib3.util.retry import Retry

from channels.newmedia.dryrun import DryRunAdapter, Outbox, Responder
from channels.newmedia.errors import OutcomeUnknown, redact
from govpub.errors import RateLimited, TransientDeliveryError
from govpub.logs import RedactSecrets

log = logging.getLogger(__name__)

USER_AGENT = "govpub/0.1 (government information disclosure; new media)"
RETRY_STATUSES = (500, 502, 503, 504)


def _protect_third_party_logs() -> None:
    """urllib3 logs request URLs (with ``access_token=…``) at DEBUG and retries at WARNING;
    mask them at the logger, whoever configures the handlers."""
    for name in ("urllib3.connectionpool", "urllib3.util.retry"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


def _not_sent(exc: requests.RequestException) -> bool:
    """Whether the request certainly never reached the server (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason: Any = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, NewConnectionError | NameResolutionError)


class HttpClient:
    """Configured in ``__init__``, connected by :meth:`connect`, closed as a context manager.

    ``idempotent_paths`` are paths (under ``base_url``) safe to repeat: reads, and
    writes the platform deduplicates. With an ``outbox`` (dry run) nothing is sent:
    requests are written there and ``responder`` answers them.
    """

    platform = "http"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        retries: int = 3,
        backoff: float = 0.3,
        idempotent_paths: Iterable[str] = (),
        outbox: Outbox | None = None,
        responder: Responder | None = None,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.idempotent_paths = tuple(p.lstrip("/") for p in idempotent_paths)
        self.outbox = outbox
        self.responder = responder
        self._session: requests.Session | None = None

    @property
    def dry_run(self) -> bool:
        """Whether requests go to the outbox instead of the platform."""
        return self.outbox is not None

    def _write_retry(self) -> Retry:
        return Retry(
            total=self.retries,
            connect=self.retries,
            read=False,
            status=0,
            other=0,
            redirect=0,
            # read=False already forbids repeating a sent request; an empty set would mean
            # "any method" to urllib3, so name one that writes never use.
            allowed_methods=frozenset({"HEAD"}),
            backoff_factor=self.backoff,
            raise_on_status=False,
        )

    def _read_retry(self) -> Retry:
        return Retry(
            total=self.retries,
            connect=self.retries,
            read=self.retries,
            status=self.retries,
            other=0,
            redirect=0,
            allowed_methods=frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"}),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=self.backoff,
            respect_retry_after_header=True,
            raise_on_status=False,
        )

    def connect(self) -> Self:
        """Open the session and mount the adapters (idempotent)."""
        if self._session is not None:
            return self
        _protect_third_party_logs()
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        session.trust_env = False  # no proxy or netrc from the environment: explicit config only
        if self.outbox is not None:
            if self.responder is None:
                raise ValueError("a dry-run client needs a responder")
            dry = DryRunAdapter(self.outbox, self.responder)
            for prefix in ("http://", "https://", self.base_url):
                session.mount(prefix, dry)
        else:
            session.mount(self.base_url, HTTPAdapter(max_retries=self._write_retry()))
            for path in self.idempotent_paths:
                session.mount(self.base_url + path, HTTPAdapter(max_retries=self._read_retry()))
        self._session = session
        return self

    def close(self) -> None:
        """Close the session."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> Self:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _is_idempotent(self, url: str) -> bool:
        return any(url.startswith(self.base_url + p) for p in self.idempotent_paths)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request; raises a ``TransientDeliveryError`` (``OutcomeUnknown`` for a
        write that may have been done) when the platform could not be reached or answered
        429/5xx. Other statuses are returned for the platform adapter to read."""
        if self._session is None:
            self.connect()
        assert self._session is not None
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        idempotent = self._is_idempotent(url)
        api = path.split("?")[0]
        try:
            response = self._session.request(
                method, url, params=params, timeout=(min(5.0, self.timeout), self.timeout), **kwargs
            )
        except requests.RequestException as exc:
            what = f"{self.platform} {api}: {type(exc).__name__}: {redact(str(exc))}"
            if idempotent or _not_sent(exc):
                raise TransientDeliveryError(what) from None
            raise OutcomeUnknown(what + " (the request may have been received)") from None
        if response.status_code == 429:
            raise RateLimited(
                f"{self.platform} {api}: HTTP 429", _retry_after(response.headers, 60.0)
            )
        if response.status_code >= 500:
            what = f"{self.platform} {api}: HTTP {response.status_code}"
            if idempotent:
                raise TransientDeliveryError(what)
            raise OutcomeUnknown(what + " (the request may have been processed)")
        return response


def _retry_after(headers: Mapping[str, str], default: float) -> float:
    try:
        return max(0.0, float(headers.get("Retry-After", default)))
    except ValueError:
        return default
