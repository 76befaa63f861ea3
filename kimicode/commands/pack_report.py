"""What `pack --stats` prints, and the progress display on stderr."""

from __future__ import annotations

import sys
from collections import Counter
from contextlib import contextmanager
from typing import Callable, Iterator

from kimicode.repo.pack import PackReport

SHOW_AFTER = 0.3  # seconds: a quick pack shows no progress at all


@contextmanager
def progress_reporter() -> Iterator[Callable[[str, int, int], None] | None]:
    """A phase display on stderr, only on a terminal and only once the pack takes a moment."""
    if not sys.stderr.isatty():
        yield None
        return
    import threading

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    display = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                       console=Console(stderr=True), transient=True)
    task = display.add_task("listing files")
    # started from a timer: a quick pack ends before it fires and shows nothing at all
    timer = threading.Timer(SHOW_AFTER, display.start)
    timer.daemon = True
    timer.start()

    def update(phase: str, done: int, total: int) -> None:
        display.update(task, description=f"{phase} {total:,} files")

    try:
        yield update
    finally:
        timer.cancel()
        display.stop()


def _share(tokens: int, budget: int) -> str:
    return f"{100 * tokens / budget:.1f}%" if budget else "-"


def _modes(report: PackReport) -> dict[str, str]:
    return ({p: "outline" for p, _ in report.outline} | {p: "slice" for p, _ in report.slices}
            | {p: "full" for p, _ in report.full})


def print_explain(report: PackReport) -> None:
    """Per file sent (and the best of those not sent): its rank, chance, mode, and the signals that placed it."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    if not report.query:
        console.print("no question: files are in structural order (imports, entry points, recent changes)")
    modes = _modes(report)
    tokens = dict(report.full) | dict(report.slices) | dict(report.outline)
    table = Table(title=f"Why these files ({len(modes)} sent)", title_justify="left")
    for column in ("rank", "file", "mode", "tokens", "chance", "signals (contribution to the score)", "evidence"):
        table.add_column(column, justify="right" if column in ("rank", "tokens", "chance") else "left")
    for path, rank, probability, reasons, signals in report.explain:
        mode = modes.get(path, "tree")
        shown = ", ".join(f"{name} {value:+.2f}" for name, value in signals[:5])
        table.add_row(str(rank), path, mode, f"{tokens[path]:,}" if path in tokens else "-",
                      f"{probability:.1%}" if report.query else "-",
                      shown, "; ".join(reasons[:3]))
    console.print(table)


def print_stats(report: PackReport) -> None:
    from rich.console import Console
    from rich.table import Table

    # a pipe or log file gets long lines rather than rich's 80-column wrapping
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    console.print(f"[bold]{report.name}[/bold] @ {report.commit}: {report.total_tokens:,} of {report.budget:,} tokens "
                  f"({_share(report.total_tokens, report.budget)}), counted with {report.encoding}"
                  + (f"; split into {report.parts} parts" if report.parts > 1 else ""))
    table = Table(title="Budget use", title_justify="left")
    for column in ("tier", "files", "tokens", "share"):
        table.add_column(column, justify="left" if column == "tier" else "right")
    full = sum(t for _, t in report.full)
    sliced = sum(t for _, t in report.slices)
    outline = sum(t for _, t in report.outline)
    table.add_row("header", "", f"{report.header_tokens:,}", _share(report.header_tokens, report.budget))
    table.add_row("full", str(len(report.full)), f"{full:,}", _share(full, report.budget))
    if report.slices:
        table.add_row("slice", str(len(report.slices)), f"{sliced:,}", _share(sliced, report.budget))
    table.add_row("outline", str(len(report.outline)), f"{outline:,}", _share(outline, report.budget))
    table.add_row("tree", str(report.tree_files), f"{report.tree_tokens:,}", _share(report.tree_tokens, report.budget))
    reasons = Counter(reason for _, reason in report.skipped)
    table.add_row("skipped", str(len(report.skipped)), "-", ", ".join(f"{r} {n}" for r, n in reasons.most_common()))
    console.print(table)
    if report.top:
        top = Table(title="Most relevant files", title_justify="left")
        for column in ("file", "score", "mode", "why"):
            top.add_column(column)
        modes = _modes(report)
        for path, score, why in report.top[:10]:
            top.add_row(path, f"{score:.2f}", modes.get(path, "tree"), "; ".join(why[:3]))
        console.print(top)
    secrets = [(p, r) for p, r in report.skipped if r.startswith("secret file")]
    if secrets or report.redactions:
        leaks = Table(title="Secrets kept out (values never shown)", title_justify="left")
        for column in ("file", "what"):
            leaks.add_column(column)
        for path, reason in secrets:
            leaks.add_row(path, f"excluded: {reason.split(': ', 1)[-1]}")
        for path, line, kind in report.redactions:
            leaks.add_row(f"{path}:{line}", f"redacted: {kind}")
        console.print(leaks)
    phases = "  ".join(f"{name} {seconds:.2f}s" for name, seconds in report.timings.items())
    cache = "whole pack from cache" if report.from_cache else f"{report.files_reused:,} files from cache, {report.files_scanned:,} scanned"
    console.print(f"timings: {phases}  ({cache})")
