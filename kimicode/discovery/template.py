"""Does the server's chat template keep the system message?

Some templates (Gemma's, in llama-cpp-python's ``--chat_format gemma`` among others) drop
``role: system`` without a word; everything kimicode puts there (its instructions, the
project's AGENTS.md) is then never seen. The server's own prompt count tells: one request with
a system message of a few hundred tokens and a two-word question; a count far below the system
message's size means the template threw it away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kimicode.urls import shown

CHECK_TIMEOUT = 30.0  # a local model may still be loading on its first request
# Distinct words (no repeats a tokenizer could merge): a few hundred tokens in any of them.
SYSTEM_TEXT = "Reference list for this session, ignore it: " + " ".join(f"item-{i} code-{i * 7 % 101}" for i in range(60))
DROPPED_BELOW = 0.5  # the server counted less than this share of the system message alone


@dataclass(frozen=True)
class TemplateCheck:
    system_kept: bool | None  # None: could not tell (no usage reported, or the request failed)
    prompt_tokens: int = 0  # what the server counted
    expected: int = 0  # our count of the system message alone
    error: str = ""


def judge(prompt_tokens: int, expected_system: int) -> bool:
    """Kept unless the server counted far less than the system message alone."""
    return prompt_tokens >= DROPPED_BELOW * expected_system


def check_template(base_url: str, api_key: str, model: str, expected_system: int,
                   timeout: float = CHECK_TIMEOUT) -> TemplateCheck:
    """One non-streamed request, one token of answer; ``expected_system``: our count of SYSTEM_TEXT."""
    import httpx

    body = {"model": model, "max_tokens": 1, "stream": False,
            "messages": [{"role": "system", "content": SYSTEM_TEXT}, {"role": "user", "content": "Say OK."}]}
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    url = f"{base_url.rstrip('/')}/chat/completions"
    try:
        reply = httpx.post(url, json=body, headers=headers, timeout=httpx.Timeout(timeout, connect=2.0))
    except httpx.TimeoutException:
        return TemplateCheck(None, error=f"no answer from {shown(url)} within {timeout:g} s")
    except httpx.HTTPError as exc:
        return TemplateCheck(None, error=f"{shown(url)}: {' '.join(str(exc).split())[:120]}")
    if reply.status_code != 200:
        return TemplateCheck(None, error=f"{shown(url)} answered {reply.status_code}")
    usage = _usage(reply)
    tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens <= 0:
        return TemplateCheck(None, error="the server reported no prompt token count")
    return TemplateCheck(judge(tokens, expected_system), tokens, expected_system)


def _usage(reply: Any) -> Any:
    try:
        payload = reply.json()
    except ValueError:
        return None
    return payload.get("usage") if isinstance(payload, dict) else None
