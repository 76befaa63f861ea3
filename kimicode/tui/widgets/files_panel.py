"""The side panel: files in context (full / outline / attached) with token counts; add and drop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

if TYPE_CHECKING:
    from kimicode.tui.context_files import FileRow


PATH_WIDTH = 26


def fit_path(path: str, width: int = PATH_WIDTH) -> str:
    """Keep the end of a long path: the file name matters most."""
    return path if len(path) <= width else "…" + path[-(width - 1):]


class FilesTable(DataTable):
    BINDINGS = [Binding("delete,backspace", "drop", "Drop file")]

    @dataclass
    class Drop(Message):
        path: str

    def action_drop(self) -> None:
        if self.row_count:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
            if key.value:
                self.post_message(self.Drop(key.value))


class FilesPanel(Vertical):
    @dataclass
    class Add(Message):
        path: str

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows: list[FileRow] = []

    def compose(self) -> Iterable[Any]:
        yield Static("Files in context", id="files-title")
        yield Input(placeholder="add: path, glob or folder", id="files-add")
        yield FilesTable(id="files-table", cursor_type="row", zebra_stripes=True)
        yield Static("Del drops the selected file", id="files-hint")

    def on_mount(self) -> None:
        table = self.query_one(FilesTable)
        table.add_column("file", key="path", width=PATH_WIDTH)
        table.add_column("shown", key="mode", width=13)
        table.add_column("tokens", key="tokens", width=7)

    def show(self, rows: list[FileRow]) -> None:
        self.rows = rows
        table = self.query_one(FilesTable)
        table.clear()
        for row in rows:
            table.add_row(fit_path(row.path), row.mode, f"{row.tokens:>7,}", key=row.path)
        total = sum(r.tokens for r in rows)
        self.query_one("#files-title", Static).update(f"Files in context: {len(rows)}, {total:,} tokens")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.post_message(self.Add(event.value.strip()))
            event.input.value = ""
