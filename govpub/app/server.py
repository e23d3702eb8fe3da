"""The HTTP server of ``govpub ingest``: the ingest API and the routes channels contribute.

:func:`create_app` builds the FastAPI app: the ingest router (:mod:`producers.ingest.api`)
and every inbound route a registered channel contributes (WeChat's PUBLISHJOBFINISH
callback, say). uvicorn is wrapped here and nowhere else: :func:`serve` for ``govpub
ingest``, :class:`BackgroundServer` for tests and tools. The server listens on loopback
by default; put a TLS-terminating proxy in front of it for anything else (the signature
authenticates requests, it does not hide them).
"""

import ipaddress
import logging
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self

import uvicorn
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from channels.registry import registry
from govpub.errors import ConfigurationError, GovpubError
from govpub.settings import Settings
from producers.ingest.api import Ingest, ingest_router, openapi_document

log = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def create_app(settings: Settings, *, ingest: Ingest | None = None) -> FastAPI:
    """The app for ``settings``; ``ingest`` defaults to one built from the settings (which
    reads the credentials file and fails with a ``ConfigurationError`` if it is wrong).
    The app closes the ingest's connections when it shuts down."""
    parts = ingest if ingest is not None else Ingest.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await run_in_threadpool(parts.close)

    app = FastAPI(
        title="govpub ingest API",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    document = openapi_document(settings)

    def openapi() -> dict[str, Any]:
        return document

    app.openapi = openapi  # type: ignore[method-assign]
    app.include_router(ingest_router(parts))
    for entry in registry().values():
        router = entry.routes(settings) if entry.routes is not None else None
        if router is not None:
            app.include_router(router)
    return app


def _config(app: FastAPI, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # govpub's logging is configured by the entry point
        access_log=True,
        server_header=False,
        proxy_headers=False,
        lifespan="on",
        timeout_keep_alive=5,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Run the ingest API until SIGINT/SIGTERM (``govpub ingest``)."""
    host = host or settings.ingest_host
    port = port if port is not None else settings.ingest_port
    if not 0 < port < 65536:
        raise ConfigurationError(f"--port: {port} is not a TCP port")
    app = create_app(settings)
    # uvicorn logs through the root handler govpub configured; its access log at our level.
    logging.getLogger("uvicorn").setLevel(settings.log_level)
    if not _is_loopback(host):
        log.warning(
            "ingest API listening on %s, not loopback: serve it behind TLS (requests are "
            "signed, not encrypted)",
            host,
        )
    log.info("ingest API on http://%s:%d (OpenAPI at /openapi.json)", host, port)
    server = uvicorn.Server(_config(app, host, port))
    if threading.current_thread() is not threading.main_thread():
        server.run()
        return
    # uvicorn shuts down gracefully on SIGINT/SIGTERM and then raises the signal again under
    # the handler it found; "ignore" there lets `govpub ingest` exit 0 after a clean stop.
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _STOP_SIGNALS}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("ingest API stopped")


class BackgroundServer:
    """The ingest API on a free loopback port in a background thread (tests, tools).

    ``url`` is set once the server accepts connections; leaving the context stops it
    and closes the app's connections.
    """

    def __init__(
        self, app: FastAPI, *, host: str = "127.0.0.1", startup_timeout: float = 30.0
    ) -> None:
        self.app = app
        self.host = host
        self.startup_timeout = startup_timeout
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def start(self) -> Self:
        """Bind a free port and start serving; returns once it is up."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        port = sock.getsockname()[1]
        self._socket = sock
        server = uvicorn.Server(_config(self.app, self.host, port))
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="ingest-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise GovpubError("the ingest server did not start")
            time.sleep(0.02)
        self.url = f"http://{self.host}:{port}"
        return self

    def stop(self) -> None:
        """Ask the server to finish and wait for it."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._thread = None
        self._socket = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
