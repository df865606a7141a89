"""The IVR menu as data: the schema of the ``ivr`` config section and its validation.

A menu is a graph of nodes. Each node plays a prompt, waits for one digit, and follows the option
for that digit: another node, or an action that ends the menu (``queue``, ``transfer``,
``hangup``) or runs a self-service step (``lookup_ticket``) and then goes on. Silence and wrong
digits are retried; when the retries are spent the node's ``on_exhausted`` target is taken.

Validation rejects what would strand a caller: unknown nodes and prompts, nodes no caller can
reach, nodes from which no path ends the menu, and silence loops (a caller who never presses a key
must still end somewhere). Queue names are checked against the PBX section by the
service's settings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_LANG = re.compile(r"^[a-z]{2,3}$")
_SOUND = re.compile(r"^[a-z0-9-]+(/[a-z0-9-]+)?$")
DIGITS = "0123456789*#"
TICKET_STATUSES = ("draft", "open", "dispatched", "resolved", "closed", "reopened")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_id(v: str, what: str) -> str:
    if not _ID.match(v):
        raise ValueError(f"{what} {v!r} must be lower-case letters, digits and '_'")
    return v


class PromptRef(_Strict):
    """A prompt played in a fixed language (e.g. "For English, press 9" inside the Mandarin
    welcome); a bare prompt id in the config means "in the caller's current language"."""

    prompt: str
    language: str | None = None


def _refs(v: object) -> object:
    """Config shorthand: a bare id for ``{prompt: id}``, a single prompt for a list of one."""
    if isinstance(v, str | dict):
        v = [v]
    return [{"prompt": x} if isinstance(x, str) else x for x in v] if isinstance(v, list) else v


PromptList = Annotated[list[PromptRef], BeforeValidator(_refs)]


class LookupTicket(_Strict):
    """Self-service ticket status: the caller keys a ticket number ending with ``#``."""

    ask: str = "ticket_ask"
    number_is: str = "ticket_number_is"
    not_found: str = "ticket_not_found"
    status_prefix: str = "ticket_status_"  # + one of TICKET_STATUSES
    digit_prefix: str = "digit_"  # + 0..9: the number is read back digit by digit
    max_digits: int = Field(12, ge=1, le=20)
    timeout: float = Field(10.0, gt=0, le=60)
    then: str  # the node the caller goes to afterwards

    def prompt_ids(self) -> list[str]:
        ids = [self.ask, self.number_is, self.not_found]
        ids += [self.status_prefix + s for s in TICKET_STATUSES]
        ids += [f"{self.digit_prefix}{d}" for d in range(10)]
        return ids


class Target(_Strict):
    """Where a digit (or spent retries) leads: exactly one of ``goto`` or an action.

    ``language`` switches the caller's language first; ``kind`` names the request kind (stored on
    the call record and used for routing); ``category`` names the problem's category (a key of
    ``draft.categories``: stored on the call record, a prior for the ticket draft and the
    screen-pop's articles), so a node whose options name categories is a category level;
    ``priority`` is the queue priority (higher first).
    """

    goto: str | None = None
    queue: str | None = None
    transfer: str | None = None
    lookup_ticket: LookupTicket | None = None
    hangup: PromptList | None = None
    language: str | None = None
    kind: str | None = None
    category: str | None = None
    priority: int = Field(0, ge=0, le=100)

    @field_validator("transfer")
    @classmethod
    def _number(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[0-9+]{2,20}", v):
            raise ValueError("transfer must be a phone number (digits, optional leading +)")
        return v

    @model_validator(mode="after")
    def _one(self) -> Target:
        chosen = [
            k for k in ("goto", "queue", "transfer", "lookup_ticket", "hangup") if getattr(self, k)
        ]
        if len(chosen) != 1:
            raise ValueError(
                "a target needs exactly one of goto, queue, transfer, lookup_ticket, hangup"
                + (f" (got {', '.join(chosen)})" if chosen else "")
            )
        return self

    @property
    def ends_menu(self) -> bool:
        return bool(self.queue or self.transfer or self.hangup)

    def next_nodes(self) -> list[str]:
        if self.goto:
            return [self.goto]
        if self.lookup_ticket:
            return [self.lookup_ticket.then]
        return []

    def prompt_refs(self) -> list[PromptRef]:
        refs = list(self.hangup or [])
        if self.lookup_ticket:
            refs += [PromptRef(prompt=p) for p in self.lookup_ticket.prompt_ids()]
        return refs


class Node(_Strict):
    intro: PromptList = []  # played once, on entering the node
    prompt: PromptList  # played on every attempt
    options: dict[str, Target] = {}
    timeout: float = Field(5.0, gt=0, le=60)  # seconds to wait for a key after the prompt
    retries: int = Field(2, ge=0, le=10)  # attempts after the first
    invalid: PromptList = []  # played after a wrong key
    no_input: PromptList = []  # played after silence
    on_exhausted: Target

    @field_validator("options")
    @classmethod
    def _digits(cls, v: dict[str, Target]) -> dict[str, Target]:
        bad = [k for k in v if len(k) != 1 or k not in DIGITS]
        if bad:
            raise ValueError(f"option keys must be single keys of {DIGITS!r}, not {bad}")
        return v

    def targets(self) -> list[tuple[str, Target]]:
        return [(f"option {k!r}", t) for k, t in self.options.items()] + [
            ("on_exhausted", self.on_exhausted)
        ]

    def prompt_refs(self) -> list[PromptRef]:
        refs = self.intro + self.prompt + self.invalid + self.no_input
        for _, target in self.targets():
            refs += target.prompt_refs()
        return refs


class Menu(_Strict):
    entry: str
    nodes: dict[str, Node]

    @model_validator(mode="after")
    def _graph(self) -> Menu:
        for name in self.nodes:
            _check_id(name, "node name")
        if self.entry not in self.nodes:
            raise ValueError(f"entry node {self.entry!r} is not defined")
        for name, node in self.nodes.items():
            for where, target in node.targets():
                for nxt in target.next_nodes():
                    if nxt not in self.nodes:
                        raise ValueError(f"node {name!r}: {where} leads to unknown node {nxt!r}")
        reachable = _closure(self.entry, lambda n: _successors(self.nodes[n]))
        unreachable = [n for n in self.nodes if n not in reachable]
        if unreachable:
            raise ValueError(f"node {unreachable[0]!r} is unreachable from {self.entry!r}")
        # Every node must have some way out of the menu...
        exits = {n for n, node in self.nodes.items() if any(t.ends_menu for _, t in node.targets())}
        changed = True
        while changed:
            changed = False
            for n, node in self.nodes.items():
                if n not in exits and any(s in exits for s in _successors(node)):
                    exits.add(n)
                    changed = True
        stuck = [n for n in self.nodes if n not in exits]
        if stuck:
            raise ValueError(f"node {stuck[0]!r} is in a loop without an exit")
        # ...and a caller who never presses a key must reach one too.
        for name in self.nodes:
            seen: list[str] = []
            node_name = name
            while True:
                if node_name in seen:
                    loop = " -> ".join([*seen[seen.index(node_name) :], node_name])
                    raise ValueError(
                        f"node {node_name!r}: on silence the caller loops forever ({loop}); "
                        "let on_exhausted end the menu somewhere"
                    )
                seen.append(node_name)
                target = self.nodes[node_name].on_exhausted
                if target.ends_menu or not target.next_nodes():
                    break
                node_name = target.next_nodes()[0]
        return self


def _successors(node: Node) -> list[str]:
    return [n for _, t in node.targets() for n in t.next_nodes()]


def _closure(start: str, step: Callable[[str], list[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in step(todo.pop()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


class Language(_Strict):
    voice: str  # espeak-ng voice for the synthetic prompts, e.g. cmn, en-us


class RouteRule(_Strict):
    """Routing: a caller in ``language`` (and/or with request ``kind``) goes to ``queue``,
    whatever queue the menu option names. The first matching rule wins."""

    language: str | None = None
    kind: str | None = None
    queue: str

    @model_validator(mode="after")
    def _something(self) -> RouteRule:
        if self.language is None and self.kind is None:
            raise ValueError("a routing rule needs a language, a kind or both")
        return self

    def matches(self, language: str, kind: str | None) -> bool:
        return (self.language in (None, language)) and (self.kind in (None, kind))


class IvrSettings(_Strict):
    """The ``ivr`` section: languages, prompt texts, menus and the FastAGI server's limits."""

    default_language: str = "zh"
    languages: dict[str, Language] = {"zh": Language(voice="cmn")}
    prompts_dir: str = "var/prompts"
    # Prompt id → text per language. WAVs are synthesised from these; a recorded
    # ``<prompts_dir>/<language>/<id>.wav`` overrides the synthetic ``<id>.tts.wav`` beside it.
    prompts: dict[str, dict[str, str]] = {}
    menus: dict[str, Menu] = {}
    routing: list[RouteRule] = []
    # Sounds the PBX itself plays (queue announcements, numbers) in languages Asterisk has no
    # sounds for: language → Asterisk sound name (e.g. queue-thereare, digits/5) → text.
    pbx_sounds: dict[str, dict[str, str]] = {}
    header_timeout: float = Field(5.0, gt=0, le=60)  # AGI header must arrive within this
    command_timeout: float = Field(120.0, gt=0, le=3600)  # one AGI command, prompt included
    max_sessions: int = Field(1000, ge=1, le=100_000)

    @field_validator("languages")
    @classmethod
    def _langs(cls, v: dict[str, Language]) -> dict[str, Language]:
        for code in v:
            if not _LANG.match(code):
                raise ValueError(f"language code {code!r} must be 2-3 lower-case letters")
        if not v:
            raise ValueError("at least one language is needed")
        return v

    @field_validator("pbx_sounds")
    @classmethod
    def _sound_names(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for lang, sounds in v.items():
            for name in sounds:
                if not _SOUND.match(name):
                    raise ValueError(f"pbx_sounds.{lang}: {name!r} is not an Asterisk sound name")
        return v

    @field_validator("prompts")
    @classmethod
    def _prompt_ids(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for pid, texts in v.items():
            _check_id(pid, "prompt id")
            for lang, text in texts.items():
                if not text.strip():
                    raise ValueError(f"prompt {pid!r} has an empty {lang!r} text")
        return v

    @model_validator(mode="after")
    def _references(self) -> IvrSettings:
        langs = set(self.languages)
        if self.default_language not in langs:
            raise ValueError(f"default_language {self.default_language!r} is not in languages")
        for i, rule in enumerate(self.routing):
            if rule.language is not None and rule.language not in langs:
                raise ValueError(f"routing[{i}]: unknown language {rule.language!r}")
        for lang in self.pbx_sounds:
            if lang not in langs:
                raise ValueError(f"pbx_sounds: unknown language {lang!r}")
        for pid, texts in self.prompts.items():
            unknown = sorted(set(texts) - langs)
            if unknown:
                raise ValueError(f"prompt {pid!r} has text for unknown language(s) {unknown}")
        for mname, menu in self.menus.items():
            _check_id(mname, "menu name")
            for nname, node in menu.nodes.items():
                where = f"menu {mname!r} node {nname!r}"
                for _, target in node.targets():
                    if target.language is not None and target.language not in langs:
                        raise ValueError(f"{where}: unknown language {target.language!r}")
                for ref in node.prompt_refs():
                    self._check_prompt(where, ref)
        return self

    def _check_prompt(self, where: str, ref: PromptRef) -> None:
        texts = self.prompts.get(ref.prompt)
        if texts is None:
            raise ValueError(f"{where}: prompt {ref.prompt!r} is not defined in ivr.prompts")
        # A caller may be in any language when a node plays, unless the reference fixes one.
        if ref.language and ref.language not in self.languages:
            raise ValueError(f"{where}: prompt {ref.prompt!r} names unknown language")
        needed = [ref.language] if ref.language else sorted(self.languages)
        missing = [lang for lang in needed if lang not in texts]
        if missing:
            raise ValueError(f"{where}: prompt {ref.prompt!r} has no {missing[0]!r} text")

    def route(self, language: str, kind: str | None, default: str) -> str:
        """The queue for a caller: the first matching routing rule, else the option's queue."""
        return next((r.queue for r in self.routing if r.matches(language, kind)), default)

    def queues_used(self) -> list[tuple[str, str]]:
        """(where, queue name) for every queue the menus and languages name."""
        out = [(f"ivr.routing[{i}]", r.queue) for i, r in enumerate(self.routing)]
        for mname, menu in self.menus.items():
            for nname, node in menu.nodes.items():
                for where, target in node.targets():
                    if target.queue:
                        out.append((f"menu {mname!r} node {nname!r} {where}", target.queue))
        return out

    def categories_used(self) -> list[tuple[str, str]]:
        """(where, category) for every category the menus name; the service's settings check
        them against ``draft.categories`` (the IVR does not know the taxonomy)."""
        return [
            (f"menu {mname!r} node {nname!r} {where}", target.category)
            for mname, menu in self.menus.items()
            for nname, node in menu.nodes.items()
            for where, target in node.targets()
            if target.category
        ]

    def transfers_used(self) -> list[str]:
        return [
            t.transfer
            for menu in self.menus.values()
            for node in menu.nodes.values()
            for _, t in node.targets()
            if t.transfer
        ]
