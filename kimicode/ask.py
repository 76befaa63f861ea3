"""`ask` as a one-turn conversation: the shelves of one question, laid out by the engine.

The system shelf and the packed repository lead (the cached prefix, as in a chat); the one user
message then holds the attached files, the piped input, the recalled memory and the question,
in that order, the question last. Nothing is recorded: a one-turn conversation needs no session.
Everything but the repository is read and redacted once; the repository is packed again only
when the send policy asks for a smaller request.
"""

from __future__ import annotations

import dataclasses
import string
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from kimicode.engine.assembler import Assembler, Piece, Shelves
from kimicode.engine.send import CannotShrink, Sender, Shrink
from kimicode.engine.system import system_shelf
from kimicode.locations import read_prompt
from kimicode.prompt import Block, BudgetPlan, Redaction, Request, middle_out
from kimicode.repo.files import read_regular, secret_in_name
from kimicode.repo.pack import PackError, PackOptions, PackReport, pack_repository
from kimicode.repo.render import code_fence, frame_body, render_file
from kimicode.secrets import redact, secret_file_kind
from kimicode.tokens import TokenCounter

if TYPE_CHECKING:
    from kimicode.llm import ChatClient


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


def _redacted(text: str, source: str, found: list[Redaction]) -> str:
    result = redact(text, source)
    found.extend((source, f.line, f.kind) for f in result.findings)
    return result.text


def attached_file(path: Path, found: list[Redaction]) -> Block:
    """A file given with --file, whole and redacted; RequestError when it must not be sent."""
    # a link named notes.txt may point at .env: the target's name counts as much as the link's
    kind = secret_file_kind(path.as_posix()) or secret_file_kind(path.resolve().as_posix())
    if kind:
        raise RequestError(f"refusing to send {path}: it looks like a secret ({kind})")
    if secret_in_name(path.as_posix()):
        raise RequestError("refusing to send a file whose name holds a secret (rename it first)")
    try:
        data = read_regular(path)
    except OSError as exc:
        raise RequestError(f"cannot read --file {path}: {exc.strerror}") from None
    if b"\0" in data[:8192]:
        raise RequestError(f"refusing to send {path}: it is a binary file")
    text = data.decode("utf-8", errors="replace")
    return Block(path.as_posix(), "full", _redacted(text, path.as_posix(), found), why="attached with --file")


class AskRequest:
    """Builds the request of one question; ``build`` is what the send policy calls."""

    def __init__(self, inputs: AskInputs, counter: TokenCounter, plan: BudgetPlan, pack_options: PackOptions,
                 cache_dir: Path | None) -> None:
        self.inputs = inputs
        self.plan = plan
        self.pack_options = pack_options
        self.cache_dir = cache_dir
        self.assembler = Assembler(plan, counter, exact=False)
        self.found: list[Redaction] = []  # redactions in everything but the repository
        self.notes: list[str] = []
        self.pack: PackReport | None = None  # the repository as last packed
        found = self.found
        self.system = system_shelf(read_prompt("system.md"), inputs.repo_root, found)
        # the question is sent too, and also becomes the pack's query, which the pack header quotes
        self.question = _redacted(inputs.question, "question", found)
        self.query = _redacted(inputs.query, "--query", found) if inputs.query else self.question
        blocks = [attached_file(path, found) for path in inputs.files]
        files = "".join(render_file(b.path, b.mode, b.text, "xml") for b in blocks)
        attached = "# Files the user attached\n\n" + files + "\n" if files else ""
        piped = ""
        if inputs.stdin.strip():
            text = _redacted(inputs.stdin, "stdin", found)
            limited = middle_out(text, plan.piped(), counter.count)
            if limited != text:
                self.notes.append(f"piped input was {counter.count(text):,} tokens; its middle was elided to fit")
            fence = code_fence(limited)  # longer than any backtick run in the input: it cannot close early
            piped = f"# Piped input\n\n{fence}\n{frame_body(limited.rstrip())}\n{fence}\n\n"
        # recalls change with every question: after the packed repository (the cached prefix), before the question
        memory = frame_body(_redacted(inputs.memory, "memory", found).rstrip()) + "\n\n" if inputs.memory.strip() else ""
        question = string.Template(read_prompt("ask.md")).substitute(question=self.question)
        self.tail = (Piece("recent", attached + piped), Piece("memory", memory), Piece("recent", question))

    def build(self, shrink: Shrink | None = None) -> Request:
        """The request, its repository within ``pack.budget`` and what the rest leaves."""
        cap = self.plan.repo_cap
        if shrink is not None:
            held = self.pack.total_tokens + 1 if self.pack is not None else 0
            if held <= 0:
                raise CannotShrink  # no repository in the request: the same request again cannot fit
            cap = shrink.size("the repository", held)
        notes = list(self.notes)
        bare = self.assembler.assemble(Shelves(self.system, tail=self.tail))
        room = min(self.plan.prompt_limit - bare.tokens, cap)
        repo, repo_tokens = "", 0
        found: list[Redaction] = []
        self.pack = None
        if self.inputs.repo_root is not None and room > 0:
            options = replace(self.pack_options, budget=room, query=self.query)
            try:
                result = pack_repository(self.inputs.repo_root, options, self.cache_dir)
            except PackError as exc:
                notes.append(f"repository not included: {exc}")
            else:
                self.pack = result.report
                repo = result.text + "\n"
                # the pack was counted exactly when it was made (and cached): no need to count it again
                repo_tokens = result.report.total_tokens + 1
                found = list(result.report.redactions)
        elif self.inputs.repo_root is not None:
            notes.append("no room left for the repository in the model's window")
        request = self.assembler.assemble(Shelves(self.system, repo, repo_tokens, tail=self.tail, notes=notes))
        request.redactions = self.found + found
        if request.shelves.total > self.plan.window:
            raise RequestError(f"the question, files and piped input alone need {request.shelves.total:,} tokens "
                               f"of a {self.plan.window:,}-token window")
        return request


def fix_asker(client: ChatClient, plan: BudgetPlan, counter: TokenCounter) -> Callable[[str], str]:
    """`ask --remember`: what memory capture asks the model (root cause and fix), sent by the same policy."""
    from kimicode.llm import LLMError
    from kimicode.memory.capture import SUMMARY_TOKENS, CaptureError

    sender = Sender(client, dataclasses.replace(plan, reply=SUMMARY_TOKENS))  # shows nothing while it streams

    def ask(prompt: str) -> str:
        try:
            result = sender.stream(Assembler(sender.plan, counter, exact=False).assemble(Shelves("", tail=(Piece("recent", prompt),))))
        except LLMError as exc:
            raise CaptureError(f"the model could not summarize the fix: {exc}") from None
        if result.partial:
            raise CaptureError(f"the model's summary was cut short ({result.error or 'stopped early'})")
        return result.content

    return ask
