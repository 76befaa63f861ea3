"""Slash commands: the table, parsing, hints for typos, completion of names.

Pure Python (no Textual): the app parses here and runs the command through
kimicode/tui/operations.py in a worker.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    usage: str  # arguments, as shown in /help
    help: str
    needs_arg: bool = False  # the argument is required
    local: bool = False  # touches no session: allowed while an answer streams


COMMANDS: tuple[Command, ...] = (
    Command("add", "PATH", "attach a file (or a glob) of the repository in full", needs_arg=True),
    Command("drop", "PATH", "take a file out of the context", needs_arg=True),
    Command("pack", "[QUERY]", "pack the repository again, ranked for QUERY"),
    Command("context", "[lean|full]", "lean: outlines and tree, the model reads files with tools; full: packed files"),
    Command("compact", "", "fold older turns into the state summary now"),
    Command("state", "", "show the state summary"),
    Command("pin", "TEXT, ID or turn N", "carry TEXT, state item ID (F3) or turn N verbatim, never summarized",
            needs_arg=True),
    Command("unpin", "ID", "stop carrying a pin (P1, or a pinned item such as F3)", needs_arg=True),
    Command("compactions", "[N]", "the ledger: what each compaction summarized, kept verbatim and retired, and why"),
    Command("restore", "[FIRST[-LAST]]", "show compressed turns verbatim again (no argument: list them)"),
    Command("search", "TEXT", "find words in every turn and state item", needs_arg=True),
    Command("memory", "[QUERY]", "remembered errors of this repository (like QUERY)"),
    Command("forget", "ID", "forget a remembered error", needs_arg=True),
    Command("remember", "TEXT", "remember a convention, preference or decision (`kimicode memory undo`)", needs_arg=True),
    Command("edit", "[on|off]", "let the model propose file changes (each shown as a diff, applied on Apply)"),
    Command("diff", "", "what kimicode changed in this session's files (net per file, coloured)"),
    Command("undo", "", "restore the files of kimicode's last applied turn (refused if one changed since)"),
    Command("model", "[NAME]", "answer with another model from now on (no argument: show it)"),
    Command("budget", "", "tokens per shelf, the window, the last call's usage, what memory's requests cost, "
                         "compaction figures"),
    Command("files", "", "show or hide the files panel", local=True),
    Command("clear", "", "start a new session (the old one stays on disk)"),
    Command("export", "[PATH]", "write the session as Markdown (.json: JSON)"),
    Command("help", "", "commands and key bindings", local=True),
    Command("quit", "", "save and quit", local=True),
)
BY_NAME = {c.name: c for c in COMMANDS}


@dataclass(frozen=True)
class Parsed:
    command: Command
    arg: str


class CommandError(Exception):
    """An unknown command or a missing argument: one line with a hint."""


def is_command(text: str) -> bool:
    """A slash command, as opposed to a message (``//x`` and ``/path/to/file ...`` are messages)."""
    stripped = text.lstrip()
    if not stripped.startswith("/") or stripped.startswith("//"):
        return False
    head = stripped[1:].split(maxsplit=1)[0] if stripped[1:].strip() else ""
    return "/" not in head


def parse(text: str) -> Parsed:
    stripped = text.strip()
    head, _, arg = stripped[1:].partition(" ")
    name = head.lower()
    command = BY_NAME.get(name)
    if command is None:
        close = difflib.get_close_matches(name, list(BY_NAME), n=1, cutoff=0.5)
        hint = f"did you mean /{close[0]}? " if close else ""
        raise CommandError(f"unknown command /{head}: {hint}/help lists the commands")
    arg = arg.strip()
    if command.needs_arg and not arg:
        raise CommandError(f"/{command.name} needs an argument: /{command.name} {command.usage}")
    return Parsed(command, arg)


def complete_name(prefix: str) -> list[str]:
    """Command names starting with ``prefix`` (without the slash)."""
    return [c.name for c in COMMANDS if c.name.startswith(prefix.lower())]


def _cell(text: str) -> str:
    # an unescaped pipe ends the table cell, even inside a code span ("[lean|full]")
    return text.replace("|", "\\|")


def help_markdown(bindings: list[tuple[str, str]]) -> str:
    rows = ["| command | what it does |", "|---|---|"]
    rows += [f"| `/{_cell(c.name + (' ' + c.usage if c.usage else ''))}` | {_cell(c.help)} |" for c in COMMANDS]
    keys = ["| key | action |", "|---|---|"] + [f"| {_cell(k)} | {_cell(a)} |" for k, a in bindings]
    return "### Commands\n\n" + "\n".join(rows) + "\n\n### Keys\n\n" + "\n".join(keys) + "\n"
