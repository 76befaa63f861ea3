"""Measure the server's tokenizer against ours, where the server offers a tokenize endpoint.

A local model's tokenizer can count code quite differently from our offline cl100k (Gemma's
counts about 17% more): a pack planned to the token in our count then overflows a small
window. Servers that tokenize on request (llama.cpp's ``/tokenize``, llama-cpp-python's
``/extras/tokenize/count``, vLLM's ``/tokenize``) let us measure that once, on code (what packs
are mostly made of), and hand the ratios to calibration as evidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SAMPLE_COUNT = 3  # calibration moves once this many samples agree
SAMPLE_BYTES = 24_000  # a few thousand tokens each: large enough to measure, quick to count


def sample_texts() -> list[str]:
    """Our own largest modules, cut to SAMPLE_BYTES: real code, present offline, the same on every machine."""
    package = Path(__file__).resolve().parent.parent
    files = sorted(package.rglob("*.py"), key=lambda p: (-p.stat().st_size, p.as_posix()))[:SAMPLE_COUNT]
    return [p.read_text(encoding="utf-8")[:SAMPLE_BYTES] for p in files]


def tokenize_request(kind: str, root: str, model: str, text: str) -> tuple[str, dict[str, Any]] | None:
    """(url, JSON body) of the server's own token count for ``text``; None if it has no such endpoint."""
    if kind == "llama-cpp-python":
        return f"{root}/extras/tokenize/count", {"input": text, "model": model}
    if kind == "llama.cpp":
        return f"{root}/tokenize", {"content": text}
    if kind == "vllm":
        return f"{root}/tokenize", {"model": model, "prompt": text, "add_special_tokens": False}
    return None


def parse_count(payload: Any) -> int | None:
    """``{"count": n}`` (llama-cpp-python, vLLM) or ``{"tokens": [...]}`` (llama.cpp)."""
    if not isinstance(payload, dict):
        return None
    count = payload.get("count")
    if isinstance(count, int) and not isinstance(count, bool) and count > 0:
        return count
    tokens = payload.get("tokens")
    return len(tokens) if isinstance(tokens, list) and tokens else None
