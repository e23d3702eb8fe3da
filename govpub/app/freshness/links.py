"""Is a link of an interpretation or a replay broken? Decided on this machine first.

Without any network call a link is broken when it is malformed (not http(s), no or an
invalid host name, a bad port), points to a host no reader can reach by name (a single
label such as ``intranet``) or to a placeholder domain reserved for examples (RFC 2606
and RFC 6761: ``example.org``, ``*.test``, ``*.invalid``, ``localhost``…), or, for a
link into the portal (under ``GOVPUB_SITE_URL``), to a page the website does not have,
to a withdrawn document, or to the document itself.

Only where ``GOVPUB_FRESHNESS_CHECK_LINKS`` is set are other links requested, by
:class:`HttpProbe`: HEAD (GET where HEAD is refused), a timeout, at most 5 redirects;
no answer or a status of 400 or more is broken.
"""

import html
import ipaddress
import re
from pathlib import Path, PurePosixPath
from typing import Self
from urllib.parse import SplitResult, unquote, urlsplit

import requests

from channels.website.state import WebsiteState
from schemas.enums import Kind

PLACEHOLDER_DOMAINS = ("example.com", "example.net", "example.org")
PLACEHOLDER_TLDS = ("example", "invalid", "localhost", "test")
USER_AGENT = "govpub/0.1 (freshness check of interpretation and replay links)"
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_TAG = re.compile(r"<[^>]*>")
_DOCUMENT_PAGE = re.compile(
    rf"^({'|'.join(kind.value for kind in Kind)})/([A-Za-z0-9][A-Za-z0-9._-]*)\.html$"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def has_text(body: str | None) -> bool:
    """Whether an HTML body shows any text (``<p>&nbsp;</p>`` does not)."""
    if body is None:
        return False
    return bool(html.unescape(_TAG.sub("", body)).strip(" \t\r\n\u00a0\u3000\u200b"))


class HttpProbe:
    """Requests links over HTTP, with one session and a timeout; a context manager."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._session: requests.Session | None = None

    def __enter__(self) -> Self:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        session.max_redirects = 5
        session.trust_env = False  # no proxy or netrc from the environment: explicit config only
        self._session = session
        return self

    def __exit__(self, *exc: object) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def problem(self, url: str) -> str | None:
        """What is wrong with ``url`` over HTTP, or ``None`` when it answers below 400."""
        if self._session is None:
            raise RuntimeError("HttpProbe is used outside its with block")
        try:
            response = self._session.head(url, timeout=self.timeout, allow_redirects=True)
            if response.status_code in (403, 405, 501):  # servers that refuse HEAD only
                response.close()
                response = self._session.get(
                    url, timeout=self.timeout, allow_redirects=True, stream=True
                )
            response.close()
        except requests.RequestException as exc:
            return f"no answer over HTTP ({type(exc).__name__})"
        if response.status_code >= 400:
            return f"HTTP {response.status_code}"
        return None


class LinkChecker:
    """What is wrong with a link, if anything; each URL is looked at once per check."""

    def __init__(
        self,
        *,
        site_url: str,
        output_dir: Path,
        website: WebsiteState,
        probe: HttpProbe | None = None,
    ) -> None:
        site = urlsplit(site_url)
        self._site_origin = _origin(site)
        self._site_path = site.path if site.path.endswith("/") else site.path + "/"
        self.output_dir = output_dir
        self.website = website
        self.probe = probe
        self._seen: dict[str, str | None] = {}

    def problem(self, url: str, *, own_page: str | None = None) -> str | None:
        """What is wrong with ``url`` (``None``: nothing found). ``own_page`` is the path
        of the page that carries the link, e.g. ``policy/doc-1.html``."""
        found = self._offline(url, own_page)
        if found is not None or self.probe is None or self._internal_path(url) is not None:
            return found
        if url not in self._seen:
            self._seen[url] = self.probe.problem(url)
        return self._seen[url]

    def _offline(self, url: str, own_page: str | None) -> str | None:
        stripped = url.strip()
        if not stripped:
            return "empty link"
        parts = urlsplit(stripped)
        if parts.scheme.lower() not in _DEFAULT_PORTS:
            return "not an http(s) link"
        try:
            parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
        except ValueError:
            return "invalid port"
        host = (parts.hostname or "").rstrip(".")
        if not host:
            return "no host name"
        internal = self._internal_path(stripped)
        if internal is not None:
            return self._portal_page(internal, own_page)
        return _host_problem(host)

    def _internal_path(self, url: str) -> str | None:
        """The path under the portal's root of a link into the portal, else ``None``."""
        parts = urlsplit(url.strip())
        try:
            origin = _origin(parts)
        except ValueError:
            return None
        if origin != self._site_origin or not (parts.path + "/").startswith(self._site_path):
            return None
        relative = unquote(parts.path[len(self._site_path) :])
        return relative + "index.html" if relative == "" or relative.endswith("/") else relative

    def _portal_page(self, relative: str, own_page: str | None) -> str | None:
        if relative == own_page:
            return "points to the page itself, not to an interpretation"
        if ".." in PurePosixPath(relative).parts:
            return f"not a page of the portal ({relative})"
        page = _DOCUMENT_PAGE.match(relative)
        if page is not None:
            document = self.website.document(page.group(2))
            if document is None or document.kind != page.group(1):
                return f"no such page on the portal ({relative})"
            if document.withdrawn:
                return f"points to a withdrawn document ({document.document_id})"
            return None
        if self.output_dir.is_dir() and not (self.output_dir / relative).is_file():
            return f"no such file on the portal ({relative})"
        return None


def _origin(parts: SplitResult) -> tuple[str, str, int | None]:
    """Scheme, host and port (the scheme's default when absent); ValueError for a bad port."""
    scheme = parts.scheme.lower()
    port = parts.port if parts.port is not None else _DEFAULT_PORTS.get(scheme)
    return (scheme, (parts.hostname or "").rstrip(".").lower(), port)


def _host_problem(host: str) -> str | None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return None
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return f"invalid host name ({host})"
    labels = ascii_host.split(".")
    if not all(_LABEL.match(label) for label in labels):
        return f"invalid host name ({host})"
    if len(labels) == 1:
        return f"not a public host name ({host})"
    if labels[-1] in PLACEHOLDER_TLDS or any(
        ascii_host == domain or ascii_host.endswith("." + domain) for domain in PLACEHOLDER_DOMAINS
    ):
        return f"a placeholder domain ({host}), not a real page"
    return None
