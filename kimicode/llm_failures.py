"""What a provider's failures mean: the errors the model client raises, and reading error replies.

Providers word the same failure differently (context overflow above all) and put the wait
they ask for in different headers; the rules for telling them apart live here, away from the
client's retry loop. Every message is one line with the API key masked (``redact``).
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from typing import Any

MAX_SAID_CHARS = 200  # how much of a provider's error text we quote

_OVERFLOW_TEXT = re.compile(
    r"token limit|context[ _-]?(length|window|size)|maximum context|prompt is too long"
    r"|too many tokens|input is too long|exceeds? the (available )?context",
    re.IGNORECASE,
)
_OVERFLOW_CODES = {"context_length_exceeded", "exceed_context_size_error", "context_window_exceeded"}
_LIMIT_NUMBER = (
    re.compile(r"(?:token limit|context (?:length|window|size))\D{0,24}?(\d[\d,]{2,})", re.IGNORECASE),
    re.compile(r"(\d[\d,]{2,}) (?:token )?maximum", re.IGNORECASE),
)


class LLMError(Exception):
    """A request that failed for good; ``str()`` is one line the user can act on."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class DeadlineExceeded(LLMError):
    """No answer before the request's deadline (or the caller's, see ChatClient.finish_by)."""


class ContextOverflow(LLMError):
    """The provider said the request does not fit the model's window (never retried here)."""

    def __init__(self, message: str, *, limit: int | None = None, status: int | None = 400) -> None:
        super().__init__(message, status=status)
        self.limit = limit  # the window the provider named, when it named one


def redact(text: str, secret: str, limit: int | None = None) -> str:
    """``text`` on one line with ``secret`` masked, cut to ``limit`` characters if given."""
    if secret:
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    return text


def server_message(err: Any) -> str:
    """The provider's own words from an error response, whatever its shape."""
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if isinstance(message, str) and message:
            return message
    if isinstance(body, str) and body.strip():
        return body
    return ""


def retry_after(err: Any) -> float | None:
    """Seconds the server asked us to wait: retry-after-ms, or Retry-After as seconds or a date."""
    headers = getattr(getattr(err, "response", None), "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            try:
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                return None
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    return None


def is_context_overflow(status: int | None, message: str, code: str | None = None, kind: str | None = None) -> bool:
    """Does this error mean "the request is longer than the window"? Wordings differ per server."""
    if status == 429:
        return False  # token-per-minute rate limits mention tokens too
    if code in _OVERFLOW_CODES or kind in _OVERFLOW_CODES:
        return True
    return bool(_OVERFLOW_TEXT.search(message))


def overflow_limit(message: str, body: Any = None) -> int | None:
    """The window a "request too long" error names: llama.cpp's ``n_ctx`` field, else a number in its words."""
    inner = body.get("error", body) if isinstance(body, dict) else None
    n_ctx = inner.get("n_ctx") if isinstance(inner, dict) else None
    if isinstance(n_ctx, int) and not isinstance(n_ctx, bool) and n_ctx > 0:
        return n_ctx
    for pattern in _LIMIT_NUMBER:
        match = pattern.search(message)
        if match:
            return int(match.group(1).replace(",", ""))
    return None


def connection_refused(err: BaseException) -> bool:
    """Whether a connection error was a refusal (ECONNREFUSED), looking through the SDK's wrapping."""
    seen: BaseException | None = err
    for _ in range(6):  # openai.APIConnectionError <- httpx.ConnectError <- httpcore <- OSError
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError) or "connection refused" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False
