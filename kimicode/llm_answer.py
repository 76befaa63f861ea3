"""One streamed answer as the model client assembles it: the endpoint, the chunks, the result.

The SDK's chunk objects are read field by field (``field_of``): providers add fields of their
own (Moonshot's ``reasoning_content``, usage inside the last choice) that arrive as attributes
or as plain dicts. Nothing here talks to the network; kimicode.llm does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from kimicode.prompt.messages import ToolCall
from kimicode.urls import is_local, shown

if TYPE_CHECKING:
    from kimicode.config import Settings

TextCallback = Callable[[str], None]


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: str = field(repr=False)
    model: str
    timeout: float = 120.0
    max_retries: int = 4
    idle_timeout: float = 120.0  # seconds without new answer data; 0: no limit
    request_deadline: float = 1800.0  # seconds per request, retries included; 0: no limit

    @classmethod
    def from_settings(cls, settings: Settings) -> Endpoint:
        return cls(
            base_url=settings.base_url,
            api_key=settings.api_key,
            model=settings.model,
            timeout=settings.timeout,
            max_retries=settings.max_retries,
            idle_timeout=settings.idle_timeout,
            request_deadline=settings.request_deadline,
        )

    @property
    def shown_url(self) -> str:
        """``base_url`` fit for a message: a ``user:password@`` in it is masked."""
        return shown(self.base_url)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int | None  # None: the provider did not say


@dataclass
class ChatResult:
    content: str
    reasoning: str
    usage: Usage | None
    finish_reason: str | None
    partial: bool
    attempts: int
    elapsed: float  # seconds, retries and waits included
    model: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C, as opposed to a dropped stream
    error: str | None = None  # one line on why a partial result stopped early
    timed_out: bool = False  # stopped by idle_timeout or a deadline (asking again will not help)
    # the last attempt's pace: seconds until its first answer token (the prompt's processing, mostly),
    # then seconds from that token to the end (the generation); None when no answer token came
    first_token: float | None = None
    generating: float | None = None
    pieces: int = 0  # answer deltas streamed: about one token each on local servers, which may report no usage

    @property
    def truncated(self) -> bool:
        """The answer stopped at the reply limit (max_tokens), not because the model was done."""
        return self.finish_reason == "length"


@dataclass
class StreamedAnswer:
    """What one attempt has received so far."""

    model: str
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tools: dict[int, dict[str, str]] = field(default_factory=dict)
    usage: Usage | None = None
    finish_reason: str | None = None
    started: bool = False  # any chunk arrived
    emitted: bool = False  # text reached a callback: retrying would show it twice
    fresh: float = field(default_factory=time.monotonic)  # when answer data last arrived (the watchdog reads it)
    begun: float = field(default_factory=time.monotonic)  # this attempt's start
    first: float | None = None  # when its first answer token arrived
    pieces: int = 0  # answer deltas (text or reasoning) received

    def add(self, chunk: Any, on_content: TextCallback | None, on_reasoning: TextCallback | None) -> None:
        self.started = True
        self.model = getattr(chunk, "model", None) or self.model
        usage = usage_of(chunk)
        if usage is not None:
            self.usage = usage
        for choice in getattr(chunk, "choices", None) or []:
            self._add_choice(choice, on_content, on_reasoning)

    def _add_choice(self, choice: Any, on_content: TextCallback | None, on_reasoning: TextCallback | None) -> None:
        delta = getattr(choice, "delta", None)
        if delta is not None:
            # Moonshot streams reasoning_content; some servers (vLLM, OpenRouter) say reasoning.
            thought = field_of(delta, "reasoning_content") or field_of(delta, "reasoning")
            if isinstance(thought, str) and thought:
                self.emitted = True
                self.fresh = time.monotonic()
                self.first = self.first or self.fresh
                self.pieces += 1
                self.reasoning.append(thought)
                if on_reasoning:
                    on_reasoning(thought)
            text = getattr(delta, "content", None)
            if text:
                self.emitted = True
                self.fresh = time.monotonic()
                self.first = self.first or self.fresh
                self.pieces += 1
                self.content.append(text)
                if on_content:
                    on_content(text)
            for call in getattr(delta, "tool_calls", None) or []:
                self._add_tool_delta(call)
        if getattr(choice, "finish_reason", None):
            self.finish_reason = choice.finish_reason

    def _add_tool_delta(self, call: Any) -> None:
        # Not "emitted": tool calls reach no callback, so a retry cannot duplicate them.
        self.fresh = time.monotonic()
        self.first = self.first or self.fresh
        slot = self.tools.setdefault(getattr(call, "index", None) or 0, {"id": "", "name": "", "arguments": ""})
        if getattr(call, "id", None):
            slot["id"] = call.id
        function = getattr(call, "function", None)
        if function is not None:
            slot["name"] += getattr(function, "name", None) or ""
            slot["arguments"] += getattr(function, "arguments", None) or ""

    def result(self, *, partial: bool, attempts: int, elapsed: float, interrupted: bool = False, error: str | None = None,
               timed_out: bool = False) -> ChatResult:
        # A half-received tool call must never be acted on: a partial result carries none.
        calls = [] if partial else [ToolCall(**self.tools[i]) for i in sorted(self.tools)]
        first = None if self.first is None else self.first - self.begun
        generating = None if self.first is None else time.monotonic() - self.first
        return ChatResult(
            content="".join(self.content),
            reasoning="".join(self.reasoning),
            usage=self.usage,
            finish_reason=None if partial else self.finish_reason,
            partial=partial,
            attempts=attempts,
            elapsed=elapsed,
            model=self.model,
            tool_calls=calls,
            interrupted=interrupted,
            error=error,
            timed_out=timed_out,
            first_token=first,
            generating=generating,
            pieces=self.pieces,
        )


def field_of(obj: Any, name: str) -> Any:
    """A field of an SDK object or a plain dict (non-standard fields arrive as either)."""
    if isinstance(obj, dict):
        return obj.get(name)
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None) or {}
        value = extra.get(name)
    return value


def usage_of(chunk: Any) -> Usage | None:
    raw = field_of(chunk, "usage")
    choices = field_of(chunk, "choices") or []
    if raw is None and choices:
        raw = field_of(choices[0], "usage")  # Moonshot puts usage inside the last choice
    if raw is None:
        return None
    details = field_of(raw, "prompt_tokens_details")
    cached = field_of(details, "cached_tokens") if details is not None else None
    if cached is None:
        cached = field_of(raw, "cached_tokens")  # Moonshot's top-level field
    return Usage(
        prompt_tokens=int(field_of(raw, "prompt_tokens") or 0),
        completion_tokens=int(field_of(raw, "completion_tokens") or 0),
        cached_tokens=int(cached) if cached is not None else None,
    )


def needs_key(base_url: str) -> bool:
    """Whether the endpoint needs an API key: local servers (llama.cpp, Ollama, vLLM) usually take none."""
    return not is_local(base_url)
