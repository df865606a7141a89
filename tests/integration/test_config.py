"""Bad configurations exit 2 with one clear message naming the field, and no traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hotline.app.settings import (
    ConfigError,
    Settings,
    load_settings,
    parse_settings,
    resolve_secrets,
)
from telephony.asterisk.render import OutboundUser, RenderInput, render
from testkit.support import NewDbUrl

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline.app.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        input=stdin,
    )


def test_shipped_config_is_valid() -> None:
    settings = load_settings(ROOT / "config" / "hotline.yaml")
    assert settings.service_number == "12345"
    assert settings.pbx.mode == "embedded"
    result = run_cli("-c", "config/hotline.yaml", "config", "check")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    # The calendar's statutory source and the years it covers (the pinned package's).
    assert "calendar: source china: statutory holidays and adjusted working days 2004-" in (
        result.stdout
    )


BAD = {
    "unknown key": ("pbx:\n  ami:\n    prot: 5038\n", "pbx.ami.prot: unknown key"),
    "wrong type": (
        "pbx:\n  ami:\n    port: five\n",
        "pbx.ami.port: Input should be a valid integer",
    ),
    "out of range": ("pbx:\n  embedded:\n    sip_port: 70000\n", "pbx.embedded.sip_port"),
    "unknown queue": (
        "pbx:\n  inbound:\n    - {number: '12345', queue: nosuch}\n",
        "routes to unknown queue 'nosuch'",
    ),
    "unknown member": (
        "pbx:\n  queues:\n    - {name: operator, members: ['9999']}\n",
        "queue 'operator' lists unknown agents ['9999']",
    ),
    "port clash": (
        "pbx:\n  ami:\n    port: 8080\nlisten:\n  api_port: 8080\n",
        "port clash: pbx.ami.port and listen.api_port are both 8080",
    ),
    "bad yaml": ("pbx: [unclosed\n", "not valid YAML"),
    "half-hour time zone": ("timezone: Asia/Kolkata\n", "hourly metrics need a zone"),
    "not a mapping": ("- a\n- b\n", "(top level): must be a mapping"),
    "bad database": ("database:\n  url: mysql://x\n", "database: url must be a sqlite"),
    "overflow loop": (
        "pbx:\n  queues:\n    - {name: operator, overflow: {after: 5, queue: b}}\n"
        "    - {name: b, overflow: {after: 5, queue: operator}}\n",
        "queue 'operator': overflow loop operator -> b",
    ),
    "overflow after max wait": (
        "pbx:\n  queues:\n    - {name: operator, max_wait: 30,\n"
        "       overflow: {after: 30, max_penalty: 3}}\n",
        "queue 'operator': overflow.after must be below max_wait",
    ),
    "ticket category to unknown department": (
        "tickets:\n  departments:\n    - {id: water, level: city, zh: 水务, en: Water}\n"
        "  categories:\n    - {id: noise, zh: 噪声, en: Noise, department: police,"
        " deadline_days: 5}\n",
        "tickets: categories[0].department: category 'noise' names unknown department 'police'",
    ),
    "duplicate ticket category": (
        "tickets:\n  departments:\n    - {id: water, level: city, zh: 水务, en: Water}\n"
        "  categories:\n"
        "    - {id: water, zh: 供水, en: Water, department: water, deadline_days: 2}\n"
        "    - {id: water, zh: 水, en: Water, department: water, deadline_days: 3}\n",
        "tickets: categories[1].id: duplicate id 'water'",
    ),
    "bad department level": (
        "tickets:\n  departments:\n    - {id: water, level: province, zh: 水务, en: Water}\n",
        "tickets.departments[0].level: Input should be 'city', 'district', 'street' or 'community'",
    ),
    "make-up day on a holiday": (
        "tickets:\n  calendar:\n    holidays: [{start: 2026-10-01, end: 2026-10-07}]\n"
        "    makeup_workdays: [2026-10-03]\n",
        "tickets.calendar: makeup_workdays[0]: 2026-10-03 is also a holiday",
    ),
    "unknown calendar source": (
        "tickets:\n  calendar:\n    source: gregorian\n",
        "tickets.calendar.source: Input should be 'china' or 'none'",
    ),
    "make-up day already worked": (
        "tickets:\n  calendar:\n    makeup_workdays: [2026-03-03]\n",
        "tickets.calendar: makeup_workdays[0]: 2026-03-03 is a working weekday already",
    ),
    "unknown category in draft phrases": (
        "draft:\n  categories:\n    street_lights: {en: [street light], zh: [路灯]}\n",
        "draft.categories.street_lights: unknown category (not an id of tickets.categories)",
    ),
    "overflow with both": (
        "pbx:\n  queues:\n    - {name: operator, overflow: {after: 5, queue: x, max_penalty: 3}}\n",
        "overflow needs exactly one of queue, max_penalty",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_exits_2_naming_the_field(case: str, tmp_path: Path) -> None:
    text, expected = BAD[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = run_cli("-c", str(path), "config", "check")
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_secret_for_external_pbx(tmp_path: Path) -> None:
    path = tmp_path / "ext.yaml"
    path.write_text("pbx:\n  mode: external\n  ami:\n    host: 127.0.0.1\n")
    result = run_cli("-c", str(path), "config", "check")
    assert result.returncode == 2
    assert "pbx.ami.secret_env: environment variable HOTLINE_AMI_SECRET is not set" in result.stderr
    ami_only = {"HOTLINE_AMI_SECRET": "s3cret-value"}
    result = run_cli("-c", str(path), "config", "check", env=ami_only)
    assert result.returncode == 2
    assert "api_secret_env: environment variable HOTLINE_API_SECRET is not set" in result.stderr
    env = {**ami_only, "HOTLINE_API_SECRET": "api-s3cret-value"}
    ok = run_cli("-c", str(path), "config", "check", env=env)
    assert ok.returncode == 0, ok.stderr
    assert "s3cret-value" not in ok.stdout + ok.stderr


def test_api_keys_from_the_environment(tmp_path: Path) -> None:
    """HOTLINE_API_SECRET is one key (id "default"); HOTLINE_API_KEYS several ("kid:key,...",
    the first signs); not both. Problems name the variable, never a key."""
    external = parse_settings({"pbx": {"mode": "external", "ami": {"host": "127.0.0.1"}}}, "x")
    ami = {"HOTLINE_AMI_SECRET": "s3cret-value"}
    key1, key2 = "k1-secret-".ljust(40, "1"), "k2-secret-".ljust(40, "2")
    single = resolve_secrets(external, env={**ami, "HOTLINE_API_SECRET": "api-s3cret-value"})
    assert [(k.kid, k.secret) for k in single.api_keys] == [("default", b"api-s3cret-value")]
    listed = resolve_secrets(external, env={**ami, "HOTLINE_API_KEYS": f"k2:{key2},k1:{key1}"})
    assert [(k.kid, k.secret) for k in listed.api_keys] == [
        ("k2", key2.encode()),
        ("k1", key1.encode()),
    ]
    assert key1 not in repr(listed) + repr(listed.api_keys)
    bad = [
        (
            {"HOTLINE_API_KEYS": f"k2:{key2}", "HOTLINE_API_SECRET": key1},
            "api_keys_env: set HOTLINE_API_KEYS or HOTLINE_API_SECRET "
            "(default:<key> in HOTLINE_API_KEYS), not both",
        ),
        (
            {"HOTLINE_API_KEYS": f"k2:{key2},k1:{key1[:20]}"},
            "api_keys_env: environment variable HOTLINE_API_KEYS: key 'k1' is shorter than "
            "32 bytes",
        ),
        (
            {"HOTLINE_API_KEYS": key1},
            "api_keys_env: environment variable HOTLINE_API_KEYS: entry 1 is not kid:key",
        ),
    ]
    for env, problem in bad:
        with pytest.raises(ConfigError) as caught:
            resolve_secrets(external, env={**ami, **env})
        assert problem in str(caught.value)
        assert key1[:20] not in str(caught.value) and key2 not in str(caught.value)
    # The embedded PBX invents one per run when neither is set.
    embedded = parse_settings({})
    one, two = (resolve_secrets(embedded, env={}).api_keys for _ in range(2))
    assert [k.kid for k in one] == ["default"] and one[0].secret != two[0].secret
    assert len(one[0].secret) >= 32
    # The command line says the same and exits 2.
    path = tmp_path / "ext.yaml"
    path.write_text("pbx:\n  mode: external\n  ami:\n    host: 127.0.0.1\n")
    env = {**ami, "HOTLINE_API_KEYS": f"k2:{key2},k2:{key1}"}
    result = run_cli("-c", str(path), "config", "check", env=env)
    assert result.returncode == 2
    assert "HOTLINE_API_KEYS: key id 'k2' appears twice" in result.stderr
    assert key1 not in result.stdout + result.stderr and key2 not in result.stderr
    env = {**ami, "HOTLINE_API_KEYS": f"k2:{key2},k1:{key1}"}
    ok = run_cli("-c", str(path), "config", "check", env=env)
    assert ok.returncode == 0, ok.stderr


def test_missing_file(tmp_path: Path) -> None:
    result = run_cli("-c", str(tmp_path / "nope.yaml"), "config", "check")
    assert result.returncode == 2
    assert "cannot read file" in result.stderr


def test_port_in_use_is_named_before_start(tmp_path: Path, db_url: NewDbUrl) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        path = tmp_path / "busy.yaml"
        path.write_text(
            f"pbx:\n  ami:\n    port: {port}\n  embedded:\n    runtime_dir: {tmp_path}/a\n"
            f"database:\n  url: {db_url()}\n"
        )
        result = run_cli("-c", str(path), "run")
    assert result.returncode == 2
    assert f"pbx.ami.port: port {port} on 127.0.0.1 is not free" in result.stderr


def test_every_command_has_help() -> None:
    for args in (
        ["--help"],
        ["run", "--help"],
        ["demo", "--help"],
        ["config", "check", "--help"],
        ["config", "render", "--help"],
        ["db", "upgrade", "--help"],
        ["calls", "--help"],
    ):
        result = run_cli(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert "usage: hotline" in result.stdout


def test_rendered_asterisk_config_carries_settings_but_no_secret_in_repo(
    settings: Settings,
) -> None:
    secrets = resolve_secrets(settings, env={"HOTLINE_SIP_SECRET_2001": "agent-pw"})
    survey = OutboundUser("survey", "survey-pw", "12345", 6)
    files = render(
        settings.pbx,
        RenderInput(
            Path("/r"),
            Path("/rec"),
            secrets.ami_secret,
            secrets.agent_passwords,
            phone_passwords=secrets.phone_passwords,
            outbound=survey,
        ),
    )
    # The survey user agent's endpoint dials through the outbound route: local phones by
    # number, anything else through the trunk, the far side's result passed back as a cause.
    pjsip, ext = files["pjsip.conf"], files["extensions.conf"]
    assert "[survey]\ntype = endpoint\ncontext = hotline-outbound" in pjsip
    assert "password = survey-pw" in pjsip
    assert "exten => 13900000001,1,Set(HOTLINE_OUT=PJSIP/13900000001)" in ext
    assert "exten => _[+0-9].,1,Set(HOTLINE_OUT=PJSIP/${EXTEN}@trunk)" in ext
    assert " same => n,Dial(${HOTLINE_OUT},6)" in ext and "(busy),Hangup(17)" in ext
    assert f"bind = 127.0.0.1:{settings.pbx.embedded.sip_port}" in files["pjsip.conf"]
    assert "password = agent-pw" in files["pjsip.conf"]
    assert f"port = {settings.pbx.ami.port}" in files["manager.conf"]
    assert "timestampevents = yes" in files["manager.conf"]
    assert "member => PJSIP/2001,0,Answer Agent,PJSIP/2001" in files["queues.conf"]
    assert "exten => 12346,1,Set(__HOTLINE_DIALLED=12346)" in files["extensions.conf"]
    assert "noload => chan_sip.so" in files["modules.conf"]
    # secrets are generated per run when the environment has none, and differ between runs
    assert (
        resolve_secrets(settings, env={}).ami_secret != resolve_secrets(settings, env={}).ami_secret
    )
    assert "hidden" in repr(secrets) and secrets.ami_secret not in repr(secrets)


def test_parse_settings_defaults() -> None:
    s = parse_settings({})
    assert s.pbx.inbound[0].number == "12345"


def test_database_url_from_the_environment_replaces_the_files(
    tmp_path: Path, db_url: NewDbUrl
) -> None:
    # A PostgreSQL URL carries a password: HOTLINE_DATABASE_URL keeps it out of the file.
    secret_url = "postgresql+psycopg://hotline:pw-s3cret@db.example:5432/hotline"
    shipped = ROOT / "config" / "hotline.yaml"
    assert load_settings(shipped, env={}).database.url == "sqlite:///var/hotline.db"
    env = {"HOTLINE_DATABASE_URL": secret_url}
    assert load_settings(shipped, env=env).database.url == secret_url
    # A file without a database section, or an empty variable (the file's URL stays).
    bare = tmp_path / "bare.yaml"
    bare.write_text("service_number: '12345'\n")
    assert load_settings(bare, env=env).database.url == secret_url
    unset = {"HOTLINE_DATABASE_URL": ""}
    assert load_settings(shipped, env=unset).database.url.startswith("sqlite")
    # A bad URL is named by where it came from, never shown.
    with pytest.raises(ConfigError) as bad:
        load_settings(shipped, env={"HOTLINE_DATABASE_URL": "mysql://u:pw-s3cret@h/d"})
    assert "HOTLINE_DATABASE_URL replaces database.url" in str(bad.value)
    assert "pw-s3cret" not in str(bad.value)
    # The CLI prints it with the password masked.
    check = run_cli("-c", "config/hotline.yaml", "config", "check", env=env)
    assert check.returncode == 0, check.stderr
    assert "database postgresql+psycopg://hotline:***@db.example:5432/hotline" in check.stdout
    assert "pw-s3cret" not in check.stdout + check.stderr
    # End to end: the schema goes into the environment's database, not the file's.
    unused = tmp_path / "not-this.db"
    config = tmp_path / "hotline.yaml"
    config.write_text(f"database:\n  url: sqlite:///{unused}\n")
    url = db_url()
    upgrade = run_cli("-c", str(config), "db", "upgrade", env={"HOTLINE_DATABASE_URL": url})
    assert upgrade.returncode == 0, upgrade.stderr
    assert "schema up to date" in upgrade.stdout
    assert not unused.exists()
    assert load_settings(config, env={"HOTLINE_DATABASE_URL": url}).database.url == url
