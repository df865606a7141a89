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
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotline.app.settings import (
    DEFAULT_CONFIG,
    ConfigError,
    Settings,
    check_ports_free,
    load_settings,
    resolve_secrets,
)
from hotline.core.errors import DatabaseNotReady
from hotline.ha.leadership import LeadershipLost
from telephony.errors import AmiAuthError, TelephonyError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from hotline.agents.store import AgentStore
    from hotline.kb.service import KnowledgeBase
    from hotline.surveys.store import Survey, SurveyStore

log = logging.getLogger("hotline")


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
        "--duration", type=float, default=60.0, help="seconds of calling (default 60)"
    )
    demo.add_argument("--rate", type=float, default=30.0, help="new calls per minute (default 30)")
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
        "file", type=Path, nargs="?", default=None,
        help="default: kb.seed_file of the configuration, else config/kb.yaml",
    )  # fmt: skip
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
        help="transcribe recordings (WAV files or folders) with Vosk, e.g. to back-fill archives",
        description="<base>-caller.wav and <base>-agent.wav are merged into one call transcript "
        "with speaker turns; other WAV files are transcribed alone. Bad files are reported with "
        "the reason and the rest go on (exit status 1 if any failed).",
    )
    tr.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    tr.add_argument("--workers", type=int, default=None, help="processes (default asr.workers)")
    tr.add_argument("--format", choices=["txt", "json", "srt"], default="txt", dest="fmt")
    tr.add_argument("--language", default="en", help="the recordings' language (default en)")
    tr.add_argument("--out", type=Path, default=Path("transcripts"), help="default transcripts/")
    tr.set_defaults(func=cmd_transcribe)
    return p


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
    sv.set_defaults(func=cmd_worker_survey)


def cmd_worker_transcribe(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.app.workers import transcribe

    return transcribe(settings, args.processes)


def cmd_worker_survey(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.app.workers import survey

    return survey(settings, args.processes)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings(args.config)
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
    for line in settings.asr.coverage(languages):
        print(f"  transcription: {line}")
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


def _engine(settings: Settings, *, migrated: bool) -> Engine:
    """The database. ``migrated``: brought to the code's schema first (the commands that set
    things up); else (the read-only commands) only checked: ``DatabaseNotReady`` when it is
    not there, and Alembic says nothing."""
    from hotline.db.engine import check_schema, make_engine, migrate

    url = settings.database.url
    if migrated:
        migrate(url, primary_pbx=settings.pbx.name)
    else:
        check_schema(url)
    return make_engine(url)


def _agent_store(settings: Settings, *, migrated: bool = True) -> AgentStore:
    from hotline.agents.store import AgentStore

    return AgentStore(_engine(settings, migrated=migrated))


def cmd_agents_import(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from hotline.agents.importer import import_agents, load_agents_file

    specs = load_agents_file(args.file)
    created, updated = import_agents(_agent_store(settings), specs, os.environ)
    print(f"{args.file}: {created} agent(s) created, {updated} updated")
    return 0


def cmd_agents_list(args: argparse.Namespace, settings: Settings) -> int:
    for a in _agent_store(settings, migrated=False).all():
        skills = ",".join(f"{k}:{v}" for k, v in sorted(a.skills.items())) or "-"
        state = (
            "logged out"
            if not a.logged_in
            else f"on {a.logged_in_extension}"
            + (f", paused ({a.pause_reason})" if a.paused else "")
        )
        print(f"{a.agent_id:14} {a.name:20} {'/'.join(a.roles):18} {skills:22} {state}")
    return 0


def cmd_agents_passwd(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.core.auth import hash_password

    password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        print("hotline: a password needs at least 8 characters", file=sys.stderr)
        return 2
    store = _agent_store(settings)
    a = store.get(args.agent_id)
    store.upsert(a.agent_id, name=a.name, extension=a.extension, roles=list(a.roles),
                 skills=a.skills, password_hash=hash_password(password))  # fmt: skip
    print(f"password of {a.agent_id} set")
    return 0


def _knowledge_base(settings: Settings, *, migrated: bool = True) -> KnowledgeBase:
    from hotline.kb.service import KnowledgeBase, categories_from
    from hotline.kb.store import KbStore

    store = KbStore(_engine(settings, migrated=migrated))
    return KnowledgeBase(store, categories_from(settings.tickets.categories))


def cmd_kb_import(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.kb.importer import import_articles, load_kb_file

    path = args.file or settings.kb.seed_file or Path("config/kb.yaml")
    kb = _knowledge_base(settings)
    result = import_articles(kb, load_kb_file(path, kb), by="import")
    print(
        f"{path}: {result.created} article(s) created, {result.updated} updated, "
        f"{result.unchanged} unchanged; {kb.count()} in the knowledge base"
    )
    return 0


def cmd_kb_search(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.core.errors import Invalid

    try:
        hits = _knowledge_base(settings, migrated=False).search(args.query, limit=args.limit)
    except Invalid as exc:
        print(f"hotline: {exc.message}", file=sys.stderr)
        return 2
    for h in hits:
        a = h.article
        print(f"{h.score:7.2f}  {a.id:28} {a.language} {a.category or '-':18} {a.title}")
    return 0


def _survey_store(settings: Settings, *, migrated: bool = True) -> SurveyStore:
    from hotline.surveys.store import SurveyStore

    return SurveyStore(_engine(settings, migrated=migrated))


def _operator() -> str:
    """Who acts from the command line, as recorded on the dialer switch and opt-outs."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return "cli"


def _survey_line(s: Survey, tz: tzinfo) -> str:
    from hotline.surveys.admin import mask

    due = f"{s.next_at.astimezone(tz):%Y-%m-%d %H:%M}" if s.next_at else "-"
    ticket = str(s.ticket_id) if s.ticket_id is not None else "-"
    return (f"{s.id:>6}  {s.status:12} {ticket:>8}  {mask(s.number):>14}  {s.attempts:>3}  "
            f"{due:16}  {s.result or '-'}")  # fmt: skip


def _survey_action(run: Callable[[], Survey], tz: tzinfo) -> int:
    """One survey moved, printed; an unknown id or a state that forbids it: exit 1."""
    from hotline.core.errors import DomainError

    try:
        survey = run()
    except DomainError as exc:
        print(f"hotline: {exc.message}", file=sys.stderr)
        return 1
    print(_survey_line(survey, tz))
    return 0


def cmd_surveys_list(args: argparse.Namespace, settings: Settings) -> int:
    store = _survey_store(settings, migrated=False)
    print(f"{'id':>6}  {'status':12} {'ticket':>8}  {'number':>14}  {'try':>3}  "
          f"{'next (local)':16}  result")  # fmt: skip
    for s in store.find(args.status, limit=args.limit):
        print(_survey_line(s, settings.tz))
    paused = " (the dialer is paused)" if store.paused() else ""
    print(f"{sum(store.counts().values())} survey(s) in all{paused}")
    return 0


def cmd_surveys_switch(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.surveys import admin as survey_admin

    store, who = _survey_store(settings), _operator()
    if args.id is None:
        survey_admin.set_dialer(store, args.action == "pause", who)
        print(f"survey dialer {'paused' if args.action == 'pause' else 'running'}")
        return 0
    move = survey_admin.pause if args.action == "pause" else survey_admin.resume
    return _survey_action(lambda: move(store, args.id, who), settings.tz)


def cmd_surveys_cancel(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.surveys import admin as survey_admin

    store = _survey_store(settings)
    return _survey_action(
        lambda: survey_admin.cancel(store, args.id, _operator(), args.reason), settings.tz
    )


def _opt(args: argparse.Namespace, settings: Settings, out: bool) -> int:
    from hotline.core.errors import Invalid
    from hotline.surveys import admin as survey_admin

    try:
        survey_admin.check_number(args.number)
    except Invalid as exc:
        print(f"hotline: {exc.message}", file=sys.stderr)
        return 2
    store, who = _survey_store(settings), _operator()
    if out:
        changed = survey_admin.opt_out(store, args.number, who, args.reason)
    else:
        changed = survey_admin.opt_in(store, args.number, who)
    state = "opted out of" if out else "opted in to"
    print(f"{survey_admin.mask(args.number)} {state} surveys" + ("" if changed else " already"))
    return 0


def cmd_surveys_optout(args: argparse.Namespace, settings: Settings) -> int:
    return _opt(args, settings, out=True)


def cmd_surveys_optin(args: argparse.Namespace, settings: Settings) -> int:
    return _opt(args, settings, out=False)


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import date

    from hotline.metrics.render import bounds, to_csv, to_html
    from hotline.metrics.service import MetricsService
    from hotline.metrics.store import MetricsStore
    from hotline.surveys.store import SurveyStore
    from hotline.tickets.store import TicketStore

    tz = settings.tz
    try:
        day = date.fromisoformat(args.date) if args.date else datetime.now(tz).date()
    except ValueError:
        raise ConfigError("--date", [f"not a date (YYYY-MM-DD): {args.date!r}"]) from None
    engine = _engine(settings, migrated=False)
    surveys = SurveyStore(engine) if settings.surveys.enabled else None
    service = MetricsService(
        settings.metrics_config(), MetricsStore(engine), TicketStore(engine), surveys=surveys
    )
    since, until = bounds(args.period, day, tz)
    data = service.report(since, until)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{args.period}-{since:%Y-%m-%d}"
    stem.with_suffix(".html").write_text(to_html(args.period, data, tz), encoding="utf-8")
    stem.with_suffix(".csv").write_text(to_csv(data), encoding="utf-8")
    total = data["groups"]["total"].get("total", {})
    surveyed = f", {data['satisfaction']['total']['surveyed']} surveyed" if surveys else ""
    print(f"{stem}.html and .csv: {total.get('offered', 0)} offered, "
          f"{total.get('answered', 0)} answered{surveyed}")  # fmt: skip
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.db.engine import migrate

    migrate(settings.database.url, primary_pbx=settings.pbx.name)
    print(f"schema up to date at {settings.database.display_url}")
    return 0


def cmd_calls(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.calls.store import CallStore

    store = CallStore(_engine(settings, migrated=False))
    rows = store.find(caller_number=args.caller, limit=args.limit, pbx=args.pbx)
    print(
        f"{'started (UTC)':19}  {'pbx':8} {'caller':>14}  {'number':>6}  {'queue':10} {'agent':6} "
        f"{'wait':>6} {'talk':>6}  {'disposition':12} lang kind / IVR path"
    )
    for r in rows:
        wait = f"{r.queue_wait:.1f}" if r.queue_wait is not None else "-"
        talk = f"{r.talk_time:.1f}" if r.talk_time is not None else "-"
        print(
            f"{r.started_at:%Y-%m-%d %H:%M:%S}  {r.pbx or '-':8} {r.caller_number:>14}  "
            f"{r.dialled_number:>6}  "
            f"{r.queue or '-':10} {r.agent or '-':6} {wait:>6} {talk:>6}  "
            f"{r.disposition or 'in progress':12} {r.language or '-':4} {r.request_kind or '-'}"
            f" / {'/'.join(r.ivr_path) or r.ivr or '-'}"
        )
    return 0


def cmd_transcribe(args: argparse.Namespace, settings: Settings) -> int:
    from asr.batch import collect, run_batch
    from asr.errors import ModelError
    from asr.model import check_model_dir

    path = settings.asr.models.get(args.language)
    if path is None:
        print(f"hotline: no speech model for {args.language} (asr.models)", file=sys.stderr)
        return 1
    try:
        check_model_dir(path)  # once here, not as a failure of every file
    except ModelError as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 1
    items = collect(args.paths)
    result = run_batch(
        items,
        models={args.language: path},
        language=args.language,
        fmt=args.fmt,
        out_dir=args.out,
        workers=args.workers or settings.asr.workers,
        options=settings.asr.options,
    )
    print(
        f"{result.done} transcript(s) in {args.out}, {result.failed} failed; "
        f"{result.audio_seconds / 60:.1f} min of audio in {result.wall_seconds:.1f} s"
    )
    return 1 if result.failed else 0


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
    opts = DemoOptions(
        duration=args.duration,
        rate_per_minute=args.rate,
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
