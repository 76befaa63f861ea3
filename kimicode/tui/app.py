"""The kimicode TUI: a chat over the chat core, a budget bar, the files in context.

The window paints first; the session opens (and the repository is packed) in a worker.
Everything that touches the session runs in one thread worker at a time (the session
allows one call at a time); workers report back with messages (kimicode/tui/messages.py)
posted to the app, so they are handled in order on the UI's own thread.

The app renders only the engine's typed events (kimicode.engine.events): the worker that
runs a turn posts each one as an ``EngineEvent`` and the app shows it. It never touches the
model client: stopping goes through the workspace.

Stopping an answer: Ctrl+C (or Escape) sets a flag and cancels the stream; the next streamed
event raises ``_Stopped``, a KeyboardInterrupt, which the model client turns into a partial
result, exactly as a Ctrl+C does in the CLI; the chat core records the answer marked partial.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Footer, Static

from kimicode.chat.errors import ChatError
from kimicode.config import Settings
from kimicode.engine.events import (
    CompactionBegan,
    CompactionEnded,
    ContentDelta,
    Event,
    Failed,
    ReasoningDelta,
    ToolFinished,
    TurnBegan,
    TurnEnded,
)
from kimicode.engine.events import Notice as Told
from kimicode.locations import Locations
from kimicode.tui.commands import CommandError, Parsed, is_command, parse
from kimicode.tui.messages import (
    CommandDone,
    EditDecided,
    EngineEvent,
    Refreshed,
    RepoChanged,
    RepoPrepared,
    SessionFailed,
    SessionOpened,
    Unsent,
    WorkFinished,
)
from kimicode.tui.review import Reviews
from kimicode.tui.widgets.budget_bar import BudgetBar
from kimicode.tui.widgets.chat_view import AssistantMessage, ChatView, Notice, ToolLine, UserMessage
from kimicode.tui.widgets.diff_view import DiffView
from kimicode.tui.widgets.files_panel import FilesPanel, FilesTable
from kimicode.tui.widgets.prompt import PromptInput
from kimicode.tui.workspace import Outcome, Snapshot, Workspace, key_notice

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
REPACKS = ("pack", "drop", "clear")  # commands that pack the repository again
QUIT_HINT = "Nothing to stop. Ctrl+Q quits; `kimicode --resume` continues this session later."
LABELS = {"pack": "packing the repository", "compact": "compacting the conversation", "memory": "searching memory",
          "forget": "updating memory", "remember": "updating memory", "clear": "opening a new session", "add": "adding files", "drop": "dropping files"}


class _Stopped(KeyboardInterrupt):
    """Raised inside a streaming callback when the user asked to stop (see the module doc)."""


def _not_sent(exc: Exception) -> str:
    """One line for a message that could not be recorded; the text itself goes back in the box."""
    why = f"the session file could not be written ({exc.strerror})" if isinstance(exc, OSError) and exc.strerror \
        else f"internal error: {type(exc).__name__}: {exc}"
    return f"not sent: {why}; your message is back in the box: press Enter to try again once that is fixed"


class KimicodeApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "kimicode"
    ENABLE_COMMAND_PALETTE = False  # the footer shows our keys; /help and F1 list the rest
    BINDINGS = [
        Binding("ctrl+c", "stop", "Stop", priority=True),
        Binding("ctrl+c", "not_streaming", show=False, priority=True),  # when no answer streams: see below
        Binding("escape", "stop", "Stop", show=False, priority=True),
        Binding("f1", "help", "Help"),
        Binding("f2", "toggle_files", "Files"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, settings: Settings, root: Path, *, resume: bool = False, session_id: str | None = None,
                 locations: Locations | None = None, use_memory: bool | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.root = root
        self.resuming = resume or bool(session_id)
        self.workspace = Workspace(settings, root, resume=resume, session_id=session_id, locations=locations,
                                   use_memory=use_memory)
        self.snapshot: Snapshot | None = None
        self.busy = ""  # what the session is doing; "" when it is free
        self.streaming = False
        self.saved_session: str | None = None  # the session to name on the way out, if it holds turns
        self._stop = threading.Event()
        self.reviews = Reviews(self, self._stop, self._tick)  # each proposed edit: a diff to Apply or Skip
        self.workspace.decide = self.reviews.decide
        self._answer: AssistantMessage | None = None
        self._asked: UserMessage | None = None  # the message being answered, as shown
        self._started = 0.0
        self._frame = 0
        self._quitting = False
        self._warmed = False  # memory's store opened ahead of the session's end (Workspace.warm_memory)
        # the repository watcher (kimicode.repo.watch): what changed since the shelf was packed
        self._watcher: Any = None
        self._changed: set[str] = set()
        self._changed_unknown = False  # polling noticed a change but not which files
        self._preparing = self._prepare_again = False

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> Iterable[Any]:
        # Kept as attributes: app.query_one() looks at the active screen, which may be the help.
        self.title_bar = Static(self._title(), id="title")
        self.chat = ChatView(id="chat")
        self.files = FilesPanel(id="files")
        self.status = Static("", id="status")
        self.prompt = PromptInput(paths=self._path_candidates, id="prompt")
        self.hints = Static("", id="hints")
        self.budget = BudgetBar(id="budget")
        yield self.title_bar
        with Horizontal(id="main"):
            yield self.chat
            yield self.files
        yield self.status
        yield self.prompt
        yield self.hints
        yield self.budget
        yield Footer()

    def _title(self) -> Content:
        session = self.workspace.session
        parts = [f"kimicode · {self.root.name} · {self.workspace.settings.model}"]
        if session is not None:
            parts.append(f"session {session.id}")
        if self._changed or self._changed_unknown:
            what = f"{len(self._changed)} file{'s' if len(self._changed) != 1 else ''}" if self._changed else "files"
            parts.append(f"{what} changed since the pack (/pack)")
        return Content(" · ".join(parts))

    async def on_mount(self) -> None:
        self.prompt.focus()
        self.hints.display = False
        notice = key_notice(self.settings)
        if notice:
            await self.chat.add_notice(notice, "error")
        self._begin("resuming the session" if self.resuming else "opening the session and packing the repository")
        self.set_interval(0.25, self._tick)
        self._repacking()
        self._open()

    # -- busy state ----------------------------------------------------------------------

    def _begin(self, label: str) -> None:
        self.busy = label
        self._started = time.monotonic()
        self._tick()
        self.refresh_bindings()

    def _tick(self) -> None:
        status = self.status
        if not self.busy:
            status.display = False
            return
        if self.reviews.waiting:  # nothing runs while the user looks at a change: no spinner, no clock
            status.update(Content(self.reviews.waiting))
            status.display = True
            return
        self._frame = (self._frame + 1) % len(SPINNER)
        elapsed = int(time.monotonic() - self._started)
        status.update(Content(f"{SPINNER[self._frame]} {self.busy}... {elapsed} s"))
        status.display = True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.streaming and not self._stop.is_set()
        if action == "not_streaming":
            return not self.streaming
        return True

    async def on_work_finished(self, message: WorkFinished) -> None:
        for note in message.notes:
            await self.chat.add_notice(note, "warning")
        self.busy = ""
        self.streaming = False
        self._tick()
        self.refresh_bindings()
        if self._quitting:
            self._save_and_exit()
        elif not self._warmed and self.workspace.will_capture():
            self._warmed = True
            self._warm_memory()

    # -- workers (threads: the chat core is synchronous) ------------------------------------

    def _report(self) -> None:
        """In a worker: the budget and files after a change, then the session is free."""
        try:
            self.post_message(Refreshed(self.workspace.snapshot()))
        except Exception as exc:  # noqa: BLE001 - the bar may be stale; the app stays usable
            self.post_message(CommandDone(Outcome(f"the budget could not be computed: {exc}", "error")))
        self.post_message(WorkFinished(self.workspace.new_warnings()))

    @work(thread=True, exclusive=True, group="session")
    def _open(self) -> None:
        try:
            notes = self.workspace.open()
        except ChatError as exc:
            self.post_message(SessionFailed(str(exc)))
            self.post_message(WorkFinished())
            return
        except Exception as exc:  # noqa: BLE001 - say it in the chat, keep the app
            self.post_message(SessionFailed(f"cannot open the session: {type(exc).__name__}: {exc}"))
            self.post_message(WorkFinished())
            return
        session = self.workspace.require()
        self.post_message(SessionOpened(notes, list(session.turns), self.resuming))
        self._report()

    @work(thread=True, exclusive=True, group="session")
    def _send(self, text: str) -> None:
        stop = self._stop
        began = False  # TurnBegan: the user's message is on disk

        def emit(event: Event) -> None:
            nonlocal began
            began = began or isinstance(event, TurnBegan)
            streamed = isinstance(event, (ContentDelta, ReasoningDelta))
            if not streamed and isinstance(event, Told) and event.topic == "retry" and stop.is_set():
                raise _Stopped  # before the notice: a stopped answer is not retried
            self.post_message(EngineEvent(event))
            # The client has kept a fragment before it calls back: show it, then stop, so the
            # answer on screen is the answer on disk.
            if streamed and stop.is_set():
                raise _Stopped

        try:
            self.workspace.send(text, emit)
        except ChatError as exc:
            if not began:  # refused before it was recorded (an empty message, no session)
                self.post_message(EngineEvent(Failed(str(exc))))
        except _Stopped:
            self.post_message(EngineEvent(TurnEnded(0, partial=True, interrupted=True, error="stopped before the answer began")))
        except Exception as exc:  # noqa: BLE001
            if not began:
                # the message never reached the session file (a full disk, a read-only folder): give it back
                self.post_message(Unsent(text, _not_sent(exc)))
            else:
                self.post_message(EngineEvent(Failed(f"internal error: {type(exc).__name__}: {exc}")))
        self._report()

    @work(thread=True, exclusive=False, group="warm")
    def _warm_memory(self) -> None:
        """While the user reads the first answer: the session's end then only stores its notes."""
        self.workspace.warm_memory()

    @work(thread=True, exclusive=True, group="session")
    def _command(self, parsed: Parsed) -> None:
        try:
            outcome = self.workspace.run(parsed)
        except ChatError as exc:
            outcome = Outcome(str(exc), "error")
        except Exception as exc:  # noqa: BLE001 - a failed command is a notice, not a crash
            outcome = Outcome(f"/{parsed.command.name} failed: {type(exc).__name__}: {exc}", "error")
        self.post_message(CommandDone(outcome))
        if self.workspace.session is not None:
            self._report()
        else:
            self.post_message(WorkFinished())

    # -- the repository watcher -------------------------------------------------------------

    def _repacking(self) -> None:
        """A pack of the work tree as it is now begins: what changed before it is in it."""
        self._changed.clear()
        self._changed_unknown = False
        self.title_bar.update(self._title())

    def _watch(self) -> None:
        session = self.workspace.session
        mode = self.settings.pack.watch
        if self._watcher is not None or mode == "off" or session is None or session.files.packer is None:
            return
        from kimicode.repo.watch import RepoWatcher

        self._watcher = RepoWatcher(session.files.packer.root, self._on_repo_change, mode=mode)
        self._watcher.start()

    def _on_repo_change(self, paths: Sequence[str]) -> None:
        """From the watcher's thread: hand the change to the app's own loop."""
        self.post_message(RepoChanged(list(paths)))

    async def on_repo_changed(self, message: RepoChanged) -> None:
        self._changed.update(message.paths)
        self._changed_unknown |= not message.paths
        self.title_bar.update(self._title())
        if self._preparing:
            self._prepare_again = True
        else:
            self._preparing = True
            self._prepare()

    @work(thread=True, exclusive=False, group="prepare")
    def _prepare(self) -> None:
        """The same pack as the shelf's, in the background: the next re-pack finds it in the cache."""
        try:
            self.workspace.prepare_pack()
        except Exception:  # noqa: BLE001 - only a head start: the real pack reports its own errors
            pass
        self.post_message(RepoPrepared())

    def on_repo_prepared(self, message: RepoPrepared) -> None:
        self._preparing = False
        if self._prepare_again:
            self._prepare_again = False
            self._preparing = True
            self._prepare()

    # -- input ---------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        await self.submit(event.text)

    async def submit(self, text: str, *, typed: bool = True) -> bool:
        """Run a message or a /command; False when it could not start (the text stays).

        ``typed``: it came from the message box (history, clearing); the files panel's
        add and drop leave the box alone.
        """
        parsed: Parsed | None = None
        if is_command(text):
            try:
                parsed = parse(text)
            except CommandError as exc:
                await self.chat.add_notice(str(exc), "error")
                return False
            if parsed.command.local:
                self._accept(text, typed)
                await self._local(parsed)
                return True
        if self.busy:
            self.notify(f"kimicode is busy ({self.busy}): wait, or Ctrl+C to stop an answer", severity="warning")
            return False
        if self.workspace.session is None and (parsed is None or parsed.command.name != "clear"):
            await self.chat.add_notice("no session is open: /clear opens a new one", "error")
            return False
        self._accept(text, typed)
        if parsed is not None:
            if parsed.command.name in REPACKS:
                self._repacking()
            await self.chat.add_notice(f"› {text.strip()}", "command")
            self._begin(LABELS.get(parsed.command.name, f"/{parsed.command.name}"))
            self._command(parsed)
            return True
        self._asked = await self.chat.add_user(text)
        self._answer = await self.chat.start_answer()
        self._stop.clear()
        self.reviews.new_turn()
        self.streaming = True
        self._begin("answering (Ctrl+C stops)")
        self._send(text)
        return True

    def _accept(self, text: str, typed: bool) -> None:
        if typed:
            self.prompt.remember(text)
            self.prompt.clear()

    async def _local(self, parsed: Parsed) -> None:
        name = parsed.command.name
        if name == "help":
            outcome = self.workspace.cmd_help("")
            await self.chat.add_output(outcome.markdown)
        elif name == "files":
            self.action_toggle_files()
        elif name == "quit":
            await self.action_quit()

    def _path_candidates(self, command: str, prefix: str) -> list[str]:
        """Paths for Tab: files in context for /drop, else the files the pack may send."""
        session = self.workspace.session
        if command == "drop":
            pool: Iterable[str] = [r.path for r in self.snapshot.files] if self.snapshot else []
        else:
            pool = session.repo.listed if session is not None else []
        found = set()
        for path in pool:
            if path.startswith(prefix):
                rest = path[len(prefix):]
                found.add(path[: len(prefix) + rest.index("/") + 1] if "/" in rest else path)
        return sorted(found)

    @on(PromptInput.Hints)
    def _hints(self, event: PromptInput.Hints) -> None:
        hints = self.hints
        hints.update(Content("  ".join(event.items)))
        hints.display = bool(event.items)

    @on(FilesPanel.Add)
    async def _panel_add(self, event: FilesPanel.Add) -> None:
        await self.submit(f"/add {event.path}", typed=False)

    @on(FilesTable.Drop)
    async def _panel_drop(self, event: FilesTable.Drop) -> None:
        await self.submit(f"/drop {event.path}", typed=False)

    # -- worker reports -----------------------------------------------------------------------

    async def on_session_opened(self, message: SessionOpened) -> None:
        self.title_bar.update(self._title())
        if message.resumed:
            await self.chat.show_turns(message.turns)
            prompt = self.prompt
            for turn in message.turns:
                if turn.role == "user":
                    prompt.remember(turn.text)
        for note in message.notes:
            await self.chat.add_notice(note, "warning")
        if not message.turns:
            await self.chat.add_notice(f"Ask anything about {self.root.name}. /help lists the commands; F1 the keys.")
        self._watch()

    async def on_session_failed(self, message: SessionFailed) -> None:
        await self.chat.add_notice(message.error, "error")
        self.budget.say("no session is open: /clear opens a new one")

    async def on_engine_event(self, message: EngineEvent) -> None:
        event, answer = message.event, self._answer
        if isinstance(event, ContentDelta):
            if answer is not None:
                await answer.write(event.text)
        elif isinstance(event, ReasoningDelta):
            if answer is not None:
                answer.think(event.text)
        elif isinstance(event, Told):
            if event.topic == "retry":
                await self.chat.add_notice(event.text, "warning")
            else:
                await self._before_answer(Notice(event.text, "info"))
        elif isinstance(event, ToolFinished):
            detail = "error" if event.error else f"{event.tokens:,} tokens" + (", cut to its budget" if event.truncated else "")
            await self._before_answer(ToolLine(f"[{event.output}] {event.line}", f"{detail} · {event.seconds:.2f} s",
                                               event.text, error=event.error))
        elif isinstance(event, CompactionBegan):
            self.busy = "compacting the conversation"
            self._tick()
        elif isinstance(event, CompactionEnded):
            await self._before_answer(Notice(event.line, "compaction"))
            if self.streaming:
                self.busy = "answering (Ctrl+C stops)"
        elif isinstance(event, Failed):
            await self._drop_answer(event.message, "error")
        elif isinstance(event, TurnEnded):
            if event.turn == 0:  # nothing was recorded
                await self._drop_answer(event.error, "info")
            elif answer is not None:
                self._answer = self._asked = None
                label = "stopped: partial answer, kept" if event.interrupted else f"partial: {event.error or 'cut short'}"
                await answer.finish(partial=event.partial, label=label)

    async def on_unsent(self, message: Unsent) -> None:
        answer, self._answer = self._answer, None
        asked, self._asked = self._asked, None
        for widget in (answer, asked):
            if widget is not None:
                await widget.remove()
        self.prompt.give_back(message.text)
        await self.chat.add_notice(message.error, "error")

    async def on_edit_decided(self, message: EditDecided) -> None:
        for line in message.lines:
            await self._before_answer(Notice(line, "edit"))

    async def _before_answer(self, widget: Notice | ToolLine) -> None:
        """What happened while the answer was being prepared is shown above it."""
        if self._answer is not None:
            await self.chat.mount(widget, before=self._answer)
        else:
            await self.chat.add(widget)

    async def _drop_answer(self, why: str, kind: str) -> None:
        """The turn ended without a recorded answer: what streamed is kept on screen only, marked."""
        answer, self._answer = self._answer, None
        self._asked = None
        if answer is not None:
            await answer.finish(partial=bool(answer.text), label="partial: not saved")
            if not answer.text:
                await answer.remove()
        await self.chat.add_notice(why, kind)

    async def on_command_done(self, message: CommandDone) -> None:
        outcome = message.outcome
        if outcome.new_session:
            await self.chat.clear()
            self.title_bar.update(self._title())
        if outcome.markdown:
            if outcome.kind == "diff":
                await self.chat.add(DiffView(outcome.markdown, classes="diff"))
            elif outcome.kind == "output":
                await self.chat.add_output(outcome.markdown)
            else:
                await self.chat.add_notice(outcome.markdown, outcome.kind)
        for note in outcome.notices:
            await self.chat.add_notice(note, "warning")

    def on_refreshed(self, message: Refreshed) -> None:
        self.snapshot = message.snapshot
        self.budget.show(message.snapshot)
        self.files.show(message.snapshot.files)

    # -- actions ------------------------------------------------------------------------------

    def action_stop(self) -> None:
        if self.streaming and not self._stop.is_set():
            self._stop.set()
            self.reviews.skip_shown()  # a change waiting for Apply is skipped
            self.workspace.cancel()  # a stalled stream stops at once, not at the next fragment
            self.busy = "stopping: the answer so far is kept"
            self._tick()
            self.refresh_bindings()

    def action_not_streaming(self) -> None:
        """Ctrl+C with no answer streaming: stop a /compact's model call, else say how to quit."""
        if self.busy == LABELS["compact"]:
            self.workspace.cancel()  # the summary stops; the compaction finishes by code alone
            self.busy = "stopping the summary: the compaction finishes without it"
            self._tick()
        elif not self.busy:
            self.notify(QUIT_HINT)

    def action_help(self) -> None:
        from kimicode.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_toggle_files(self) -> None:
        panel = self.files
        panel.toggle_class("-show")
        if panel.has_class("-show"):
            panel.query_one(FilesTable).focus()
        else:
            self.prompt.focus()

    async def action_quit(self) -> None:
        """Quit once the session is free (a streaming answer is stopped and saved first)."""
        if self._quitting or not self.busy:
            self._save_and_exit()  # a second Ctrl+Q does not wait
            return
        self._quitting = True
        self.action_stop()
        self.notify("saving the session before quitting (Ctrl+Q again quits now)")

    def _save_and_exit(self) -> None:
        session = self.workspace.session
        if session is not None and session.turns:
            self.saved_session = session.id  # said after the screen is gone (kimicode.tui.run)
        if not self.busy:
            self.workspace.close()
        self.exit()

    def on_unmount(self) -> None:
        if self.streaming:  # a worker waiting for an edit's review would wait for ever
            self._stop.set()
            self.workspace.cancel()
        if self._watcher is not None:
            self._watcher.stop()
        if not self.busy:  # a worker still running keeps the session until it ends
            self.workspace.close()
