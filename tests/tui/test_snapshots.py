"""Snapshots of the main layouts at a fixed terminal size (pytest-textual-snapshot).

The session is a resumed one written here with a fixed id, so the title, the turns and
every token figure are the same on every run. Update with `pytest --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kimicode.chat import SessionFile, SessionMeta, SessionStore, Turn
from kimicode.locations import user_locations
from tests.tui.conftest import SIZE, idle, submit, wait_for

SESSION_ID = "20261123-120000-abcd"
ANSWER = """`add` lives in `calc.py`:

```python
def add(a, b):
    return a + b
```

It returns the **sum** of its two arguments; `sub` returns their difference."""


def seed_session(root: Path) -> str:
    """A session of ``root`` with one exchange, as kimicode would have written it."""
    store = SessionStore(user_locations().data_dir)
    meta = SessionMeta(SESSION_ID, str(root.resolve()), "2026-11-23T12:00:00+00:00", "kimi-k2.7-code")
    with SessionFile.create(store.repo_dir(root) / f"{SESSION_ID}.jsonl", meta) as file:
        file.append(Turn(1, "user", "Which files are in this repository?").to_record())
        file.append(Turn(2, "assistant", "Three: `README.md`, `calc.py` and `tests/test_calc.py`.",
                         usage={"prompt_tokens": 512, "completion_tokens": 18, "cached_tokens": 0}).to_record())
    return SESSION_ID


async def settle(pilot: Any) -> None:
    await idle(pilot)
    pilot.app.prompt.cursor_blink = False
    await pilot.pause()


async def tables_rendered(pilot: Any) -> None:
    """Markdown renders its blocks after mounting: wait for the table (slow under load)."""
    await wait_for(pilot, lambda: bool(pilot.app.screen.query("MarkdownTable")))
    await pilot.pause(0.1)


def test_chat_after_a_streamed_answer(snap_compare: Any, make_app: Any, openai_server: Any, demo_repo: Path) -> None:
    openai_server.reply(ANSWER, reasoning="calc.py defines add.", chunk_size=7)
    app = make_app(session_id=seed_session(demo_repo))

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await submit(pilot, "What does add do?")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_files_panel_and_budget(snap_compare: Any, make_app: Any, demo_repo: Path) -> None:
    app = make_app(session_id=seed_session(demo_repo))

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await submit(pilot, "/budget")
        await settle(pilot)
        await tables_rendered(pilot)
        await pilot.press("f2")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare: Any, make_app: Any, demo_repo: Path) -> None:
    app = make_app(session_id=seed_session(demo_repo))

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        # the prompt's cursor behind the help screen is drawn or not depending on timing: no focus, no cursor
        pilot.app.set_focus(None)
        await pilot.press("f1")
        await tables_rendered(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_review_of_a_proposed_edit(snap_compare: Any, make_app: Any, openai_server: Any, demo_repo: Path) -> None:
    """The coloured diff of an edit_file call, with Apply / Skip / apply all this turn."""
    import json

    from kimicode.tui.screens.review import ReviewScreen
    from tests.openai_server import ToolCall

    edit = {"path": "calc.py", "old": "def sub(a, b):\n    return a - b\n",
            "new": "def sub(a, b):\n    \"\"\"a minus b.\"\"\"\n    return b - a\n"}
    openai_server.reply("", tool_calls=[ToolCall("edit_file", json.dumps(edit), "e1")])
    openai_server.reply("done")
    app = make_app(session_id=seed_session(demo_repo))

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await submit(pilot, "document sub")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReviewScreen))
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
