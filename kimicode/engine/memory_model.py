"""The configured model, asked memory's two cheap questions: which recalled notes bear on a
request (kimicode/memory/rerank.py), and which requests a stored note applies to (expand.py).

Both are off by default and only the user's own config turns them on (``[memory] rerank`` and
``expand``): each costs model requests. Each request has a deadline of its own
(``memory.model_seconds``) and no retry, since the user's request waits on it; what fails comes
back as one line and memory goes on without the model.

A thinking model (Kimi's) writes its reasoning before the answer and within the same
``max_tokens``: the few tokens of a rerank's numbers get THINKING_ROOM more. A local model whose
speed was measured (``spec.prompt_cap``: kimicode/models.py ``paced``) reranks only what it can
read and answer within LOCAL_SHARE of ``[local] target_seconds``, since the answer itself is sized
to that target: fewer candidates a kind, or no rerank at all (``fits``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Callable

from kimicode.llm import ChatClient, Endpoint
from kimicode.models import ModelSpec, answer_seconds
from kimicode.prompt import Message

THINKING_ROOM = 1_024  # reply tokens a thinking model may reason in before its short answer
LOCAL_SHARE = 0.25  # of [local] target_seconds, the most a rerank may take on a model sized by its speed


@dataclass(frozen=True)
class Spent:
    """One request memory made: what it cost (the provider's usage, else our estimate)."""

    purpose: str  # "rerank" or "expand"
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    ok: bool
    counted: int  # the prompt's tokens by our count


class MemoryModel:
    """Asks the model for memory: ``asker("rerank")`` and ``asker("expand")`` are the
    ``ask(prompt, reply_tokens) -> str`` the memory package takes; ``spent`` keeps every request."""

    def __init__(self, client: ChatClient, seconds: float, *, rerank: bool = True, expand: bool = True,
                 local_seconds: float = 0.0, count: Callable[[str], int] | None = None) -> None:
        self.client = client
        self.spec: ModelSpec = client.spec
        self.seconds = seconds
        self.rerank = rerank
        self.expand = expand
        self.local_seconds = local_seconds  # a paced local model's time for a rerank (0: not paced)
        self._count = count
        self.spent: list[Spent] = []

    @classmethod
    def from_settings(cls, settings: Any, spec: ModelSpec, count: Callable[[str], int] | None = None) -> MemoryModel | None:
        """The model memory may ask, or None when neither ``memory.rerank`` nor ``memory.expand`` is on."""
        memory = settings.memory
        if not memory.enabled or not (memory.rerank or memory.expand):
            return None
        seconds = memory.model_seconds or settings.request_deadline or 30.0
        endpoint = dataclasses.replace(Endpoint.from_settings(settings), timeout=seconds, max_retries=0,
                                       idle_timeout=seconds, request_deadline=seconds)
        target = settings.local.target_seconds
        local = min(seconds, target * LOCAL_SHARE) if spec.prompt_cap is not None and target > 0 else 0.0
        return cls(ChatClient(endpoint, spec), seconds, rerank=memory.rerank, expand=memory.expand,
                   local_seconds=local, count=count)

    def reply_cap(self, reply_tokens: int) -> int:
        """``max_tokens`` for an answer of ``reply_tokens``: a thinking model reasons within it too."""
        return min(reply_tokens + (THINKING_ROOM if self.spec.thinking else 0), self.spec.max_output)

    def tokens(self, text: str) -> int:
        if self._count is None:
            from kimicode.tokens import TokenCounter

            self._count = TokenCounter().count
        return self._count(text)

    def fits(self, prompt: str, reply_tokens: int) -> str:
        """Why the model cannot take ``prompt`` ("" when it can): the window, or a local model's time."""
        tokens, reply = self.tokens(prompt), self.reply_cap(reply_tokens)
        if tokens + reply > self.spec.context_window:
            return f"its {tokens:,}-token prompt does not fit the {self.spec.context_window:,}-token window"
        seconds = answer_seconds(self.spec, tokens, reply) if self.local_seconds else None
        if seconds is not None and seconds > self.local_seconds:
            return (f"the local model would take ~{seconds:.0f} s for {tokens:,} prompt tokens, more than "
                    f"{self.local_seconds:g} s (a quarter of [local] target_seconds)")
        return ""

    def asker(self, purpose: str) -> Callable[[str, int], str]:
        def ask(prompt: str, reply_tokens: int) -> str:
            return self.ask(purpose, prompt, reply_tokens)

        return ask

    def ask(self, purpose: str, prompt: str, reply_tokens: int) -> str:
        """The model's answer to ``prompt``; raises RuntimeError with one line when there is none in time."""
        from kimicode.llm import LLMError

        why = f"memory.model_seconds = {self.seconds:g} s"
        self.client.finish_by(time.monotonic() + self.seconds, why)
        started = time.monotonic()
        messages = [Message("user", prompt)]
        counted = self.tokens(prompt)
        try:
            result = self.client.stream_chat(messages, max_tokens=self.reply_cap(reply_tokens), prompt_tokens=counted)
        except LLMError as exc:
            self._record(purpose, counted, None, started, False)
            raise RuntimeError(str(exc)) from None
        ok = not result.partial and bool(result.content.strip())
        self._record(purpose, counted, result, started, ok)
        if result.partial:
            raise RuntimeError(result.error or "the answer stopped early")
        if not result.content.strip() and result.truncated:
            raise RuntimeError(f"no answer within {self.reply_cap(reply_tokens):,} reply tokens (the reasoning took them)")
        return result.content

    def _record(self, purpose: str, counted: int, result: Any, started: float, ok: bool) -> None:
        usage = result.usage if result is not None else None
        written = usage.completion_tokens if usage is not None else (result.pieces if result is not None else 0)
        prompt_tokens = usage.prompt_tokens if usage is not None else counted
        self.spent.append(Spent(purpose, prompt_tokens, written, time.monotonic() - started, ok, counted))

    def cost_line(self) -> str:
        """One line on what memory's requests cost so far ("" when none was made)."""
        if not self.spent:
            return ""
        from kimicode.models import cost_usd

        prompt, written = sum(s.prompt_tokens for s in self.spent), sum(s.completion_tokens for s in self.spent)
        dollars = sum(cost_usd(self.spec, s.prompt_tokens, 0, s.completion_tokens) for s in self.spent)
        kinds = " and ".join(dict.fromkeys(s.purpose for s in self.spent))
        many = len(self.spent)
        return (f"memory {kinds}: {many} request{'s' if many != 1 else ''}, {prompt:,} prompt + {written:,} completion "
                f"tokens, ${dollars:.4f}, {sum(s.seconds for s in self.spent):.1f} s")

    def close(self) -> None:
        self.client.close()
