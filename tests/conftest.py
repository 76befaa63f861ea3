"""Shared fixtures: every test runs with its own user dirs and no API key."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

SECRET_ENV = ("MOONSHOT_API_KEY", "KIMICODE_API_KEY", "OPENAI_API_KEY", "KIMICODE_MODEL", "KIMICODE_BASE_URL", "KIMICODE_BUDGET")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point config/data/cache and tiktoken's download cache at a temp dir.

    TIKTOKEN_CACHE_DIR matters: a machine that once downloaded a BPE file into
    /tmp/data-gym-cache would otherwise pass tests that fail on a clean one.
    """
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("KIMICODE_HOME", str(home))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(home / "tiktoken"))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:  # noqa: F821
    from tests.openai_server import OpenAIServer

    with OpenAIServer() as server:
        yield server


@pytest.fixture
def remote_server() -> Iterator[OpenAIServer]:  # noqa: F821
    """The loopback server at 127.0.0.2: on this machine, but not a host kimicode treats as local (a provider's stand-in)."""
    from tests.openai_server import OpenAIServer

    with OpenAIServer(host="127.0.0.2") as server:
        yield server
