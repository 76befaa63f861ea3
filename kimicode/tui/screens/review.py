"""The review of one proposed change to one file: its coloured diff, Apply, Skip, apply all this turn.

A modal over the chat, pushed by kimicode/tui/review.py while the worker that runs the tool loop
waits for the answer. Keys and buttons do the same; Ctrl+C and Escape (the app's stop) skip it and
stop the answer.
"""

from __future__ import annotations

from typing import Any, Iterable

from textual import on
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from kimicode.edits.change import FileChange
from kimicode.edits.diff import summary, unified_diff
from kimicode.tui.widgets.diff_view import DiffView

APPLY, SKIP, ALL = "apply", "skip", "all"


class ReviewScreen(ModalScreen[str]):
    BINDINGS = [
        Binding("a", "choose('apply')", "Apply"),
        Binding("s", "choose('skip')", "Skip"),
        Binding("t", "choose('all')", "Apply all this turn"),
    ]

    def __init__(self, tool: str, change: FileChange, number: int, count: int, how: str = "") -> None:
        super().__init__()
        self.tool = tool
        self.change = change
        self.number = number  # this file's place among the files of the call
        self.count = count
        self.how = how  # how an edit_file block was found

    def compose(self) -> Iterable[Any]:
        where = f" · file {self.number} of {self.count}" if self.count > 1 else ""
        how = f" · found: {self.how}" if self.how else ""
        with Vertical(id="review-box"):
            yield Static(Content(f"{self.tool} proposes: {summary(self.change)}{where}{how}"), id="review-title")
            with VerticalScroll(id="review-diff"):
                yield DiffView(unified_diff(self.change))
            with Horizontal(id="review-buttons"):
                yield Button(Content("Apply (a)"), id="apply", variant="success")
                yield Button(Content("Skip (s)"), id="skip", variant="error")
                yield Button(Content("Apply all this turn (t)"), id="all", variant="primary")
            yield Static(Content("Esc / Ctrl+C: skip and stop the answer"), id="review-hint")

    def on_mount(self) -> None:
        self.query_one("#review-diff").focus()  # Enter typed for the message box applies nothing

    def action_choose(self, answer: str) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or SKIP)
