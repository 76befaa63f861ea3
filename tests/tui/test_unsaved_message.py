"""A message the session file cannot take is never lost: it goes back in the box, and Enter retries.

The fault is real: the process's file-size limit (RLIMIT_FSIZE, what a full disk looks like to
a write: EFBIG instead of ENOSPC) stops the append of the user's turn; root ignores a read-only
folder, this limit it does not.
"""

from __future__ import annotations

import resource
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from kimicode.chat.session import load_session
from kimicode.tui.widgets.chat_view import AssistantMessage, Notice, UserMessage
from kimicode.tui.widgets.prompt import PromptInput
from tests.tui.conftest import SIZE, idle, send

pytestmark = pytest.mark.anyio
TEXT = "a long question I typed carefully\nwith a second line"


@contextmanager
def disk_full_after(path: Path, extra: int) -> Iterator[None]:
    """Writes past ``path``'s size + ``extra`` bytes fail (in this process) until the block ends."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of the signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def session_file(home: Path) -> Path:
    (path,) = (home / "data" / "sessions").glob("*/*.jsonl")
    return path


@pytest.mark.parametrize("extra", [0, 10], ids=["nothing written", "a fragment written"])
async def test_a_message_the_session_file_cannot_take_stays_in_the_box(make_app: Any, openai_server: Any,
                                                                      isolated_home: Path, extra: int) -> None:
    openai_server.reply("answered after the retry")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await idle(pilot)
        path = session_file(isolated_home)
        prompt = app.query_one(PromptInput)
        with disk_full_after(path, extra):
            await send(pilot, TEXT)
        assert prompt.text == TEXT  # nothing the user typed is lost
        errors = [n.text for n in app.query(Notice) if n.kind == "error"]
        assert len(errors) == 1 and "\n" not in errors[0], errors
        assert errors[0].startswith("not sent: the session file could not be written (File too large)")
        assert "internal error" not in errors[0]
        assert not app.query(UserMessage) and not app.query(AssistantMessage)  # nothing shown as sent
        assert openai_server.chat_requests == []
        # the disk has room again: Enter sends the same text
        prompt.focus()
        await pilot.press("end", "enter")
        await idle(pilot)
        assert prompt.text == ""
        assert [u.text for u in app.query(UserMessage)] == [TEXT]
        assert app.query_one(AssistantMessage).text == "answered after the retry"
    loaded = load_session(path)
    assert [t.text for t in loaded.turns if t.role == "user"] == [TEXT]  # recorded once, readable
    assert loaded.warnings == []  # no half-written record glued to the retried one
