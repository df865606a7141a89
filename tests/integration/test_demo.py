"""The main job: ``hotline demo`` runs calls, prints a live summary and stops cleanly on Ctrl-C
(sent to its whole process group, as a terminal does): final summary, no traceback."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from pathlib import Path

from sqlalchemy import inspect

from hotline.db.engine import make_engine
from testkit.support import SHIPPED_DB, NewDbUrl, free_port, wait_for
from tests.integration.conftest import Databases

ROOT = Path(__file__).resolve().parents[2]


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _processes_in(cwd: Path) -> list[str]:
    """Processes (Asterisk, SIP workers) still running with ``cwd`` or our runtime path."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            where = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        # Anything started in the demo's folder: its PBX, SIP and transcription workers.
        if pid != str(os.getpid()) and (str(cwd) in cmd or where == str(cwd)):
            found.append(f"{pid}: {cmd.strip()}")
    return found


async def test_demo_prints_live_summary_and_ctrl_c_leaves_nothing_running(
    tmp_path: Path, databases: Databases, db_url: NewDbUrl
) -> None:
    # Below the ephemeral range (where free_port finds the other ports, the AMI port among
    # them) and apart from the session PBX (31000+) and the test phones (21000-29999).
    rtp = 30000 + (free_port() % 7) * 100
    config = tmp_path / "demo.yaml"
    text = (ROOT / "config" / "hotline.yaml").read_text()
    text = text.replace("port: 5038", f"port: {free_port()}")
    text = text.replace("sip_port: 5080", f"sip_port: {free_port(socket.SOCK_DGRAM)}")
    text = text.replace("rtp_start: 20000", f"rtp_start: {rtp}")
    text = text.replace("rtp_end: 20999", f"rtp_end: {rtp + 99}")
    text = text.replace("api_port: 8080", f"api_port: {free_port()}")
    text = text.replace("agi_port: 4573", f"agi_port: {free_port()}")
    # SQLite: the shipped relative path; PostgreSQL (HOTLINE_TEST_DB): a new database.
    url = db_url("demo") if databases.kind == "postgresql" else None
    text = text.replace(SHIPPED_DB, url) if url else text
    config.write_text(text)
    (tmp_path / "agents.yaml").write_text((ROOT / "config" / "agents.yaml").read_text())
    # kb.seed_file is relative to the working directory, like the other paths in the config.
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "kb.yaml").write_text((ROOT / "config" / "kb.yaml").read_text())
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hotline.app.cli",
        "-c",
        str(config),
        "demo",
        "--duration",
        "120",
        "--rate",
        "60",
        "--agents",
        "2",
        "--seed",
        "7",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        # As from a terminal: Ctrl-C delivered. A test run started in the background (`cmd &`
        # in a script) inherits SIGINT ignored, and an ignored SIGINT would reach no one.
        preexec_fn=_sigint_default,
        # Its own process group, as a terminal's foreground job: Ctrl-C reaches every process
        # of the group (the transcription workers too), not only the demo's own.
        process_group=0,
    )
    assert proc.stdout is not None
    out = proc.stdout
    lines: list[str] = []

    async def read_until(marker: str, timeout: float = 60) -> str:
        # Each read is bounded too: a demo that hangs silently fails here with what it printed
        # instead of blocking the test until pytest's own timeout.
        deadline = time.monotonic() + timeout  # real time: a bound on a real process
        while True:
            left = deadline - time.monotonic()
            try:
                raw = await asyncio.wait_for(out.readline(), max(left, 0.1))
            except TimeoutError:
                raise AssertionError(
                    f"no {marker!r} from the demo within {timeout} s; it printed:\n"
                    + "".join(lines)
                ) from None
            line = raw.decode()
            if not line:
                raise AssertionError("demo exited early:\n" + "".join(lines))
            lines.append(line)
            if marker in line:
                return line

    try:
        await read_until("agent(s) registered")
        live = await read_until("[live")
        assert "offered" in live and "ASA" in live and "AHT" in live
        assert _processes_in(tmp_path), "the demo should be running its PBX and SIP workers"
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        code = await asyncio.wait_for(proc.wait(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
            # A killed demo cannot stop its PBX and SIP workers: stop them so that a failure
            # here leaves nothing holding ports for the tests after it.
            for entry in _processes_in(tmp_path):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(entry.split(":", 1)[0]), signal.SIGKILL)
    try:
        # Bounded: a process the demo left behind holding its output would block read() forever.
        rest = (await asyncio.wait_for(out.read(), 10)).decode()
    except TimeoutError:
        left = _processes_in(tmp_path)
        for entry in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.split(":", 1)[0]), signal.SIGKILL)
        raise AssertionError(
            f"the demo exited ({code}) but its output stayed open; left running: {left}\n"
            + "".join(lines)
        ) from None
    printed = "".join(lines) + rest
    # 130: interrupted, the CLI's convention for Ctrl-C; after the final summary, as at the
    # normal end, and no worker process's KeyboardInterrupt traceback.
    assert code == 130, printed
    assert "Traceback" not in printed and "KeyboardInterrupt" not in printed, printed
    final = [line for line in printed.splitlines() if line.startswith("[final")]
    assert len(final) == 1, printed
    assert "offered" in final[0] and "placed" in final[0]
    # Its transcription workers were stopped by it, in order (not killed by the SIGINT).
    stopped = [ln for ln in printed.splitlines() if "transcription worker" in ln]
    assert any(ln.rstrip().endswith("stopped") for ln in stopped), printed
    await wait_for(lambda: not _processes_in(tmp_path), 10, "no Asterisk or SIP worker left")
    assert _processes_in(tmp_path) == []
    if url is None:
        assert (tmp_path / "var" / "hotline.db").is_file()
    else:
        engine = make_engine(url)
        assert inspect(engine).has_table("calls")  # the demo migrated and used it
        engine.dispose()
