"""The TUI's ``decide`` for the edit tools: a worker thread asks, the UI shows the review, the worker waits.

The tool loop runs in a worker thread (kimicode/tui/app.py); ``decide`` is called there (or in the
loop's pool) and blocks it, never the UI: it hands the review to the app's thread and waits for
the answer, file by file. "Apply all this turn" applies the rest of the turn's changes without
asking. A stop (Ctrl+C, Escape, quitting) skips the change on screen and every later one: the
model is told the user declined them, and the answer stops at its next fragment.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, TimeoutError
from typing import TYPE_CHECKING, Callable, Sequence

from kimicode.tui.messages import EditDecided
from kimicode.tui.screens.review import ALL, APPLY, SKIP, ReviewScreen

if TYPE_CHECKING:
    from textual.app import App

    from kimicode.edits.change import FileChange
    from kimicode.tools.edit import Proposal


class Reviews:
    def __init__(self, app: App[None], stop: threading.Event, shown: Callable[[], None]) -> None:
        self.app = app
        self.stop = stop  # the app's: set when the user stops the answer
        self.shown = shown  # the app's status line follows ``waiting``
        self.apply_all = False  # "apply all this turn" was chosen
        self._screen: ReviewScreen | None = None  # on screen now (the app's thread only)

    def new_turn(self) -> None:
        self.apply_all = False

    # -- in a worker thread --------------------------------------------------------------

    def decide(self, proposal: Proposal) -> Sequence[FileChange]:
        chosen: list[FileChange] = []
        lines: list[str] = []
        for number, change in enumerate(proposal.changes, 1):
            answer = ALL if self.apply_all else SKIP if self.stop.is_set() else self._ask(proposal, change, number)
            self.apply_all |= answer == ALL
            if answer in (APPLY, ALL):
                chosen.append(change)
            lines.append(f"{'approved' if answer in (APPLY, ALL) else 'skipped'} {change.path} ({change.kind})")
        self.app.post_message(EditDecided(lines))
        return chosen

    def _ask(self, proposal: Proposal, change: FileChange, number: int) -> str:
        answer: Future[str] = Future()
        self.app.call_from_thread(self._show, proposal, change, number, answer)
        while True:
            try:
                return answer.result(timeout=0.1)
            except TimeoutError:
                if self.stop.is_set():  # the app dismisses the screen; do not wait for it
                    return SKIP

    # -- in the app's thread -------------------------------------------------------------

    def _show(self, proposal: Proposal, change: FileChange, number: int, answer: Future[str]) -> None:
        if self.stop.is_set():
            answer.set_result(SKIP)
            return
        screen = ReviewScreen(proposal.tool, change, number, len(proposal.changes), proposal.how)

        def done(result: str | None) -> None:
            self._screen = None
            self.shown()
            if not answer.done():
                answer.set_result(result or SKIP)

        self._screen = screen
        self.app.push_screen(screen, done)
        self.shown()

    @property
    def waiting(self) -> str:
        """What the status line says while a change waits for the user ("" when none does)."""
        screen = self._screen
        return f"waiting for your decision on {screen.change.path}" if screen is not None else ""

    def skip_shown(self) -> None:
        """Stop: the review on screen (if any) is answered Skip."""
        screen = self._screen
        if screen is not None and screen.is_current:
            screen.dismiss(SKIP)
