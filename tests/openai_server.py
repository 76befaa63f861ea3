"""A loopback OpenAI-compatible server for tests: real HTTP, scripted answers.

It speaks just enough of the API for the real ``openai`` client (or ``kimicode ask`` run
as a subprocess against ``base_url``) to talk to it:

- ``POST /v1/chat/completions``, plain JSON or SSE streamed (``delta.content``,
  ``delta.reasoning_content``, tool-call deltas, a usage chunk when
  ``stream_options.include_usage`` is set, then ``data: [DONE]``);
- ``POST /v1/tokenizers/estimate-token-count`` (Moonshot's: ``data.total_tokens``);
- ``GET /v1/models`` (``server.model_entries`` replaces the listing, e.g. with llama.cpp's ``meta``);
- any other route a test scripts: ``server.routes[("GET", "/props")] = {...}`` (or ``(status, body)``,
  or a function of the request body returning either).

``server.context_window = N`` makes it check lengths like llama-cpp-python (about four
characters per token): a longer non-streamed request gets a 400 naming N, a longer streamed one
a 200 whose stream then breaks off.

Each chat request consumes the next scripted response from a FIFO queue; when the queue
is empty it answers with ``server.answer(body)`` when that is set and returns a script, else
with ``default_reply`` (content "ok").

    with OpenAIServer() as server:
        server.reply("hello", reasoning="thinking...", tool_calls=[("read", '{"p": 1}')])
        server.fail(500)                      # or any status, body and headers
        server.rate_limit(retry_after="0.01") # 429 with Retry-After
        server.bad_key()                      # Moonshot's 401 body
        server.context_overflow()             # Moonshot's 400 "exceeded model token limit"
        server.cut_stream(after_chunks=2)     # drop the connection mid-answer
        server.slow(1.0)                      # answer after a delay
        server.keep_alive(every=0.05)         # content, then SSE ": ping" comments forever
        server.trickle("word ", every=0.05)   # content, then one more word every 0.05 s forever
        server.estimate_tokens = 1234         # or None (chars / 4), or fn(body); estimate_status = 404
        server.expected_key = "sk-..."        # 401 to any other key
        ...
        server.chat_requests[-1].body["model"], server.requests[-1].authorization

Every scripted step can also be queued as an object (``server.queue(Reply(...), Failure(...))``).
Recorded headers keep Authorization but hide it from repr, so a failing assert never prints a key.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

CONTEXT_OVERFLOW_MESSAGE = "Invalid request: Your request exceeded model token limit: 262144"
BAD_KEY_BODY = {"error": {"message": "Incorrect API key provided", "type": "incorrect_api_key_error"}}
MODELS = ("kimi-k3", "kimi-k2.7-code", "kimi-k2.7-code-highspeed", "kimi-k2.6")


class RedactedHeaders(dict):
    """Request headers; the repr hides Authorization so a failing assert never prints a key."""

    def __repr__(self) -> str:
        shown = {k: ("<redacted>" if k.lower() == "authorization" else v) for k, v in self.items()}
        return repr(shown)

    def get_ci(self, name: str) -> str | None:
        """Case-insensitive lookup (clients differ in header capitalisation)."""
        return next((v for k, v in self.items() if k.lower() == name.lower()), None)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: RedactedHeaders
    body: Any  # parsed JSON, or None when the body was empty or not JSON

    @property
    def authorization(self) -> str | None:
        return self.headers.get_ci("authorization")


@dataclass
class ToolCall:
    name: str
    arguments: str  # a JSON string, streamed in fragments like the real API does
    id: str = ""


@dataclass
class Reply:
    """A successful answer. ``usage=None`` computes one from the request and the reply."""

    content: str = "ok"
    reasoning: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    cached_tokens: int = 0
    finish_reason: str | None = None  # None: "tool_calls" when there are tool calls, else "stop"
    chunk_size: int = 4  # characters per streamed delta
    chunk_delay: float = 0.0  # seconds between streamed chunks...
    delay_from_chunk: int = 1  # ...from this chunk on (a stall mid-answer: chunk_delay > timeout)
    delay: float = 0.0  # seconds before the response starts (see OpenAIServer.slow)
    prefill: float = 0.0  # seconds after the headers before the first chunk (a local model reading the prompt)
    usage_in_choice: bool = False  # Moonshot style: usage inside choices[0] of the last chunk
    cut_after_chunks: int | None = None  # break the stream after this many chunks, as cut_how says:
    # "close": drop the connection mid-body; "end": end the body cleanly without the final
    # chunk and [DONE]; "garbage": send a line that is not JSON; "error": send an SSE error event
    cut_how: str = "close"
    cut_error: str = "The engine is currently overloaded, please try again later"
    # Never finish: after the content, send an SSE comment (": ping") every ``keepalive``
    # seconds, or the ``trickle`` text as one more content delta every ``chunk_delay``
    # seconds, until the client hangs up or the server closes (a stuck proxy, a runaway model).
    keepalive: float | None = None
    trickle: str | None = None


@dataclass
class Failure:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Script = Reply | Failure


class _Server(ThreadingHTTPServer):
    # Non-daemon handler threads, joined by server_close(): a test never leaves one running.
    daemon_threads = False
    block_on_close = True

    def __init__(self, owner: OpenAIServer) -> None:
        self.owner = owner
        super().__init__((owner.host, 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            return  # a client that hung up (timeout tests, cut streams) is expected
        self.owner.errors.append(error)  # a bug in this server: tests can assert there is none
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streaming, like real providers
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet test output; headers (and the key) are never logged

    def do_GET(self) -> None:
        owner = self.server.owner
        owner._record(self, None)
        if not self._authorized() or self._scripted_route("GET"):
            return
        if self.path.rstrip("/") == "/v1/models":
            data = owner.model_entries
            if data is None:
                data = [{"id": m, "object": "model", "owned_by": "moonshot"} for m in owner.models]
            self._json(200, {"object": "list", "data": data})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def _scripted_route(self, method: str, body: Any = None) -> bool:
        """Answer a route the test scripted in ``server.routes``; False if there is none."""
        found = self.server.owner.routes.get((method, self.path.split("?", 1)[0].rstrip("/")))
        if found is None:
            return False
        if callable(found):
            found = found(body)
        status, payload = found if isinstance(found, tuple) else (200, found)
        self._json(status, payload)
        return True

    def do_POST(self) -> None:
        owner = self.server.owner
        body = self._read_body()
        owner._record(self, body)
        if not self._authorized() or self._scripted_route("POST", body):
            return
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/v1/chat/completions" and self._too_long(body if isinstance(body, dict) else {}):
            return
        if path == "/v1/chat/completions":
            self._chat(owner.next_script(body if isinstance(body, dict) else {}), body if isinstance(body, dict) else {})
        elif path == "/v1/tokenizers/estimate-token-count":
            self._estimate(body)
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    # -- plumbing ---------------------------------------------------------------

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def _authorized(self) -> bool:
        """With ``expected_key`` set, answer 401 like Moonshot to any other key."""
        key = self.server.owner.expected_key
        if key is None or self.headers.get("Authorization") == f"Bearer {key}":
            return True
        self._json(401, BAD_KEY_BODY)
        return False

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        """Send ``payload`` as JSON; a str is sent as it is (an HTML error page, say)."""
        is_text = isinstance(payload, str)
        data = payload.encode() if is_text else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if is_text else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _wait(self, seconds: float) -> bool:
        """Sleep, but wake at once when the server closes; True if still open."""
        return not self.server.owner._closing.wait(seconds) if seconds > 0 else True

    # -- endpoints --------------------------------------------------------------

    def _estimate(self, body: Any) -> None:
        owner = self.server.owner
        if owner.estimate_status != 200:
            self._json(owner.estimate_status, {"error": {"message": "Not Found", "type": "not_found"}})
            return
        count = owner.estimate_tokens
        total = count(body) if callable(count) else count
        if total is None:
            total = len(json.dumps((body or {}).get("messages", []))) // 4
        self._json(200, {"code": 0, "data": {"total_tokens": total}, "scode": "0x0", "status": True})

    def _too_long(self, body: dict[str, Any]) -> bool:
        """With ``context_window`` set, refuse an over-long request as llama-cpp-python does."""
        window = self.server.owner.context_window
        prompt = len(json.dumps(body.get("messages", []))) // 4
        if window is None or prompt < window:
            return False
        if body.get("stream"):
            self.send_response(200)  # llama-cpp-python starts the stream, then its generator fails
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._send_chunk(b"")
            return True
        message = (f"This model's maximum context length is {window} tokens. However, you requested {prompt + 1} "
                   f"tokens ({prompt} in the messages, 1 in the completion). Please reduce the length of the messages or completion.")
        self._json(400, {"error": {"message": message, "type": "invalid_request_error", "param": "messages",
                                   "code": "context_length_exceeded"}})
        return True

    def _chat(self, script: Script, body: dict[str, Any]) -> None:
        if not self._wait(script.delay):
            return
        if isinstance(script, Failure):
            payload = script.body if script.body is not None else {"error": {"message": f"HTTP {script.status}", "type": "server_error"}}
            self._json(script.status, payload, script.headers)
            return
        model = body.get("model", "unknown")
        usage = script.usage or _usage(body, script)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(script, model, usage if include_usage else None)
        else:
            self._json(200, _completion(script, model, usage))

    def _stream(self, script: Reply, model: str, usage: dict[str, Any] | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if not self._wait(script.prefill):
            return
        for index, chunk in enumerate(_chunks(script, model, usage)):
            if script.cut_after_chunks is not None and index >= script.cut_after_chunks:
                self._cut(script)
                return
            if (script.keepalive is not None or script.trickle is not None) and _is_last(chunk):
                self._forever(script, model)
                return
            if index >= max(script.delay_from_chunk, 1) and not self._wait(script.chunk_delay):
                return
            self._send_chunk(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        self._send_chunk(b"data: [DONE]\n\n")
        self._send_chunk(b"")  # the zero-length chunk ends the HTTP body

    def _forever(self, script: Reply, model: str) -> None:
        """Keep the response open without ever finishing it (see Reply.keepalive / trickle)."""
        while True:
            if script.trickle is not None:
                if not self._wait(script.chunk_delay):
                    return
                payload = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model,
                           "choices": [{"index": 0, "delta": {"content": script.trickle}, "finish_reason": None}]}
                self._send_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")
            else:
                if not self._wait(script.keepalive or 0.05):
                    return
                self._send_chunk(b": ping\n\n")

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _cut(self, script: Reply) -> None:
        if script.cut_how == "close":
            # Mid-body close: the client sees an incomplete chunked body, as on a lost connection.
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if script.cut_how == "garbage":
            self._send_chunk(b"data: {not json\n\n")
        elif script.cut_how == "error":
            error = {"error": {"message": script.cut_error, "type": "engine_overloaded_error"}}
            self._send_chunk(b"data: " + json.dumps(error).encode() + b"\n\n")
        elif script.cut_how != "end":
            raise ValueError(f"unknown cut_how {script.cut_how!r}")
        # The body ends cleanly (the connection stays reusable), without finish_reason / [DONE].
        self._send_chunk(b"")


def _is_last(chunk: dict[str, Any]) -> bool:
    """The chunk that ends an answer: a finish_reason, or the usage chunk after it."""
    choices = chunk.get("choices") or []
    return not choices or choices[0].get("finish_reason") is not None


def _usage(body: dict[str, Any], script: Reply) -> dict[str, Any]:
    """Deterministic token figures: about four characters per token."""
    prompt = max(1, len(json.dumps(body.get("messages", []))) // 4)
    completion = max(1, len((script.content or "") + (script.reasoning or "")) // 4)
    cached = min(script.cached_tokens, prompt)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cached_tokens": cached,  # Moonshot also reports it at the top level
        "prompt_tokens_details": {"cached_tokens": cached},
    }


def _finish_reason(script: Reply) -> str:
    return script.finish_reason or ("tool_calls" if script.tool_calls else "stop")


def _tool_call_id(call: ToolCall, index: int) -> str:
    return call.id or f"call_{index}"


def _completion(script: Reply, model: str, usage: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": script.content}
    if script.reasoning is not None:
        message["reasoning_content"] = script.reasoning
    if script.tool_calls:
        message["tool_calls"] = [
            {"id": _tool_call_id(c, i), "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for i, c in enumerate(script.tool_calls)
        ]
    choice = {"index": 0, "message": message, "finish_reason": _finish_reason(script)}
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": model, "choices": [choice], "usage": usage}


def _pieces(text: str, size: int) -> Iterator[str]:
    size = max(1, size)
    for start in range(0, len(text), size):
        yield text[start : start + size]


def _chunks(script: Reply, model: str, usage: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
    """The SSE payloads of one streamed answer, in the order the real API sends them."""
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, **extra}
        return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [choice]}

    yield chunk({"role": "assistant", "content": ""})
    for piece in _pieces(script.reasoning or "", script.chunk_size):
        yield chunk({"reasoning_content": piece})
    for piece in _pieces(script.content or "", script.chunk_size):
        yield chunk({"content": piece})
    for index, call in enumerate(script.tool_calls):
        head = {"index": index, "id": _tool_call_id(call, index), "type": "function", "function": {"name": call.name, "arguments": ""}}
        yield chunk({"tool_calls": [head]})
        for piece in _pieces(call.arguments, script.chunk_size):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    if usage is not None and script.usage_in_choice:
        yield chunk({}, _finish_reason(script), usage=usage)
        return
    yield chunk({}, _finish_reason(script))
    if usage is not None:
        yield {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [], "usage": usage}


class OpenAIServer:
    """Context manager running the loopback server in a background thread."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        # 127.0.0.2 is this machine too, but not a host kimicode counts as local: a stand-in for a remote provider
        self.host = host
        self.requests: list[RecordedRequest] = []
        self.default_reply: Reply = Reply()
        # answers chat requests when the queue is empty, from the request body (None from it: default_reply)
        self.answer: Callable[[dict[str, Any]], Script | None] | None = None
        self.models: tuple[str, ...] = MODELS
        self.model_entries: list[dict[str, Any]] | None = None  # replaces the /v1/models listing when set
        self.routes: dict[tuple[str, str], Any] = {}  # (method, path) -> JSON body, (status, body), or fn(request body)
        self.context_window: int | None = None  # refuse longer chat requests, as llama-cpp-python does
        # estimate-token-count: None -> len(json(messages)) // 4; an int; or a function of the body
        self.estimate_tokens: int | Callable[[Any], int] | None = None
        self.estimate_status: int = 200
        self.expected_key: str | None = None  # set it to answer 401 to any other key
        self.errors: list[BaseException] = []  # exceptions raised inside the server itself
        self._script: deque[Script] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> OpenAIServer:
        self._closing.clear()
        self._httpd = _Server(self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-server", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._httpd is None:
            return
        self._closing.set()  # wakes handlers sleeping in slow()/chunk_delay
        self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # unblocks handlers waiting on idle keep-alive connections
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._httpd.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- scripting --------------------------------------------------------------

    def queue(self, *scripts: Script) -> None:
        with self._lock:
            self._script.extend(scripts)

    def next_script(self, body: dict[str, Any] | None = None) -> Script:
        with self._lock:
            if self._script:
                return self._script.popleft()
        answered = self.answer(body or {}) if self.answer is not None else None
        return answered if answered is not None else self.default_reply

    @property
    def pending(self) -> int:
        """Scripted responses not consumed yet."""
        with self._lock:
            return len(self._script)

    def reply(
        self,
        content: str = "ok",
        reasoning: str | None = None,
        usage: dict[str, Any] | None = None,
        tool_calls: list[ToolCall] | list[tuple[str, str]] | None = None,
        **options: Any,
    ) -> Reply:
        """Queue an answer; ``tool_calls`` as ToolCall objects or (name, arguments-json) pairs."""
        calls = [c if isinstance(c, ToolCall) else ToolCall(*c) for c in (tool_calls or [])]
        script = Reply(content=content, reasoning=reasoning, usage=usage, tool_calls=calls, **options)
        self.queue(script)
        return script

    def fail(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> Failure:
        script = Failure(status=status, body=body, headers=dict(headers or {}))
        self.queue(script)
        return script

    def rate_limit(self, retry_after: float | str = "0.01") -> Failure:
        body = {"error": {"message": "Your account is rate limited, please try again later", "type": "rate_limit_reached_error"}}
        return self.fail(429, body, {"Retry-After": str(retry_after)})

    def bad_key(self) -> Failure:
        return self.fail(401, BAD_KEY_BODY)

    def context_overflow(self, message: str = CONTEXT_OVERFLOW_MESSAGE) -> Failure:
        return self.fail(400, {"error": {"message": message, "type": "invalid_request_error"}})

    def cut_stream(self, after_chunks: int = 2, content: str = "partial answer that never ends", how: str = "close", **options: Any) -> Reply:
        """Stream ``after_chunks`` chunks (the first is the empty role chunk), then break (see Reply.cut_how)."""
        return self.reply(content, cut_after_chunks=after_chunks, cut_how=how, **options)

    def slow(self, seconds: float, content: str = "ok", **options: Any) -> Reply:
        """Wait before answering (a client with a shorter timeout gives up first)."""
        return self.reply(content, delay=seconds, **options)

    def keep_alive(self, content: str = "partial answer", every: float = 0.05, **options: Any) -> Reply:
        """Stream ``content``, then only SSE keep-alive comments, forever."""
        return self.reply(content, keepalive=every, **options)

    def trickle(self, word: str = "word ", every: float = 0.05, content: str = "", **options: Any) -> Reply:
        """Stream ``content``, then ``word`` again every ``every`` seconds, forever."""
        return self.reply(content, trickle=word, chunk_delay=every, delay_from_chunk=10**9, **options)

    # -- recorded traffic -------------------------------------------------------

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith("/v1/chat/completions")]

    def _record(self, handler: _Handler, body: Any) -> None:
        headers = RedactedHeaders(handler.headers.items())
        with self._lock:
            self.requests.append(RecordedRequest(handler.command, handler.path, headers, body))

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(conn)


def counted(body: dict[str, Any]) -> int:
    """Our exact count of a chat request as the server received it: messages, tool calls, tools."""
    from kimicode.prompt import Message, count_messages
    from kimicode.prompt import ToolCall as Call
    from kimicode.tokens import TokenCounter

    counter = TokenCounter()
    messages = [Message(m["role"], m["content"] or "", m.get("reasoning_content", ""),
                        tuple(Call(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in m.get("tool_calls", [])),
                        m.get("tool_call_id", "")) for m in body["messages"]]
    return count_messages(messages, counter) + (counter.count(json.dumps(body["tools"])) if body.get("tools") else 0)
