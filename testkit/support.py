"""Test helpers: free ports, polling with a deadline, a TCP proxy that can cut or freeze, a
legacy password hash, a Prometheus endpoint's samples."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import socket
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar, overload

import httpx
from prometheus_client.parser import text_string_to_metric_families

T = TypeVar("T")
# A sample's name and its labels (sorted pairs: ``labels(...)``) → its value.
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def labels(**pairs: str) -> tuple[tuple[str, str], ...]:
    """A sample's labels as ``Samples`` keys them."""
    return tuple(sorted(pairs.items()))


def parse_samples(text: str) -> Samples:
    """Prometheus text, read by prometheus_client's own parser."""
    return {
        (s.name, labels(**s.labels)): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape_metrics(url: str, timeout: float = 5.0) -> Samples:
    """The samples a Prometheus endpoint serves (blocking: a worker process's endpoint)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return parse_samples(response.read().decode())


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@overload
async def wait_for(
    probe: Callable[[], Awaitable[T | None]], timeout: float, what: str, interval: float = ...
) -> T: ...


@overload
async def wait_for(
    probe: Callable[[], T | None], timeout: float, what: str, interval: float = ...
) -> T: ...


async def wait_for(
    probe: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.05,
) -> Any:
    """Poll ``probe`` until it returns something truthy, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


def poll(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05) -> T:
    """``wait_for`` for code that blocks (threads, worker processes, the store)."""
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
    return value


def recorded(path: Path, min_bytes: int = 1000) -> bool:
    """A recording is there and holds sound (MixMonitor closes its files just after hangup)."""
    return path.is_file() and path.stat().st_size > min_bytes


class TcpProxy:
    """Forwards 127.0.0.1:port to a target. ``freeze`` stops forwarding on open connections
    (a silently dead link: TCP stays up, nothing arrives); ``cut`` closes them."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._conns: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter, asyncio.Event]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop_accepting(self) -> None:
        """Refuse new connections (the PBX looks down) until ``start(port=...)`` again."""
        if self._server:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection("127.0.0.1", self.target_port)
        if self._server is None or not self._server.is_serving():
            # Cut or closed while this connection was being set up: it must not stay open
            # (Server.wait_closed waits for every connection).
            cw.transport.abort()
            uw.transport.abort()
            return
        frozen = asyncio.Event()
        self._conns.append((cw, uw, frozen))
        for r, w in ((cr, uw), (ur, cw)):
            task = asyncio.create_task(self._pipe(r, w, frozen))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pipe(
        r: asyncio.StreamReader, w: asyncio.StreamWriter, frozen: asyncio.Event
    ) -> None:
        try:
            with contextlib.suppress(ConnectionError):
                while data := await r.read(65536):
                    if not frozen.is_set():
                        w.write(data)
                        await w.drain()
        finally:
            w.close()  # cancelled too: no connection outlives the proxy

    def freeze(self) -> None:
        for _, _, frozen in self._conns:
            frozen.set()

    def cut(self) -> None:
        for cw, uw, _ in self._conns:
            cw.transport.abort()
            uw.transport.abort()
        self._conns.clear()

    async def close(self) -> None:
        server, self._server = self._server, None
        if server:
            server.close()  # no new connections, then every open one closed
        self.cut()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if server:
            await server.wait_closed()


def legacy_scrypt_hash(password: str, salt: bytes = b"hotline-salt-016") -> str:
    """A password hash in the format stored before argon2id ("scrypt$<salt>$<digest>", urlsafe
    base64 without padding, n=2^14, r=8, p=1), written out here so the tests pin that format
    rather than borrow the code that reads it."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${b64(salt)}${b64(digest)}"


@contextlib.asynccontextmanager
async def supervisor_session(
    service: Any, settings: Any, agent_id: str, password: str
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A supervisor account in the service's store, an HTTP client for its API and the
    Authorization header of a fresh token."""
    from hotline.core.auth import hash_password

    await asyncio.to_thread(
        lambda: service.agents.upsert(
            agent_id,
            name=agent_id,
            extension=None,
            roles=["supervisor"],
            skills={},
            password_hash=hash_password(password),
        )
    )
    base = f"http://{settings.listen.api_host}:{settings.listen.api_port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        creds = {"agent_id": agent_id, "password": password}
        tok = await http.post("/api/auth/token", json=creds)
        assert tok.status_code == 200, tok.text
        yield http, {"Authorization": f"Bearer {tok.json()['token']}"}


class NewDbUrl(Protocol):
    """The ``db_url`` fixture: each call gives the URL of a new, empty database of the run's
    kind (HOTLINE_TEST_DB: a SQLite file, or a database on the private PostgreSQL server)."""

    def __call__(self, label: str = "db") -> str: ...


def shipped_config_with(url: str) -> str:
    """config/hotline.yaml as shipped, with its database URL replaced by ``url``."""
    shipped = Path(__file__).resolve().parent.parent / "config" / "hotline.yaml"
    text = shipped.read_text(encoding="utf-8")
    if SHIPPED_DB not in text:
        raise AssertionError(f"config/hotline.yaml no longer has {SHIPPED_DB}")
    return text.replace(SHIPPED_DB, url)


SHIPPED_DB = "sqlite:///var/hotline.db"
