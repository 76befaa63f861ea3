"""The model client: one streamed chat request, with bounded retries and honest partials.

Built on the ``openai`` package with its own retries off (``max_retries=0``): the retry
loop lives here so that what is retried, how long we wait and what the user is told
stay under our control. ``openai`` is imported lazily so ``import kimicode.llm`` is cheap.

Guarantees:
- callbacks never see the same text twice: once anything was streamed to them, a failure
  returns a partial result (``partial=True``) instead of retrying;
- every request ends: httpx's read timeout restarts with each byte, so a server sending SSE
  keep-alive comments (or one word a second) forever would hold it open for ever. A watchdog
  stops a stream with no new answer data for ``idle_timeout`` seconds, and every request
  (retries and waits included) at ``request_deadline``; no wait outlasts that deadline;
- Ctrl-C during a request closes the stream and returns what arrived, marked partial;
- errors are one line and never contain the API key.
"""

from __future__ import annotations

import json
import math
import random
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Sequence

from kimicode.llm_answer import ChatResult, Endpoint, StreamedAnswer, TextCallback, Usage, needs_key
from kimicode.llm_failures import (
    MAX_SAID_CHARS,
    ContextOverflow,
    DeadlineExceeded,
    LLMError,
    connection_refused,
    is_context_overflow,
    overflow_limit,
    redact,
    retry_after,
    server_message,
)
from kimicode.models import ModelSpec
from kimicode.prompt.messages import Message, wire
from kimicode.urls import is_local

if TYPE_CHECKING:
    from openai import OpenAI

# The client's public face: what callers import from kimicode.llm, wherever it is defined.
__all__ = ["ChatClient", "ChatResult", "ContextOverflow", "DeadlineExceeded", "Endpoint", "LLMError", "TextCallback",
           "Usage", "is_context_overflow", "needs_key"]

# Never wait longer than this on a server's Retry-After: past it, the user is better off told
# at once (a Retry-After of a day must not hold a command, or a commit, for minutes).
RETRY_AFTER_CEILING = 60.0
ESTIMATE_TIMEOUT = 5.0
# Sent when no key is configured: keeps the SDK from falling back to OPENAI_* credentials
# from the environment (which belong to another provider); a keyless local server ignores it.
NO_KEY_PLACEHOLDER = "no-key-configured"
# A refused connection means no server listens there (a local one not started, a wrong port):
# backing off for ten seconds will not start it. One quick retry covers a server that is just
# coming up; then the user is told at once (ask, review, the commit hook, doctor).
REFUSED_TRIES = 2
REFUSED_DELAY = 0.25
# Before the first token a slow model reads the prompt: at its measured prefill rate that takes
# prompt/rate seconds, allowed this many times over (the machine may be busier than when measured).
FIRST_TOKEN_MARGIN = 3.0
# A model on this machine whose prompt speed is not known yet reads at least this many tokens a
# second (a 7B model on two busy cores reads tens): its first token may take that long.
LOCAL_MIN_PREFILL = 10.0


class _Retry(Exception):
    """One attempt failed in a way worth another try."""

    def __init__(self, reason: str, final: str, status: int | None = None, retry_after: float | None = None,
                 refused: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason  # short, for the on_retry notice
        self.final = final  # the LLMError message if this was the last try
        self.status = status
        self.retry_after = retry_after
        self.refused = refused  # nothing listens at the address


class _Cut(Exception):
    """The stream broke after text reached the callbacks: return a partial result."""

    def __init__(self, reason: str, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.timed_out = timed_out


class _Cancelled(Exception):
    """ChatClient.cancel() was called from another thread: return what arrived, interrupted."""


def _shut(stream: Any) -> None:
    """Stop a stream from another thread: shutting its socket down wakes the blocked read."""
    response = getattr(stream, "response", None)
    if response is None:
        return
    sock = None
    try:
        sock = response.extensions["network_stream"].get_extra_info("socket")
    except Exception:  # noqa: BLE001 - another transport: fall back to closing the response
        sock = None
    try:
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        else:
            response.close()
    except Exception:  # noqa: BLE001 - already closed: nothing left to stop
        pass


class ChatClient:
    """Streams chat completions from one endpoint for one model."""

    def __init__(
        self,
        endpoint: Endpoint,
        spec: ModelSpec,
        *,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.endpoint = endpoint
        self.spec = spec
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        self._rng = rng
        self._client: OpenAI | None = None
        self._cancelled = threading.Event()
        self._live: Any = None  # the stream being read, for cancel()
        self._finish_by: tuple[float, str] | None = None  # see finish_by()
        self._expired: tuple[str, str] | None = None  # set by the watchdog: ("idle" | "deadline", which limit)
        self._first_wait = 0.0  # seconds the first token may take beyond idle_timeout (see stream_chat)
        self._local = is_local(endpoint.base_url)  # a server on this machine: a silent one is reading, not gone

    def __repr__(self) -> str:
        return f"ChatClient(base_url={self.endpoint.shown_url!r}, model={self.endpoint.model!r})"

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def cancel(self) -> None:
        """Stop the answer being streamed now; safe to call from any thread.

        The live HTTP response is shut down, so even a stream that has stalled stops at once;
        ``stream_chat`` then returns what arrived, ``partial`` and ``interrupted`` (like Ctrl-C).
        Applies to the call in progress (or waiting to retry); the next call starts afresh.
        """
        self._cancelled.set()
        _shut(self._live)

    def finish_by(self, at: float | None, why: str = "") -> None:
        """End every call by ``at`` (a time.monotonic() value) even when request_deadline is later.

        For callers with a total deadline of their own (the review hook): ``why`` names it in
        messages, e.g. "review.deadline = 120 s". None lifts it.
        """
        self._finish_by = None if at is None else (at, why)

    def _limit(self, started: float) -> tuple[float, str]:
        """When the call starting now must end, and the setting that says so."""
        deadline = self.endpoint.request_deadline
        limit = (started + deadline, f"request_deadline = {deadline:g} s") if deadline > 0 else (math.inf, "")
        if self._finish_by is not None and self._finish_by[0] < limit[0]:
            limit = self._finish_by
        return limit

    def _openai(self) -> OpenAI:
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(
                api_key=self.endpoint.api_key or NO_KEY_PLACEHOLDER,
                base_url=self.endpoint.base_url,
                timeout=self.endpoint.timeout,
                max_retries=0,  # our loop below does the retrying
            )
        return self._client

    # -- the request --------------------------------------------------------------

    def request_body(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        temperature: float | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The exact request sent; messages go verbatim (reasoning_content included)."""
        body: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": wire(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if max_tokens:
            body["max_tokens"] = max_tokens
        if tools:
            body["tools"] = tools
        if tool_choice is not None:
            if tool_choice == "required" and not self.spec.allows_required_tool_choice:
                tool_choice = "auto"  # the API rejects "required" for this model
            body["tool_choice"] = tool_choice
        if temperature is not None and not self.spec.fixed_sampling:
            body["temperature"] = temperature  # fixed-sampling models reject any value
        if response_format is not None:
            body["response_format"] = response_format  # {"type": "json_object"} or a flat json_schema
        return body

    def stream_chat(
        self,
        messages: Sequence[Message],
        *,
        on_content: TextCallback | None = None,
        on_reasoning: TextCallback | None = None,
        on_retry: TextCallback | None = None,
        max_tokens: int | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        temperature: float | None = None,
        response_format: dict[str, Any] | None = None,
        prompt_tokens: int = 0,
    ) -> ChatResult:
        """Stream one answer, retrying what is safe to retry. Raises LLMError / ContextOverflow.

        ``prompt_tokens`` (our estimate) with the model's measured prefill rate gives the first token
        that much longer than idle_timeout: the server is reading the prompt, not stalled."""
        rate = self.spec.prefill_rate
        if rate:
            self._first_wait = prompt_tokens / rate * FIRST_TOKEN_MARGIN
        else:
            self._first_wait = prompt_tokens / LOCAL_MIN_PREFILL if self._local else 0.0
        body = self.request_body(messages, max_tokens=max_tokens, tools=tools, tool_choice=tool_choice,
                                 temperature=temperature, response_format=response_format)
        started = time.monotonic()
        stop_at, why = self._limit(started)
        tries = self.endpoint.max_retries + 1
        answer = StreamedAnswer(model=self.endpoint.model)
        attempt = 0
        self._cancelled.clear()
        try:
            while True:
                attempt += 1
                answer = StreamedAnswer(model=self.endpoint.model)
                try:
                    self._attempt(body, answer, on_content, on_reasoning, stop_at, why)
                    return answer.result(partial=False, attempts=attempt, elapsed=time.monotonic() - started)
                except _Cancelled:
                    raise KeyboardInterrupt from None
                except _Cut as cut:
                    return answer.result(partial=True, attempts=attempt, elapsed=time.monotonic() - started, error=str(cut),
                                         timed_out=cut.timed_out)
                except LLMError as exc:
                    exc.attempts = attempt
                    raise
                except _Retry as retry:
                    if retry.refused:
                        tries = min(tries, REFUSED_TRIES)
                    if attempt >= tries:
                        message = retry.final + (f" (gave up after {attempt} attempts)" if attempt > 1 else "")
                        raise LLMError(redact(message, self.endpoint.api_key), status=retry.status, attempts=attempt) from None
                    delay = REFUSED_DELAY if retry.refused else self._delay(attempt, retry.retry_after)
                    too_long = self._too_long(delay, retry.retry_after, stop_at - time.monotonic(), why)
                    if too_long:
                        raise LLMError(redact(f"{retry.final} ({too_long})", self.endpoint.api_key),
                                       status=retry.status, attempts=attempt) from None
                    if on_retry:
                        on_retry(f"{retry.reason}; retrying in {round(delay, 2):g} s (attempt {attempt + 1} of {tries})")
                    self._sleep(delay)
                    if self._cancelled.is_set():
                        raise KeyboardInterrupt from None
        except KeyboardInterrupt:
            # Ctrl-C: keep what arrived; the caller shows it marked partial.
            return answer.result(partial=True, attempts=attempt, elapsed=time.monotonic() - started, interrupted=True, error="interrupted")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Full-jitter exponential backoff, unless the server said how long to wait."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return self._rng() * ceiling

    @staticmethod
    def _too_long(delay: float, retry_after: float | None, left: float, why: str) -> str | None:
        """Why waiting ``delay`` seconds before the next try is pointless, or None to wait."""
        if retry_after is not None and retry_after > RETRY_AFTER_CEILING:
            return f"the server asks to wait {retry_after:g} s, longer than kimicode waits ({RETRY_AFTER_CEILING:g} s): try again later"
        if delay >= left:
            if retry_after is not None:
                return f"the server asks to wait {retry_after:g} s and only {max(left, 0):.0f} s are left before {why}: try again later"
            return f"no time left before {why} for another try"
        return None

    def _attempt(self, body: dict[str, Any], answer: StreamedAnswer, on_content: TextCallback | None, on_reasoning: TextCallback | None,
                 stop_at: float, why: str) -> None:
        import openai

        if self._cancelled.is_set():
            raise _Cancelled
        self._expired = None
        left = stop_at - time.monotonic()
        if left <= 0:
            raise self._deadline_failure(answer, why)
        try:
            # httpx's own timeout covers connecting and waiting for the headers; never past the deadline
            stream = self._openai().chat.completions.create(**body, timeout=min(self.endpoint.timeout, left))
        except openai.APIStatusError as err:
            raise self._status_failure(err) from None
        except openai.APIError as err:
            if time.monotonic() >= stop_at:
                raise self._deadline_failure(answer, why) from None
            raise self._transport_failure(err, answer) from None
        self._live = stream
        answer.fresh = time.monotonic()
        done = threading.Event()
        watchdog = None
        if self.endpoint.idle_timeout > 0 or math.isfinite(stop_at):
            watchdog = threading.Thread(target=self._watch, args=(stream, answer, stop_at, why, done),
                                        name="kimicode-stream-watchdog", daemon=True)
            watchdog.start()
        try:
            if self._cancelled.is_set():
                raise _Cancelled  # cancel() came while the request was being sent
            for chunk in stream:
                answer.add(chunk, on_content, on_reasoning)
        except openai.APIStatusError as err:
            raise self._status_failure(err) from None
        except Exception as err:
            if self._cancelled.is_set():
                raise _Cancelled from None  # the shut-down socket ends the read with some error
            if self._expired is not None:
                raise self._expiry_failure(answer) from None
            if isinstance(err, (openai.APIError, json.JSONDecodeError)):
                raise self._transport_failure(err, answer) from None
            raise
        finally:
            done.set()
            if watchdog is not None:
                watchdog.join()
            self._live = None
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - a cancelled response may fail to close cleanly
                if not self._cancelled.is_set() and self._expired is None:
                    raise
        if self._cancelled.is_set() and answer.finish_reason is None:
            raise _Cancelled
        if self._expired is not None and answer.finish_reason is None:
            raise self._expiry_failure(answer)
        if answer.finish_reason is None:
            # The body ended without a finish_reason: a proxy or the provider dropped us.
            if answer.emitted:
                raise _Cut("the answer was cut: the stream ended before it was complete")
            raise _Retry("the stream ended before any answer", "the stream ended before any answer arrived: the provider may be overloaded, try again later")

    def _watch(self, stream: Any, answer: StreamedAnswer, stop_at: float, why: str, done: threading.Event) -> None:
        """Runs beside one attempt: stops the stream at the deadline or after idle_timeout without data.

        Only answer data counts (content, reasoning, tool-call deltas): keep-alive comments and
        empty chunks restart httpx's read timeout, but not this one.
        """
        idle = self.endpoint.idle_timeout
        while True:
            idle_at = answer.fresh + idle + (self._first_wait if answer.first is None else 0.0) if idle > 0 else math.inf
            # look again at least every idle_timeout: the first token ends the first token's allowance,
            # and nothing wakes this wait when it comes
            wake = min(stop_at, idle_at, time.monotonic() + idle if idle > 0 else math.inf)
            if done.wait(max(wake - time.monotonic(), 0.0)):
                return
            now = time.monotonic()
            if now >= stop_at:
                self._expired = ("deadline", why)
            elif now >= idle_at:
                self._expired = ("idle", "idle_timeout")
            else:
                continue  # data arrived meanwhile: wait again
            _shut(stream)
            return

    # -- failures -----------------------------------------------------------------

    def _expiry_failure(self, answer: StreamedAnswer) -> Exception:
        """The watchdog stopped the stream: keep what arrived, marked partial, or say why nothing did."""
        kind, why = self._expired or ("deadline", "")
        if kind == "deadline":
            return self._deadline_failure(answer, why)
        idle = self.endpoint.idle_timeout
        reason = f"no new answer data for {idle:g} s (idle_timeout)"
        if answer.emitted:
            return _Cut(f"the answer was cut: {reason}", timed_out=True)
        if self._local and answer.first is None:
            # a server on this machine that accepted the request is reading the prompt: sent again, it
            # would read it twice over (llama-cpp-python finishes a request whose client left)
            waited = idle + self._first_wait
            return self._error(f"{self.endpoint.shown_url} was still reading the prompt after {waited:.3g} s "
                               "(idle_timeout and the time its measured speed allows): the local model is slower "
                               "than measured; lower [local] target_seconds, or raise idle_timeout")
        return _Retry(reason, f"{self.endpoint.shown_url} sent no answer data for {idle:g} s (idle_timeout): "
                              "the provider may be overloaded; try again later, or raise idle_timeout")

    def _deadline_failure(self, answer: StreamedAnswer, why: str) -> Exception:
        if answer.emitted:
            return _Cut(f"the answer was cut: not complete within {why}", timed_out=True)
        message = f"no complete answer from {self.endpoint.shown_url} within {why}: try again later, or raise it"
        return DeadlineExceeded(redact(message, self.endpoint.api_key))


    def _error(self, message: str, status: int | None = None) -> LLMError:
        return LLMError(redact(message, self.endpoint.api_key), status=status)

    def _said(self, text: str) -> str:
        """A provider's words, fit to quote in a one-line message."""
        return redact(text, self.endpoint.api_key, MAX_SAID_CHARS)

    def _overflow(self, said: str, status: int | None, body: Any = None) -> ContextOverflow:
        message = f"the request is larger than {self.endpoint.model}'s context window ({said}): shrink it and retry"
        return ContextOverflow(redact(message, self.endpoint.api_key), limit=overflow_limit(said, body), status=status)

    def _status_failure(self, err: Any) -> Exception:
        """An HTTP error status: overflow, retry, or give up."""
        status = int(getattr(err, "status_code", 0) or 0)
        said = self._said(server_message(err)) or f"HTTP {status}"
        if status in (400, 413, 422) and is_context_overflow(status, said, getattr(err, "code", None), getattr(err, "type", None)):
            return self._overflow(said, status, getattr(err, "body", None))
        final = f"the API answered {status} {said}: {self._hint(status)}"
        if status in (408, 409, 429) or status >= 500:
            wait = retry_after(err) if status in (429, 503) else None
            return _Retry(f"the API answered {status} {said}", final, status, wait)
        return self._error(final, status)

    def _hint(self, status: int) -> str:
        model, url = self.endpoint.model, self.endpoint.shown_url
        if status == 401:
            if not self.endpoint.api_key:
                return "no API key is set: set MOONSHOT_API_KEY (or KIMICODE_API_KEY)"
            return "check MOONSHOT_API_KEY"
        if status == 403:
            return f"the key may not have access to {model}"
        if status == 404:
            return f"check base_url ({url}) and the model name ({model})"
        if status == 429:
            return "rate limited: wait a minute, or lower the request rate"
        if status >= 500:
            return "the provider is having trouble: try again later"
        return "the request was rejected"

    def _transport_failure(self, err: Exception, answer: StreamedAnswer) -> Exception:
        """Timeouts, lost connections, garbled streams and mid-stream error events."""
        import openai

        url = self.endpoint.shown_url
        timeout = self.endpoint.timeout
        if isinstance(err, openai.APITimeoutError) and answer.started:
            reason = f"the stream stalled for {timeout:g} s"
            final = f"the stream from {url} stalled for {timeout:g} s: the provider may be overloaded, or raise the timeout"
        elif isinstance(err, openai.APITimeoutError):
            reason = f"no answer within {timeout:g} s"
            final = f"no answer from {url} within {timeout:g} s: check the network or raise the timeout"
        elif isinstance(err, openai.APIConnectionError):
            if answer.started:
                reason = "the connection was lost"
                final = f"the connection to {url} was lost before the answer began: try again"
            elif connection_refused(err):
                return _Retry("the connection was refused", f"cannot reach {url}: the connection was refused "
                              "(is the server running, on this port?)", refused=True)
            else:
                reason = "the connection failed"
                final = f"cannot reach {url}: check base_url and the network"
        elif isinstance(err, json.JSONDecodeError):
            reason = "the stream sent data that is not JSON"
            final = f"the API at {url} sent a malformed stream: is base_url an OpenAI-compatible endpoint?"
        else:
            # An error event inside the stream: the provider's message, possibly an overflow.
            said = self._said(server_message(err) or str(err))
            if not answer.emitted and is_context_overflow(None, said, getattr(err, "code", None), getattr(err, "type", None)):
                return self._overflow(said, None)
            reason = f"the stream reported an error: {said}"
            final = f"the API reported an error while streaming: {said}"
        if answer.emitted:
            return _Cut(f"the answer was cut: {reason}")
        return _Retry(reason, final)

    # -- token count --------------------------------------------------------------

    def estimate_tokens(self, messages: Sequence[Message], *, timeout: float = ESTIMATE_TIMEOUT) -> int | None:
        """The provider's own prompt token count (Moonshot's free endpoint), or None.

        None on any failure: other providers answer 404, and offline it simply times out;
        the caller falls back to its local estimate.
        """
        try:
            client = self._openai().with_options(timeout=min(timeout, self.endpoint.timeout), max_retries=0)
            reply = client.post(
                "/tokenizers/estimate-token-count",
                body={"model": self.endpoint.model, "messages": wire(messages)},
                cast_to=object,
            )
        except Exception:  # noqa: BLE001 - any failure means "no provider count", by contract
            return None
        data = reply.get("data") if isinstance(reply, dict) else None
        total = data.get("total_tokens") if isinstance(data, dict) else None
        if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
            return total
        return None
