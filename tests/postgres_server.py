"""A throw-away PostgreSQL server for the tests and the benchmarks.

``initdb`` and ``pg_ctl`` of Debian's ``postgresql`` package (``make postgres`` installs it
when it is missing) build a cluster in a new temporary directory, listening on a free
loopback port only, with a password (SCRAM) for its one superuser. PostgreSQL refuses to
run as root, so under root (CI) the server runs as the ``postgres`` system user that the
package creates; as a normal user it runs as that user. :meth:`PostgresServer.stop`
stops it and removes the directory.

Each test gets a schema of its own (:meth:`PostgresServer.new_schema`): its URL selects it
with ``options=-csearch_path=…``, so tests never see each other's tables.
"""

import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import psycopg
from psycopg import sql

SUPERUSER = "postgres"
DATABASE = "govpub_test"
INSTALL_HINT = "run `make postgres` (installs Debian's postgresql package)"


class PostgresUnavailable(Exception):
    """PostgreSQL's server programs are not installed, or cannot be run here."""


def _version(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parts[-3]))


def find_bindir() -> Path:
    """The directory of ``initdb``, ``pg_ctl`` and ``postgres`` (the newest version installed).

    Debian keeps them in /usr/lib/postgresql/<version>/bin, off the PATH (``initdb`` on the
    PATH may be a link or a wrapper); that is looked at first.
    """
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_version)
    if installed:
        return installed[-1].parent
    for name in ("initdb", "pg_ctl"):
        found = shutil.which(name)
        if found:
            real = Path(found).resolve()
            if (real.parent / "postgres").exists() and (real.parent / "pg_ctl").exists():
                return real.parent
    raise PostgresUnavailable(f"no PostgreSQL server programs (initdb, pg_ctl): {INSTALL_HINT}")


def _server_user() -> pwd.struct_passwd | None:
    """The account the server runs as: ``None`` for this one, ``postgres`` under root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            "running as root, and PostgreSQL refuses to: no 'postgres' system user to run it as;"
            f" {INSTALL_HINT}"
        ) from None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory (a context manager).

    ``durable=False`` (the tests) turns off fsync and synchronous commit: a crash of the
    machine loses the cluster, which is thrown away anyway. The benchmarks use ``True``,
    the server's defaults.
    """

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.bindir = find_bindir()
        self.user = _server_user()
        self.password = secrets.token_hex(16)
        self.port = 0
        self.root: Path | None = None

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        assert self.root is not None, "start the server first"
        return self.root / "data"

    def url(self, *, schema: str | None = None, database: str = DATABASE) -> str:
        """A ``postgresql://`` URL of ``database`` (and only ``schema`` on its search path)."""
        base = (
            f"postgresql://{SUPERUSER}:{quote(self.password, safe='')}"
            f"@127.0.0.1:{self.port}/{database}"
        )
        if schema is None:
            return base
        return f"{base}?options={quote(f'-csearch_path={schema}', safe='')}"

    def _run(self, *args: str | Path, timeout: float = 120) -> None:
        assert self.root is not None
        extra: dict[str, Any] = {}
        if self.user is not None:
            extra = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        done = subprocess.run(
            [str(a) for a in args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **extra,
        )
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise PostgresUnavailable(
                f"{Path(args[0]).name} failed ({done.returncode}): {done.stderr.strip()}"
                f"\n{done.stdout.strip()}\n{tail}"
            )

    def start(self) -> Self:
        """initdb, then start the server on a free loopback port (tried a few times)."""
        self.root = Path(tempfile.mkdtemp(prefix="govpub-pg-"))
        os.chmod(self.root, 0o700)
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        password_file = self.root / "password"
        password_file.write_text(self.password + "\n", encoding="utf-8")
        if self.user is not None:
            os.chown(password_file, self.user.pw_uid, self.user.pw_gid)
        self._run(
            self.bindir / "initdb",
            "--pgdata",
            self.data_dir,
            "--username",
            SUPERUSER,
            "--auth",
            "scram-sha-256",
            "--pwfile",
            password_file,
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        password_file.unlink()
        settings = [
            "listen_addresses = '127.0.0.1'",
            "unix_socket_directories = ''",
            "max_connections = 200",
            "log_min_messages = warning",
        ]
        if not self.durable:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n".join(settings) + "\n")
        last: PostgresUnavailable | None = None
        for _ in range(5):
            self.port = free_port()
            try:
                self._run(
                    self.bindir / "pg_ctl",
                    "--pgdata",
                    self.data_dir,
                    "--log",
                    self.root / "server.log",
                    "--options",
                    f"-p {self.port}",
                    "--wait",
                    "--timeout",
                    "120",
                    "start",
                )
            except PostgresUnavailable as exc:  # the port was taken meanwhile, say
                last = exc
                continue
            self._create_database()
            return self
        raise last or PostgresUnavailable("the server did not start")

    def _create_database(self) -> None:
        with psycopg.connect(self.url(database="postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        if self.root is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run(
                    self.bindir / "pg_ctl", "--pgdata", self.data_dir, "--mode", "fast", "stop"
                )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def new_schema(self) -> str:
        """Create an empty schema with a fresh name; returns the name."""
        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        return name

    def drop_schema(self, name: str) -> None:
        """Remove a schema and everything in it."""
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))

    @contextmanager
    def schema(self) -> Iterator[str]:
        """A fresh schema's URL, dropped afterwards."""
        name = self.new_schema()
        try:
            yield self.url(schema=name)
        finally:
            self.drop_schema(name)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def wait_for_connections(url: str, timeout: float = 30.0) -> None:
    """Return once ``url`` accepts a connection."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(url, connect_timeout=5).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
