"""The model client against a real loopback HTTP server, through the real openai package."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any, Iterator

import pytest

from kimicode.config import Settings
from kimicode.llm import ChatClient, ChatResult, ContextOverflow, Endpoint, LLMError, is_context_overflow
from kimicode.models import ModelSpec, model_spec
from kimicode.prompt import Message, wire
from tests.openai_server import OpenAIServer, ToolCall

KEY = "sk-test-7f3a9c1e5b2d4a6f8e0c"
FORBIDDEN = ("temperature", "top_p", "n", "presence_penalty", "frequency_penalty")
HELLO = [Message("user", "hello")]


def make_client(server: OpenAIServer, model: str = "kimi-k2.7-code", **options: Any) -> ChatClient:
    """A client with tiny timeouts and backoff so failure paths run in milliseconds."""
    endpoint = Endpoint(
        base_url=server.base_url,
        api_key=options.pop("api_key", KEY),
        model=model,
        timeout=options.pop("timeout", 5.0),
        max_retries=options.pop("max_retries", 3),
        idle_timeout=options.pop("idle_timeout", 120.0),
        request_deadline=options.pop("request_deadline", 1800.0),
    )
    spec = options.pop("spec", None) or model_spec(model, {})
    options.setdefault("backoff_base", 0.01)
    options.setdefault("backoff_cap", 0.05)
    return ChatClient(endpoint, spec, **options)


@pytest.fixture
def client(openai_server: OpenAIServer) -> Iterator[ChatClient]:
    with make_client(openai_server) as chat:
        yield chat
    assert openai_server.errors == []  # the server itself never failed


class Recorder:
    """Collects callback text and the sleeps the retry loop asked for."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.retries: list[str] = []
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        time.sleep(seconds)

    def callbacks(self) -> dict[str, Any]:
        return {"on_content": self.content.append, "on_reasoning": self.reasoning.append, "on_retry": self.retries.append}


# -- a normal answer -----------------------------------------------------------------


def test_stream_keeps_reasoning_apart_from_content(openai_server: OpenAIServer, client: ChatClient) -> None:
    openai_server.reply("The answer is 42.", reasoning="Let me think about it.")
    seen = Recorder()
    result = client.stream_chat(HELLO, **seen.callbacks())
    assert result.content == "The answer is 42."
    assert result.reasoning == "Let me think about it."
    assert "".join(seen.content) == result.content and len(seen.content) > 1  # really streamed
    assert "".join(seen.reasoning) == result.reasoning
    assert result.finish_reason == "stop"
    assert (result.partial, result.interrupted, result.error) == (False, False, None)
    assert result.attempts == 1 and result.elapsed > 0
    assert result.model == "kimi-k2.7-code"


def test_usage_with_cached_tokens(openai_server: OpenAIServer, client: ChatClient) -> None:
    openai_server.reply("hi", usage={"prompt_tokens": 1200, "completion_tokens": 30, "total_tokens": 1230, "prompt_tokens_details": {"cached_tokens": 1024}})
    usage = client.stream_chat(HELLO).usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (1200, 30, 1024)


def test_usage_moonshot_style_inside_the_last_choice(openai_server: OpenAIServer, client: ChatClient) -> None:
    # Moonshot puts usage in choices[0] of the final chunk and cached_tokens at the top level.
    openai_server.reply("hi", usage={"prompt_tokens": 500, "completion_tokens": 7, "total_tokens": 507, "cached_tokens": 256}, usage_in_choice=True)
    result = client.stream_chat(HELLO)
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.cached_tokens) == (500, 256)
    assert result.finish_reason == "stop"


def test_usage_without_cache_figure_is_none(openai_server: OpenAIServer, client: ChatClient) -> None:
    openai_server.reply("hi", usage={"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12})
    usage = client.stream_chat(HELLO).usage
    assert usage is not None and usage.cached_tokens is None


# -- what is sent --------------------------------------------------------------------


def test_request_body_for_a_fixed_sampling_model(openai_server: OpenAIServer, client: ChatClient) -> None:
    client.stream_chat(HELLO, temperature=0.2, max_tokens=1000)
    (request,) = openai_server.chat_requests
    body = request.body
    assert body["model"] == "kimi-k2.7-code"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 1000
    assert not set(FORBIDDEN) & set(body), body
    assert request.authorization == f"Bearer {KEY}"
    assert KEY not in repr(request)  # the recorded headers hide the key when printed


def test_response_format_is_sent_only_when_asked(openai_server: OpenAIServer, client: ChatClient) -> None:
    client.stream_chat(HELLO)
    client.stream_chat(HELLO, response_format={"type": "json_object"})
    first, second = (r.body for r in openai_server.chat_requests)
    assert "response_format" not in first
    assert second["response_format"] == {"type": "json_object"}


def test_temperature_is_sent_when_the_model_allows_it(openai_server: OpenAIServer) -> None:
    with make_client(openai_server, model="some-local-model") as chat:
        assert not chat.spec.fixed_sampling
        chat.stream_chat(HELLO, temperature=0.2)
    assert openai_server.chat_requests[0].body["temperature"] == 0.2


def test_earlier_reasoning_content_is_sent_back_verbatim(openai_server: OpenAIServer, client: ChatClient) -> None:
    messages = [
        Message("system", "You are terse."),
        Message("user", "2+2?"),
        Message("assistant", "4", "Two plus two.\n  Exactly  four."),
        Message("user", "and 3+3?"),
    ]
    client.stream_chat(messages)
    assert openai_server.chat_requests[0].body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4", "reasoning_content": "Two plus two.\n  Exactly  four."},
        {"role": "user", "content": "and 3+3?"},
    ]


def test_tool_call_deltas_are_assembled(openai_server: OpenAIServer) -> None:
    openai_server.reply(
        "",
        reasoning="I should look at the file.",
        tool_calls=[ToolCall("read_file", '{"path": "src/app.py", "lines": [1, 40]}', id="call_a"), ("grep", '{"pattern": "TODO"}')],
        chunk_size=3,
    )
    tools = [{"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}}]
    with make_client(openai_server, model="kimi-k2.6") as chat:
        result = chat.stream_chat(HELLO, tools=tools, tool_choice="required")
    assert result.finish_reason == "tool_calls"
    assert [(c.id, c.name) for c in result.tool_calls] == [("call_a", "read_file"), ("call_1", "grep")]
    assert json.loads(result.tool_calls[0].arguments) == {"path": "src/app.py", "lines": [1, 40]}
    assert json.loads(result.tool_calls[1].arguments) == {"pattern": "TODO"}
    body = openai_server.chat_requests[0].body
    assert body["tools"] == tools
    assert body["tool_choice"] == "auto"  # k2.6 rejects "required"


def test_required_tool_choice_kept_where_allowed(openai_server: OpenAIServer) -> None:
    with make_client(openai_server, model="kimi-k3") as chat:
        chat.stream_chat(HELLO, tools=[{"type": "function", "function": {"name": "f"}}], tool_choice="required")
    assert openai_server.chat_requests[0].body["tool_choice"] == "required"


# -- retries -------------------------------------------------------------------------


def test_retry_after_429_honours_retry_after(openai_server: OpenAIServer) -> None:
    seen = Recorder()
    openai_server.rate_limit(retry_after="0.05")
    with make_client(openai_server, sleep=seen.sleep, rng=lambda: 0.0) as chat:
        result = chat.stream_chat(HELLO, **seen.callbacks())
    assert result.content == "ok" and result.attempts == 2
    assert seen.sleeps == [0.05]  # the server's figure, not the (zero) jittered backoff
    assert len(openai_server.chat_requests) == 2
    assert len(seen.retries) == 1 and "429" in seen.retries[0] and "attempt 2 of 4" in seen.retries[0]


def test_retry_after_as_an_http_date(openai_server: OpenAIServer) -> None:
    import email.utils

    sleeps: list[float] = []
    openai_server.rate_limit(retry_after=email.utils.formatdate(time.time() + 20, usegmt=True))
    openai_server.rate_limit(retry_after="nonsense")  # unreadable: fall back to backoff
    with make_client(openai_server, sleep=sleeps.append, rng=lambda: 1.0, backoff_base=0.01) as chat:
        assert chat.stream_chat(HELLO).attempts == 3
    assert 10 < sleeps[0] <= 20  # whole seconds, less the time the request took (long on a loaded machine)
    assert sleeps[1] == pytest.approx(0.02)


def test_retry_after_500(openai_server: OpenAIServer, client: ChatClient) -> None:
    openai_server.fail(500, {"error": {"message": "internal error", "type": "server_error"}})
    openai_server.fail(503, "Service Unavailable")
    result = client.stream_chat(HELLO)
    assert (result.content, result.attempts, result.partial) == ("ok", 3, False)
    assert len(openai_server.chat_requests) == 3


def test_retry_after_a_timeout(openai_server: OpenAIServer) -> None:
    openai_server.slow(20.0)
    seen = Recorder()
    with make_client(openai_server, timeout=0.3) as chat:
        started = time.monotonic()
        result = chat.stream_chat(HELLO, **seen.callbacks())
    assert result.content == "ok" and result.attempts == 2
    assert time.monotonic() - started < 10  # not the 20 s the first answer would take (margin for a loaded machine)
    assert "no answer within 0.3 s" in seen.retries[0]


def test_stream_stalled_before_content_is_retried(openai_server: OpenAIServer) -> None:
    openai_server.reply("slow", chunk_delay=2.0)  # the role chunk, then silence
    with make_client(openai_server, timeout=0.3) as chat:
        result = chat.stream_chat(HELLO)
    assert (result.content, result.attempts) == ("ok", 2)


def test_stream_stalled_after_content_returns_partial(openai_server: OpenAIServer) -> None:
    # The role chunk and "abcd" arrive, then silence longer than the read timeout.
    openai_server.reply("abcdefgh", chunk_size=4, chunk_delay=2.0, delay_from_chunk=2)
    with make_client(openai_server, timeout=0.3) as chat:
        result = chat.stream_chat(HELLO)
    assert (result.content, result.partial, result.attempts) == ("abcd", True, 1)
    assert result.error == "the answer was cut: the stream stalled for 0.3 s"


def test_backoff_is_exponential_with_full_jitter_and_capped(openai_server: OpenAIServer) -> None:
    for _ in range(4):
        openai_server.fail(502)
    seen = Recorder()
    with make_client(openai_server, max_retries=4, backoff_base=0.01, backoff_cap=0.03, sleep=seen.sleep, rng=lambda: 1.0) as chat:
        chat.stream_chat(HELLO)
    assert seen.sleeps == pytest.approx([0.01, 0.02, 0.03, 0.03])
    half = Recorder()
    openai_server.fail(502)
    with make_client(openai_server, backoff_base=0.02, sleep=half.sleep, rng=lambda: 0.5) as chat:
        chat.stream_chat(HELLO)
    assert half.sleeps == pytest.approx([0.01])  # jitter: a random fraction of the ceiling


def test_gives_up_after_max_retries(openai_server: OpenAIServer) -> None:
    for _ in range(5):
        openai_server.fail(500, {"error": {"message": "the server is overloaded", "type": "engine_overloaded_error"}})
    with make_client(openai_server, max_retries=2) as chat, pytest.raises(LLMError) as caught:
        chat.stream_chat(HELLO)
    assert len(openai_server.chat_requests) == 3
    assert caught.value.attempts == 3 and caught.value.status == 500
    message = str(caught.value)
    assert "500" in message and "the server is overloaded" in message and "gave up after 3 attempts" in message
    assert "\n" not in message


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_no_retry_on_client_errors(openai_server: OpenAIServer, client: ChatClient, status: int) -> None:
    openai_server.fail(status, {"error": {"message": f"nope {status}", "type": "invalid_request_error"}})
    with pytest.raises(LLMError) as caught:
        client.stream_chat(HELLO)
    assert not isinstance(caught.value, ContextOverflow)
    assert len(openai_server.chat_requests) == 1
    assert caught.value.status == status and caught.value.attempts == 1


def test_bad_key_is_one_line_without_the_key(openai_server: OpenAIServer, client: ChatClient) -> None:
    openai_server.bad_key()
    with pytest.raises(LLMError) as caught:
        client.stream_chat(HELLO)
    assert str(caught.value) == "the API answered 401 Incorrect API key provided: check MOONSHOT_API_KEY"
    assert len(openai_server.chat_requests) == 1


def test_server_checks_the_key_when_asked(openai_server: OpenAIServer) -> None:
    openai_server.expected_key = KEY
    with make_client(openai_server) as chat:
        assert chat.stream_chat(HELLO).content == "ok"
    with make_client(openai_server, api_key="sk-wrong") as chat, pytest.raises(LLMError, match="401 Incorrect API key provided"):
        chat.stream_chat(HELLO)


def test_missing_key_says_to_set_it(openai_server: OpenAIServer) -> None:
    openai_server.bad_key()
    with make_client(openai_server, api_key="") as chat, pytest.raises(LLMError, match="no API key is set: set MOONSHOT_API_KEY"):
        chat.stream_chat(HELLO)


def test_connection_refused_gives_up_quickly() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = Endpoint(f"http://127.0.0.1:{port}/v1", KEY, "kimi-k2.6", timeout=2.0, max_retries=1)
    with ChatClient(endpoint, model_spec("kimi-k2.6", {}), backoff_base=0.01) as chat, pytest.raises(LLMError) as caught:
        chat.stream_chat(HELLO)
    assert str(caught.value) == (f"cannot reach http://127.0.0.1:{port}/v1: the connection was refused (is the server running, "
                                 "on this port?) (gave up after 2 attempts)")
    assert chat.estimate_tokens(HELLO) is None


def test_the_key_never_appears_in_errors_or_reprs(openai_server: OpenAIServer) -> None:
    # The server echoes the key in one of its messages, as some providers do.
    openai_server.fail(401, {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "incorrect_api_key_error"}})
    openai_server.fail(403, {"error": {"message": "forbidden", "type": "permission_denied_error"}})
    openai_server.fail(404, "Not Found")
    openai_server.context_overflow(f"token limit exceeded for key {KEY}")
    openai_server.fail(500, {"error": {"message": f"oops {KEY}"}})
    openai_server.slow(1.0)
    texts: list[str] = []
    with make_client(openai_server, max_retries=0, timeout=0.2) as chat:
        texts += [repr(chat), repr(chat.endpoint), str(chat.endpoint)]
        for _ in range(6):
            with pytest.raises(LLMError) as caught:
                chat.stream_chat(HELLO, on_retry=texts.append)
            texts += [str(caught.value), repr(caught.value), repr(caught.value.args)]
    assert texts and all(KEY not in text for text in texts), [t for t in texts if KEY in t]
    assert all("\n" not in text for text in texts)
    assert KEY not in repr(Endpoint.from_settings(Settings(api_key=KEY)))


# -- context overflow -----------------------------------------------------------------


def test_context_overflow_is_raised_without_retry(openai_server: OpenAIServer, client: ChatClient) -> None:
    openai_server.context_overflow()
    with pytest.raises(ContextOverflow) as caught:
        client.stream_chat(HELLO)
    assert len(openai_server.chat_requests) == 1
    assert caught.value.limit == 262_144
    assert isinstance(caught.value, LLMError) and "context window" in str(caught.value)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("Invalid request: Your request exceeded model token limit: 262144", None),  # Moonshot
        ("This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens.", "context_length_exceeded"),  # OpenAI
        ("This model's maximum context length is 32768 tokens. However, you requested 40000 tokens (39000 in the messages, 1000 in the completion).", None),  # vLLM
        ("the request exceeds the available context size, try increasing it", None),  # llama.cpp
        ("prompt is too long: 210000 tokens > 200000 maximum", None),
        ("request too large", "context_length_exceeded"),
    ],
)
def test_overflow_wordings(message: str, code: str | None) -> None:
    assert is_context_overflow(400, message, code)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "Invalid request: temperature must be 1"),
        (400, "Invalid request: tool_choice 'required' is not supported"),
        (429, "Your account reached its TPM token limit, current: 500000"),
    ],
)
def test_not_overflow(status: int, message: str) -> None:
    assert not is_context_overflow(status, message)


def test_vllm_overflow_over_http_names_the_limit(openai_server: OpenAIServer, client: ChatClient) -> None:
    openai_server.context_overflow("This model's maximum context length is 32768 tokens. However, you requested 40000 tokens.")
    with pytest.raises(ContextOverflow) as caught:
        client.stream_chat(HELLO)
    assert caught.value.limit == 32_768


# -- dropped streams and Ctrl-C -------------------------------------------------------


@pytest.mark.parametrize("how", ["close", "end", "garbage", "error"])
def test_stream_cut_after_content_returns_partial(openai_server: OpenAIServer, client: ChatClient, how: str) -> None:
    # Chunk 0 is the role chunk; chunks 1-3 carry "partial answ" in 4-character deltas.
    openai_server.cut_stream(after_chunks=4, content="partial answer that never ends", how=how)
    seen = Recorder()
    result = client.stream_chat(HELLO, **seen.callbacks())
    assert result.partial is True and result.interrupted is False
    assert result.content == "partial answ" == "".join(seen.content)
    assert result.finish_reason is None and result.error
    assert len(openai_server.chat_requests) == 1  # not retried: the text was already shown
    assert seen.retries == []


@pytest.mark.parametrize("how", ["close", "end", "garbage", "error"])
def test_stream_cut_before_content_is_retried(openai_server: OpenAIServer, client: ChatClient, how: str) -> None:
    openai_server.cut_stream(after_chunks=1, how=how)  # only the empty role chunk arrives
    openai_server.reply("complete answer")
    seen = Recorder()
    result = client.stream_chat(HELLO, **seen.callbacks())
    assert (result.content, result.partial, result.attempts) == ("complete answer", False, 2)
    assert "".join(seen.content) == "complete answer"  # nothing shown twice
    assert len(openai_server.chat_requests) == 2


def test_reasoning_counts_as_shown(openai_server: OpenAIServer, client: ChatClient) -> None:
    # Reasoning already reached the screen: a retry would show it twice, so it is partial too.
    openai_server.cut_stream(after_chunks=2, content="never", reasoning="Thinking hard about it")
    seen = Recorder()
    result = client.stream_chat(HELLO, **seen.callbacks())
    assert result.partial and result.reasoning == "Thin" == "".join(seen.reasoning) and result.content == ""
    assert len(openai_server.chat_requests) == 1


def test_overflow_reported_inside_the_stream(openai_server: OpenAIServer, client: ChatClient) -> None:
    openai_server.cut_stream(after_chunks=1, how="error", cut_error="Invalid request: Your request exceeded model token limit: 262144")
    with pytest.raises(ContextOverflow):
        client.stream_chat(HELLO)
    assert len(openai_server.chat_requests) == 1


def test_stream_error_events_give_up_with_the_providers_words(openai_server: OpenAIServer) -> None:
    for _ in range(2):
        openai_server.cut_stream(after_chunks=1, how="error")
    with make_client(openai_server, max_retries=1) as chat, pytest.raises(LLMError) as caught:
        chat.stream_chat(HELLO)
    assert str(caught.value) == (
        "the API reported an error while streaming: The engine is currently overloaded, please try again later (gave up after 2 attempts)"
    )


def test_ctrl_c_while_streaming_returns_partial(openai_server: OpenAIServer, client: ChatClient) -> None:
    openai_server.reply("one two three four five six", chunk_size=4, chunk_delay=0.01)
    received: list[str] = []

    def on_content(text: str) -> None:
        received.append(text)
        if len(received) == 2:
            raise KeyboardInterrupt  # what Ctrl-C does in the main thread

    result = client.stream_chat(HELLO, on_content=on_content)
    assert result.partial and result.interrupted
    assert result.content == "one two " == "".join(received)
    assert result.finish_reason is None
    # The stream was closed cleanly: the same client keeps working.
    assert client.stream_chat(HELLO).content == "ok"


def test_ctrl_c_while_waiting_to_retry(openai_server: OpenAIServer) -> None:
    openai_server.fail(500)

    def interrupted_sleep(seconds: float) -> None:
        raise KeyboardInterrupt

    with make_client(openai_server, sleep=interrupted_sleep) as chat:
        result = chat.stream_chat(HELLO)
    assert result.partial and result.interrupted and result.content == ""
    assert len(openai_server.chat_requests) == 1


# -- provider token count -------------------------------------------------------------


def test_estimate_tokens(openai_server: OpenAIServer, client: ChatClient) -> None:
    openai_server.estimate_tokens = 1234
    assert client.estimate_tokens(HELLO) == 1234
    (request,) = [r for r in openai_server.requests if r.path.endswith("/tokenizers/estimate-token-count")]
    assert request.body == {"model": "kimi-k2.7-code", "messages": [{"role": "user", "content": "hello"}]}
    openai_server.estimate_tokens = None  # the server's default: characters / 4
    assert client.estimate_tokens([Message("user", "x" * 400)]) == len(json.dumps([{"role": "user", "content": "x" * 400}])) // 4


def test_estimate_tokens_is_none_on_404_and_bad_answers(openai_server: OpenAIServer, client: ChatClient) -> None:
    openai_server.estimate_status = 404
    assert client.estimate_tokens(HELLO) is None
    openai_server.estimate_status = 200
    openai_server.estimate_tokens = lambda body: "many"  # type: ignore[assignment,return-value]
    assert client.estimate_tokens(HELLO) is None


# -- settings and the server itself ---------------------------------------------------


def test_endpoint_from_settings() -> None:
    settings = Settings(model="kimi-k3", base_url="http://localhost:9/v1", api_key=KEY, timeout=7.5, max_retries=2)
    endpoint = Endpoint.from_settings(settings)
    assert endpoint == Endpoint("http://localhost:9/v1", KEY, "kimi-k3", 7.5, 2)


def test_import_is_cheap() -> None:
    import subprocess
    import sys

    code = "import sys, kimicode.llm; print('openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_server_speaks_non_streaming_and_lists_models(openai_server: OpenAIServer) -> None:
    import openai

    openai_server.reply("plain", reasoning="why", tool_calls=[("f", "{}")])
    with openai.OpenAI(api_key=KEY, base_url=openai_server.base_url, max_retries=0) as sdk:
        completion = sdk.chat.completions.create(model="kimi-k2.6", messages=wire(HELLO))  # type: ignore[arg-type]
        ids = [m.id for m in sdk.models.list()]
    message = completion.choices[0].message
    assert message.content == "plain" and message.tool_calls and message.tool_calls[0].function.name == "f"
    assert message.reasoning_content == "why"
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    assert "kimi-k2.7-code" in ids
    assert openai_server.pending == 0


def test_server_closes_without_leaving_threads() -> None:
    def server_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "openai-server" or "process_request" in t.name]

    before = len(server_threads())
    with OpenAIServer() as server:
        server.slow(30.0)  # a handler still asleep when the server closes
        with make_client(server, timeout=0.2, max_retries=0) as chat, pytest.raises(LLMError):
            chat.stream_chat(HELLO)
        idle = make_client(server)  # and a keep-alive connection left open
        idle.stream_chat(HELLO)
        started = time.monotonic()
    assert time.monotonic() - started < 10  # not the handler's 30 s (margin for a loaded machine)
    assert len(server_threads()) == before
    idle.close()


def test_result_is_a_plain_dataclass(openai_server: OpenAIServer, client: ChatClient) -> None:
    result = client.stream_chat(HELLO)
    assert isinstance(result, ChatResult)
    assert isinstance(client.spec, ModelSpec)


def test_cancel_from_another_thread_stops_a_stalled_stream_at_once(openai_server: OpenAIServer, client: ChatClient) -> None:
    openai_server.reply("one two three four five six", chunk_size=4, chunk_delay=30.0, delay_from_chunk=3)
    received: list[str] = []
    arrived = threading.Event()

    def on_content(text: str) -> None:
        received.append(text)
        arrived.set()

    def stop() -> None:
        arrived.wait(5)
        time.sleep(0.2)  # the stream is now stalled, waiting for the next chunk
        client.cancel()

    stopper = threading.Thread(target=stop)
    stopper.start()
    started = time.monotonic()
    result = client.stream_chat(HELLO, on_content=on_content)
    stopper.join()
    assert time.monotonic() - started < 15  # not the 30 s stall (margin for a loaded machine)
    assert result.partial and result.interrupted and result.error == "interrupted"
    assert result.content == "".join(received) and result.content.startswith("one ")
    assert client.stream_chat(HELLO).content == "ok"  # the next call starts afresh


def test_cancel_while_waiting_to_retry(openai_server: OpenAIServer) -> None:
    openai_server.fail(500)
    holder: list[ChatClient] = []

    def sleep_then_cancelled(seconds: float) -> None:
        holder[0].cancel()  # what the TUI's stop does while the client waits

    with make_client(openai_server, sleep=sleep_then_cancelled) as chat:
        holder.append(chat)
        result = chat.stream_chat(HELLO)
    assert result.partial and result.interrupted and result.content == ""
    assert len(openai_server.chat_requests) == 1
