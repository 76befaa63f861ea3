"""The budget bar: tokens per shelf out of the model's window, and the last call's usage.

Before a compaction happens, the second line says so: once the history passes its warning share
(``Shares.warn``), the legend gives way to a warning with the tokens left before the next
request must compact, and what the user can do (/compact now, /pin what must stay verbatim).
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from kimicode.prompt import SHELVES
from kimicode.tui.workspace import Snapshot

COLORS = {"system": "magenta", "memory": "yellow", "state": "green", "recent": "cyan", "repo": "blue", "reply": "bright_black"}
GLYPHS = {"system": "█", "memory": "█", "state": "█", "recent": "█", "repo": "█", "reply": "▒"}


def short(n: int) -> str:
    """12,345 -> 12.3K; 262,144 -> 262K; 1,048,576 -> 1.0M."""
    if n >= 999_500:
        return f"{n / 1_000_000:.1f}M"
    if n >= 100_000:
        return f"{n / 1000:.0f}K"
    if n >= 1000:
        return f"{n / 1000:.1f}K"
    return str(n)


def segments(sizes: dict[str, int], window: int, width: int) -> list[tuple[str, int]]:
    """Cells per shelf: a shelf that holds anything gets at least one cell."""
    cells = []
    for name in SHELVES:
        tokens = sizes.get(name, 0)
        cells.append((name, max(1, round(width * tokens / window)) if tokens else 0))
    over = sum(n for _, n in cells) - width
    while over > 0:  # rounding up small shelves can overflow: take it from the largest
        i = max(range(len(cells)), key=lambda k: cells[k][1])
        cells[i] = (cells[i][0], cells[i][1] - 1)
        over -= 1
    return cells


class BudgetBar(Widget):
    """Two lines: the window as a bar of shelves, then the figures."""

    DEFAULT_CSS = """
    BudgetBar { height: 2; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.snapshot: Snapshot | None = None
        self.message = "no budget yet: the session is opening"

    def show(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.refresh()

    def say(self, message: str) -> None:
        self.message = message
        self.refresh()

    def render(self) -> Text:
        width = max(self.content_size.width, 20)
        snap = self.snapshot
        if snap is None or snap.table is None:
            note = snap.note if snap is not None and snap.note else self.message
            return Text("░" * width + "\n" + note, no_wrap=True, overflow="ellipsis")
        table = snap.table
        sizes = dict(table.sizes)
        summary = f" {short(table.total)} of {short(table.window)} ({100 * table.total / table.window:.0f}%)"
        if snap.usage:
            u = snap.usage
            summary += (f" · last call {short(u.get('prompt_tokens', 0))} in, {short(u.get('cached_tokens', 0))} cached, "
                        f"{short(u.get('completion_tokens', 0))} out")
        cells = max(width - len(summary), 10)
        bar = Text(no_wrap=True, overflow="ellipsis")
        for name, n in segments(sizes, table.window, cells):
            bar.append(GLYPHS[name] * n, style=COLORS[name])
        bar.append("░" * max(cells - bar.cell_len, 0), style="bright_black")
        bar.append(summary, style="bold")
        legend = Text(no_wrap=True, overflow="ellipsis")
        pressure = snap.pressure
        if pressure is not None and pressure.warn:
            left = max(pressure.room - pressure.history, 0)
            legend.append(f"⚠ compaction near: history {short(pressure.history)} of {short(pressure.room)} "
                          f"({pressure.share:.0f}%), {short(left)} left · /compact now · /pin what must stay  ",
                          style="bold yellow")
        for name in SHELVES:
            legend.append("■ ", style=COLORS[name])
            legend.append(f"{name} {short(sizes.get(name, 0))}  ")
        return bar + Text("\n") + legend
