"""The execution frontier and the environment, found by code: what is done, in progress, next, blocked,
and what the task runs on (commands, services, credential names).

Peers' compactions keep the broad goal and lose exactly these (codex #34095, #25900; claude-code
#24792): a summarizer paraphrases "Next: run the migration on staging" into "work continues".
So, like the constraints of kimicode/chat/floor.py, they are found with plain patterns, quoted
exactly, and carried by code. Two rules make them a frontier rather than a pile:

- the newest "next" and "in progress" statement supersedes the older ones (retired with a reason);
- an environment fact has a key (a variable's name, a service's name, a command): a newer value for
  the same key supersedes the older one, so the record says the latest port, not the first.

A credential is recorded by its name only: the value of ``STRIPE_SECRET_KEY=...`` is never kept
(the turn text is redacted before it gets here as well).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from kimicode.chat.floor import MAX_SENTENCE, TextTurn, normalise, sentences
from kimicode.chat.state import StateRecord

FRONTIER = ("doing", "next", "blocker", "done")
SUPERSEDED = ("doing", "next")  # only the newest one of these is the frontier
PER_TURN = {"done": 6, "doing": 2, "next": 2, "blocker": 4, "env": 12}
MAX_COMMAND = 200

_STATES = (
    ("done", re.compile(r"^(?:done|completed|finished|fixed|shipped)\s*:\s*\S"
                        r"|^(?:i|we)(?:'ve| have)?\s+(?:now\s+)?(?:finished|completed|fixed|shipped)\s+\S", re.I)),
    ("doing", re.compile(r"^(?:in progress|now working on|currently working on|working on)\s*:?\s*\S"
                         r"|^(?:i|we)(?:'m| am| are)\s+(?:now\s+)?working on\s+\S", re.I)),
    ("next", re.compile(r"^(?:next(?:\s+(?:step|action|up))?|todo|to-do|to do)\s*:\s*\S"
                        r"|^(?:the\s+)?next\s+(?:step|action)\s+is\s+\S|^next,\s+\S", re.I)),
    ("blocker", re.compile(r"^(?:blocked(?:\s+(?:on|by))?|blocker)\s*:\s*\S"
                           r"|\b(?:i|we)(?:'m| am| are)\s+blocked\s+(?:on|by)\s+\S|\bis\s+blocked\s+(?:on|by)\s+\S", re.I)),
)

_SHELL_FENCE = re.compile(r"^\s*(```|~~~)\s*(bash|sh|shell|console|zsh|terminal|fish|powershell|ps1)?\s*$", re.I)
_PROMPT_LINE = re.compile(r"^\s*\$\s+(\S.*)$")
_INLINE_CODE = re.compile(r"`([^`\n]{3,200})`")
_COMMAND_HEAD = re.compile(
    r"^(?:sudo\s+)?(?:pip3?|uv|poetry|pipenv|conda|npm|npx|pnpm|yarn|bun|node|deno|python3?|pytest|tox|nox|make|cmake|"
    r"cargo|rustup|go|gradle|mvn|dotnet|docker|docker-compose|podman|kubectl|helm|terraform|ansible|git|brew|"
    r"apt|apt-get|dnf|yum|export|source|psql|mysql|redis-cli|createdb|alembic|flask|django-admin|rails|bundle|"
    r"gem|mix|systemctl|ssh|scp|curl|ruff|mypy|black|just|task|direnv|\./[\w./-]+)\b"
)
_ASSIGN = re.compile(r"^(?:export\s+|set\s+)?([A-Z][A-Z0-9_]{1,60})=(\S*)")
_CREDENTIAL_NAME = re.compile(
    r"(?<![\w$])\$?\{?([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_(?:API_KEY|KEY|TOKEN|SECRET|SECRET_KEY|PASSWORD|PASS|PWD|"
    r"CREDENTIALS?|AUTH|DSN))\b")
_SERVICE_URL = re.compile(
    r"\b((?:https?|postgres(?:ql)?|mysql|redis|rediss|mongodb|amqp|grpc|ws)://)(?:[^\s/@:]+(?::[^\s/@]*)?@)?"
    r"((?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\]|[\w-]+(?:\.[\w-]+)*)(?::\d{2,5})?)(/[^\s)\"'`<>,]*)?")
_NAMED_PORT = re.compile(
    r"\b([A-Za-z][\w-]{1,30})\s+(?:now\s+)?(?:server\s+|service\s+)?(?:runs|is running|listens|is listening|is up|is|lives)?\s*"
    r"(?:on|at)\s+(?:localhost:|127\.0\.0\.1:|port\s+)(\d{2,5})\b", re.I)
_NOT_SERVICE = {"it", "this", "that", "which", "server", "service", "app", "and", "or", "running", "now", "still"}


@dataclass(frozen=True)
class Finding:
    kind: str  # done | doing | next | blocker | env
    text: str  # verbatim (a credential: its name and a note, never its value)
    turn: int
    key: str  # env: what a newer value of the same thing shares; else the normalised text


_USERINFO = re.compile(r"(?<=://)[^\s/@]+@")


def _without_userinfo(text: str) -> str:
    """``postgres://app:secret@host`` -> ``postgres://host``: a password in a URL is a value, never kept."""
    return _USERINFO.sub("", text)


def _credential_text(name: str) -> str:
    return f"credential {name} is needed (name only; its value is never kept)"


def _is_credential(name: str) -> bool:
    return bool(_CREDENTIAL_NAME.fullmatch(name))


def _command(line: str) -> Finding | None:
    """A command line as an environment fact; an assignment is keyed by its variable."""
    line = line.strip().rstrip(";")
    if not line or len(line) > MAX_COMMAND:
        return None
    assign = _ASSIGN.match(line)
    if assign:
        name = assign.group(1)
        if _is_credential(name):
            return Finding("env", _credential_text(name), 0, f"credential:{name}")
        return Finding("env", _without_userinfo(line), 0, f"variable:{name}")
    if not _COMMAND_HEAD.match(line):
        return None
    line = _without_userinfo(line)
    return Finding("env", line, 0, f"command:{normalise(line)}")


def _shell_lines(text: str) -> Iterable[str]:
    """Lines of shell blocks, ``$ `` prompt lines, and inline `commands`."""
    inside = shell = False
    for line in text.splitlines():
        fence = _SHELL_FENCE.match(line)
        if fence or re.match(r"^\s*(```|~~~)", line):
            if inside:
                inside = shell = False
            else:
                inside, shell = True, bool(fence and fence.group(2))
            continue
        prompt = _PROMPT_LINE.match(line)
        if prompt:
            yield prompt.group(1)
        elif inside and shell and not line.lstrip().startswith("#"):
            yield line
        elif not inside:
            yield from (m.group(1) for m in _INLINE_CODE.finditer(line))


def _services(text: str) -> Iterable[Finding]:
    for match in _SERVICE_URL.finditer(text):
        scheme, host, path = match.group(1), match.group(2), (match.group(3) or "").rstrip(".")
        if ":" not in host.strip("[]") and not host.startswith(("localhost", "127.", "0.0.0.0")):
            continue  # a public web address is a reference, not a service the task runs on
        url = f"{scheme}{host}{path}"  # any user:password@ is left out
        yield Finding("env", f"service {url}", 0, f"url:{scheme}{host}{path}")
    for sentence in sentences(text):
        for match in _NAMED_PORT.finditer(sentence):
            name = match.group(1).lower()
            if name not in _NOT_SERVICE and len(sentence) <= MAX_SENTENCE:
                yield Finding("env", sentence, 0, f"port:{name}")


def _states(text: str) -> Iterable[tuple[str, str]]:
    for sentence in sentences(text):
        if len(sentence) > MAX_SENTENCE or sentence.endswith("?"):
            continue
        for kind, pattern in _STATES:
            if pattern.search(sentence):
                yield kind, sentence
                break


def extract(turns: Iterable[TextTurn]) -> list[Finding]:
    """The frontier (from the user's and the assistant's words) and the environment (commands and
    credential names from their words, services from any turn's text), oldest first."""
    found: list[Finding] = []
    for turn in turns:
        if turn.role == "note":
            continue
        per: dict[str, int] = {}
        keys: set[str] = set()

        def add(kind: str, text: str, key: str, per: dict[str, int] = per, keys: set[str] = keys,
                turn_id: int = turn.id) -> None:
            if per.get(kind, 0) < PER_TURN[kind] and key not in keys:
                per[kind] = per.get(kind, 0) + 1
                keys.add(key)
                found.append(Finding(kind, text, turn_id, key))

        if turn.role in ("user", "assistant"):
            for kind, sentence in _states(turn.text):
                add(kind, sentence, normalise(sentence))
            for line in _shell_lines(turn.text):
                command = _command(line)
                if command is not None:
                    add("env", command.text, command.key)
            for match in _CREDENTIAL_NAME.finditer(turn.text):  # a tool's `printenv` would flood the record
                add("env", _credential_text(match.group(1)), f"credential:{match.group(1)}")
        for service in _services(turn.text):  # "listening on http://localhost:3000" in a tool's output counts
            add("env", service.text, service.key)
    return found


def carry(record: StateRecord, findings: Iterable[Finding], number: int) -> tuple[list[str], list[str]]:
    """Carry the findings in ``record`` (in place); returns the ids added and the ids superseded.

    A superseded item is retired, never deleted: /search and the ledger still show it, with the
    id of the item that took its place.
    """
    added: list[str] = []
    superseded: list[str] = []
    for found in findings:
        if found.kind == "env":
            same = [i for i in record.active("env") if i.key == found.key]
        else:
            same = [i for i in record.active(found.kind) if normalise(i.text) == found.key]
        match = next((i for i in same if i.text == found.text or found.kind != "env"), None)
        if match is not None:
            match.turns = sorted({*match.turns, found.turn})
            if not match.carried:
                match.origin = "floor"  # the model had it first: from now on code carries it
            if found.kind not in SUPERSEDED:
                continue
        older = same if found.kind == "env" else record.active(found.kind) if found.kind in SUPERSEDED else []
        if match is None:
            item = record.add(found.kind, found.text, [found.turn], "floor", since=number, key=found.key)
            added.append(item.id)
        else:
            item = match
        for old in older:
            if old is not item and not old.pinned and old.origin != "pin":
                old.status = "retired"
                what = "a newer value" if found.kind == "env" else f"the newer {found.kind} statement"
                old.reason = f"superseded by {item.id} (turn {found.turn}): {what} (compaction {number})"
                superseded.append(old.id)
    return added, superseded
