"""Read-only commands never migrate the database nor print Alembic's lines: against a schema
that is missing or behind they say so, naming ``hotline db upgrade``, and exit 1; after the
upgrade they work, quietly. ``hotline db upgrade`` (and the service) migrate."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from hotline.db.engine import make_engine, migrate, schema_revisions
from testkit.support import NewDbUrl, shipped_config_with
from tests.integration.test_config import run_cli

READ_ONLY = [
    ["calls"],
    ["agents", "list"],
    ["surveys", "list"],
    ["kb", "search", "路灯"],
    ["report", "daily", "--date", "2026-11-20", "--out", "{out}"],
]


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def run_all(cfg: Path, out: Path) -> list[tuple[list[str], int, str, str]]:
    results = []
    for command in READ_ONLY:
        args = [a.replace("{out}", str(out)) for a in command]
        r = run_cli("-c", str(cfg), *args)
        results.append((command, r.returncode, r.stdout, r.stderr))
    return results


def test_read_only_commands_never_migrate(tmp_path: Path, db_url: NewDbUrl) -> None:
    url = db_url("readonly")
    cfg = tmp_path / "hotline.yaml"
    cfg.write_text(shipped_config_with(url), encoding="utf-8")
    out = tmp_path / "reports"
    # No schema: each says so and leaves the database as it was (a SQLite file not even made).
    for command, code, stdout, stderr in run_all(cfg, out):
        assert code == 1, (command, stdout, stderr)
        assert "has no schema yet: run `hotline db upgrade` first" in stderr, (command, stderr)
        assert "alembic" not in stderr.lower() and "Traceback" not in stderr, (command, stderr)
    if url.startswith("sqlite:///"):
        assert not Path(url.removeprefix("sqlite:///")).exists()
    else:
        assert tables(url) == set()
    assert not out.exists()
    # Behind: named, not upgraded.
    migrate(url, "0011")
    head = schema_revisions(url)[1]
    r = run_cli("-c", str(cfg), "calls")
    assert r.returncode == 1 and f"is at schema 0011, not {head}: run `hotline db upgrade`" in (
        r.stderr
    )
    assert "job_queue" not in " ".join(tables(url)) and "alembic" not in r.stderr.lower()
    # The upgrade migrates (and may say so); then the read-only commands work, quietly.
    upgrade = run_cli("-c", str(cfg), "db", "upgrade")
    assert upgrade.returncode == 0 and "schema up to date" in upgrade.stdout, upgrade.stderr
    for command, code, stdout, stderr in run_all(cfg, out):
        assert code == 0, (command, stdout, stderr)
        assert "alembic" not in stderr.lower() and "INFO" not in stderr, (command, stderr)
    # A schema newer than this version knows: said, not touched.
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    r = run_cli("-c", str(cfg), "agents", "list")
    assert r.returncode == 1 and "at schema 9999, which this version of hotline" in r.stderr


def test_an_unreachable_database_is_said_plainly(tmp_path: Path) -> None:
    cfg = tmp_path / "hotline.yaml"
    dead = "postgresql+psycopg://nobody:pw-s3cret@127.0.0.1:9/none?connect_timeout=2"
    cfg.write_text(shipped_config_with(dead), encoding="utf-8")
    r = run_cli("-c", str(cfg), "calls")
    assert r.returncode == 1 and "is not reachable" in r.stderr, r.stderr
    assert "pw-s3cret" not in r.stderr and "Traceback" not in r.stderr
