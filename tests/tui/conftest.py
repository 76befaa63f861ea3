"""Fixtures for the TUI tests: a small repository, settings pointing at the loopback server."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from kimicode.config import MemorySettings, ModelOverride, load_settings
from tests.repos import write_files

SIZE = (100, 32)
DEMO_FILES = {
    "README.md": "# demo\n\nA tiny calculator used by the TUI tests.\n",
    "calc.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    "shapes.py": "".join(f"def area_{n}(width, height):\n    \"\"\"Area number {n}.\"\"\"\n    return width * height * {n}\n\n\n"
                         for n in range(60)),
}
SMALL_PACK = {"pack.budget": 900}  # shapes.py does not fit in full: the pack shows its outline


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio; anyio's pytest plugin runs the async tests (pytestmark)


@pytest.fixture
def demo_repo(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    write_files(root, DEMO_FILES)
    return root


def settings_for(root: Path, base_url: str, *, memory: bool = False, **flags: Any) -> Any:
    settings = load_settings(root, {"base_url": base_url, "model": "kimi-k2.7-code", "max_retries": 0, **flags})
    return dataclasses.replace(settings, memory=MemorySettings(enabled=memory))


def small_model(root: Path, base_url: str, window: int, max_output: int = 0) -> Any:
    """Settings for a model whose window a few turns fill (compaction tests)."""
    settings = settings_for(root, base_url, model="small-model")
    return dataclasses.replace(settings, models={"small-model": ModelOverride(context_window=window, max_output=max_output)})


@pytest.fixture
def make_app(openai_server: Any, demo_repo: Path) -> Callable[..., Any]:
    """The app factory: KimicodeApp on the demo repository and the loopback server."""
    from kimicode.tui.app import KimicodeApp

    def factory(*, memory: bool = False, root: Path | None = None, settings: Any = None, **options: Any) -> Any:
        root = root or demo_repo
        settings = settings or settings_for(root, openai_server.base_url, memory=memory)
        return KimicodeApp(settings, root, **options)

    return factory


async def wait_for(pilot: Any, condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)


async def idle(pilot: Any, timeout: float = 15.0) -> None:
    """Until the session is open and no worker holds it."""
    app = pilot.app
    await wait_for(pilot, lambda: not app.busy and app.workspace.session is not None, timeout)
    await pilot.pause()


async def submit(pilot: Any, text: str) -> None:
    """Type ``text`` into the prompt as a user would (pasted, then Enter)."""
    from kimicode.tui.widgets.prompt import PromptInput

    prompt = pilot.app.query_one(PromptInput)
    prompt.focus()
    prompt.text = text
    await pilot.press("end", "enter")
    await asyncio.sleep(0)


async def send(pilot: Any, text: str) -> None:
    """Submit ``text`` and wait until the turn (or command) it starts has ended."""
    await submit(pilot, text)
    await idle(pilot)
