"""The ``hotline`` commands that read and change the store: agents, the knowledge base, surveys,
call records, reports, the schema (``db upgrade``), batch transcription, and the drafts of
transcripts (``draft``: reads only the configuration). ``cli.py`` parses the command line and
calls these.

Only ``db upgrade`` and the commands that set things up (``agents import``, ``agents passwd``,
``kb import``, the ``surveys`` actions) migrate the database; the ones that only read
(``calls``, ``report``, ``agents list``, ``surveys list``, ``kb search``) never do.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from hotline.app.settings import (
    ConfigError,
    Settings,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from hotline.agents.store import AgentStore
    from hotline.kb.service import KnowledgeBase
    from hotline.surveys.store import Survey, SurveyStore


log = logging.getLogger("hotline")


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
    store.upsert(
        a.agent_id,
        name=a.name,
        extension=a.extension,
        roles=list(a.roles),
        skills=a.skills,
        password_hash=hash_password(password),
    )
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
    return (
        f"{s.id:>6}  {s.status:12} {ticket:>8}  {mask(s.number):>14}  {s.attempts:>3}  "
        f"{due:16}  {s.result or '-'}"
    )


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
    print(
        f"{'id':>6}  {'status':12} {'ticket':>8}  {'number':>14}  {'try':>3}  "
        f"{'next (local)':16}  result"
    )
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

    from hotline.metrics.render import ReportRenderer, bounds, to_csv
    from hotline.metrics.service import MetricsService
    from hotline.metrics.store import MetricsStore
    from hotline.surveys.store import SurveyStore
    from hotline.tickets.store import TicketStore

    tz = settings.tz
    renderer = ReportRenderer(settings.report_names())
    renderer.labels(args.lang)
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
    page = renderer.html(args.period, data, tz, args.lang)
    stem.with_suffix(".html").write_text(page, encoding="utf-8")
    stem.with_suffix(".csv").write_text(to_csv(data), encoding="utf-8")
    total = data["groups"]["total"].get("total", {})
    surveyed = f", {data['satisfaction']['total']['surveyed']} surveyed" if surveys else ""
    print(
        f"{stem}.html and .csv: {total.get('offered', 0)} offered, "
        f"{total.get('answered', 0)} answered{surveyed}"
    )
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
    from asr.engine import check_model
    from asr.errors import ModelError
    from hotline.app.workers import hot_words

    specs = settings.asr.by_language
    language: str | None = args.language
    if language == "auto":  # each recording's own, found from its speech
        language = None
        wanted = list(specs.values())
        if not any(s.engine == "whisper" for s in wanted):
            print("hotline: --language auto needs a Whisper model (asr.engines)", file=sys.stderr)
            return 1
    elif language not in specs:
        print(f"hotline: no speech model for {language} (asr.engines)", file=sys.stderr)
        return 1
    else:
        wanted = [specs[language]]
    try:
        for spec in wanted:
            check_model(spec)  # once here, not as a failure of every file
    except ModelError as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 1
    items = collect(args.paths)
    result = run_batch(
        items,
        engines=specs,
        language=language,
        fmt=args.fmt,
        out_dir=args.out,
        workers=args.workers or settings.asr.workers,
        options=settings.asr.options,
        whisper=settings.asr.whisper.options(hot_words(settings)),
    )
    print(
        f"{result.done} transcript(s) in {args.out}, {result.failed} failed; "
        f"{result.audio_seconds / 60:.1f} min of audio in {result.wall_seconds:.1f} s"
    )
    return 1 if result.failed else 0


def cmd_draft(args: argparse.Namespace, settings: Settings) -> int:
    """The draft of each transcript file on stdout; a file that fails is named on stderr with
    the reason and the rest go on (exit 1 if any failed). Reads only the configuration."""
    from hotline.app.drafts import DraftInputError, FileDraft, draft_file, to_json, to_txt

    done: list[FileDraft] = []
    failed = 0
    for path in args.files:
        try:
            d = draft_file(
                path,
                taxonomy=settings.draft,
                tickets=settings.tickets,
                language=args.language,
                now=args.now,
                zone=settings.tz,
            )
        except DraftInputError as exc:
            print(f"hotline: {path}: {exc}", file=sys.stderr)
            failed += 1
            continue
        done.append(d)
        if args.fmt == "txt":
            sys.stdout.write(("\n" if len(done) > 1 else "") + to_txt(d, settings.tickets))
    if args.fmt == "json":
        sys.stdout.write(to_json(done))
    return 1 if failed else 0
