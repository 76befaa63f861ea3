"""The message box: multi-line, Enter sends, history on Up/Down, Tab completes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from kimicode.tui.commands import complete_name

PATH_COMMANDS = ("add", "drop", "export")
MAX_SHOWN = 8  # completion candidates listed under the box


def common_prefix(words: list[str]) -> str:
    return os.path.commonprefix(words) if words else ""


class PromptInput(TextArea):
    BINDINGS = [
        Binding("enter", "submit", "Send", show=True),
        Binding("ctrl+j", "newline", "New line", show=False),
    ]

    @dataclass
    class Submitted(Message):
        text: str

    @dataclass
    class Hints(Message):
        """Completion candidates to show (empty: hide them)."""

        items: list[str]

    def __init__(self, paths: Callable[[str, str], list[str]] | None = None, **kwargs: object) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)  # type: ignore[arg-type]
        self.inputs: list[str] = []
        self._at: int | None = None  # index into history while browsing it
        self._draft = ""
        self._paths = paths  # (command, prefix) -> candidate paths

    # -- history ----------------------------------------------------------------------

    def remember(self, text: str) -> None:
        if text.strip() and (not self.inputs or self.inputs[-1] != text):
            self.inputs.append(text)
        self._at = None

    def _browse(self, step: int) -> bool:
        if not self.inputs:
            return False
        if self._at is None:
            if step > 0:
                return False
            self._draft = self.text
            self._at = len(self.inputs)
        self._at += step
        if self._at >= len(self.inputs):
            self._at = None
            self._set(self._draft)
            return True
        self._at = max(self._at, 0)
        self._set(self.inputs[self._at])
        return True

    def _set(self, text: str) -> None:
        self.text = text
        self.move_cursor(self.document.end)

    def give_back(self, text: str) -> None:
        """Put back a message that could not be sent; anything typed since stays after it."""
        typed = self.text
        self._at = None
        self._set(text if not typed.strip() else f"{text}\n{typed}")

    # -- keys -------------------------------------------------------------------------

    async def _on_key(self, event: events.Key) -> None:
        key = event.key
        row, _ = self.cursor_location
        handled = False
        if key == "enter":
            self.action_submit()
            handled = True
        elif key in ("shift+enter", "ctrl+j"):
            self.action_newline()
            handled = True
        elif key == "up" and row == 0:
            handled = self._browse(-1)
        elif key == "down" and row == self.document.line_count - 1:
            handled = self._browse(+1)
        elif key == "tab":
            handled = self.complete()
        if handled:
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    def action_submit(self) -> None:
        text = self.text
        if text.strip():
            self.post_message(self.Submitted(text))
        self.post_message(self.Hints([]))

    def action_newline(self) -> None:
        self.insert("\n")

    # -- completion -------------------------------------------------------------------

    def complete(self) -> bool:
        """Complete the word before the cursor; False when there is nothing to complete."""
        row, column = self.cursor_location
        line = self.document.get_line(row)[:column]
        word = line.split(" ")[-1]
        if row == 0 and line.startswith("/") and " " not in line:
            found = ["/" + name for name in complete_name(line[1:])]
            suffix = " "
        else:
            command = line[1:].split(" ")[0] if line.startswith("/") else ""
            if not (command in PATH_COMMANDS or "/" in word or "." in word) or self._paths is None:
                return False
            found = self._paths(command, word)
            suffix = "" if len(found) != 1 or found[0].endswith("/") else " "
        if not found:
            self.post_message(self.Hints(["no completion"]))
            return True
        prefix = common_prefix(found)
        if len(found) == 1:
            prefix += suffix
        if len(prefix) > len(word):
            self.insert(prefix[len(word):])
        shown = found[:MAX_SHOWN] + ([f"... {len(found) - MAX_SHOWN} more"] if len(found) > MAX_SHOWN else [])
        self.post_message(self.Hints(shown if len(found) > 1 else []))
        return True
