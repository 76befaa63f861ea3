"""What the TUI works on: one chat session, its settings, the error memory, and /commands.

No Textual here: every method is synchronous and runs in a worker thread of the app,
one at a time (the chat session allows one call at a time). Results come back as text
for the chat (Markdown) and a Snapshot for the budget bar and the files panel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from kimicode.chat.errors import ChatError
from kimicode.config import Settings
from kimicode.locations import Locations, user_locations
from kimicode.tui.commands import Parsed
from kimicode.urls import shown

if TYPE_CHECKING:  # the chat core loads in the worker that opens the session: the window paints first
    from kimicode.chat import Conversation
    from kimicode.chat.telemetry import Pressure
    from kimicode.engine import Emit
    from kimicode.prompt import ShelfTable
    from kimicode.tools.edit import Decide
    from kimicode.tui.context_files import FileRow


def key_notice(settings: Settings) -> str | None:
    """What to tell a user who has no API key for a remote endpoint (local servers need none)."""
    from kimicode.llm import needs_key  # shared with ask and review

    if settings.api_key or not needs_key(settings.base_url):
        return None
    return (f"No API key: set MOONSHOT_API_KEY (or KIMICODE_API_KEY) for {shown(settings.base_url)} and restart kimicode. "
            "Commands that need no model (/add, /drop, /pack, /state, /search, /budget) work meanwhile.")


@dataclass(frozen=True)
class Snapshot:
    """What the budget bar and the files panel show after a turn or a command."""

    table: ShelfTable | None
    files: list[FileRow]
    usage: dict[str, int] | None  # the provider's figures for the last call
    model: str
    session_id: str
    note: str = ""  # why the table is missing
    pressure: Pressure | None = None  # how near the next compaction is


@dataclass
class Outcome:
    markdown: str = ""  # shown in the chat
    kind: str = "output"  # output | info | error | diff (markdown is a unified diff)
    new_session: bool = False  # /clear: the chat view starts over
    notices: list[str] = field(default_factory=list)


class Workspace:
    def __init__(self, settings: Settings, root: Path, *, resume: bool = False, session_id: str | None = None,
                 locations: Locations | None = None, use_memory: bool | None = None) -> None:
        self.settings = settings
        self.root = root
        self.locations = locations or user_locations()
        self.resume = resume
        self.session_id = session_id
        self.use_memory = settings.memory.enabled if use_memory is None else use_memory
        self.session: Conversation | None = None
        self._memory: Any = None
        self._warned = 0  # session warnings already shown
        self._settings_warned = False
        self.decide: Decide | None = None  # the face's review of each proposed edit (kimicode/tui/review.py)

    # -- the session ------------------------------------------------------------------

    def open(self) -> list[str]:
        """Open (or resume) the session and pack the repository; notes for the chat."""
        from kimicode.chat import SessionError, open_conversation

        try:
            self.session = open_conversation(self.settings, self.root, resume=self.resume, session_id=self.session_id,
                                             locations=self.locations, use_memory=self.use_memory)
        except SessionError as exc:
            raise ChatError(str(exc)) from None
        self.resume, self.session_id = False, None  # /clear opens a new one
        session = self.session
        if session.edits is not None and self.decide is not None:
            session.edits.decide = self.decide
        self._warned = 0
        notes = self.new_warnings()
        if not self._settings_warned:
            notes = [f"warning: {w}" for w in self.settings.warnings] + notes
            self._settings_warned = True
        if session.repo.note:
            notes.append(session.repo.note)
        return notes

    def new_warnings(self) -> list[str]:
        """Warnings of the session not shown yet (a damaged record, a failed recall, ...)."""
        if self.session is None:
            return []
        found = self.session.warnings[self._warned:]
        self._warned = len(self.session.warnings)
        return list(found)

    def require(self) -> Conversation:
        if self.session is None:
            raise ChatError("the session is not open yet")
        return self.session

    def send(self, text: str, emit: Emit) -> None:
        """One turn; what happens reaches the app as events through ``emit``."""
        self.require().send(text, emit)

    def cancel(self) -> None:
        """Stop the answer being streamed (from the app's thread): a stalled stream stops at once."""
        if self.session is not None:
            self.session.cancel()

    def snapshot(self) -> Snapshot:
        from kimicode.tui import context_files

        session = self.require()
        table, note = None, ""
        try:
            table = session.shelves()
        except ChatError as exc:
            note = str(exc)
        usage = next((t.usage for t in reversed(session.turns) if t.role == "assistant" and t.usage), None)
        return Snapshot(table, context_files.rows(session), usage, session.spec.name, session.id, note,
                        session.pressure())

    def prepare_pack(self) -> None:
        """Pack the repository as the shelf was last packed, leaving the shelf as it is.

        Runs in a background thread after files changed (kimicode.repo.watch): the pack
        cache then holds the scan of what changed, and the result itself, for the next
        /pack, /drop or re-pack after an overflow. Never touches the session's own state.
        """
        session = self.session
        packer = session.files.packer if session is not None else None
        shelf = session.repo if session is not None else None
        if packer is not None and shelf is not None and not shelf.failed:
            packer.pack(shelf.query, shelf.budget, shelf.dropped)

    def will_capture(self) -> bool:
        """Whether closing the session will store what it established (a user turn, memory on)."""
        session = self.session
        return (session is not None and session.memory is not None and bool(self.settings.memory.capture)
                and any(t.role == "user" for t in session.turns))

    def warm_memory(self) -> None:
        """In a thread of its own (not the session's): memory.warm, while the session goes on."""
        session = self.session
        memory = session.memory if session is not None else None
        if memory is not None:
            memory.warm()

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None
        if self._memory is not None:
            self._memory.close()
            self._memory = None

    # -- commands ---------------------------------------------------------------------

    def run(self, parsed: Parsed) -> Outcome:
        """A /command that needs the session (the app runs /help, /files and /quit itself)."""
        handler = getattr(self, f"cmd_{parsed.command.name}")
        return handler(parsed.arg)

    def cmd_add(self, arg: str) -> Outcome:
        return Outcome(self.require().add_file(arg), "info")

    def cmd_drop(self, arg: str) -> Outcome:
        return Outcome(self.require().drop_file(arg), "info")

    def cmd_pack(self, arg: str) -> Outcome:
        session = self.require()
        repo = session.files.repack(arg or None)
        if repo.failed:
            return Outcome(repo.note, "error")
        what = f'for "{repo.query}"' if repo.query else "(structural overview)"
        return Outcome(f"packed the repository {what}: {len(repo.full)} files in full, {len(repo.outline)} as outlines, "
                       f"{repo.tokens:,} tokens (the cached prompt prefix starts over)", "info")

    def cmd_context(self, arg: str) -> Outcome:
        session = self.require()
        wanted = arg.strip().lower()
        if not wanted:
            mode = "lean (outlines and tree; files read through tools)" if session.files.lean else "full (packed files)"
            return Outcome(f"context: {mode}; /context lean or /context full switches", "info")
        if wanted not in ("lean", "full"):
            raise ChatError(f"/context takes lean or full, not {arg!r}")
        repo = session.set_context(wanted == "lean")
        if repo.failed:
            return Outcome(repo.note, "error")
        return Outcome(f"context {wanted}: {len(repo.full)} files in full, {len(repo.outline)} as outlines, "
                       f"{repo.tokens:,} tokens (the cached prompt prefix starts over)", "info")

    def cmd_compact(self, arg: str) -> Outcome:
        reports = self.require().compact()
        if not reports:
            return Outcome("nothing to compact: the recent turns are all the conversation has", "info")
        return Outcome("\n".join(r.line() for r in reports), "info")

    def cmd_state(self, arg: str) -> Outcome:
        from kimicode.chat.state import render

        text = render(self.require().record)
        return Outcome(text or "The state summary is empty: nothing was compacted or pinned yet.")

    def cmd_pin(self, arg: str) -> Outcome:
        history = self.require().history
        item_id = re.fullmatch(r"\s*([A-Za-z]\d+)\s*", arg)
        turn = re.fullmatch(r"\s*(?:turn\s+|#)(\d+)\s*", arg, re.IGNORECASE)
        if item_id:
            item = history.pin(item=item_id.group(1).upper())  # an unknown id is an error, not a text to pin
        elif turn:
            item = history.pin(turn=int(turn.group(1)))
        else:
            item = history.pin(arg)
        return Outcome(f"pinned {item.id}: carried verbatim in every request, never summarized "
                       f"(/unpin {item.id} to stop)", "info")

    def cmd_compactions(self, arg: str) -> Outcome:
        from kimicode.chat.ledger import markdown

        session = self.require()
        ledgers = session.ledgers
        if not ledgers:
            return Outcome("no compaction yet: every turn is in the context verbatim", "info")
        if arg.strip():
            wanted = [n for n in re.findall(r"\d+", arg)]
            if not wanted:
                raise ChatError(f"/compactions takes a compaction number: /compactions 3, not {arg!r}")
            chosen = [ledger for ledger in ledgers if str(ledger.number) in wanted]
            if not chosen:
                raise ChatError(f"no compaction {arg.strip()}: there are {ledgers[-1].number}")
            return Outcome("\n".join(markdown(ledger) for ledger in chosen))
        lines = ["| # | trigger | method | turns | history tokens | kept verbatim | added | retired | check |",
                 "|---:|---|---|---|---|---:|---:|---:|---|"]
        # Each ledger is written right after its report; a session older than ledgers has reports only.
        for report, ledger in zip(session.reports[-len(ledgers):], ledgers):
            turns = f"{ledger.summarized[0]}-{ledger.summarized[-1]}" if ledger.summarized else "-"
            tokens = f"{report.history_before:,} -> {report.history_after:,}"
            check = "put back " + ", ".join(ledger.restored) if ledger.restored else f"{ledger.checked} present"
            lines.append(f"| {ledger.number} | {report.trigger} | {ledger.method} | {turns} | {tokens} | "
                         f"{len(ledger.kept)} | {len(ledger.added)} | {len(ledger.retired)} | {check} |")
        retired = [f"- compaction {ledger.number}: [{i.id}] {i.text} — {i.note}" for ledger in ledgers for i in ledger.retired]
        text = "\n".join(lines)
        if retired:
            text += "\n\nRetired items, and why (still on disk: /search):\n\n" + "\n".join(retired)
        return Outcome(text + "\n\n`/compactions N` shows one compaction's ledger in full.")

    def cmd_unpin(self, arg: str) -> Outcome:
        item = self.require().history.unpin(arg.strip().upper())
        return Outcome(f"unpinned {item.id}", "info")

    def cmd_restore(self, arg: str) -> Outcome:
        session = self.require()
        if not arg:
            if not session.record.through:
                return Outcome("nothing is compressed yet: every turn is in the context verbatim", "info")
            lines = [f"Turns 1-{session.record.through} are compressed. Show some verbatim again with "
                     "`/restore FIRST-LAST` (until the next compaction):", ""]
            lines += [f"- compaction {r.number}: turns {r.first_turn}-{r.last_turn}" for r in session.reports if r.turns_moved]
            return Outcome("\n".join(lines))
        match = re.fullmatch(r"\s*(\d+)\s*(?:(?:-|\.\.|\s)\s*(\d+))?\s*", arg)
        if not match:
            raise ChatError(f"/restore takes turn numbers: /restore 3-7, not {arg!r}")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        restored = session.history.restore(first, last)
        return Outcome(f"restored turns {restored.first}-{restored.last} verbatim ({restored.tokens:,} tokens) "
                       "until the next compaction", "info")

    def cmd_search(self, arg: str) -> Outcome:
        hits = self.require().history.search(arg)
        if not hits:
            return Outcome(f"nothing found for {arg!r}", "info")
        lines = [f"**{len(hits)} found for** `{arg}`:", ""]
        for hit in hits:
            where = f"turn {hit.ref} ({hit.role})" if hit.kind == "turn" else f"state item {hit.ref} ({hit.role})"
            seen = "" if hit.in_context else " *(compressed: /restore to show it)*" if hit.kind == "turn" else " *(retired)*"
            lines.append(f"- {where}{seen}: {hit.snippet}")
        return Outcome("\n".join(lines))

    def _store(self) -> Any:
        if self._memory is None:
            from kimicode.memory.store import MemoryStore

            self._memory = MemoryStore.open(self.settings, self.root, self.locations.data_dir)
        return self._memory

    def _memory_call(self, call: Callable[[Any], Outcome]) -> Outcome:
        try:
            from kimicode.memory.store import MemoryUnavailable
        except ImportError:
            return Outcome("memory unavailable", "error")
        try:
            return call(self._store())
        except MemoryUnavailable as exc:
            return Outcome(f"memory unavailable: {exc}", "error")
        except LookupError as exc:
            return Outcome(str(exc.args[0] if exc.args else exc), "error")

    def cmd_memory(self, arg: str) -> Outcome:
        def run(store: Any) -> Outcome:
            if arg:
                found = [(h.fingerprint, f"{h.score:.2f}") for h in store.search(arg, n=10, repo_root=str(self.root))]
            else:
                found = [(fp, f"{fp.times_seen}x") for fp in store.records(limit=20)]
            notes = self._notes(arg)
            if not found:
                what = f"like {arg!r}" if arg else "yet"
                none = f"no errors remembered for this repository {what}"
                return Outcome(notes + none, "info") if notes else Outcome(none, "info")
            lines = [f"- `{fp.id[:12]}` {mark} **{fp.error_type}**: {fp.message[:100]}"
                     + (f"  \n  fix: {' '.join(fp.fix.split())[:120]}" if fp.fix else "") for fp, mark in found]
            return Outcome(notes + "\n".join(lines) + "\n\n`/forget ID` removes one.")

        return self._memory_call(run)

    def _notes(self, query: str) -> str:
        """Conventions, preferences, decisions and tasks remembered here (like ``query``), as markdown."""
        from kimicode.memory.remember import open_notes

        store, _ = open_notes(self.settings, self.root, self.locations.data_dir)
        try:
            found = [h.note for h in store.search(query, n=20)] if query else store.notes()[:20]
        finally:
            store.close()
        if not found:
            return ""
        lines = [f"- `{n.id[:8]}` {n.kind}/{n.scope}: {n.text[:120]}" for n in found]
        return "**Notes** (`kimicode memory undo` takes back the last change):\n\n" + "\n".join(lines) + "\n\n**Errors**\n\n"

    def cmd_forget(self, arg: str) -> Outcome:
        def run(store: Any) -> Outcome:
            record = store.forget(arg.strip())
            if record is None:
                return Outcome(f"no remembered error with id {arg.strip()!r} (see /memory)", "error")
            return Outcome(f"forgot {record.id[:12]} {record.error_type}: {record.message[:80]}", "info")

        return self._memory_call(run)

    def cmd_remember(self, arg: str) -> Outcome:
        return Outcome(self.require().remember(arg), "info")

    def cmd_model(self, arg: str) -> Outcome:
        from kimicode.chat import switch_model

        session = self.require()
        if not arg:
            spec = session.spec
            guess = "" if spec.known else " (an unknown model: the window is a guess; set [models] in config.toml)"
            return Outcome(f"model {spec.name}: {spec.context_window:,}-token window{guess}", "info")
        self.settings, spec = switch_model(session, self.settings, arg.strip())
        guess = "" if spec.known else " (unknown model: window guessed)"
        return Outcome(f"answering with {spec.name} from now on: {spec.context_window:,}-token window{guess}", "info")

    def cmd_budget(self, arg: str) -> Outcome:
        snap = self.snapshot()
        if snap.table is None:
            return Outcome(snap.note or "no budget yet", "error")
        table = snap.table
        lines = ["| shelf | tokens | share of the window |", "|---|---:|---:|"]
        lines += [f"| {name} | {tokens:,} | {share:.1f}% |" for name, tokens, share in table.rows()]
        lines.append(f"| **total** | **{table.total:,}** | **{100 * table.total / table.window:.1f}%** |")
        text = "\n".join(lines) + f"\n\nWindow: {table.window:,} tokens ({snap.model}); {table.window - table.total:,} free."
        if snap.usage:
            text += (f"\n\nLast call (the provider's count): {snap.usage.get('prompt_tokens', 0):,} prompt tokens, "
                     f"{snap.usage.get('cached_tokens', 0):,} of them cached; "
                     f"{snap.usage.get('completion_tokens', 0):,} completion tokens.")
            if snap.usage.get("estimated_prompt_tokens"):
                text += f" Our estimate of that prompt was {snap.usage['estimated_prompt_tokens']:,} tokens."
        memory = self.require().memory
        spent = memory.cost_line() if memory is not None else ""
        if spent:  # [memory] rerank / expand ask the model too; ask and review print this line as well
            text += f"\n\nMemory's own requests this session: {spent}."
        return Outcome(text + "\n\n" + self._compaction_figures())

    def _compaction_figures(self) -> str:
        session = self.require()
        figures = session.telemetry()
        pressure = session.pressure()
        reach = figures.reach
        lines = [f"History: {pressure.history:,} of {pressure.room:,} tokens ({pressure.share:.0f}%); "
                 f"a compaction runs when the next request would not fit (the bar warns from {pressure.warn_at:,})."]
        if figures.compactions or figures.abandoned:
            lines.append(f"Compactions: {figures.compactions} (history {figures.tokens_before:,} -> {figures.tokens_after:,} "
                         f"tokens in all), {figures.abandoned} abandoned (they would not have shrunk anything); "
                         f"{figures.retired} state items retired, all still on disk (/compactions says why).")
        else:
            lines.append("Compactions: none yet.")
        lines.append(f"Of the conversation so far ({reach.total:,} tokens): {reach.share(reach.verbatim):.0f}% verbatim in "
                     f"the request, {reach.share(reach.summarized):.0f}% summarized in the state record, "
                     f"{reach.share(reach.disk):.0f}% on disk only (/search, /restore).")
        return "\n\n".join(lines)

    def cmd_clear(self, arg: str) -> Outcome:
        old = self.session.id if self.session is not None else ""
        if self.session is not None:
            self.session.close()
            self.session = None
        notes = self.open()
        kept = f"; {old} stays on disk (`kimicode --resume {old}`)" if old else ""
        return Outcome(f"new session {self.require().id}{kept}", "info", new_session=True, notices=notes)

    def cmd_export(self, arg: str) -> Outcome:
        from kimicode.chat.export import to_json, to_markdown
        from kimicode.chat.session import load_session

        session = self.require()
        loaded = load_session(session.path)
        path = Path(arg).expanduser() if arg else self.locations.data_dir / "exports" / f"{session.id}.md"
        if not path.is_absolute():
            path = self.root / path
        if path.suffix == ".json":
            import json

            text = json.dumps(to_json(loaded), indent=1, ensure_ascii=False) + "\n"
        else:
            text = to_markdown(loaded)
        from kimicode.locations import private_dir, write_private

        try:
            if arg:
                path.parent.mkdir(parents=True, exist_ok=True)
            else:
                private_dir(path.parent, self.locations.data_dir)
            write_private(path, text)  # a conversation quotes private code: owner only
        except OSError as exc:
            raise ChatError(f"cannot write {path}: {exc.strerror}") from None
        return Outcome(f"exported session {session.id} to {path}", "info")

    def cmd_edit(self, arg: str) -> Outcome:
        session = self.require()
        wanted = arg.strip().lower()
        if wanted not in ("", "on", "off"):
            raise ChatError(f"/edit takes on or off, not {arg!r}")
        if wanted:
            session.set_editing(wanted == "on")
        on = session.edits is not None and session.edits.on
        if on:
            return Outcome("editing on: the model may propose changes; each is shown as a diff and applied only on "
                           "Apply (/edit off stops it)", "info")
        return Outcome("editing off: the model cannot change files (/edit on allows it, each change on Apply)", "info")

    def _edits(self) -> Any:
        edits = self.require().edits
        if edits is None:
            raise ChatError("this session has no repository tools: nothing kimicode changed to show or undo")
        return edits

    def cmd_undo(self, arg: str) -> Outcome:
        from kimicode.edits.diff import summary

        result = self._edits().undo()
        if not result.set_id:
            return Outcome("nothing to undo: kimicode applied no change in this session (or undid them all)", "info")
        if result.refused:
            more = f" ({len(result.refused) - 1} more file(s) too)" if len(result.refused) > 1 else ""
            return Outcome(result.refused[0].reason + more, "error")
        lines = [f"undid {result.set_id}: {len(result.restored)} file(s) restored as they were"]
        lines += [f"restored {summary(c)}" for c in result.restored]
        return Outcome("\n".join(lines), "info")

    def cmd_diff(self, arg: str) -> Outcome:
        from kimicode.edits.diff import unified_diffs

        changes = self._edits().changes()
        if not changes:
            return Outcome("kimicode changed no file in this session (or undid every change)", "info")
        return Outcome(unified_diffs(changes), "diff")

    def cmd_help(self, arg: str) -> Outcome:
        from kimicode.tui.commands import help_markdown
        from kimicode.tui.keys import KEYS

        return Outcome(help_markdown(KEYS))
