"""A conversation: what the TUI (or a script) drives turn by turn.

It composes the pieces, each with one job, and a face reaches them by name: the session log
(``log``, log.py: turns and typed records on disk), the history (``history``, history.py: which
turns a request shows; pins, /restore, /search), the files in context (``files``, files.py: the
repository shelf, attached files, /add, /drop, /pack), the compactor (``compactor``), and
the engine, which lays out every request (kimicode.engine.assembler) and sends it
(kimicode.engine.send: near-window count, overflow shrink-and-retry, calibration). What
happens on the way reaches the face as typed events (kimicode.engine.events).

Every turn is on disk (fsynced) before the next step runs: the user's message before the
request is sent, the answer as soon as it is complete, a state snapshot and a compaction
report whenever they change.

One call at a time: the TUI runs ``send`` in a worker and must not call another method
of the same conversation until it returns (``cancel`` excepted: it stops the answer).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kimicode.chat.compaction import CompactionReport
from kimicode.chat.compactor import Compactor
from kimicode.chat.context import ContextPolicy, TurnTexts
from kimicode.chat.edits import ChatEdits
from kimicode.chat.errors import ChatError
from kimicode.chat.files import ContextFiles
from kimicode.chat.floor import decisions, extract
from kimicode.chat.history import Budget, History, Recalls
from kimicode.chat.ledger import CompactionLedger
from kimicode.chat.log import SessionLog
from kimicode.chat.outputs import Outputs
from kimicode.chat.records import Turn, replay
from kimicode.chat.repo_shelf import RepoPacker, RepoShelf
from kimicode.chat.session import LoadedSession, SessionFile
from kimicode.chat.state import StateRecord, add_floor, render
from kimicode.chat.summarize import Summarizer
from kimicode.chat.telemetry import Pressure, Telemetry, reach, telemetry
from kimicode.engine.assembler import Assembler, Piece, Shelves
from kimicode.engine.events import Emit, Event, Failed, Notice, TurnBegan, TurnEnded, UsageReported, ignore
from kimicode.engine.memory import SessionMemory
from kimicode.engine.send import Calibration, CannotShrink, Sender, Shrink, plan_for
from kimicode.engine.system import system_shelf
from kimicode.engine.tool_loop import LoopResult, ToolLoop, ToolPolicy
from kimicode.engine.transcript import call_line
from kimicode.llm import ChatClient, ChatResult, LLMError
from kimicode.locations import read_prompt
from kimicode.models import ModelSpec
from kimicode.prompt import BudgetPlan, Message, Redaction, Request, ShelfTable, ToolCall
from kimicode.tokens import TokenCounter
from kimicode.tools.base import Tool, Toolbox
from kimicode.tools.context import context_tools
from kimicode.tools.paths import RepoView
from kimicode.tools.repo import repo_tools


@dataclass
class Exchange:
    """What one ``send`` did."""

    user: Turn
    assistant: Turn
    result: ChatResult
    shelves: ShelfTable  # the request as sent
    prompt_tokens: int  # our count of the request as sent
    compactions: list[CompactionReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tools: LoopResult | None = None  # the tool rounds, when the model had tools


@dataclass(frozen=True)
class ToolSetup:
    """What the model may call in a conversation: the repository (``view``), the context tools and
    ``extra`` (MCP servers' tools; ``close`` stops their servers with the conversation); ``edit``:
    the edit tools from the start (each change waits for the face's decision; kimicode.chat.edits)."""

    policy: ToolPolicy = ToolPolicy()
    view: RepoView | None = None
    extra: tuple[Tool, ...] = ()
    close: Callable[[], None] | None = None
    edit: bool = False


def _plan(spec: ModelSpec, policy: ContextPolicy, repo_cap: int) -> BudgetPlan:
    return plan_for(spec, policy.reply_tokens, repo_cap, policy.shares)


RECALL_TOOL_TOKENS = 2_000  # most a recall_errors answer takes (the loop budgets it again)


def _recall_tool(memory: SessionMemory | None) -> Callable[[str], str] | None:
    """recall_errors over the session's memory: what it holds about an error the model met."""
    if memory is None:
        return None

    def recall(text: str) -> str:
        try:
            return memory.shelf(text, RECALL_TOOL_TOKENS, rerank=False) or "the memory holds nothing like this"
        except Exception as exc:  # noqa: BLE001 - memory is optional: the model reads that it is unavailable
            return f"memory unavailable: {exc}"

    return recall


def _scrub(client: ChatClient, text: str) -> str:
    """``text`` with the client's API key masked: nothing written to disk holds it."""
    key = client.endpoint.api_key
    return text.replace(key, "***") if key and len(key) >= 8 else text


class Conversation:
    def __init__(
        self,
        file: SessionFile,
        loaded: LoadedSession,
        client: ChatClient,
        counter: TokenCounter,
        *,
        policy: ContextPolicy | None = None,
        packer: RepoPacker | None = None,
        summarizer_client: ChatClient | None = None,
        project_root: Path | None = None,
        memory: SessionMemory | None = None,
        calibration_dir: Path | None = None,
        owned: tuple[ChatClient, ...] = (),
        tools: ToolSetup | None = None,
    ) -> None:
        self.counter = counter
        self.policy = policy or ContextPolicy()
        self._repo_cap = packer.options.budget if packer is not None else 0
        self._owned = list(owned)
        self.log = SessionLog(file, loaded, lambda text: _scrub(self.client, text))
        self.client = client
        found: list[Redaction] = []
        self._system = system_shelf(read_prompt("system.md"), project_root, found)
        self.redactions: list[Redaction] = found
        resumed = replay(loaded.records)
        self.tools = tools
        self.toolbox: Toolbox | None = None
        self.edits: ChatEdits | None = None  # None: no repository to change
        self._tool_specs: list[dict[str, Any]] = []
        outputs = None
        if tools is not None and (tools.view is not None or tools.extra):  # else nothing to read
            outputs = Outputs(self.log, resumed, tools.policy.keep_rounds)
            self.toolbox = Toolbox.of(repo_tools(tools.view) if tools.view is not None else (),
                                      context_tools(outputs, _recall_tool(memory)), tools.extra)
            if tools.view is not None:
                self.edits = ChatEdits(tools.view, self.log, loaded.records, self.toolbox)
                self.edits.switch(tools.edit)
            self._tool_specs = self.toolbox.specs()
        self.budget = Budget(_plan(client.spec, self.policy, self._repo_cap), self._fixed_tokens())
        self.files = ContextFiles(packer, self.log, self.budget, resumed.dropped)
        self.history = History(self.log, counter, self.budget, client.spec.thinking, self.files.hides)
        self.history.record, self.history.restored = resumed.record, resumed.restored
        self.history.outputs = outputs
        sclient = summarizer_client or client
        self._summary_client = summarizer_client  # stopped with the answer (cancel)
        # the summary's answer: a quarter of the window at most, and never past the model's reply cap
        summary = plan_for(sclient.spec, min(self.policy.summary_tokens, sclient.spec.context_window // 4), 0)
        summarizer = Summarizer(sclient, counter, summary.window, summary.reply)
        self.compactor = Compactor(self.history, self.files, self.log, summarizer, self.policy)
        self.compactor.reports = resumed.reports
        self.compactor.ledgers = resumed.ledgers
        self.memory = memory
        self._turns_at_open = len(self.log.turns)  # a resumed session that adds nothing is not captured again
        self.recalls = Recalls(self._recall if memory is not None else None, self.log.warnings)
        self._calibration_dir = calibration_dir
        self.use_client(client)  # the plan, the turn texts and the sender follow the model
        self.files.resume(resumed.pack_query, resumed.pack_added, resumed.pack_skip, resumed.pack_lean)

    # -- what the face reads ----------------------------------------------------------

    @property
    def id(self) -> str:
        return self.log.id

    @property
    def path(self) -> Path:
        return self.log.path

    @property
    def turns(self) -> list[Turn]:
        return self.log.turns

    @property
    def warnings(self) -> list[str]:
        return self.log.warnings

    @property
    def spec(self) -> ModelSpec:
        return self.client.spec

    @property
    def record(self) -> StateRecord:
        """The current state record (read it; change it through history.pin/unpin and compact)."""
        return self.history.record

    @property
    def reports(self) -> list[CompactionReport]:
        return self.compactor.reports

    @property
    def ledgers(self) -> list[CompactionLedger]:
        """What each compaction summarized, kept verbatim and retired, and why (/compactions)."""
        return self.compactor.ledgers

    @property
    def repo(self) -> RepoShelf:
        return self.files.repo

    # -- the model ----------------------------------------------------------------------

    def use_client(self, client: ChatClient, owned: bool = False) -> None:
        """/model: answer with another model from the next turn on; window and reply follow its spec."""
        self.client = client
        if owned:
            self._owned.append(client)
        # a slow local model's time target gives way to what every request carries (system text, tools)
        self.budget.plan = _plan(client.spec, self.policy, self._repo_cap).with_room(self.budget.system)
        self.history.texts = TurnTexts(self.counter, thinking=client.spec.thinking)
        calibration = None
        if self._calibration_dir is not None:
            calibration = Calibration(self._calibration_dir, client.endpoint.model, self.counter.calibration)
        self._sender = Sender(client, self.budget.plan, calibration=calibration)

    def cancel(self) -> None:
        """Stop the answer being streamed now (from any thread): what arrived is kept, marked partial.

        A compaction's summary or probe request in flight stops too (the compaction falls back to code).
        """
        clients = (self.client, self._summary_client, *self._owned)
        for client in {id(c): c for c in clients if c is not None}.values():
            client.cancel()

    def close(self) -> None:
        memory, self.memory = self.memory, None  # closing twice captures once
        try:
            if memory is not None:
                self._capture(memory, "session")
                memory.close()
        finally:
            self.log.close()
            for client in self._owned:
                client.close()
            if self.tools is not None and self.tools.close is not None:
                self.tools.close()

    def __enter__(self) -> Conversation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fixed_tokens(self) -> int:
        """The system shelf and the tools' descriptions: in every request."""
        specs = self.counter.count(json.dumps(self._tool_specs)) if self._tool_specs else 0
        return self.counter.count(self._system) + specs

    # -- edits --------------------------------------------------------------------------

    def set_editing(self, on: bool) -> None:
        """/edit on|off: the edit tools from the next turn on (their descriptions count in the budget)."""
        if self.edits is None or self.toolbox is None:
            raise ChatError("editing needs the repository tools: tools.enabled is off, or there is no repository")
        self.edits.switch(on)
        self._tool_specs = self.toolbox.specs()
        self.budget.system = self._fixed_tokens()
        self.budget.plan = _plan(self.client.spec, self.policy, self._repo_cap).with_room(self.budget.system)

    # -- recording --------------------------------------------------------------------

    def add_note(self, text: str, kind: str = "note") -> Turn:
        """A note for the transcript; never sent to the model."""
        return self.log.note(text, kind)

    # -- the request ------------------------------------------------------------------

    def request(self) -> Request:
        """The request the next ``send`` would make for the turns recorded so far."""
        history = self.history
        room = self.budget.history_room()
        recall = self.recalls.text(history.last_question(), self.budget.plan.share("recall", room))
        shelves = Shelves(self._system, self.repo.text, self.repo.tokens, render(history.record),
                          history.views(history.restored_turns(), room), history.views(history.recent(), room),
                          tail=(Piece("memory", recall),) if recall else (), tools=self._tool_specs)
        request = Assembler(self.budget.plan, self.counter).assemble(shelves, shorten=True)
        if request.tokens > request.limit:
            plan = self.budget.plan
            raise ChatError(
                f"the request needs {request.tokens:,} tokens but {plan.window:,} - {plan.reply:,} reply leaves "
                f"{request.limit:,}: the system prompt and pinned items alone are too large; unpin items or use a larger model"
            )
        return request

    def shelves(self) -> ShelfTable:
        """Tokens per shelf of the next request: what the budget bar shows."""
        return self.request().shelves

    def pressure(self) -> Pressure:
        """How near the next compaction is (the budget bar warns before it happens)."""
        room = self.budget.history_room()
        return Pressure(self.history.tokens(room), room, self.budget.plan.share("warn", room))

    def telemetry(self) -> Telemetry:
        """Compactions so far and how much of the conversation is still reachable (/budget)."""
        history = self.history
        visible = {t.id for t in history.recent()} | {t.id for t in history.restored_turns()}
        found = reach(self.turns, history.record, visible, self.counter.count)
        return telemetry(self.reports, history.record, found)

    # -- a turn ---------------------------------------------------------------------------

    def _smaller(self, shrink: Shrink, reports: list[CompactionReport]) -> Request:
        """The request again, smaller by what the send policy says.

        Near the window, the provider's count decides: the history gives way and the repository
        (the head of the cached prefix) stays. After "too long", both shrink.
        """
        if shrink.reason == "window":  # the provider named its window: the plan follows, then the shelves
            self.budget.plan = self._sender.plan
            if self.files.packer is not None and self.repo.tokens > self.budget.repo_budget():
                self.files.repack(self.repo.query, shrink.size("the repository", self.repo.tokens))
            reports += self.compactor.compact("overflow", self.budget.history_room())
        elif shrink.reason == "overflow":
            if self.files.packer is not None and self.repo.tokens:
                self.files.repack(self.repo.query, shrink.size("the repository", self.repo.tokens))
            room = self.budget.history_room()
            reports += self.compactor.compact("overflow", shrink.size("the conversation", room), force=True)
        else:
            compacted = self.compactor.compact("count", shrink.size("the conversation", self.budget.history_room()))
            if not compacted:
                raise CannotShrink  # the history is small already: the overflow answer, if any, shrinks the rest
            reports += compacted
        return self.request()

    def send(self, text: str, emit: Emit = ignore) -> Exchange:
        """Record the user's message, make room, stream the answer, record it; ``emit`` sees it happen."""
        if not text.strip():
            raise ChatError("the message is empty")
        user = self.log.turn("user", text)
        if self.edits is not None:
            self.edits.begin(user.id)  # what this turn applies is one set, undone as one
        notes: list[str] = []
        spent = [0, 0]  # prompt and completion tokens of every request of this answer, as the provider counts

        def tell(event: Event) -> None:
            if isinstance(event, Notice) and event.topic != "retry":
                notes.append(event.text)  # the exchange keeps what the user was told, retries aside
            elif isinstance(event, UsageReported):
                spent[0] += event.prompt_tokens
                spent[1] += event.completion_tokens
            emit(event)

        tell(TurnBegan(user.id, text))
        self.compactor.emit = self._sender.emit = tell
        history = self.history
        for note in self.files.follow(history.texts.redacted(user)[0], history.attached(),
                                      self.budget.message_limit(self.budget.history_room()), self.policy.max_attach):
            tell(Notice(note))
        reports: list[CompactionReport] = []
        loop: LoopResult | None = None
        try:
            reports += self.compactor.compact("budget", self.budget.history_room())
            first = self.request()
            if self.toolbox and self.tools is not None:
                if self.tools.view is not None:
                    self.tools.view.refresh()  # files may have changed since the last question
                fresh = [first]

                def build(shrink: Shrink | None) -> Request:
                    if shrink is not None:
                        return self._smaller(shrink, reports)
                    return fresh.pop() if fresh else self.request()  # a round: from the turns just recorded

                loop = ToolLoop(self._sender, self.toolbox, self.tools.policy, self.counter.count).run(build, self._record_round)
                request, result = loop.request, loop.result
            else:
                request, result = self._sender.within_budget(
                    lambda shrink: first if shrink is None else self._smaller(shrink, reports), self._sender.stream)
        except LLMError as exc:
            self.add_note(f"the request failed: {exc}", "error")
            emit(Failed(str(exc)))
            raise ChatError(str(exc)) from None
        except ChatError as exc:
            emit(Failed(str(exc)))
            raise
        finally:
            self.compactor.emit = self._sender.emit = ignore
        self.budget.plan = self._sender.plan  # a window the provider named holds for the next turns too
        usage = None
        if result.usage is not None:
            usage = {"prompt_tokens": result.usage.prompt_tokens, "completion_tokens": result.usage.completion_tokens,
                     "cached_tokens": result.usage.cached_tokens or 0, "estimated_prompt_tokens": request.tokens}
        assistant = self.log.turn("assistant", result.content, reasoning=result.reasoning, partial=result.partial,
                                  model=result.model, usage=usage)
        self.warnings.extend(f"not saved: {what}" for what in self._sender.unsaved)
        self._sender.unsaved.clear()
        for note in request.notes:
            tell(Notice(note))
        if loop is not None and loop.rounds:
            tell(Notice(f"{loop.rounds} tool round(s), {len(loop.calls)} call(s): the answer took {len(loop.requests)} "
                        f"requests, {spent[0]:,} prompt + {spent[1]:,} completion tokens in all", topic="tools"))
        emit(TurnEnded(assistant.id, result.partial, result.interrupted, result.error or ""))
        if reports:
            self._capture(self.memory, "compaction")
        return Exchange(user, assistant, result, request.shelves, request.tokens, reports, notes, loop)

    def _record_round(self, answer: Message, results: list[tuple[ToolCall, str]]) -> list[int]:
        """One tool round on disk: the answer that called the tools, then each result (their ids)."""
        calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in answer.tool_calls]
        self.log.turn("assistant", answer.content, reasoning=answer.reasoning, tool_calls=calls, model=self.client.endpoint.model)
        return [self.log.turn("tool", text, name=call_line(call), call_id=call.id).id for call, text in results]

    # -- the files in context, compaction -----------------------------------------------

    def drop_file(self, path: str) -> str:
        """/drop PATH: see ContextFiles.drop."""
        return self.files.drop(path, self.history.attached())

    def add_file(self, path: str) -> str:
        """/add PATH: see ContextFiles.add."""
        table = self.shelves()
        return self.files.add(path, self.history.attached(), table.window - table.total)

    def set_context(self, lean: bool) -> RepoShelf:
        """/context lean|full: the repository as outlines and tree (files read through tools), or packed in full."""
        if lean and not self.toolbox:
            raise ChatError("lean context needs the tools (the model reads files through them): tools.enabled is off")
        return self.files.repack(self.repo.query, lean=lean)

    def compact(self) -> list[CompactionReport]:
        """/compact: fold every turn but the last ``keep_recent`` into the state now."""
        reports = self.compactor.compact("manual", self.budget.history_room(), force=True)
        if reports:
            self._capture(self.memory, "compaction")
        return reports

    # -- memory -------------------------------------------------------------------------

    def _recall(self, question: str, cap: int) -> str:
        """The memory shelf of a turn; a rerank that fell back says so once, as a warning."""
        if self.memory is None:  # closed
            return ""
        try:
            return self.memory.shelf(question, cap)
        finally:
            self.warnings.extend(self.memory.take_notices())

    def _capture(self, memory: SessionMemory | None, source: str) -> None:
        """What the state record established becomes memory (consolidated; `kimicode memory undo`);
        the transcript says what was stored. Memory is optional: a failure is one warning."""
        if memory is None or not any(t.role == "user" for t in self.log.turns[self._turns_at_open:]):
            return
        try:
            stored = memory.capture(self._established(), source)
        except Exception as exc:  # noqa: BLE001 - never lose the session over memory
            self.warnings.append(f"memory: not remembered: {exc}")
            return
        if stored.warning or stored.changes:
            self.add_note("\n".join([stored.summary(), *stored.lines()]), "memory")

    def _established(self) -> StateRecord:
        """The state record, plus what the turns not folded into it yet established, found by the
        floor's rules (no model call): a session that ends before its first compaction counts too."""
        record = copy.deepcopy(self.history.record)
        history = self.history
        turns = [dataclasses.replace(t, text=history.texts.redacted(t)[0]) for t in history.recent()
                 if t.role in ("user", "assistant")]
        add_floor(record, extract(turns), record.compactions)
        known = {i.text for i in record.items}
        for turn_id, sentence in decisions(turns):
            if sentence not in known:
                record.add("decision", sentence, [turn_id], "floor")
        return record

    def remember(self, text: str) -> str:
        """/remember TEXT: stored as a note of the kind its words say; what was stored, in lines."""
        if self.memory is None:
            raise ChatError("memory is off for this session")
        from kimicode.memory.chroma import MemoryUnavailable
        from kimicode.memory.notes import NoteError

        try:
            stored = self.memory.remember(text)
        except (NoteError, MemoryUnavailable) as exc:
            raise ChatError(str(exc)) from None
        return "\n".join([stored.summary(), *stored.lines()])
