"""A private, throw-away PostgreSQL server for the database benchmarks and the tests.

``private_postgres()`` creates a cluster in a new temporary directory (owned by the
``postgres`` OS user when we run as root: ``initdb`` refuses root), starts it on a free
loopback port with its unix socket in that directory and trust authentication for local
connections only, yields the SQLAlchemy URL, and always stops it (``pg_ctl stop -m fast``)
and deletes the directory, also on an error, Ctrl-C or SIGTERM. A system-wide cluster is
never touched: everything goes through ``pg_ctl -D <our directory>``. The tests make one
database per use on it (``create_database``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from sqlalchemy import create_engine, text

from testkit.support import free_port

PG_BIN = Path(os.environ.get("HOTLINE_PG_BIN", "/usr/lib/postgresql/15/bin"))
OS_USER = "postgres"
START_TIMEOUT = 60  # seconds for pg_ctl -w


class PostgresError(RuntimeError):
    """The private server could not be created or started (the message has its log)."""


@dataclass(frozen=True)
class PrivatePostgres:
    url: str  # postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
    port: int
    directory: Path
    version: str  # e.g. "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"

    def url_of(self, database: str) -> str:
        """The URL of another database on this server."""
        return self.url.rsplit("/", 1)[0] + f"/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database ``name`` (lower-case letters, digits, ``_``); its URL."""
        self._admin(f"CREATE DATABASE {_identifier(name)}")
        return self.url_of(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, ending any sessions still connected to it (a test's
        leftover pool or a killed service's)."""
        self._admin(f"DROP DATABASE IF EXISTS {_identifier(name)} WITH (FORCE)")

    def _admin(self, statement: str) -> None:
        # CREATE/DROP DATABASE cannot run inside a transaction block.
        admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(statement))
        finally:
            admin.dispose()


def _identifier(name: str) -> str:
    # Names are interpolated into DDL (it takes no parameters): only plain identifiers.
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a plain database name: {name!r}")
    return name


def postgres_version() -> str:
    out = subprocess.run(
        [str(PG_BIN / "postgres"), "--version"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


@contextlib.contextmanager
def private_postgres(server: Mapping[str, str] | None = None) -> Iterator[PrivatePostgres]:
    """Run a private PostgreSQL server for the duration of the ``with`` block. ``server``:
    extra configuration parameters (``{"timezone": "Asia/Shanghai"}``)."""
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", OS_USER, "--"] if as_root else []
    tmp = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    data = tmp / "data"
    log = tmp / "server.log"
    started = False
    with sigterm_as_exit():
        try:
            if as_root:
                pw = pwd.getpwnam(OS_USER)
                os.chown(tmp, pw.pw_uid, pw.pw_gid)

            def run(*args: str) -> subprocess.CompletedProcess[str]:
                # cwd=tmp: the postgres user may not be allowed into the caller's directory.
                return subprocess.run(
                    [*prefix, *args], cwd=tmp, capture_output=True, text=True, check=False
                )

            done = run(
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--auth=trust",
                "--no-sync",
            )
            if done.returncode != 0:
                raise PostgresError(f"initdb failed:\n{done.stdout}{done.stderr}")
            # Only the unix socket and loopback may connect; initdb's file also allows
            # replication connections, which nothing here needs.
            hba = "local all all trust\nhost all all 127.0.0.1/32 trust\n"
            (data / "pg_hba.conf").write_text(hba)
            port = free_port()
            options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={tmp}"
            for key, value in (server or {}).items():
                if not re.fullmatch(r"[a-z_]+", key) or not re.fullmatch(r"[\w/.+-]+", value):
                    raise PostgresError(f"not a plain server setting: {key}={value!r}")
                options += f" -c {key}={value}"
            started = True  # from here on a postmaster may exist, even if the start fails
            # A new session: Ctrl-C in the terminal reaches us, not the postmaster, so the
            # server is stopped by the ``finally`` below in an orderly way.
            start = subprocess.run(
                [
                    *prefix,
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    str(START_TIMEOUT),
                    "-o",
                    options,
                    "start",
                ],
                cwd=tmp,
                capture_output=True,
                text=True,
                check=False,
                start_new_session=True,
            )
            if start.returncode != 0:
                server_log = log.read_text(errors="replace") if log.exists() else ""
                raise PostgresError(
                    f"pg_ctl start failed:\n{start.stdout}{start.stderr}{server_log}"
                )
            yield PrivatePostgres(
                url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
                port=port,
                directory=tmp,
                version=postgres_version(),
            )
        finally:
            if started:
                subprocess.run(
                    [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-m", "fast", "stop"],
                    cwd=tmp,
                    capture_output=True,
                    check=False,
                )
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit while the server runs, so ``finally`` blocks stop it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
