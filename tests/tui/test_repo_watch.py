"""The TUI watches the repository: a change is shown, and its pack is made before /pack asks."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.repos import write_files
from tests.tui.conftest import SIZE, idle, send, settings_for, wait_for

pytestmark = pytest.mark.anyio


def stored_packs(home: Path) -> int:
    """Whole-pack results in the pack cache (a cache hit stores none)."""
    (path,) = sorted((home / "cache" / "repos").glob("*.sqlite"))
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]


async def test_an_edit_is_shown_and_packed_before_pack_asks(make_app: Any, isolated_home: Path, demo_repo: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        await wait_for(pilot, lambda: app._watcher is not None and app._watcher.ready.is_set())
        assert "changed since the pack" not in str(app.title_bar.render())
        before = stored_packs(isolated_home)

        write_files(demo_repo, {"calc.py": "def add(a, b):\n    return b + a\n"})
        await wait_for(pilot, lambda: "1 file changed since the pack (/pack)" in str(app.title_bar.render()), 30)
        await wait_for(pilot, lambda: not app._preparing, 60)
        assert stored_packs(isolated_home) == before + 1  # the background pack of the edited tree

        await send(pilot, "/pack")
        assert stored_packs(isolated_home) == before + 1  # /pack found that result: nothing new stored
        assert "changed since the pack" not in str(app.title_bar.render())


async def test_watching_can_be_turned_off(make_app: Any, openai_server: Any, demo_repo: Path) -> None:
    app = make_app(settings=settings_for(demo_repo, openai_server.base_url, **{"pack.watch": "off"}))
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        assert app._watcher is None
