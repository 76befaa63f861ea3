"""ChatSession: one conversation the TUI (or a script) drives turn by turn.

It composes the pieces instead of containing them: the session file (session.py), the
state record (state.py, compaction.py), the request assembly (context.py), the repo shelf
(repo_shelf.py) and the model client (kimicode.llm). Every turn is on disk (fsynced)
before the next step runs: the user's message before the request is sent, the answer as
soon as it is complete, a state snapshot and a compaction report whenever they change.

One call at a time: the TUI runs ``send`` in a worker and must not call another method
of the same session until it returns.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kimicode.engine.assembler import Assembler, Piece, Shelves, restored_block
from kimicode.prompt import MESSAGE_OVERHEAD, BudgetPlan, Request, ShelfTable, TurnView, framing_tokens, middle_out
from kimicode.chat.compaction import CompactionReport, fold
from kimicode.chat.context import FILE_TURN, ContextPolicy, TurnTexts, is_file_turn
from kimicode.chat.repo_shelf import RepoPacker, RepoShelf
from kimicode.chat.search import SearchHit, search
from kimicode.chat.session import LoadedSession, SessionFile, Turn, now
from kimicode.chat.state import StateItem, StateRecord, render
from kimicode.chat.summarize import Summarizer
from kimicode.llm import ChatClient, ChatResult, ContextOverflow, LLMError
from kimicode.engine.system import system_shelf
from kimicode.locations import read_prompt
from kimicode.tokens import TokenCounter

TextCallback = Callable[[str], None]
OVERFLOW_SHRINK = 0.5  # after "too long" from the provider: history and repo get half their room, once
SAFETY = 16  # tokens: joining the system prompt and the pack may count a little above the parts
MAX_ADD = 20  # files one add_file may attach (a glob or a folder)


class ChatError(Exception):
    """The session cannot do what was asked; one line for the user."""


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


@dataclass(frozen=True)
class Restored:
    first: int
    last: int
    turns: list[int]
    tokens: int


class ChatSession:
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
        recall: Callable[[str], str] | None = None,
        calibration_dir: Path | None = None,
        owned: tuple[ChatClient, ...] = (),
    ) -> None:
        self._file = file
        self.meta = loaded.meta
        self.path = loaded.path
        self.warnings = list(loaded.warnings)
        self.turns: list[Turn] = list(loaded.turns)
        self.client = client
        self.counter = counter
        self.policy = policy or ContextPolicy()
        self.window = client.spec.context_window
        self.reply = min(self.policy.reply_tokens, client.spec.max_output, self.window // 2)
        self._texts = TurnTexts(counter, thinking=client.spec.thinking)
        self._recall = recall
        self._recalled: tuple[str, str] = ("", "")  # (question, recall): one lookup per question
        self._calibration_dir = calibration_dir
        self._owned = owned
        self._next_id = loaded.next_turn_id
        self.record = StateRecord()
        self.reports: list[CompactionReport] = []
        self.restored: list[tuple[int, int]] = []
        pack_query: str | None = None
        pack_added: list[str] = []
        pack_skip: set[str] = set()  # dropped when the repository was last packed
        dropped: set[str] = set()
        for record in loaded.records:
            kind = record.get("type")
            try:
                if kind == "state":
                    self.record = StateRecord.from_dict(record["record"])
                elif kind == "compaction":
                    self.reports.append(CompactionReport.from_dict(record["report"]))
                elif kind == "restore":
                    self.restored.append((int(record["first"]), int(record["last"])))
                elif kind == "unrestore":
                    self.restored = []
                elif kind == "pack":
                    pack_query, pack_added, pack_skip = record.get("query"), [], set(dropped)
                elif kind == "pack-add":
                    pack_added += [p for p in record.get("paths", []) if isinstance(p, str)]
                elif kind == "drop":
                    gone = {p for p in record["paths"] if isinstance(p, str)}
                    dropped |= gone
                    pack_added = [p for p in pack_added if p not in gone]
                elif kind == "undrop":
                    dropped -= {p for p in record["paths"] if isinstance(p, str)}
            except (KeyError, TypeError, ValueError, AttributeError):
                # A record from a newer version or a damaged one: the session goes on without it.
                self.warnings.append(f"session {self.meta.id}: a {kind} record could not be read; skipped it")
        found: list[tuple[str, int, str]] = []
        self._system = system_shelf(read_prompt("system.md"), project_root, found)
        self._system_tokens = counter.count(self._system)
        self.redactions: list[tuple[str, int, str]] = list(found)
        sclient = summarizer_client or client
        summary_reply = min(self.policy.summary_tokens, sclient.spec.context_window // 4)
        self._summarizer = Summarizer(sclient, counter, sclient.spec.context_window, summary_reply)
        self._packer = packer
        self._dropped: set[str] = dropped
        self.repo = RepoShelf(dropped=frozenset(dropped))
        if packer is not None:
            # The same pack and additions as before the restart: the cached prefix still applies.
            self.repo = dataclasses.replace(packer.pack(pack_query, self._repo_budget(), pack_skip),
                                            dropped=frozenset(dropped))
            if pack_added and not self.repo.failed:
                self.repo = packer.add(self.repo, pack_added) or self.repo

    # -- lifecycle ----------------------------------------------------------------

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def state(self) -> StateRecord:
        """The current state record (read it; change it only through pin/unpin/compact)."""
        return self.record

    def use_client(self, client: ChatClient) -> None:
        """/model: answer with another model from the next turn on; window and reply follow its spec."""
        self.client = client
        self.window = client.spec.context_window
        self.reply = min(self.policy.reply_tokens, client.spec.max_output, self.window // 2)
        self._texts = TurnTexts(self.counter, thinking=client.spec.thinking)

    def close(self) -> None:
        self._file.close()
        for client in self._owned:
            client.close()

    def __enter__(self) -> ChatSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- recording ------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        key = self.client.endpoint.api_key
        return text.replace(key, "***") if key and len(key) >= 8 else text

    def _append(self, role: str, text: str, **extra: Any) -> Turn:
        if "reasoning" in extra:
            extra["reasoning"] = self._scrub(extra["reasoning"])
        turn = Turn(id=self._next_id, role=role, text=self._scrub(text), time=now(), **extra)
        self._file.append(turn.to_record())  # fsynced: on disk before anything else happens
        self.turns.append(turn)
        self._next_id += 1
        return turn

    def _save_state(self) -> None:
        self._file.append({"type": "state", "time": now(), "record": self.record.to_dict()})

    def add_tool_output(self, name: str, text: str) -> Turn:
        """Output of a command the user ran (sent with the next request)."""
        return self._append("tool", text, name=name)

    def add_note(self, text: str, kind: str = "note") -> Turn:
        """A note for the transcript; never sent to the model."""
        return self._append("note", text, name=kind)

    # -- shelves and the request ----------------------------------------------------

    def _repo_budget(self) -> int:
        prompt_room = self.window - self.reply - self._system_tokens - framing_tokens(1)
        return max(int(prompt_room * self.policy.repo_share), 0)

    def _history_room(self) -> int:
        """Tokens for state, restored turns, recent turns and recalls."""
        return self.window - self.reply - self._system_tokens - self.repo.tokens - framing_tokens(1) - SAFETY

    def _message_limit(self, room: int) -> int:
        return max(int(room * self.policy.message_share), 64)

    def _shown(self, turn: Turn) -> bool:
        """Notes are never sent; nor is a file attached in a turn once the user dropped it."""
        return turn.role != "note" and not (is_file_turn(turn) and turn.name[len(FILE_TURN):] in self._dropped)

    def _recent_turns(self) -> list[Turn]:
        return [t for t in self.turns if t.id > self.record.through and self._shown(t)]

    def _restored_turns(self) -> list[Turn]:
        wanted = {n for first, last in self.restored for n in range(first, last + 1)}
        return [t for t in self.turns if t.id in wanted and t.id <= self.record.through and self._shown(t)]

    def _views(self, turns: list[Turn], room: int) -> list[TurnView]:
        limit = self._message_limit(room)
        return [self._texts.view(t, limit) for t in turns]

    def _state_tokens(self) -> int:
        text = render(self.record)
        return self.counter.count(text) + MESSAGE_OVERHEAD if text else 0

    def _history_tokens(self, room: int) -> int:
        restored = self._views(self._restored_turns(), room)
        extra = self.counter.count(restored_block(restored)) if restored else 0
        return self._state_tokens() + extra + sum(v.tokens for v in self._views(self._recent_turns(), room))

    def _recall_text(self) -> str:
        if self._recall is None:
            return ""
        last = next((t for t in reversed(self.turns) if t.role == "user"), None)
        if last is None:
            return ""
        question = self._texts.redacted(last)[0]
        if self._recalled[0] != question:
            try:
                text = self._recall(question) or ""
            except Exception as exc:  # noqa: BLE001 - memory is optional: degrade, never fail the turn
                self.warnings.append(f"memory recall failed: {exc}")
                text = ""
            self._recalled = (question, text)
        text = self._recalled[1]
        cap = int(self._history_room() * self.policy.recall_share)
        return middle_out(text, cap, self.counter.count) if text.strip() else ""

    def request(self) -> Request:
        """The request the next ``send`` would make for the turns recorded so far."""
        room = self._history_room()
        recall = self._recall_text()
        shelves = Shelves(self._system, self.repo.text, self.repo.tokens, render(self.record),
                          self._views(self._restored_turns(), room), self._views(self._recent_turns(), room),
                          tail=(Piece("memory", recall),) if recall else ())
        plan = BudgetPlan(self.window, self.reply, self._packer.options.budget if self._packer else 0)
        request = Assembler(plan, self.counter).assemble(shelves, shorten=True)
        if request.tokens > request.limit:
            raise ChatError(
                f"the request needs {request.tokens:,} tokens but {self.window:,} - {self.reply:,} reply leaves "
                f"{request.limit:,}: the system prompt and pinned items alone are too large; unpin items or use a larger model"
            )
        return request

    def shelves(self) -> ShelfTable:
        """Tokens per shelf of the next request: what the budget bar shows."""
        return self.request().shelves

    # -- compaction -------------------------------------------------------------------

    def _fold_text(self, turn: Turn) -> str:
        if is_file_turn(turn):
            # The summarizer gets no file bodies: the file joins the repo shelf instead (see _absorb).
            return f"[the file {turn.name[len(FILE_TURN):]} was shown in full]"
        return self._texts.redacted(turn)[0]

    def _absorb(self, turns: list[Turn], room: int) -> list[str]:
        """Files attached in turns that leave the history join the repo shelf, if they fit.

        The prefix breaks right after the repo shelf at a compaction anyway, so growing the
        shelf now costs no cache.
        """
        paths = [t.name[len(FILE_TURN):] for t in turns if is_file_turn(t)]
        if not paths or self._packer is None or self.repo.failed:
            return []
        grown = self._packer.add(self.repo, paths)
        if grown is None or grown.tokens - self.repo.tokens > room - self._history_tokens(room):
            return []  # no room: the path stays in the ledger, naming the file attaches it again
        added = list(grown.added[len(self.repo.added):])
        self.repo = grown
        if added:
            self._file.append({"type": "pack-add", "time": now(), "paths": added})
        return added

    def _fold(self, trigger: str, reason: str, turns: list[Turn], room: int, with_model: bool) -> CompactionReport:
        before = self._history_tokens(room)
        texts = [dataclasses.replace(t, text=self._fold_text(t)) for t in turns]
        cap = int(room * self.policy.state_share)
        result = fold(self.record, texts, summarizer=self._summarizer if with_model else None,
                      count=self.counter.count, cap=cap, strategy=self.policy.strategy)
        self.record = result.record
        absorbed = self._absorb(turns, room)
        room = self._history_room()
        report = CompactionReport(
            number=self.record.compactions, time=now(), trigger=trigger, reason=reason,
            first_turn=turns[0].id, last_turn=turns[-1].id, turns_moved=len(turns), tokens_moved=result.tokens_moved,
            state_before=result.state_before, state_after=result.state_after, history_before=before,
            history_after=self._history_tokens(room), history_room=room, method=result.method,
            fallback_reason=result.fallback_reason, ledger_kept=result.ledger.kept, ledger_added=len(result.ledger.added),
            ledger_restored=result.ledger.restored, evicted=result.evicted, left_out=result.left_out,
            rejected_entries=result.rejected_entries,
        )
        if not with_model and self.policy.strategy == "state":
            report.notes.append("a second pass by code alone: the first did not free enough room")
        if absorbed:
            report.notes.append(f"files attached in the moved turns joined the repository shelf: {', '.join(absorbed)}")
        self._save_state()
        self._file.append({"type": "compaction", "report": report.to_dict()})
        self.reports.append(report)
        self.add_note(report.line(), "compaction")
        return report

    def _movable(self, room: int, target: int, everything: bool) -> list[Turn]:
        """The oldest recent turns whose leaving brings history under ``target``."""
        recent = self._recent_turns()
        # The newest user message (the question being asked) and what follows it never leave.
        last_user = max((n for n, t in enumerate(recent) if t.role == "user"), default=len(recent))
        movable = recent[: min(len(recent) - max(1, self.policy.keep_recent), last_user)]
        if everything or not movable:
            return movable
        views = self._views(recent, room)
        state = self._state_tokens()
        cap = int(room * self.policy.state_share)
        rest = sum(v.tokens for v in views)
        moved = chosen = 0
        for n in range(len(movable)):
            moved += views[n].tokens
            rest -= views[n].tokens
            chosen = n + 1
            # A summary is rarely a third of its input; the state shelf caps it in any case.
            if min(cap, state + moved // 3) + rest <= target:
                break
        while chosen < len(movable) and recent[chosen].role != "user":
            chosen += 1  # leave history starting with the user's words, not mid-exchange
        return movable[:chosen]

    def _compact(self, trigger: str, room: int, force: bool = False) -> list[CompactionReport]:
        need = self._history_tokens(room)
        if need <= room and not force:
            return []
        target = int(room * self.policy.compact_to)
        reason = {
            "budget": f"the conversation needs {need:,} tokens, its shelf holds {room:,}",
            "overflow": "the provider said the request was too long",
            "manual": "asked for (/compact)",
        }.get(trigger, trigger)
        if self.restored:
            self.restored = []  # restored turns are already in the state: hiding them costs nothing
            self._file.append({"type": "unrestore", "time": now()})
            if self._history_tokens(room) <= target and not force:
                after = self._history_tokens(room)
                report = CompactionReport(self.record.compactions, now(), trigger, reason, 0, 0, 0, 0,
                                          self._state_tokens(), self._state_tokens(), need, after, room, method="hide")
                self._file.append({"type": "compaction", "report": report.to_dict()})
                self.reports.append(report)
                self.add_note(report.line(), "compaction")
                return [report]
        reports: list[CompactionReport] = []
        turns = self._movable(room, target, force)
        if turns:
            reports.append(self._fold(trigger, reason, turns, room, with_model=True))
        if self._history_tokens(room) > room:
            # Bounded second pass, code only: never a second model call, never a loop.
            more = self._movable(room, target, everything=True)
            if more:
                reports.append(self._fold(trigger, reason, more, room, with_model=False))
        return reports

    def compact(self) -> list[CompactionReport]:
        """/compact: fold every turn but the last ``keep_recent`` into the state now."""
        return self._compact("manual", self._history_room(), force=True)

    # -- the repository -----------------------------------------------------------------

    def repack(self, query: str | None = None, budget: int | None = None) -> RepoShelf:
        """/pack: pack the repository again (for ``query``); changes the cached prefix."""
        if self._packer is None:
            raise ChatError("this session has no repository")
        self.repo = self._packer.pack(query, budget if budget is not None else self._repo_budget(), self._dropped)
        self._file.append({"type": "pack", "time": now(), "query": query})
        return self.repo

    @property
    def dropped(self) -> frozenset[str]:
        """Files the user took out of the context (/drop); /add takes them back."""
        return frozenset(self._dropped)

    def _matching(self, pattern: str, paths: set[str] | frozenset[str]) -> list[str]:
        if pattern in paths:
            return [pattern]
        if any(ch in pattern for ch in "*?["):
            return sorted(p for p in paths if fnmatch.fnmatchcase(p, pattern))
        folder = pattern.rstrip("/") + "/"
        return sorted(p for p in paths if p.startswith(folder))

    def drop_file(self, path: str) -> str:
        """/drop PATH (a file, a glob or a folder): take files out of every request from now on.

        Recorded in the session file, so a resumed session leaves them out too. A file in the
        repo shelf means a re-pack without it (the cached prefix starts over); a file attached
        in a recent turn leaves the request. Naming the file again does not attach it; only
        ``add_file`` takes it back.
        """
        pattern = path.strip().removeprefix("./")
        in_shelf = {b.path for b in self.repo.blocks}
        attached = self._attached()
        paths = self._matching(pattern, (in_shelf | attached) - self._dropped)
        if not paths:
            if self._matching(pattern, frozenset(self._dropped)):
                return f"{pattern} is already dropped (/add takes it back)"
            raise ChatError(f"{pattern} is not in the context (the files panel, F2, lists what is)")
        self._dropped |= set(paths)
        self._file.append({"type": "drop", "time": now(), "paths": paths})
        self.repo = dataclasses.replace(self.repo, dropped=frozenset(self._dropped))
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        packed = [p for p in paths if p in in_shelf]
        if not packed or self._packer is None:
            return f"dropped {shown}: it leaves the request from the next message on"
        before = self.repo.tokens
        kept = [p for p in self.repo.added if p not in self._dropped]
        self.repack(self.repo.query)
        if kept and not self.repo.failed:
            grown = self._packer.add(self.repo, kept)
            if grown is not None and grown.added:
                self.repo = grown
                self._file.append({"type": "pack-add", "time": now(), "paths": list(grown.added)})
        return (f"dropped {shown}: the repository was packed again without it "
                f"({before:,} -> {self.repo.tokens:,} tokens; the cached prefix starts over)")

    def add_file(self, path: str) -> str:
        """/add PATH (a file, a glob or a folder): attach files in full after the last turn.

        Nothing earlier in the request changes (the cached prefix holds); a later compaction
        moves the file into the repo shelf. A dropped file is taken back.
        """
        if self._packer is None or self.repo.failed or not self.repo.listed:
            raise ChatError(f"no repository in this session ({self.repo.note or 'not packed'}): nothing to add from")
        pattern = path.strip().removeprefix("./")
        paths = self._matching(pattern, self.repo.listed | self._dropped)
        if not paths:
            raise ChatError(f"{pattern}: not a file kimicode may send (ignored, binary, too large, a secret, or missing)")
        if len(paths) > MAX_ADD:
            raise ChatError(f"{pattern} matches {len(paths)} files: /add takes at most {MAX_ADD} at a time")
        undropped = [p for p in paths if p in self._dropped]
        if undropped:
            self._dropped -= set(undropped)
            self._file.append({"type": "undrop", "time": now(), "paths": undropped})
            self.repo = dataclasses.replace(self.repo, dropped=frozenset(self._dropped))
        attached = self._attached()
        table = self.shelves()
        free = table.window - table.total
        lines: list[str] = []
        for name in paths:
            if name in self.repo.full or name in attached:
                back = " (taken back: it was dropped)" if name in undropped else ""
                lines.append(f"{name} is already in the context in full{back}")
                continue
            made = self._packer.file_block(name)
            if made is None:
                lines.append(f"{name} cannot be read, or is binary: not added")
                continue
            block, found = made
            tokens = block.tokens
            if tokens > free:
                lines.append(f"{name} needs {tokens:,} tokens and the window has {max(free, 0):,} left: not added")
                continue
            self.redactions.extend(found)
            self._append("tool", self._packer.render(block), name=f"{FILE_TURN}{name}")
            free -= tokens
            redacted = f"; {len(found)} secret(s) redacted" if found else ""
            lines.append(f"added {name} in full ({tokens:,} tokens{redacted})")
        return "\n".join(lines)

    def _attached(self) -> set[str]:
        return {t.name[len(FILE_TURN):] for t in self._recent_turns() if is_file_turn(t)}

    def _follow(self, text: str) -> list[str]:
        """Files the user names are attached in full after the message: nothing before it changes."""
        if self._packer is None or self.repo.failed:
            return []
        limit = self._message_limit(self._history_room())
        found, notes = self._packer.attachments(text, self.repo, self._attached(), limit, self.policy.max_attach)
        for block, redactions in found:
            self.redactions.extend(redactions)
            self._append("tool", self._packer.render(block), name=f"{FILE_TURN}{block.path}")
            notes.append(f"attached {block.path} in full ({block.tokens:,} tokens)")
        return notes

    # -- a turn -------------------------------------------------------------------------

    def _call(self, request: Request, on_content: TextCallback | None, on_reasoning: TextCallback | None,
              on_retry: TextCallback | None) -> ChatResult:
        return self.client.stream_chat(request.messages, on_content=on_content, on_reasoning=on_reasoning,
                                       on_retry=on_retry, max_tokens=self.reply)

    def send(self, text: str, on_content: TextCallback | None = None, on_reasoning: TextCallback | None = None,
             on_retry: TextCallback | None = None) -> Exchange:
        """Record the user's message, make room, stream the answer, record it."""
        if not text.strip():
            raise ChatError("the message is empty")
        user = self._append("user", text)
        notes = self._follow(self._texts.redacted(user)[0])
        reports = self._compact("budget", self._history_room())
        request = self.request()
        try:
            try:
                result = self._call(request, on_content, on_reasoning, on_retry)
            except ContextOverflow as exc:
                notes.append(f"the provider said the request was too long ({exc}); shrinking it and retrying once")
                if self._packer is not None and self.repo.tokens:
                    self.repack(self.repo.query, int(self.repo.tokens * OVERFLOW_SHRINK))
                reports += self._compact("overflow", int(self._history_room() * OVERFLOW_SHRINK), force=True)
                request = self.request()
                result = self._call(request, on_content, on_reasoning, on_retry)
        except LLMError as exc:
            self.add_note(f"the request failed: {exc}", "error")
            raise ChatError(str(exc)) from None
        usage = None
        if result.usage is not None:
            usage = {"prompt_tokens": result.usage.prompt_tokens, "completion_tokens": result.usage.completion_tokens,
                     "cached_tokens": result.usage.cached_tokens or 0, "estimated_prompt_tokens": request.tokens}
        assistant = self._append("assistant", result.content, reasoning=result.reasoning, partial=result.partial,
                                 model=result.model, usage=usage)
        self._calibrate(request, result)
        notes += request.notes
        return Exchange(user, assistant, result, request.shelves, request.tokens, reports, notes)

    def _calibrate(self, request: Request, result: ChatResult) -> None:
        if self._calibration_dir is None or result.usage is None or not result.usage.prompt_tokens:
            return
        from kimicode import calibration

        try:
            calibration.record(self._calibration_dir, self.client.endpoint.model,
                               round(request.tokens / self.counter.calibration), result.usage.prompt_tokens)
        except OSError as exc:
            self.warnings.append(f"calibration not saved: {exc.strerror}")

    # -- pins, restore, search ------------------------------------------------------------

    def pin(self, text: str | None = None, *, turn: int | None = None) -> StateItem:
        """/pin TEXT, or pin a turn: carried verbatim by code in every request from now on."""
        if turn is not None:
            source = next((t for t in self.turns if t.id == turn and t.role != "note"), None)
            if source is None:
                raise ChatError(f"no turn {turn} to pin")
            body = self._texts.redacted(source)[0]
            turns = [turn]
        else:
            if not text or not text.strip():
                raise ChatError("nothing to pin: /pin TEXT or pin a turn")
            from kimicode.secrets import redact

            body, turns = redact(text.strip(), "pin").text, []
        same = next((i for i in self.record.active("pin") if i.text == body), None)
        if same is not None:
            return same
        item = self.record.add("pin", body, turns, "pin", since=self.record.compactions)
        self._save_state()
        return item

    def unpin(self, item_id: str) -> StateItem:
        item = self.record.get(item_id)
        if item is None or item.kind != "pin" or not item.active:
            raise ChatError(f"no active pin {item_id}")
        item.status, item.reason = "retired", f"unpinned by the user at {now()}"
        self._save_state()
        return item

    def restore(self, first: int, last: int) -> Restored:
        """/restore FIRST..LAST: show compressed turns verbatim again (until the next compaction)."""
        if last < first:
            first, last = last, first
        turns = [t for t in self.turns if first <= t.id <= last and t.role != "note" and t.id <= self.record.through]
        if not turns:
            raise ChatError(f"turns {first}-{last} are not compressed: nothing to restore")
        room = self._history_room()
        views = self._views(turns, room)
        cost = sum(v.tokens for v in views)
        left = room - self._history_tokens(room)
        if cost > left:
            raise ChatError(f"turns {first}-{last} need {cost:,} tokens and the conversation shelf has {max(left, 0):,} left: restore fewer turns")
        self.restored.append((first, last))
        self._file.append({"type": "restore", "time": now(), "first": first, "last": last})
        return Restored(first, last, [t.id for t in turns], cost)

    def search(self, text: str, limit: int = 50) -> list[SearchHit]:
        """/search TEXT: every turn on disk and every state item (retired too) holding all the words."""
        if not text.split():
            raise ChatError("nothing to search for")
        visible = {t.id for t in self._recent_turns()} | {t.id for t in self._restored_turns()}
        return search(self.turns, self.record, text, visible, limit)
