"""F1: commands and key bindings over the chat."""

from __future__ import annotations

from typing import Any, Iterable

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from kimicode.tui.commands import help_markdown
from kimicode.tui.keys import KEYS


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> Iterable[Any]:
        with VerticalScroll(id="help-box"):
            yield Markdown("# kimicode\n\n" + help_markdown(KEYS) + "\nEscape closes this help.")

