"""Bulk set-up of agents from YAML and CSV through the CLI; bad rows named, nothing half-done."""

from __future__ import annotations

from pathlib import Path

from hotline.agents.store import AgentStore
from hotline.core.auth import needs_rehash, verify_password
from hotline.db.engine import make_engine, migrate
from testkit.support import NewDbUrl, legacy_scrypt_hash, shipped_config_with
from tests.integration.test_config import ROOT, run_cli


def config_for(tmp_path: Path, url: str) -> Path:
    """The shipped configuration on the database at ``url``."""
    cfg = tmp_path / "hotline.yaml"
    cfg.write_text(shipped_config_with(url), encoding="utf-8")
    return cfg


def test_import_yaml_and_csv_then_list(tmp_path: Path, db_url: NewDbUrl) -> None:
    cfg = str(config_for(tmp_path, db_url()))
    env = {"HOTLINE_SUPERVISOR_PASSWORD": "duty-pw-12345"}
    r = run_cli("-c", cfg, "agents", "import", str(ROOT / "config" / "agents.yaml"), env=env)
    assert r.returncode == 0, r.stderr
    assert "7 agent(s) created, 0 updated" in r.stdout
    csv = tmp_path / "more.csv"
    csv.write_text(
        "agent_id,name,extension,roles,skills\n"
        "zhouyu,Zhou Yu,1003,agent,zh:3;complaint:5\n"
        "lina,Li Na,1002,agent supervisor,zh:5;en:1\n"
    )
    r = run_cli("-c", cfg, "agents", "import", str(csv))
    assert r.returncode == 0 and "1 agent(s) created, 1 updated" in r.stdout
    listing = run_cli("-c", cfg, "agents", "list").stdout
    assert "zhouyu" in listing and "complaint:5,zh:3" in listing
    assert "agent/supervisor" in listing and "en:1,zh:5" in listing
    assert "duty-pw-12345" not in listing + r.stdout + r.stderr


def test_bad_rows_are_named_and_nothing_is_imported(tmp_path: Path, db_url: NewDbUrl) -> None:
    cfg = str(config_for(tmp_path, db_url()))
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "agents:\n"
        "  - {agent_id: ok1, skills: {zh: 3}}\n"
        "  - {agent_id: bad2, skills: {zh: 9}}\n"
        "  - {agent_id: bad3, roles: [boss]}\n"
    )
    r = run_cli("-c", cfg, "agents", "import", str(bad))
    assert r.returncode == 2
    assert "agent 2: skills: skill levels must be 1..5" in r.stderr
    assert "agent 3: roles: unknown role(s) ['boss']" in r.stderr
    assert "ok1" not in run_cli("-c", cfg, "agents", "list").stdout


def test_passwd_stores_an_argon2id_hash(tmp_path: Path, db_url: NewDbUrl) -> None:
    """`hotline agents passwd` replaces a legacy scrypt hash with an argon2id one."""
    url = db_url()
    cfg = str(config_for(tmp_path, url))
    migrate(url)
    engine = make_engine(url)
    try:
        agents = AgentStore(engine)
        agents.upsert(
            "old1",
            name="Old",
            extension=None,
            roles=["agent"],
            skills={},
            password_hash=legacy_scrypt_hash("old-password-1"),
        )
        short = run_cli("-c", cfg, "agents", "passwd", "old1", stdin="short\n")
        assert short.returncode == 2 and "at least 8 characters" in short.stderr
        r = run_cli("-c", cfg, "agents", "passwd", "old1", stdin="new-password-1\n")
        assert r.returncode == 0, r.stderr
        assert "password of old1 set" in r.stdout and "new-password-1" not in r.stdout + r.stderr
        stored = agents.password_hash("old1")
        assert stored is not None and stored.startswith("$argon2id$")
        assert verify_password("new-password-1", stored) and not needs_rehash(stored)
        assert not verify_password("old-password-1", stored)
    finally:
        engine.dispose()
