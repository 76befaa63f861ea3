"""The Textual TUI: `kimicode` in a repository. Only this package imports Textual."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run(settings: Any, root: Path, *, resume: bool = False, session_id: str | None = None) -> None:
    """Open the app and return when the user quits."""
    import sys

    from kimicode.tui.app import KimicodeApp

    app = KimicodeApp(settings, root, resume=resume, session_id=session_id)
    app.run()
    if app.saved_session:
        print(f"kimicode: session {app.saved_session} saved; continue it with `kimicode --resume`", file=sys.stderr)
