"""A private, throw-away Redis server for the tests and benchmarks of the Redis job engine.

``private_redis()`` starts Debian's ``redis-server`` on a free loopback port, in a new temporary
directory, with a random password (so the password-carrying URL, a secret, is exercised too),
no persistence (a test's queue dies with it) and ``protected-mode`` on. It yields a
``PrivateRedis`` whose ``stop()`` / ``start()`` take the same server down and bring it back on
the same port (an outage), and always stops it and deletes the directory at the end, also on
an error, Ctrl-C or SIGTERM. A system-wide Redis is never touched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from testkit.postgres_server import sigterm_as_exit
from testkit.support import free_port

REDIS_SERVER = Path(os.environ.get("HOTLINE_REDIS_SERVER", "/usr/bin/redis-server"))
START_TIMEOUT = 30.0  # seconds for the server to answer PING


class RedisServerError(RuntimeError):
    """The private server could not be started (the message has its log)."""


def redis_version() -> str:
    out = subprocess.run(
        [str(REDIS_SERVER), "--version"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


class PrivateRedis:
    """One private redis-server: ``url`` carries the password (treat it as a secret)."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.password = secrets.token_urlsafe(16)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start (again) on the same port; returns once it answers PING."""
        if self.running:
            return
        conf = self.directory / "redis.conf"
        # A config file, not arguments: the password stays out of the process list.
        conf.write_text(
            "bind 127.0.0.1\n"
            f"port {self.port}\n"
            f"requirepass {self.password}\n"
            "protected-mode yes\n"
            f"dir {self.directory}\n"
            'save ""\n'
            "appendonly no\n"
            "daemonize no\n"
            f"logfile {self.directory / 'server.log'}\n"
        )
        conf.chmod(0o600)
        # A new session: Ctrl-C in the terminal reaches us, and we stop the server in order.
        self._proc = subprocess.Popen(
            [str(REDIS_SERVER), str(conf)],
            cwd=self.directory,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                log = self.directory / "server.log"
                text = log.read_text(errors="replace") if log.exists() else ""
                self.stop()
                raise RedisServerError(f"redis-server did not start on port {self.port}:\n{text}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        """A raw RESP AUTH + PING (no client library needed to tell it is up)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                pw = self.password.encode()
                s.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n*1\r\n$4\r\nPING\r\n" % (len(pw), pw))
                reply = b""
                while b"PONG" not in reply:
                    chunk = s.recv(256)
                    if not chunk:
                        return False
                    reply += chunk
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s); its data is gone."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    """Run a private Redis server for the duration of the ``with`` block."""
    if not REDIS_SERVER.exists():
        raise RedisServerError(f"{REDIS_SERVER} is missing (scripts/setup-system.sh installs it)")
    tmp = Path(tempfile.mkdtemp(prefix="hotline-redis-"))
    server = PrivateRedis(tmp)
    with sigterm_as_exit():
        try:
            server.start()
            yield server
        finally:
            server.stop()
            shutil.rmtree(tmp, ignore_errors=True)
