"""A transient status line on stderr ("packing…", "waiting for the model…"), only on a terminal.

Packing a large repository and a model's first token can each take seconds; without a word a
user cannot tell work from a hang. In a pipe or a log nothing is written: scripts read stderr.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, TypeVar

T = TypeVar("T")


class Progress:
    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._status: Any = None
        self._console: Any = None

    def show(self, text: str) -> None:
        """Replace the status line with ``text`` (kept until the next show or stop)."""
        if not self.enabled:
            return
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True)
        if self._status is None:
            self._status = self._console.status(text)
            self._status.start()
        else:
            self._status.update(text)

    def stop(self) -> None:
        """Clear the line (the status is transient): what follows starts on a clean line."""
        if self._status is not None:
            self._status.stop()
            self._status = None

    def until_first(self, callback: Callable[[T], None] | None) -> Callable[[T], None] | None:
        """``callback`` that first clears the status: for a stream's first delta."""
        if callback is None or not self.enabled:
            return callback

        def first(value: T) -> None:
            self.stop()
            callback(value)

        return first
