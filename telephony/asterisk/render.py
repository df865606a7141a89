"""Render the Asterisk configuration files from the PBX settings.

Pure functions: settings in, ``{filename: text}`` out. Writing them is ``write_config``'s job.

One module on purpose (about 530 lines): every Asterisk file is rendered from the same
settings in one place, so a name used in two files (an endpoint, a context) is spelt once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from telephony import dialplan as dp
from telephony.settings import PbxSettings, QueueSettings

# Modules that bind well-known ports or need hardware: a private instance must not load them,
# or two instances on one machine (tests, a developer's PBX) would collide.
NOLOAD = [
    "chan_sip.so",
    "chan_iax2.so",
    "chan_skinny.so",
    "chan_mgcp.so",
    "chan_unistim.so",
    "chan_ooh323.so",
    "chan_motif.so",
    "chan_dahdi.so",
    "chan_alsa.so",
    "chan_oss.so",
    "chan_console.so",
    "chan_mobile.so",
    "chan_rtp.so",
    "pbx_dundi.so",
    "res_xmpp.so",
    "res_hep.so",
    "res_hep_pjsip.so",
    "res_hep_rtcp.so",
    "res_snmp.so",
    "res_smdi.so",
    "res_phoneprov.so",
    "res_pjsip_phoneprov_provider.so",
    "res_stun_monitor.so",
    "res_calendar.so",
    "res_config_ldap.so",
    "res_config_pgsql.so",
    "cdr_pgsql.so",
    "cel_pgsql.so",
    "cdr_radius.so",
    "cel_radius.so",
    "res_fax_spandsp.so",
    "app_voicemail.so",
    "res_pktccops.so",
]


@dataclass(frozen=True)
class OutboundUser:
    """The service's own endpoint for calls it places (survey callbacks): it registers like a
    phone and what it dials goes through ``hotline-outbound``."""

    user: str
    password: str
    caller_id: str  # the number the citizen sees
    ring_timeout: int  # seconds the far end rings


@dataclass(frozen=True)
class RenderInput:
    """Everything the files depend on besides the settings (paths are absolute)."""

    runtime_dir: Path
    recordings_dir: Path
    ami_secret: str
    agent_passwords: Mapping[str, str]
    agi_url: str | None = None
    # Asterisk's data folder when the service provides sounds of its own (an overlay built by
    # telephony.asterisk.sounds); None: the system's.
    data_dir: Path | None = None
    phone_passwords: Mapping[str, str] = field(default_factory=dict)
    outbound: OutboundUser | None = None
    # Further FastAGI servers tried in order when the one before refuses (an active/standby
    # pair: only the active instance listens).
    agi_fallbacks: tuple[str, ...] = ()


def _ini(sections: list[tuple[str, list[tuple[str, object]]]], header: str = "") -> str:
    out = [f"; rendered by hotline: do not edit, edit config/hotline.yaml{header}"]
    for name, items in sections:
        out.append(f"\n[{name}]")
        out += [f"{k} = {v}" for k, v in items]
    return "\n".join(out) + "\n"


def asterisk_conf(pbx: PbxSettings, inp: RenderInput) -> str:
    run = inp.runtime_dir
    emb = pbx.embedded
    dirs = [
        ("astetcdir", run / "etc"),
        ("astmoddir", emb.modules_dir),
        ("astvarlibdir", run / "lib"),
        ("astdbdir", run / "lib"),
        ("astkeydir", run / "lib"),
        ("astdatadir", inp.data_dir or emb.sounds_dir),
        ("astagidir", run / "agi-bin"),
        ("astspooldir", run / "spool"),
        ("astrundir", run / "run"),
        ("astlogdir", run / "log"),
        ("astsbindir", emb.asterisk_binary.parent),
    ]
    text = "; rendered by hotline: do not edit\n[directories]\n"
    text += "".join(f"{k} => {v}\n" for k, v in dirs)
    text += "\n[options]\nverbose = 0\ndebug = 0\nnocolor = yes\ntransmit_silence = yes\n"
    text += "documentation_language = en_US\nhideconnect = yes\n"
    # Uniqueids (and so call_ids, recording names) become "<name>-<epoch>.<n>": unique across
    # PBXes, and already the service's global call ids (telephony.tracker.global_call_id).
    text += f"systemname = {pbx.name}\n"
    return text


def modules_conf() -> str:
    items: list[tuple[str, object]] = [("autoload", "yes")]
    return _ini([("modules", items)]).replace(
        "autoload = yes", "autoload = yes\n" + "\n".join(f"noload => {m}" for m in NOLOAD)
    )


def logger_conf() -> str:
    return _ini(
        [
            ("general", [("dateformat", "%F %T.%3q")]),
            ("logfiles", [("messages", "notice,warning,error")]),
        ]
    )


def manager_conf(pbx: PbxSettings, inp: RenderInput) -> str:
    return _ini(
        [
            (
                "general",
                [
                    ("enabled", "yes"),
                    ("port", pbx.ami.port),
                    ("bindaddr", pbx.embedded.bind),
                    ("displayconnects", "no"),
                    # Microsecond timestamps on every event: call timings come from the PBX clock,
                    # not from when the service happened to read the event.
                    ("timestampevents", "yes"),
                ],
            ),
            (
                pbx.ami.user,
                [
                    ("secret", inp.ami_secret),
                    ("deny", "0.0.0.0/0.0.0.0"),
                    ("permit", f"{pbx.embedded.bind}/255.255.255.255"),
                    *[("permit", net) for net in pbx.ami.permit],
                    ("read", "all"),
                    ("write", "all"),
                    ("writetimeout", 1000),
                ],
            ),
        ]
    )


def pjsip_conf(pbx: PbxSettings, inp: RenderInput) -> str:
    codecs = pbx.trunk.codecs
    media: list[tuple[str, object]] = [
        ("disallow", "all"),
        ("allow", ",".join(codecs)),
        ("dtmf_mode", "rfc4733"),
        ("direct_media", "no"),
        ("rtp_symmetric", "yes"),
        ("force_rport", "yes"),
        ("rewrite_contact", "yes"),
    ]
    sections: list[tuple[str, list[tuple[str, object]]]] = [
        (
            "global",
            [
                ("type", "global"),
                # Agents are known by user name; anything else from the trunk's address is a caller.
                ("endpoint_identifier_order", "username,ip"),
                ("user_agent", "hotline-pbx"),
            ],
        ),
        (
            "transport-udp",
            [
                ("type", "transport"),
                ("protocol", "udp"),
                ("bind", f"{pbx.embedded.bind}:{pbx.embedded.sip_port}"),
            ],
        ),
        (
            "trunk",
            [
                ("type", "endpoint"),
                ("context", "hotline-inbound"),
                *([("aors", "trunk")] if pbx.trunk.gateway else []),
                *media,
            ],
        ),
        (
            "trunk-identify",
            [("type", "identify"), ("endpoint", "trunk"), *[("match", m) for m in pbx.trunk.match]],
        ),
    ]
    for agent in pbx.agents:
        ext = agent.extension
        callerid = f'"{agent.name or ext}" <{ext}>'
        sections += [
            (
                ext,
                [
                    ("type", "endpoint"),
                    ("context", "hotline-agents"),
                    ("aors", ext),
                    ("auth", f"{ext}-auth"),
                    ("callerid", callerid),
                    *media,
                ],
            ),
            (
                f"{ext}-auth",
                [
                    ("type", "auth"),
                    ("auth_type", "userpass"),
                    ("username", ext),
                    ("password", inp.agent_passwords[ext]),
                ],
            ),
        ]
    # Local phones call in like callers from the trunk; the service's own endpoint calls out.
    users = [
        (
            p.number,
            f'"{p.name or p.number}" <{p.number}>',
            "hotline-inbound",
            inp.phone_passwords[p.number],
        )
        for p in pbx.phones
    ]
    if inp.outbound is not None:
        out = inp.outbound
        users.append(
            (out.user, f'"{out.caller_id}" <{out.caller_id}>', "hotline-outbound", out.password)
        )
    for user, callerid, context, password in users:
        sections += [
            (
                user,
                [
                    ("type", "endpoint"),
                    ("context", context),
                    ("aors", user),
                    ("auth", f"{user}-auth"),
                    ("callerid", callerid),
                    *media,
                ],
            ),
            (
                f"{user}-auth",
                [
                    ("type", "auth"),
                    ("auth_type", "userpass"),
                    ("username", user),
                    ("password", password),
                ],
            ),
        ]
    text = _ini(sections)
    # An aor shares its endpoint's name; ini sections may repeat, so append them apart.
    for name in [a.extension for a in pbx.agents] + [p.number for p in pbx.phones]:
        text += f"\n[{name}]\ntype = aor\nmax_contacts = 1\nremove_existing = yes\n"
    if inp.outbound is not None:  # registered by each of the service's dialling processes
        text += f"\n[{inp.outbound.user}]\ntype = aor\nmax_contacts = 32\nremove_existing = yes\n"
    if pbx.trunk.gateway:
        text += f"\n[trunk]\ntype = aor\ncontact = sip:{pbx.trunk.gateway}\n"
    return text


def queues_conf(pbx: PbxSettings) -> str:
    names = {a.extension: a.name or a.extension for a in pbx.agents}
    sections: list[tuple[str, list[tuple[str, object]]]] = [
        # autofill: callers are offered to free agents side by side. Asterisk 16 takes it as
        # "no" unless set (whatever its sample says): then a caller behind one being rung waits,
        # and hears the position announcement, with agents free.
        ("general", [("persistentmembers", "no"), ("shared_lastcall", "yes"), ("autofill", "yes")])
    ]
    for q in pbx.queues:
        items: list[tuple[str, object]] = [
            ("strategy", q.strategy),
            ("timeout", q.ring_timeout),
            ("retry", q.retry),
            # Seats that log in get a managed, visible wrap-up (a pause); static seats Asterisk's.
            ("wrapuptime", 0 if q.skill else q.wrapup),
            ("autofill", "yes"),
            ("joinempty", "yes"),
            ("leavewhenempty", "no"),
            ("ringinuse", "no"),
            ("announce-frequency", q.announce_frequency),
            ("announce-position", "yes" if q.announce_frequency else "no"),
            ("announce-holdtime", "yes" if q.announce_frequency and q.announce_holdtime else "no"),
            # Only callers who wait hear it. "yes" would play it to the caller at the head of
            # the queue before the first ring, even to an idle agent (7-9 s lost on every
            # call); with "no" the head caller hears it only once a round of ringing found no
            # agent, and callers behind others as soon as they queue (Asterisk's wait loop).
            ("announce-to-first-user", "no"),
            # A position that improves often is not re-announced sooner than this.
            ("min-announce-frequency", min(q.announce_frequency, 15)),
            ("timeoutpriority", "conf"),
            ("setinterfacevar", "yes"),
            # "all": an agent who lets a call ring out is away for every queue, not just this.
            ("autopause", "all" if q.autopause else "no"),
            ("autopausebusy", "no"),
            ("autopauseunavail", "no"),
        ]
        items += [("member", f"PJSIP/{m},0,{names[m]},PJSIP/{m}") for m in q.members]
        sections.append((q.name, items))
    return _ini(sections).replace("member = ", "member => ")


def extensions_conf(pbx: PbxSettings, inp: RenderInput) -> str:
    lines = [
        "; rendered by hotline: do not edit, edit config/hotline.yaml",
        "[general]",
        "static = yes",
        "writeprotect = yes",
        "",
        "[globals]",
        f"{dp.RECDIR} = {inp.recordings_dir}",
        "",
        "[hotline-inbound]",
    ]
    for route in pbx.inbound:
        q = pbx.queue(route.queue)
        lines += [
            f"exten => {route.number},1,Set({dp.inherited(dp.DIALLED)}={route.number})",
            # The route's own queue: where callers go without a menu, or when the IVR fails.
            f" same => n,Set({dp.DEFAULT_QUEUE}={q.name})",
            f" same => n,Set(CHANNEL(language)={q.language})",
            f" same => n,Set({dp.inherited(dp.LANGUAGE)}={q.language})",
        ]
        if route.menu and inp.agi_url:
            lines.append(f" same => n,Set({dp.MENU}={route.menu})")
        lines.append(" same => n,Goto(hotline-call,s,1)")
    lines += [
        "; numbers the hotline does not serve: 'unallocated number', recorded as failed",
        "exten => _[0-9*#+].,1,Hangup(1)",
        "",
        "[hotline-call]",
        "exten => s,1,Answer()",
        f' same => n,GotoIf($["{dp.ref(dp.MENU)}" = ""]?nomenu)',
    ]
    if inp.agi_url:
        lines += [
            # The argument names the PBX: one FastAGI server serves every PBX.
            f" same => n,AGI({inp.agi_url}/ivr/{dp.ref(dp.MENU)},{pbx.name})",
            *[
                line
                for url in inp.agi_fallbacks
                for line in (
                    # FAILURE with no IVR result: that server did not take the call.
                    ' same => n,GotoIf($["${AGISTATUS}" != "FAILURE"'
                    f' | "{dp.ref(dp.IVR)}" != ""]?agidone)',
                    f" same => n,AGI({url}/ivr/{dp.ref(dp.MENU)},{pbx.name})",
                )
            ],
            # The IVR writes HOTLINE_IVR=done last. Anything else (server down or refusing,
            # a failed session) must not cost the caller their call: on to the default queue.
            f' same => n(agidone),GotoIf($["{dp.ref(dp.IVR)}" = "{dp.IVR_DONE}"]?route)',
            f" same => n,Set({dp.IVR}={dp.IVR_SKIPPED})",
            f" same => n,Set({dp.IVR_ERROR}=${{AGISTATUS}})",
            " same => n,Goto(default)",
            f' same => n(route),GotoIf($["{dp.ref(dp.ACTION)}" = "{dp.ACTION_QUEUE}"]?queue)',
            f' same => n,GotoIf($["{dp.ref(dp.ACTION)}" = "{dp.ACTION_TRANSFER}"]?transfer)',
            "; the menu ended the call itself (its goodbye has been played)",
            " same => n,Hangup(16)",
        ]
    lines += [
        f" same => n(nomenu),Set({dp.IVR}={dp.IVR_NONE})",
        f" same => n(default),Set({dp.inherited(dp.QUEUE)}={dp.ref(dp.DEFAULT_QUEUE)})",
        f" same => n(queue),Goto(hotline-queue-{dp.ref(dp.QUEUE)},s,1)",
    ]
    if pbx.trunk.gateway:
        lines += [
            # U(): once the far end answers, stamp its channel (the record sees "transferred"
            # even if the caller hangs up before Dial returns).
            f" same => n(transfer),Dial(PJSIP/{dp.ref(dp.TRANSFER)}@trunk,60,"
            "U(hotline-transfer-connected^s^1))",
            f" same => n,Set({dp.TRANSFER_RESULT}=${{DIALSTATUS}})",
            # A transfer that fails (busy, no answer) must not leave the caller alone.
            ' same => n,GotoIf($["${DIALSTATUS}" != "ANSWER"]?default)',
            " same => n,Hangup()",
        ]
    else:
        lines.append(" same => n(transfer),Goto(default)")
    for q in pbx.queues:
        lines += ["", *_queue_context(q)]
    lines += [
        "",
        "[hotline-agent-connected]",
        # Caller and agent legs apart (for transcription) plus the mix: on the agent's channel
        # 'r' is what the agent says and 't' what the caller says.
        f"exten => s,1,Set({dp.CONNECTED}=${{STRFTIME(,,%s.%6q)}})",
        f" same => n,Set({dp.REC}={dp.ref(dp.RECDIR)}/${{STRFTIME(${{EPOCH}},,%Y%m%d)}}/"
        "${CHANNEL(linkedid)})",
        f" same => n,MixMonitor({dp.ref(dp.REC)}-mix.wav,r({dp.ref(dp.REC)}-agent.wav)"
        f"t({dp.ref(dp.REC)}-caller.wav))",
        " same => n,Return()",
        "",
        "[hotline-transfer-connected]",
        f"exten => s,1,Set({dp.TRANSFERRED}=${{STRFTIME(,,%s.%6q)}})",
        " same => n,Return()",
        "",
        "[hotline-agents]",
        "; agents may call each other by extension",
        "exten => _XX.,1,Dial(PJSIP/${EXTEN},30)",
        " same => n,Hangup()",
        "",
    ]
    if inp.outbound is not None:
        lines += _outbound_contexts(pbx, inp.outbound)
    return "\n".join(lines)


def _outbound_contexts(pbx: PbxSettings, out: OutboundUser) -> list[str]:
    """Calls the service places: local phones by number, any other number through the trunk.
    The caller's leg learns what happened on the far side as a hang-up cause, which PJSIP
    sends as a SIP status: busy 17 → 486, no answer 19 → 480, absent 20 → 480 (a phone not
    registered), rejected 21 → 403, no route 3 → 404."""
    lines = ["[hotline-outbound]"]
    for phone in pbx.phones:
        lines += [
            f"exten => {phone.number},1,Set({dp.OUT}=PJSIP/{phone.number})",
            " same => n,Goto(hotline-dial-out,s,1)",
        ]
    if pbx.trunk.gateway:
        lines += [
            f"exten => _[+0-9].,1,Set({dp.OUT}=PJSIP/${{EXTEN}}@trunk)",
            " same => n,Goto(hotline-dial-out,s,1)",
        ]
    else:
        lines.append("exten => _[+0-9].,1,Hangup(3)  ; no trunk: no route to that number")
    lines += [
        "",
        "[hotline-dial-out]",
        # Marks the call record: an outbound service call, not a caller to the hotline.
        f"exten => s,1,Set({dp.inherited(dp.OUTBOUND)}=${{CHANNEL(endpoint)}})",
        f' same => n,Set(CALLERID(all)="{out.caller_id}" <{out.caller_id}>)',
        f" same => n,Dial({dp.ref(dp.OUT)},{out.ring_timeout})",
        ' same => n,GotoIf($["${DIALSTATUS}" = "ANSWER"]?done)',
        ' same => n,GotoIf($["${DIALSTATUS}" = "BUSY"]?busy)',
        ' same => n,GotoIf($["${DIALSTATUS}" = "NOANSWER"]?noanswer)',
        ' same => n,GotoIf($["${HANGUPCAUSE}" = "21"]?rejected)',
        ' same => n,GotoIf($["${DIALSTATUS}" = "CHANUNAVAIL"]?absent)',
        " same => n,Hangup(34)  ; congestion and anything else: the far side failed",
        " same => n(busy),Hangup(17)",
        " same => n(noanswer),Hangup(19)",
        " same => n(rejected),Hangup(21)",
        " same => n(absent),Hangup(20)",
        " same => n(done),Hangup()",
        "",
    ]
    return lines


def _queue_context(q: QueueSettings) -> list[str]:
    """One context per queue: its wait limits and overflow live here, whoever chose it."""
    ovf = q.overflow
    move = ovf is not None and ovf.queue is not None
    # Moving on overflow: wait here only ``after`` seconds. Widening: the queue rule does it.
    timeout = ovf.after if ovf is not None and move else q.max_wait
    rule = f"hotline-{q.name}" if ovf is not None and ovf.max_penalty is not None else ""
    lines = [
        f"[hotline-queue-{q.name}]",
        # Precise times kept on the channels: after an AMI outage the service reads them back.
        f"exten => s,1,Set({dp.QUEUED}=${{STRFTIME(,,%s.%6q)}})",
    ]
    if q.max_penalty is not None:
        lines.append(f" same => n,Set({dp.QUEUE_MAX_PENALTY}={q.max_penalty})")
    lines += [
        # r: ringing while waiting (no music-on-hold files are shipped yet);
        # the gosub runs on the agent's channel once answered, before the bridge.
        f" same => n,Queue({q.name},r,,,{timeout},,,hotline-agent-connected,{rule})",
        f" same => n,Set({dp.QUEUE_RESULT}=${{QUEUESTATUS}})",
    ]
    if ovf is not None and ovf.queue is not None:
        lines += [
            ' same => n,GotoIf($["${QUEUESTATUS}" != "TIMEOUT"]?done)',
            f" same => n,Set({dp.inherited(dp.OVERFLOW)}={q.name})",
            f" same => n,Set({dp.inherited(dp.QUEUE)}={ovf.queue})",
            f" same => n,Goto(hotline-queue-{ovf.queue},s,1)",
        ]
    lines.append(" same => n(done),Hangup()")
    return lines


def queuerules_conf(pbx: PbxSettings) -> str:
    sections: list[tuple[str, list[tuple[str, object]]]] = []
    for q in pbx.queues:
        if q.overflow is not None and q.overflow.max_penalty is not None:
            rule = f"{q.overflow.after},{q.overflow.max_penalty}"
            sections.append((f"hotline-{q.name}", [("penaltychange", rule)]))
    return _ini(sections).replace("penaltychange = ", "penaltychange => ")


def render(pbx: PbxSettings, inp: RenderInput) -> dict[str, str]:
    return {
        "asterisk.conf": asterisk_conf(pbx, inp),
        "modules.conf": modules_conf(),
        "logger.conf": logger_conf(),
        "manager.conf": manager_conf(pbx, inp),
        "pjsip.conf": pjsip_conf(pbx, inp),
        "queues.conf": queues_conf(pbx),
        "queuerules.conf": queuerules_conf(pbx),
        "extensions.conf": extensions_conf(pbx, inp),
        "rtp.conf": _ini(
            [("general", [("rtpstart", pbx.embedded.rtp_start), ("rtpend", pbx.embedded.rtp_end)])]
        ),
        "cdr.conf": _ini([("general", [("enable", "no")])]),
        "cel.conf": _ini([("general", [("enable", "no")])]),
        "musiconhold.conf": _ini([("general", [])]),
        "indications.conf": _ini(
            [
                ("general", [("country", "cn")]),
                (
                    "cn",
                    [
                        ("description", "China"),
                        ("ringcadence", "1000,4000"),
                        ("dial", "450"),
                        ("busy", "450/350,0/350"),
                        ("ring", "450/1000,0/4000"),
                        ("congestion", "450/700,0/700"),
                        ("callwaiting", "450/400,0/4000"),
                        ("dialrecall", "450"),
                        ("record", "950/400,0/10000"),
                        ("info", "450/100,0/100,450/100,0/100,450/100,0/100,450/400,0/400"),
                        ("stutter", "450+425"),
                    ],
                ),
            ]
        ),
    }


def write_config(files: Mapping[str, str], runtime_dir: Path) -> Path:
    """Write the files into ``runtime_dir/etc`` (0600: they hold secrets); return that folder."""
    etc = runtime_dir / "etc"
    for sub in ("etc", "lib", "spool", "run", "log", "agi-bin"):
        (runtime_dir / sub).mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = etc / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    return etc
