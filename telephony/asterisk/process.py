"""Start, talk to and stop a private Asterisk instance that runs from our rendered config."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path
from types import TracebackType

from telephony.asterisk.render import RenderInput, render, write_config
from telephony.errors import AsteriskError
from telephony.processes import wait_or_kill
from telephony.settings import PbxSettings

log = logging.getLogger(__name__)


class PrivateAsterisk:
    """One Asterisk process owned by this service (or by a test session).

    ``start`` renders the config, launches ``asterisk -f`` in its own session (so a Ctrl-C on
    the terminal reaches us, and we stop it in order) and waits until it is fully booted.
    """

    def __init__(self, pbx: PbxSettings, inp: RenderInput) -> None:
        self._pbx = pbx
        self._inp = inp
        self._proc: asyncio.subprocess.Process | None = None
        self.conf_file = inp.runtime_dir / "etc" / "asterisk.conf"
        self.log_file = inp.runtime_dir / "log" / "console.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def __aenter__(self) -> PrivateAsterisk:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        binary = self._pbx.embedded.asterisk_binary
        if not binary.is_file() or not os.access(binary, os.X_OK):
            raise AsteriskError(
                f"Asterisk binary not found at {binary}: run scripts/setup.sh to install it"
            )
        self._kill_stale()
        write_config(render(self._pbx, self._inp), self._inp.runtime_dir)
        self._inp.recordings_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as out:  # noqa: ASYNC230 - a local append, instant
            self._proc = await asyncio.create_subprocess_exec(
                str(binary),
                "-C",
                str(self.conf_file),
                "-f",
                "-n",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            await self._wait_booted(self._pbx.embedded.boot_timeout)
        except BaseException:
            await self.stop()
            raise
        log.info(
            "private Asterisk up (pid %s, sip %s:%s, ami %s)",
            self._proc.pid,
            self._pbx.embedded.bind,
            self._pbx.embedded.sip_port,
            self._pbx.ami.port,
        )

    async def _wait_booted(self, timeout: float) -> None:
        assert self._proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._proc.returncode is not None:
                raise AsteriskError(
                    f"Asterisk exited with status {self._proc.returncode} while booting; "
                    f"see {self.log_file} and {self._inp.runtime_dir / 'log' / 'messages'}"
                )
            with contextlib.suppress(AsteriskError):
                await self.cli("core waitfullybooted", timeout=max(0.5, deadline - loop.time()))
                return
            if loop.time() > deadline:
                raise AsteriskError(
                    f"Asterisk did not boot within {timeout} s; see {self.log_file}"
                )
            await asyncio.sleep(0.1)

    async def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run one CLI command on the instance (``asterisk -rx``) and return its output."""
        proc = await asyncio.create_subprocess_exec(
            str(self._pbx.embedded.asterisk_binary),
            "-C",
            str(self.conf_file),
            "-rx",
            command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AsteriskError(f"CLI command {command!r} timed out after {timeout} s") from None
        text = out.decode("utf-8", "replace")
        if proc.returncode != 0 or "Unable to connect to remote asterisk" in text:
            raise AsteriskError(f"CLI command {command!r} failed: {text.strip()[:200]}")
        return text

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully, then by signal; idempotent. Leaves no Asterisk process behind."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        try:
            with contextlib.suppress(AsteriskError):
                await self.cli("core stop now", timeout=timeout / 2)
        except BaseException:
            # Cancelled or interrupted mid-stop: never leave the PBX running behind us.
            if proc.returncode is None:
                proc.kill()
            raise
        await wait_or_kill(proc, timeout / 2, "Asterisk")
        log.info("private Asterisk stopped (pid %s, status %s)", proc.pid, proc.returncode)

    def _kill_stale(self) -> None:
        """A previous run killed with SIGKILL may have left its Asterisk: end it before reuse."""
        pidfile = self._inp.runtime_dir / "run" / "asterisk.pid"
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return
        if str(self.conf_file).encode() in cmdline:
            log.warning("stopping stale private Asterisk pid %s from an earlier run", pid)
            os.kill(pid, signal.SIGKILL)
