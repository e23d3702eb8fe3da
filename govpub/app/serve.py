"""``govpub serve``: the output directory over HTTP on loopback, for previews and tests.

A small static server on the standard library's ``ThreadingHTTPServer``:

* content types that feed readers rely on (``feeds/*.xml`` as
  ``application/rss+xml; charset=utf-8``, ``*.atom`` as ``application/atom+xml``),
  UTF-8 for HTML, JSON, XML, CSS and text;
* a strong ``ETag`` from the file's content (stable across a replay that rewrites
  identical bytes) and ``Last-Modified``; ``If-None-Match`` (preferred) and
  ``If-Modified-Since`` answer ``304 Not Modified``;
* only files under the root: ``..``, encoded separators, NUL bytes, dot-files (the
  atomic writer's temporary files) and symlinks leading outside are ``404``;
* a directory URL serves its ``index.html`` (``/policy`` redirects to ``/policy/``
  so that relative links resolve).

It binds loopback addresses only: in production the tree is served by any static
web server (see the README).
"""

import email.utils
import hashlib
import ipaddress
import logging
import os
import posixpath
import shutil
import socket
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from govpub.errors import ConfigurationError

log = logging.getLogger(__name__)

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".pdf": "application/pdf",
}
RSS_TYPE = "application/rss+xml; charset=utf-8"
# The pages run no script; say so to the browser too (the pages carry the same policy).
_HTML_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' https: http:; "
    "media-src https: http:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_ETAG_CACHE_SIZE = 4096


def content_type(relative: str) -> str:
    """The ``Content-Type`` of a file at ``relative`` (a path under the root)."""
    suffix = posixpath.splitext(relative)[1].lower()
    if suffix == ".xml" and relative.startswith("feeds/"):
        return RSS_TYPE
    return _TYPES.get(suffix, "application/octet-stream")


def is_loopback(host: str) -> bool:
    """True if every address ``host`` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses
    )


@dataclass(frozen=True)
class _Stamp:
    etag: str
    modified: datetime


class _Etags:
    """Content hashes by (path, inode, size, mtime): a file rewritten with the same
    bytes keeps its ETag; a changed file gets a new one."""

    def __init__(self, size: int = _ETAG_CACHE_SIZE) -> None:
        self._size = size
        self._cache: OrderedDict[tuple[str, int, int, int], str] = OrderedDict()
        self._lock = threading.Lock()

    def stamp(self, path: Path, stat: os.stat_result) -> _Stamp:
        key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            etag = self._cache.get(key)
            if etag is not None:
                self._cache.move_to_end(key)
        if etag is None:
            digest = hashlib.blake2b(digest_size=16)
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 16), b""):
                    digest.update(block)
            etag = f'"{digest.hexdigest()}"'
            with self._lock:
                self._cache[key] = etag
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        modified = datetime.fromtimestamp(stat.st_mtime, UTC).replace(microsecond=0)
        return _Stamp(etag, modified)


def _etag_matches(header: str, etag: str) -> bool:
    # If-None-Match uses the weak comparison (RFC 9110, 13.1.2).
    if header.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return etag in tags


class StaticHandler(BaseHTTPRequestHandler):
    """Serves files from ``server.root``; GET and HEAD only."""

    server: "StaticServer"
    server_version = "govpub"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        """Send a file (or 304, 301, 404)."""
        self._serve(body=True)

    def do_HEAD(self) -> None:
        """Like GET, without the body."""
        self._serve(body=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Access log through logging, not stderr."""
        log.debug("%s %s", self.address_string(), format % args)

    def _resolve(self, raw_path: str) -> tuple[Path, str] | None:
        """The file for a URL path, and its path relative to the root; ``None`` = 404."""
        path = urlsplit(raw_path).path
        decoded = unquote(path, errors="strict")
        if "\x00" in decoded or "\\" in decoded:
            return None
        parts = [p for p in decoded.split("/") if p]
        if any(p in (".", "..") or p.startswith(".") for p in parts):
            return None
        root = self.server.root
        candidate = root.joinpath(*parts)
        try:
            resolved = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if resolved != root and root not in resolved.parents:
            return None  # a symlink that leads outside the root
        return resolved, "/".join(parts)

    def _serve(self, *, body: bool) -> None:
        try:
            found = self._resolve(self.path)
        except UnicodeDecodeError:
            found = None
        if found is None:
            self._error(HTTPStatus.NOT_FOUND, body=body)
            return
        path, relative = found
        if path.is_dir():
            if not urlsplit(self.path).path.endswith("/"):
                self._redirect(urlsplit(self.path).path + "/", body=body)
                return
            path = path / "index.html"
            relative = posixpath.join(relative, "index.html")
            if not path.is_file():
                self._error(HTTPStatus.NOT_FOUND, body=body)
                return
        try:
            handle = path.open("rb")
        except OSError:
            self._error(HTTPStatus.NOT_FOUND, body=body)
            return
        with handle:
            stat = os.fstat(handle.fileno())
            stamp = self.server.etags.stamp(path, stat)
            if self._not_modified(stamp):
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self._validators(stamp)
                self.end_headers()
                return
            kind = content_type(relative)
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(stat.st_size))
            self._validators(stamp)
            self.send_header("X-Content-Type-Options", "nosniff")
            if kind.startswith("text/html"):
                self.send_header("Content-Security-Policy", _HTML_POLICY)
            self.end_headers()
            if body:
                shutil.copyfileobj(handle, self.wfile)

    def _validators(self, stamp: _Stamp) -> None:
        self.send_header("ETag", stamp.etag)
        self.send_header("Last-Modified", email.utils.format_datetime(stamp.modified, usegmt=True))
        # Caches may keep a copy but must ask again before using it (a cheap 304).
        self.send_header("Cache-Control", "no-cache")

    def _not_modified(self, stamp: _Stamp) -> bool:
        if self.command not in ("GET", "HEAD"):
            return False
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            # When both are sent, If-None-Match decides (RFC 9110, 13.2.2).
            return _etag_matches(if_none_match, stamp.etag)
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            when = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return stamp.modified <= when

    def _redirect(self, location: str, *, body: bool) -> None:
        self.send_response(HTTPStatus.MOVED_PERMANENTLY)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _error(self, status: HTTPStatus, *, body: bool) -> None:
        text = f"{status.value} {status.phrase}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(text)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if body:
            self.wfile.write(text)


class StaticServer(ThreadingHTTPServer):
    """A threading HTTP server for one directory, bound to loopback."""

    daemon_threads = True

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 8000) -> None:
        if not is_loopback(host):
            raise ConfigurationError(
                f"serve: {host!r} is not a loopback address; govpub serve is for previews "
                "(serve the output directory with a web server in production)"
            )
        self.root = root.resolve()
        if not self.root.is_dir():
            raise ConfigurationError(f"serve: {root} is not a directory")
        self.etags = _Etags()
        self.address_family = socket.getaddrinfo(host, port)[0][0]
        super().__init__((host, port), StaticHandler)

    @property
    def url(self) -> str:
        """The base URL the server answers on."""
        host, port = self.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}/"


@contextmanager
def serving(root: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[StaticServer]:
    """Serve ``root`` in a background thread for the duration of the block."""
    server = StaticServer(root, host, port)
    # A short poll interval makes leaving the block quick (tests start many servers).
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="govpub-serve", daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
