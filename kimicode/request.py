"""Assemble one `ask` request from its shelves: stable parts first, the question last.

Order matters for cost: providers bill a byte-identical prompt prefix at a
fraction of the price, so the system prompt and project instructions lead,
then the packed repository, then what changes with every question.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from kimicode.budget import ShelfTable, framing_tokens, middle_out, repo_room
from kimicode.locations import read_prompt
from kimicode.repo.files import secret_in_name
from kimicode.repo.pack import PackError, PackOptions, PackReport, PackResult, pack_repository
from kimicode.repo.render import code_fence, frame_body, render_file
from kimicode.secrets import redact, secret_file_kind
from kimicode.tokens import TokenCounter

INSTRUCTION_FILES = ("AGENTS.md", "KIMI.md")
STDIN_SHARE = 0.25  # of the window, at most, for piped input


class RequestError(Exception):
    """The request cannot be built from what the user gave; one line."""


@dataclass(frozen=True)
class AskInputs:
    question: str
    repo_root: Path | None  # None: --no-repo
    files: Sequence[Path] = ()
    stdin: str = ""
    query: str | None = None
    memory: str = ""  # the memory shelf: recalled error fingerprints (kimicode.memory.recall)


@dataclass
class AskRequest:
    messages: list[dict[str, str]]
    shelves: ShelfTable
    pack: PackReport | None
    redactions: list[tuple[str, int, str]] = field(default_factory=list)  # (source, line, kind)
    notes: list[str] = field(default_factory=list)  # things the user should know (shown on stderr)


def _redacted(text: str, source: str, found: list[tuple[str, int, str]]) -> str:
    result = redact(text, source)
    found.extend((source, f.line, f.kind) for f in result.findings)
    return result.text


def project_instructions(root: Path | None) -> tuple[str, str] | None:
    """(file name, text) of the repo's AGENTS.md or KIMI.md, if any."""
    for name in INSTRUCTION_FILES if root else ():
        path = root / name  # type: ignore[operator]
        if path.is_file():
            return name, path.read_text(encoding="utf-8", errors="replace")
    return None


def system_text(root: Path | None, found: list[tuple[str, int, str]]) -> str:
    text = read_prompt("system.md")
    instructions = project_instructions(root)
    if instructions:
        name, body = instructions
        text += f"\n# Project instructions ({name})\n\n" + _redacted(body, name, found)
    return text


def _file_blocks(files: Sequence[Path], found: list[tuple[str, int, str]]) -> str:
    blocks = []
    for path in files:
        # a link named notes.txt may point at .env: the target's name counts as much as the link's
        kind = secret_file_kind(path.as_posix()) or secret_file_kind(path.resolve().as_posix())
        if kind:
            raise RequestError(f"refusing to send {path}: it looks like a secret ({kind})")
        if secret_in_name(path.as_posix()):
            raise RequestError("refusing to send a file whose name holds a secret (rename it first)")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RequestError(f"cannot read --file {path}: {exc.strerror}") from None
        if b"\0" in data[:8192]:
            raise RequestError(f"refusing to send {path}: it is a binary file")
        text = data.decode("utf-8", errors="replace")
        blocks.append(render_file(path.as_posix(), "full", _redacted(text, path.as_posix(), found), "xml"))
    return "# Files the user attached\n\n" + "".join(blocks) + "\n" if blocks else ""


def build_request(
    inputs: AskInputs,
    counter: TokenCounter,
    window: int,
    reply: int,
    pack_options: PackOptions,
    cache_dir: Path | None,
    repo_cap: int | None = None,
) -> tuple[AskRequest, PackResult | None]:
    """Messages within ``window - reply``; the repo shelf gets what the rest leaves (at most ``repo_cap``)."""
    found: list[tuple[str, int, str]] = []
    notes: list[str] = []
    system = system_text(inputs.repo_root, found)
    # the question is sent too, and also becomes the pack's query, which the pack header quotes
    question = _redacted(inputs.question, "question", found)
    query = _redacted(inputs.query, "--query", found) if inputs.query else question
    files = _file_blocks(inputs.files, found)
    stdin = ""
    if inputs.stdin.strip():
        piped = _redacted(inputs.stdin, "stdin", found)
        limited = middle_out(piped, int(window * STDIN_SHARE), counter.count)
        if limited != piped:
            notes.append(f"piped input was {counter.count(piped):,} tokens; its middle was elided to fit")
        fence = code_fence(limited)  # longer than any backtick run in the input: it cannot close early
        stdin = f"# Piped input\n\n{fence}\n{frame_body(limited.rstrip())}\n{fence}\n\n"
    # recalls change with every question: after the packed repository (the cached prefix), before the question
    memory = frame_body(_redacted(inputs.memory, "memory", found).rstrip()) + "\n\n" if inputs.memory.strip() else ""
    template = string.Template(read_prompt("ask.md"))
    question_part = template.substitute(repo="", files=files, stdin=stdin, memory="", question=question)
    sizes = {"system": counter.bound(system), "memory": counter.bound(memory) if memory else 0, "state": 0,
             "recent": counter.bound(question_part)}
    room = repo_room(window, reply, sizes, messages=2, cap=repo_cap)
    pack_result = None
    repo = ""
    if inputs.repo_root is not None and room > 0:
        options = replace(pack_options, budget=room, query=query)
        try:
            pack_result = pack_repository(inputs.repo_root, options, cache_dir)
            repo = pack_result.text + "\n"
            found.extend(pack_result.report.redactions)
        except PackError as exc:
            notes.append(f"repository not included: {exc}")
    elif inputs.repo_root is not None:
        notes.append("no room left for the repository in the model's window")
    user = template.substitute(repo=repo, files=files, stdin=stdin, memory=memory, question=question)
    # the pack was counted exactly when it was made (and cached): no need to count it again
    sizes["repo"] = pack_result.report.total_tokens + 1 if pack_result else 0
    sizes["reply"] = reply
    sizes["system"] += framing_tokens(2)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    request = AskRequest(messages, ShelfTable(window, sizes), pack_result.report if pack_result else None, found, notes)
    if request.shelves.total > window:
        raise RequestError(
            f"the question, files and piped input alone need {request.shelves.total:,} tokens of a {window:,}-token window"
        )
    return request, pack_result
