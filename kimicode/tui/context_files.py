"""The files in a chat's context, for the files panel, /add and /drop.

Runs in worker threads (it reads files and counts tokens). The files come from two
places: the repo shelf (the pack: full files and outlines, plus files added to it) and
files attached to the conversation (``file:PATH`` tool turns not yet compacted).

/add attaches a file the way the chat core does when a message names it: a tool turn
after the last message, so nothing earlier in the request changes (the cached prefix
holds) and a later compaction moves the file into the repo shelf. When the session
offers ``add_file``/``drop_file`` (a chat-core API the TUI asks for), those are used
instead; until then /drop re-packs without the file.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import html
import re
from dataclasses import dataclass
from typing import Any

from kimicode.chat.chat import ChatError, ChatSession
from kimicode.chat.context import FILE_TURN, is_file_turn

MAX_ADD = 20  # files one /add may attach (a glob or a folder)
_XML_FILE = re.compile(r'<file path="([^"]*)" mode="(full|outline)">\n.*?</file>\n', re.DOTALL)
_MD_FILE = re.compile(r"^## (.+?)( \(outline\))?\n\n(`{3,})[^\n]*\n.*?^\3\n", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class FileRow:
    path: str
    mode: str  # full | outline | added | attached
    tokens: int


def _shelf_blocks(text: str) -> list[tuple[str, str, str]]:
    """(path, mode, block) for every file the repo shelf shows, in its order."""
    if text.lstrip().startswith("<repository"):
        return [(html.unescape(m.group(1)), m.group(2), m.group(0)) for m in _XML_FILE.finditer(text)]
    return [(m.group(1), "outline" if m.group(2) else "full", m.group(0)) for m in _MD_FILE.finditer(text)
            if m.group(1) != "Other files"]


def attached_turns(session: ChatSession) -> list[Any]:
    """File turns the next request still shows verbatim (not yet folded into the state)."""
    through = session.state.through
    return [t for t in session.turns if t.id > through and is_file_turn(t)]


def rows(session: ChatSession) -> list[FileRow]:
    """One row per file, in the order the request shows them; a file shown twice (an outline
    in the pack, then added in full) adds up."""
    count = session.counter.count
    added = set(session.repo.added)
    found: dict[str, FileRow] = {}

    def put(path: str, mode: str, tokens: int) -> None:
        old = found.get(path)
        found[path] = FileRow(path, mode, tokens) if old is None else FileRow(path, f"{old.mode}+{mode}", old.tokens + tokens)

    for path, mode, block in _shelf_blocks(session.repo.text):
        put(path, "added" if path in added and mode == "full" else mode, count(block))
    for turn in attached_turns(session):
        put(turn.name[len(FILE_TURN):], "attached", count(turn.text))
    return list(found.values())


def _expand(session: ChatSession, pattern: str) -> list[str]:
    listed = session.repo.listed
    pattern = pattern.strip().removeprefix("./")
    if pattern in listed:
        return [pattern]
    if any(ch in pattern for ch in "*?["):
        return sorted(p for p in listed if fnmatch.fnmatchcase(p, pattern))
    folder = pattern.rstrip("/") + "/"
    return sorted(p for p in listed if p.startswith(folder))


def _file_block(session: ChatSession, path: str) -> tuple[str, int]:
    """The file rendered like the pack renders it, secrets redacted; (block, secrets found)."""
    from kimicode.repo.files import content_reason
    from kimicode.repo.render import render_file
    from kimicode.repo.scan import decode
    from kimicode.secrets import redact

    root = session.meta.root
    try:
        with open(f"{root}/{path}", "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ChatError(f"cannot read {path}: {exc.strerror}") from None
    reason = content_reason(data)
    if reason:
        raise ChatError(f"{path} is {reason}: it is never sent")
    result = redact(decode(data)[0], path)
    fmt = "xml" if session.repo.text.lstrip().startswith("<repository") or not session.repo.text else "markdown"
    return render_file(path, "full", result.text, fmt), len(result.findings)


def add(session: ChatSession, pattern: str) -> str:
    """/add PATH: attach files in full; one line (or a few) for the chat."""
    own = getattr(session, "add_file", None)
    if callable(own):
        return str(own(pattern))
    if session.repo.failed or not session.repo.listed:
        raise ChatError(f"no repository in this session ({session.repo.note or 'not packed'}): nothing to add from")
    paths = _expand(session, pattern) or _undrop(session, pattern)
    if not paths:
        raise ChatError(f"{pattern}: not a file kimicode may send (ignored, binary, too large, a secret, or missing)")
    if len(paths) > MAX_ADD:
        raise ChatError(f"{pattern} matches {len(paths)} files: /add takes at most {MAX_ADD} at a time")
    attached = {t.name[len(FILE_TURN):] for t in attached_turns(session)}
    table = session.shelves()
    free = table.window - table.total
    lines: list[str] = []
    for path in paths:
        if path in session.repo.full or path in attached:
            lines.append(f"{path} is already in the context in full")
            continue
        block, secrets = _file_block(session, path)
        tokens = session.counter.count(block)
        if tokens > free:
            lines.append(f"{path} needs {tokens:,} tokens and the window has {max(free, 0):,} left: not added")
            continue
        session.add_tool_output(f"{FILE_TURN}{path}", block)
        free -= tokens
        redacted = f"; {secrets} secret(s) redacted" if secrets else ""
        lines.append(f"added {path} in full ({tokens:,} tokens{redacted})")
    return "\n".join(lines)


def _undrop(session: ChatSession, pattern: str) -> list[str]:
    """Paths an earlier /drop excluded from the pack: /add takes them back."""
    packer = getattr(session, "_packer", None)  # until ChatSession.add_file exists
    pattern = pattern.strip().removeprefix("./")
    if packer is None or pattern not in packer.options.exclude:
        return []
    packer.options = dataclasses.replace(packer.options, exclude=tuple(p for p in packer.options.exclude if p != pattern))
    return [pattern]


def drop(session: ChatSession, pattern: str) -> str:
    """/drop PATH: take files out of the context; one line for the chat."""
    own = getattr(session, "drop_file", None)
    if callable(own):
        return str(own(pattern))
    pattern = pattern.strip().removeprefix("./")
    in_shelf = [p for p, _, _ in _shelf_blocks(session.repo.text)
                if p == pattern or fnmatch.fnmatchcase(p, pattern) or p.startswith(pattern.rstrip("/") + "/")]
    attached = [t for t in attached_turns(session) if fnmatch.fnmatchcase(t.name[len(FILE_TURN):], pattern)
                or t.name[len(FILE_TURN):].startswith(pattern.rstrip("/") + "/")]
    if not in_shelf and not attached:
        raise ChatError(f"{pattern} is not in the context (the files panel, F2, lists what is)")
    lines: list[str] = []
    if in_shelf:
        packer = getattr(session, "_packer", None)  # until ChatSession.drop_file exists
        if packer is None:
            raise ChatError("this session cannot drop packed files")
        options = packer.options
        packer.options = dataclasses.replace(options, exclude=tuple(options.exclude) + tuple(in_shelf))
        before = session.repo.tokens
        session.repack(session.repo.query)
        shown = ", ".join(in_shelf[:5]) + (f" and {len(in_shelf) - 5} more" if len(in_shelf) > 5 else "")
        lines.append(f"dropped {shown}: the repository was packed again without it "
                     f"({before:,} -> {session.repo.tokens:,} tokens; the cached prefix starts over)")
    for turn in attached:
        lines.append(f"{turn.name[len(FILE_TURN):]} was attached in turn {turn.id}: it stays in the recent turns "
                     "until they are compacted (/compact)")
    return "\n".join(lines)
