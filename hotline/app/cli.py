"""The ``hotline`` command line. Every command has ``--help``.

Exit statuses: 0 success, 1 runtime failure (message on stderr), 2 bad configuration or usage,
3 the PBX refused our AMI credentials, 4 an active instance lost its leadership (ha), 130
interrupted.

Only ``db upgrade`` and the service (``run``, ``demo``) migrate the database, and the commands
that set things up (``agents import``, ``agents passwd``, ``kb import``, the ``surveys``
actions) as they always have. Commands that only read (``calls``, ``report``, ``agents list``,
``surveys list``, ``kb search``) never do: against a database whose schema is missing or
behind they say so, naming ``hotline db upgrade``, and exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotline.app.commands import (
    cmd_agents_import,
    cmd_agents_list,
    cmd_agents_passwd,
    cmd_calls,
    cmd_db_upgrade,
    cmd_draft,
    cmd_kb_import,
    cmd_kb_search,
    cmd_report,
    cmd_surveys_cancel,
    cmd_surveys_list,
    cmd_surveys_optin,
    cmd_surveys_optout,
    cmd_surveys_switch,
    cmd_transcribe,
)
from hotline.app.settings import (
    DEFAULT_CONFIG,
    ConfigError,
    Settings,
    check_ports_free,
    load_settings,
    resolve_secrets,
)
from hotline.core.calendar import WorkCalendar
from hotline.core.errors import DatabaseNotReady
from hotline.core.logs import configure_logging
from hotline.ha.leadership import LeadershipLost
from hotline.metrics.labels import DEFAULT_LANG, LANGS
from telephony.errors import AmiAuthError, TelephonyError

if TYPE_CHECKING:
    pass

log = logging.getLogger("hotline")

# Demo calls a minute: ~3 Erlangs or ~11 on the six shipped agents (docs/operations.md).
DEMO_RATE = 8.0
OVERLOAD_RATE = 30.0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hotline",
        description="Telephony integration service for 12345 citizen-service hotlines.",
    )
    p.add_argument(
        "-c",
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help=f"configuration file (default: {DEFAULT_CONFIG})",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the service against the configured PBX",
        description="Run the service. In embedded mode it also starts and "
        "stops its private Asterisk.",
    )
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser(
        "demo",
        help="private Asterisk + service + simulated agents and callers, with a live summary",
        description="Start the private Asterisk, the service and simulated agents, send "
        "simulated callers for a while and print a live summary. Ctrl-C stops everything.",
    )
    demo.add_argument(
        "--duration", type=float, default=120.0, help="seconds of calling (default 120)"
    )
    demo.add_argument(
        "--rate",
        type=float,
        default=None,
        help=f"new calls per minute (default {DEMO_RATE:g}; {OVERLOAD_RATE:g} with --overload)",
    )
    demo.add_argument(
        "--overload",
        action="store_true",
        help="an overloaded centre: more callers than the agents can take (service level "
        "missed, many abandoned)",
    )
    demo.add_argument(
        "--agents",
        type=int,
        default=0,
        help="simulated agents (default: every agent in the config)",
    )
    demo.add_argument("--seed", type=int, default=None, help="random seed for repeatable runs")
    demo.set_defaults(func=cmd_demo)

    cfg = sub.add_parser("config", help="check or render the configuration")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = cfg_sub.add_parser(
        "check", help="validate the file (exit 2 with the field named if bad)"
    )
    check.set_defaults(func=cmd_config_check)
    render = cfg_sub.add_parser("render", help="write the Asterisk files rendered from the config")
    render.add_argument("--out", type=Path, required=True, help="runtime folder to write into")
    render.set_defaults(func=cmd_config_render)

    prompts = sub.add_parser("prompts", help="IVR prompt files")
    prompts_sub = prompts.add_subparsers(dest="prompts_command", required=True, metavar="ACTION")
    build = prompts_sub.add_parser(
        "build",
        help="synthesise the prompts whose text changed (recorded WAVs override them)",
    )
    build.set_defaults(func=cmd_prompts_build)

    agents = sub.add_parser("agents", help="agents: bulk import, list, passwords")
    agents_sub = agents.add_subparsers(dest="agents_command", required=True, metavar="ACTION")
    imp = agents_sub.add_parser("import", help="create or update agents from a YAML or CSV file")
    imp.add_argument("file", type=Path, help="e.g. config/agents.yaml")
    imp.set_defaults(func=cmd_agents_import)
    lst = agents_sub.add_parser("list", help="agents with skills, roles and state")
    lst.set_defaults(func=cmd_agents_list)
    pw = agents_sub.add_parser("passwd", help="set an agent's password (read from stdin)")
    pw.add_argument("agent_id")
    pw.set_defaults(func=cmd_agents_passwd)

    kb = sub.add_parser("kb", help="knowledge base: import articles, search")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True, metavar="ACTION")
    kb_imp = kb_sub.add_parser(
        "import", help="create or update articles from a YAML file (by their ids; idempotent)"
    )
    kb_imp.add_argument(
        "file",
        type=Path,
        nargs="?",
        default=None,
        help="default: kb.seed_file of the configuration, else config/kb.yaml",
    )
    kb_imp.set_defaults(func=cmd_kb_import)
    kb_find = kb_sub.add_parser("search", help="search the articles as an agent would")
    kb_find.add_argument("query")
    kb_find.add_argument("--limit", type=int, default=10, help="how many (default 10)")
    kb_find.set_defaults(func=cmd_kb_search)

    _surveys_parser(sub)
    _worker_parser(sub)

    rep = sub.add_parser("report", help="write a daily, weekly or monthly report (HTML + CSV)")
    rep.add_argument("period", choices=["daily", "weekly", "monthly"])
    rep.add_argument("--date", default=None, help="a day in the period, YYYY-MM-DD (default today)")
    rep.add_argument("--out", type=Path, default=Path("reports"), help="folder (default reports/)")
    rep.add_argument(
        "--lang",
        choices=list(LANGS),
        default=DEFAULT_LANG,
        help=f"the page's language (default {DEFAULT_LANG}; the CSV is the same in both)",
    )
    rep.set_defaults(func=cmd_report)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = db_sub.add_parser("upgrade", help="apply the schema migrations (Alembic)")
    up.set_defaults(func=cmd_db_upgrade)

    calls = sub.add_parser("calls", help="list recent call records")
    calls.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    calls.add_argument("--caller", default=None, help="only this caller number")
    calls.add_argument("--pbx", default=None, help="only the calls of this PBX (its name)")
    calls.set_defaults(func=cmd_calls)

    tr = sub.add_parser(
        "transcribe",
        help="transcribe recordings (WAV files or folders) with the configured speech engines, "
        "e.g. to back-fill archives",
        description="<base>-caller.wav and <base>-agent.wav are merged into one call transcript "
        "with speaker turns; other WAV files are transcribed alone. Bad files are reported with "
        "the reason and the rest go on (exit status 1 if any failed).",
    )
    tr.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    tr.add_argument("--workers", type=int, default=None, help="processes (default asr.workers)")
    tr.add_argument("--format", choices=["txt", "json", "srt"], default="txt", dest="fmt")
    tr.add_argument(
        "--language",
        default="en",
        help="the recordings' language (default en); auto: each found from its speech",
    )
    tr.add_argument("--out", type=Path, default=Path("transcripts"), help="default transcripts/")
    tr.set_defaults(func=cmd_transcribe)

    dr = sub.add_parser(
        "draft",
        help="print the ticket draft of transcripts (typed text or transcription JSON), e.g. "
        "to re-draft old calls or check the extractor",
        description="A text file has one speaker turn per line (坐席：/市民： or agent:/caller:); "
        "a .json file is a transcription (hotline transcribe --format json). Reads the "
        "configuration's taxonomy, touches no database. Bad files are reported with the reason "
        "and the rest go on (exit status 1 if any failed).",
    )
    dr.add_argument("files", nargs="+", type=Path, metavar="FILE")
    dr.add_argument(
        "--language",
        choices=["zh", "en"],
        default=None,
        help="the draft's language (default: the JSON's, or zh for text with Chinese characters)",
    )
    dr.add_argument("--format", choices=["txt", "json"], default="txt", dest="fmt")
    dr.add_argument(
        "--now",
        type=_iso_time,
        default=None,
        help="the call's time, ISO (resolves 'yesterday'; default: the JSON's started_at, "
        "else the file's modification time)",
    )
    dr.set_defaults(func=cmd_draft)
    return p


def _iso_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time: {value!r}") from None


def _surveys_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from hotline.surveys.policy import STATUSES

    sv = sub.add_parser("surveys", help="satisfaction-survey callbacks: list, hold, opt-outs")
    sv_sub = sv.add_subparsers(dest="surveys_command", required=True, metavar="ACTION")
    lst = sv_sub.add_parser("list", help="surveys, newest first (numbers masked)")
    lst.add_argument("--status", choices=STATUSES, default=None, help="only this status")
    lst.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    lst.set_defaults(func=cmd_surveys_list)
    for name, text in (
        ("pause", "hold a scheduled survey; without ID, stop the whole dialer"),
        ("resume", "reschedule a paused or interrupted survey; without ID, restart the dialer"),
    ):
        act = sv_sub.add_parser(name, help=text)
        act.add_argument("id", type=int, nargs="?", default=None, metavar="ID")
        act.set_defaults(func=cmd_surveys_switch, action=name)
    cancel = sv_sub.add_parser("cancel", help="cancel a survey not finished yet")
    cancel.add_argument("id", type=int, metavar="ID")
    cancel.add_argument("--reason", default="", help="kept on the survey")
    cancel.set_defaults(func=cmd_surveys_cancel)
    out = sv_sub.add_parser("optout", help="never survey this number (digits, leading +)")
    out.add_argument("number")
    out.add_argument("--reason", default="", help="e.g. the citizen asked on the phone")
    out.set_defaults(func=cmd_surveys_optout)
    opt_in = sv_sub.add_parser("optin", help="survey this number again")
    opt_in.add_argument("number")
    opt_in.set_defaults(func=cmd_surveys_optin)


def _worker_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    wk = sub.add_parser(
        "worker",
        help="job worker processes (jobs.engine: redis, or database), on this or another machine",
    )
    wk_sub = wk.add_subparsers(dest="worker_command", required=True, metavar="KIND")
    tr = wk_sub.add_parser(
        "transcribe",
        help="transcribe recorded calls' jobs until SIGTERM or Ctrl-C",
        description="Runs N worker processes, each loading the speech models once and doing one "
        "job at a time; one that dies is replaced. SIGTERM or Ctrl-C lets each finish its current "
        "job (up to jobs.stop_timeout s, then it is given back). Needs database.url and, with "
        "jobs.engine redis, the URL in the environment variable jobs.redis_url_env.",
    )
    tr.add_argument(
        "--processes", type=int, default=None, help="worker processes (default asr.workers)"
    )
    _metrics_options(tr)
    tr.set_defaults(func=cmd_worker_transcribe)
    sv = wk_sub.add_parser(
        "survey",
        help="place satisfaction-survey calls handed over through Redis, until SIGTERM or Ctrl-C",
        description="Runs N worker processes, each registering the survey user agent "
        "(surveys.sip) with the PBX and placing up to 4 calls at once. Needs jobs.engine redis, "
        "the Redis URL (jobs.redis_url_env) and the SIP password (surveys.sip.password_env) in "
        "the environment. SIGTERM or Ctrl-C lets live calls finish (up to jobs.stop_timeout s).",
    )
    sv.add_argument("--processes", type=int, default=None, help="worker processes (default 1)")
    _metrics_options(sv)
    sv.set_defaults(func=cmd_worker_survey)


def _metrics_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="each worker process serves its Prometheus metrics at /metrics, process n on "
        "PORT + n (default: off)",
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="the address those endpoints listen on (default 127.0.0.1)",
    )


def cmd_worker_transcribe(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.app.workers import metrics_endpoint, transcribe

    metrics = metrics_endpoint(args.metrics_host, args.metrics_port)
    return transcribe(settings, args.processes, metrics)


def cmd_worker_survey(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.app.workers import metrics_endpoint, survey

    return survey(settings, args.processes, metrics_endpoint(args.metrics_host, args.metrics_port))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
        # The settings in force (the environment's overrides, -v) go on to the workers.
        in_force = configure_logging(settings.logging, verbose=args.verbose)
        settings = settings.model_copy(update={"logging": in_force})
        code: int = args.func(args, settings)
        return code
    except ConfigError as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 2
    except AmiAuthError as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 3
    except TelephonyError as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 1
    except DatabaseNotReady as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def cmd_config_check(args: argparse.Namespace, settings: Settings) -> int:
    resolve_secrets(settings)
    print(f"{args.config}: valid. database {settings.database.display_url}")
    for pbx in settings.all_pbxes:
        print(
            f"  PBX {pbx.name} ({pbx.mode}): {len(pbx.agents)} agent endpoint(s), "
            f"queues {', '.join(q.name for q in pbx.queues)}"
        )
        for route in pbx.inbound:
            menu = settings.ivr.menus.get(route.menu or "")
            how = f"menu {route.menu!r} ({len(menu.nodes)} nodes)" if menu else "no menu"
            print(f"    {route.number}: {how}, default queue {route.queue}")
    languages = set(settings.ivr.languages)
    languages |= {q.language for pbx in settings.all_pbxes for q in pbx.queues}
    if settings.asr.enabled:
        for line in settings.asr.describe():
            print(f"  transcription: {line}")
    for line in settings.asr.coverage(languages):
        print(f"  transcription: {line}")
    calendar = WorkCalendar.from_settings(settings.tickets.calendar, settings.tz)
    for line in calendar.describe(datetime.now(settings.tz).date()):
        print(f"  calendar: {line}")
    return 0


def cmd_prompts_build(args: argparse.Namespace, settings: Settings) -> int:
    from ivr.prompts import PromptLibrary

    library = PromptLibrary(settings.ivr)
    report = library.build()
    print(
        f"prompts in {library.dir}: {len(report.made)} synthesised, {report.kept} up to date, "
        f"{len(report.recorded)} recorded"
    )
    for problem in report.rejected:
        print(f"  recording not used: {problem}", file=sys.stderr)
    return 1 if report.rejected else 0


def cmd_config_render(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.app.pbx import render_input
    from telephony.asterisk.render import render, write_config

    secrets = resolve_secrets(settings)
    for pbx in settings.all_pbxes:
        # Several PBXes: each one's files in a folder of its name.
        out = args.out / pbx.name if settings.pbxes else args.out
        etc = write_config(render(pbx, render_input(settings, secrets, out, pbx)), out)
        print(f"Asterisk configuration of {pbx.name} written to {etc}")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.app.pbx import embedded_pbxes
    from hotline.app.service import Service

    secrets = resolve_secrets(settings)
    if any(p.mode == "embedded" for p in settings.all_pbxes):
        check_ports_free(settings)

    if settings.ha.enabled:
        from hotline.app.ha_runner import run_active_standby

        return _run_until_interrupted(run_active_standby(settings, secrets))

    async def _run() -> None:
        # Built first (database migrated, prompts made) so the PBX never sends a call to an
        # IVR that is not ready yet.
        service = await Service.build(settings, secrets)
        async with contextlib.AsyncExitStack() as stack:
            for asterisk in embedded_pbxes(settings, secrets):  # each private PBX
                await stack.enter_async_context(asterisk)
            log.info("service running; Ctrl-C stops it")
            await service.run()

    return _run_until_interrupted(_run())


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.app.demo import DemoOptions, run_demo

    if settings.pbx.mode != "embedded":
        raise ConfigError(str(args.config), ["pbx.mode: the demo needs the embedded PBX"])
    if not settings.pbx.agents:
        raise ConfigError(str(args.config), ["pbx.agents: the demo needs at least one agent"])
    check_ports_free(settings)
    secrets = resolve_secrets(settings)
    rate = args.rate if args.rate is not None else OVERLOAD_RATE if args.overload else DEMO_RATE
    opts = DemoOptions(
        duration=args.duration,
        rate_per_minute=rate,
        agents=args.agents,
        seed=args.seed,
        since=datetime.now(UTC) - timedelta(seconds=1),
        agents_file=args.config.parent / "agents.yaml",
    )
    return _run_until_interrupted(run_demo(settings, secrets, opts))


def _run_until_interrupted(coro: Coroutine[Any, Any, None]) -> int:
    """Run ``coro``; Ctrl-C or SIGTERM (``docker stop``) cancels it so every ``finally``
    (PBX stop, SIP stop, records flushed) runs."""

    async def main() -> bool:
        task = asyncio.current_task()
        assert task is not None
        terminated = False

        def terminate() -> None:
            nonlocal terminated
            terminated = True
            task.cancel()

        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminate)
        try:
            await coro
        except asyncio.CancelledError:
            if not terminated:
                raise
            return True  # our own SIGTERM: a clean stop
        return False

    try:
        if asyncio.run(main()):
            print("stopped (SIGTERM).", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nstopped.", file=sys.stderr)
        return 130
    except LeadershipLost as exc:
        print(f"hotline: leadership lost: {exc}", file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
