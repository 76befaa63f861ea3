"""`ask` as a one-turn conversation: the shelves of one question, laid out by the engine.

The system shelf and the packed repository lead (the cached prefix, as in a chat); the one user
message then holds the attached files, the piped input, the recalled memory and the question,
in that order, the question last. Nothing is recorded: a one-turn conversation needs no session.
Everything but the repository is read and redacted once; the repository is packed again only
when the send policy asks for a smaller request. With tools (``AskTools``) the model's tool
rounds follow the question, the repository stays packed as it was (the cached prefix) and the
oldest tool outputs are hidden while the request would not fit.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from kimicode.engine.assembler import Assembler, Piece, Shelves
from kimicode.engine.send import CannotShrink, Sender, Shrink
from kimicode.engine.system import system_shelf
from kimicode.engine.transcript import Transcript
from kimicode.locations import read_prompt
from kimicode.prompt import Block, BudgetPlan, Message, Redaction, Request, ToolCall, framing_tokens, middle_out
from kimicode.repo.files import read_regular, secret_in_name
from kimicode.repo.pack import PackError, PackOptions, PackReport, pack_repository
from kimicode.repo.render import code_fence, frame_body, render_file
from kimicode.secrets import redact, secret_file_kind
from kimicode.tokens import TokenCounter
from kimicode.tools.base import Tool, Toolbox
from kimicode.tools.context import context_tools
from kimicode.tools.paths import RepoView
from kimicode.tools.repo import repo_tools

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
        # a small plan counts its short parts exactly: their byte bounds (up to 4x the tokens) would take its room
        self.assembler = Assembler(plan, counter, exact=plan.small)
        self.found: list[Redaction] = []  # redactions in everything but the repository
        self.notes: list[str] = []
        self.pack: PackReport | None = None  # the repository as last packed
        self._repo: tuple[str, int, list[Redaction], list[str]] | None = None  # its text, tokens, redactions, notes
        self.transcript: Transcript | None = None  # the tool rounds, when the model has tools
        self.tools: list[dict[str, Any]] = []  # their specs
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
        if plan.brief_words:  # a tight reply cap (a small or slow model): ask for an answer that ends before it
            question += "\n\n" + string.Template(read_prompt("brief.md")).substitute(words=plan.brief_words, tokens=plan.reply)
        self.tail = (Piece("recent", attached + piped), Piece("memory", memory), Piece("recent", question))

    def build(self, shrink: Shrink | None = None) -> Request:
        """The request, its repository within ``pack.budget`` and what the rest leaves; with tool
        rounds, the repository as first packed and the oldest outputs hidden until it fits."""
        if shrink is not None or self._repo is None:
            self._repo = self._pack(shrink)
        repo, repo_tokens, found, notes = self._repo
        request = self._assemble(repo, repo_tokens, notes)
        while self._over(request) and self.transcript is not None and self.transcript.hide_oldest():
            request = self._assemble(repo, repo_tokens, notes)
        request.redactions = self.found + found
        if request.shelves.total > self.plan.window:
            if self.transcript is not None and len(self.transcript):
                raise RequestError(f"after {len(self.transcript)} tool rounds the request needs {request.shelves.total:,} "
                                   f"tokens of a {self.plan.window:,}-token window even with every result hidden: "
                                   "lower tools.rounds for this model")
            raise RequestError(f"the question, files and piped input alone need {request.shelves.total:,} tokens "
                               f"of a {self.plan.window:,}-token window")
        return request

    def _over(self, request: Request) -> bool:
        """Over the window by either count: the whole request, or its shelves and the reply."""
        return request.tokens > request.limit or request.shelves.total > self.plan.window

    def _assemble(self, repo: str, repo_tokens: int, notes: list[str]) -> Request:
        after = self.transcript.views() if self.transcript is not None else ()
        # once tools have run the encoding is loaded (their output is counted exactly): byte bounds
        # of the short parts would only waste the window the rounds need
        assembler = self.assembler if not after else Assembler(self.plan, self.assembler.counter)
        return assembler.assemble(Shelves(self.system, repo, repo_tokens, tail=self.tail, notes=list(notes),
                                               after=after, tools=self.tools))

    def _pack(self, shrink: Shrink | None) -> tuple[str, int, list[Redaction], list[str]]:
        cap = self.plan.repo_cap
        if shrink is not None:
            held = self.pack.total_tokens + 1 if self.pack is not None else 0
            if held <= 0:
                raise CannotShrink  # no repository in the request: the same request again cannot fit
            cap = shrink.size("the repository", held)
        notes = list(self.notes)
        bare = self._assemble("", 0, [])
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
        return repo, repo_tokens, found, notes


def ask_toolbox(asking: AskRequest, view: RepoView | None, keep_rounds: int,
                recall: Callable[[str], str] | None = None, extra: Sequence[Tool] = ()) -> Toolbox | None:
    """The tools of one question (the repository's, when it is included, and the context tools),
    offered from its first request on; None (and a note) when their descriptions alone would take
    more than their share of the window (a small local model)."""
    if view is None and not extra:
        return None  # --no-repo and no MCP server: nothing to read, nothing for the context tools to act on
    counter = asking.assembler.counter
    transcript = Transcript(counter.count, keep_rounds)  # tool output is long: counted exactly
    toolbox = Toolbox.of(repo_tools(view) if view is not None else (), context_tools(transcript, recall), extra)
    specs = toolbox.specs()
    text, most = json.dumps(specs), asking.plan.share("tools", asking.plan.prompt_limit)
    if counter.bound(text) > most and counter.count(text) > most:  # the byte bound first: no encoding to load
        asking.notes.append(f"no tools: their descriptions need {counter.count(text):,} tokens, more than "
                            f"{most:,} of this model's window")
        return None
    asking.transcript, asking.tools = transcript, specs
    return toolbox


def record_round(asking: AskRequest) -> Callable[[Message, list[tuple[ToolCall, str]]], list[int]]:
    """What the tool loop calls after each round: the round joins the question's transcript."""
    def record(answer: Message, results: list[tuple[ToolCall, str]]) -> list[int]:
        assert asking.transcript is not None, "ask_toolbox gives the question its transcript"
        return [output.id for output in asking.transcript.add_round(answer, results)]

    return record


def fix_asker(client: ChatClient, plan: BudgetPlan, counter: TokenCounter) -> Callable[[str], str]:
    """`ask --remember`: what memory capture asks the model (root cause and fix), sent by the same policy."""
    from kimicode.llm import LLMError
    from kimicode.memory.capture import SUMMARY_TOKENS, CaptureError

    sender = Sender(client, plan.for_reply(SUMMARY_TOKENS))  # shows nothing while it streams

    def ask(prompt: str) -> str:
        limit = sender.plan.prompt_limit - framing_tokens(1)
        if counter.count(prompt) > limit:  # a small window: the conversation's middle gives way
            prompt = middle_out(prompt, limit, counter.count)
        try:
            result = sender.stream(Assembler(sender.plan, counter, exact=False).assemble(Shelves("", tail=(Piece("recent", prompt),))))
        except LLMError as exc:
            raise CaptureError(f"the model could not summarize the fix: {exc}") from None
        if result.partial:
            raise CaptureError(f"the model's summary was cut short ({result.error or 'stopped early'})")
        return result.content

    return ask
