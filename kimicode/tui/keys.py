"""The key bindings, in one table: /help, the help screen and docs/tui.md show it."""

from __future__ import annotations

KEYS: list[tuple[str, str]] = [
    ("Enter", "send the message (or run the /command)"),
    ("Shift+Enter, Ctrl+J", "new line in the message"),
    ("Up / Down", "previous / next input (from the first / last line of the box)"),
    ("Tab", "complete a /command or a file path"),
    ("Ctrl+C, Escape", "stop the streaming answer; what arrived is kept, marked partial (a proposed edit: skipped)"),
    ("a / s / t (a proposed edit)", "apply it / skip it / apply it and every change of this turn"),
    ("F2", "show / hide the files panel"),
    ("Delete (files panel)", "drop the selected file from the context"),
    ("F1", "help: commands and keys"),
    ("Ctrl+Q", "quit (every turn is already saved; `kimicode --resume` brings it back)"),
]
