"""How fast does a model on this machine read a prompt and write an answer? One small request tells.

A local model's speed sizes its requests (kimicode.models.paced): the first question must not wait
minutes because nothing was measured yet. So on first contact with a server known to run models
here (llama.cpp, llama-cpp-python, Ollama, vLLM) one streamed request is timed: a prompt of a few
hundred tokens and an answer of SPEED_TOKENS. The seconds to the first token give the prompt
speed, the tokens after it the answer speed; every real answer then refines both.

A short prompt reads faster per token than a long one (a few-hundred-token prompt at ~200 tokens/s
was ~160 at 4K on llama.cpp here): the first plan errs a little long, the next answers correct it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from kimicode.discovery.probe import positive_int
from kimicode.urls import shown

SPEED_TOKENS = 33  # answer tokens asked for: the first marks the end of the prompt, 32 give the rate
SPEED_TIMEOUT = 120.0  # a busy machine reads a few hundred tokens in seconds; a model still loading takes longer
# Distinct words, so no tokenizer merges them: a few hundred tokens in any of them.
PROMPT = ("Reference notes, to be ignored: " + " ".join(f"note-{i} value-{i * 13 % 97}" for i in range(90))
          + "\n\nCount from 1 to 100, the numbers separated by spaces, nothing else.")


@dataclass(frozen=True)
class Speed:
    prefill: float | None  # prompt tokens a second, None when it could not be told
    generate: float | None  # answer tokens a second
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str = ""


def measure_speed(base_url: str, api_key: str, model: str, estimate: int, timeout: float = SPEED_TIMEOUT) -> Speed:
    """One streamed request, timed: the prompt speed from the first token, the answer speed after it.

    ``estimate``: our count of PROMPT, for a server whose stream reports no usage (llama-cpp-python)."""
    import httpx

    body = {"model": model, "max_tokens": SPEED_TOKENS, "stream": True, "stream_options": {"include_usage": True},
            "temperature": 0.0, "messages": [{"role": "user", "content": PROMPT}]}
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    url = f"{base_url.rstrip('/')}/chat/completions"
    started, first, last, pieces, usage = time.monotonic(), None, None, 0, None
    try:
        with httpx.stream("POST", url, json=body, headers=headers, timeout=httpx.Timeout(timeout, connect=2.0)) as reply:
            if reply.status_code != 200:
                return Speed(None, None, error=f"{shown(url)} answered {reply.status_code}")
            for line in reply.iter_lines():
                chunk = _chunk(line)
                if chunk is None:
                    continue
                usage = chunk.get("usage") or usage
                choices = chunk.get("choices") or []
                delta = choices[0].get("delta") if choices and isinstance(choices[0], dict) else None
                if isinstance(delta, dict) and (delta.get("content") or delta.get("reasoning_content")):
                    last = time.monotonic()
                    first = first or last
                    pieces += 1
    except httpx.HTTPError as exc:
        return Speed(None, None, error=f"{shown(url)}: {' '.join(str(exc).split())[:120]}")
    return judge(started, first, last, pieces, usage, estimate)


def judge(started: float, first: float | None, last: float | None, pieces: int, usage: object, estimate: int) -> Speed:
    """The speeds from when the answer's first and last pieces came and what the server counted (else
    ``estimate`` prompt tokens and one token a piece)."""
    counted = usage if isinstance(usage, dict) else {}
    prompt = positive_int(counted.get("prompt_tokens")) or estimate
    completion = positive_int(counted.get("completion_tokens")) or pieces
    if first is None or last is None:
        return Speed(None, None, prompt, completion, error="no answer to time")
    prefill = prompt / (first - started) if prompt and first > started else None
    generate = (completion - 1) / (last - first) if completion > 1 and last > first else None
    return Speed(prefill, generate, prompt, completion)


def _chunk(line: str) -> dict | None:
    if not line.startswith("data:") or line[5:].strip() == "[DONE]":
        return None
    try:
        data = json.loads(line[5:])
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


