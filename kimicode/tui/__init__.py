"""The Textual TUI: `kimicode` in a repository. Only this package imports Textual."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run(settings: Any, root: Path, *, resume: bool = False, session_id: str | None = None) -> None:
    """Open the app and return when the user quits."""
    from kimicode.tui.app import KimicodeApp

    KimicodeApp(settings, root, resume=resume, session_id=session_id).run()
